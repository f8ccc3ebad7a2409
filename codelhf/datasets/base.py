"""What every dataset format shares: the `Loader` record and helpers that read one field of a row.

A loader turns one row (a dict, as read from JSON, JSONL, Parquet, Arrow or the hub) into a canonical `Problem`.
When a field is missing or malformed it raises `RowError(field, message)`; `load_problems` adds the file and the
row number and turns it into a `UserError` (or skips the row with `--skip-bad`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from codelhf.harness.dialects import dialects
from codelhf.problems import Problem


class RowError(Exception):
    """A malformed row: which field, and what is wrong with it."""

    def __init__(self, field: str | None, message: str, hint: str = ""):
        super().__init__(message)
        self.field = field
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Loader:
    """One dataset format: how to recognise its rows and how to turn a row into a `Problem`."""

    name: str
    detect: Callable[[dict[str, Any]], bool]
    """True when a row has this format's tell-tale fields (formats are detected from the first row)."""
    convert: Callable[[dict[str, Any], int], Problem]
    """(row, 0-based row index) -> Problem; the index is the id of last resort (TACO rows carry none)."""
    description: str = ""


MISSING = object()


def get(row: dict[str, Any], name: str, default: Any = MISSING) -> Any:
    """A field's value; a missing (or null) field without a default is a `RowError`."""
    value = row.get(name)
    if value is None:
        if default is MISSING:
            raise RowError(name, "missing")
        return default
    return value


def text(row: dict[str, Any], name: str, default: Any = MISSING) -> str:
    value = get(row, name, default)
    if not isinstance(value, str):
        raise RowError(name, f"expected text, got {type(value).__name__}")
    return value


def json_value(row: dict[str, Any], name: str, default: Any = MISSING) -> Any:
    """A field that datasets store as a JSON string (APPS `input_output`) or, once parsed, as the value itself."""
    value = get(row, name, default)
    if isinstance(value, str):
        if not value.strip() and default is not MISSING:
            return default
        try:
            return json.loads(value)
        except json.JSONDecodeError as e:
            raise RowError(name, f"not valid JSON ({e.msg} at position {e.pos})")
    return value


def stdio_text(value: Any, name: str) -> str:
    """Test input/output text; APPS sometimes stores it as a list of lines."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value) + ("\n" if value and not value[-1].endswith("\n") else "")
    raise RowError(name, f"expected text (or a list of lines) for a stdin/stdout test, got {type(value).__name__}")


def problem_id(row: dict[str, Any], index: int, *names: str) -> str:
    """The dataset's own id (first of `names` present), so samples written by other tools match it."""
    for name in names:
        if row.get(name) is not None and str(row[name]) != "":
            return str(row[name])
    return str(index)


def with_dialect(problem: Problem, name: str) -> Problem:
    """Judge `problem` the way its dataset's own harness does (codelhf/harness/dialects.py): the dialect's name,
    its output comparison for stdio problems, and its own time limit when it has one."""
    dialect = dialects.get(name)
    problem.dialect = name
    if problem.harness == "stdio":
        problem.checker = dialect.checker
    if dialect.time_limit_s is not None:
        problem.time_limit_s = dialect.time_limit_s
    return problem
