"""Errors a user can act on.

Everything that is the user's input or environment (a malformed dataset row, Docker not running, an unknown
harness name) raises `UserError`: the CLI prints its message and hint and exits with its code, never a
traceback. Bugs stay ordinary exceptions.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix: says what is wrong, where, and what to do."""

    def __init__(self, message: str, hint: str = "", exit_code: int = 2):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class SandboxUnavailable(UserError):
    """Docker (or the sandbox image) cannot be had; exit code 3."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message, hint, exit_code=3)
