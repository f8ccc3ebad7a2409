"""Output checkers for the `stdio` harness: is this stdout an accepted answer to that test?

Each checker is a small function `(output, expected, **context) -> CheckResult | bool` (STYLE rule 8). `context`
holds the test's `input`, the `problem`, and the problem's `checker_args` as keywords. The default is `tokens`:
the original APPS harness accepted some wrong answers through a cascade of lenient comparisons (set-based among
them), so leniency here is always an explicit choice of checker.

To add one, in one file:

    from codelhf.harness import CheckResult, checkers

    @checkers.register("yes_no")
    def yes_no(output: str, expected: str, **context) -> CheckResult:
        return CheckResult(output.strip().lower() == expected.strip().lower())

then set `"checker": "yes_no"` on the problem (or list it in your package's `codelhf.checkers` entry points).
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from codelhf.errors import UserError
from codelhf.harness.base import CheckerError, CheckResult


def _show(token: str, limit: int = 40) -> str:
    return repr(token if len(token) <= limit else token[:limit] + "...")


def _compare_tokens(output: str, expected: str, equal: Any) -> CheckResult:
    got, want = output.split(), expected.split()
    for i, (g, w) in enumerate(zip(got, want)):
        if not equal(g, w):
            return CheckResult(False, f"token {i + 1} differs: got {_show(g)}, expected {_show(w)}")
    if len(got) != len(want):
        return CheckResult(False, f"got {len(got)} tokens, expected {len(want)}")
    return CheckResult(True)


def tokens(output: str, expected: str, **context: Any) -> CheckResult:
    """Whitespace-separated tokens equal: spacing and line breaks do not matter, everything else does."""
    return _compare_tokens(output, expected, str.__eq__)


def exact(output: str, expected: str, **context: Any) -> CheckResult:
    """Byte-for-byte equal output (after UTF-8 decoding), trailing newline included."""
    if output == expected:
        return CheckResult(True)
    i = next((i for i, (a, b) in enumerate(zip(output, expected)) if a != b), min(len(output), len(expected)))
    return CheckResult(False, f"first difference at character {i}: got {_show(output[i:i + 20])}, "
                              f"expected {_show(expected[i:i + 20])}")


def _as_finite(token: str) -> float | None:
    try:
        value = float(token)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def float_(output: str, expected: str, abs_tol: float = 1e-6, rel_tol: float = 1e-6, **context: Any) -> CheckResult:
    """Tokens equal, numbers within `abs_tol` or `rel_tol` (from `checker_args`); non-numbers compared exactly."""

    def equal(got: str, want: str) -> bool:
        g, w = _as_finite(got), _as_finite(want)
        if g is None or w is None:
            return got == want
        return math.isclose(g, w, rel_tol=rel_tol, abs_tol=abs_tol)

    return _compare_tokens(output, expected, equal)


def unordered(output: str, expected: str, **context: Any) -> CheckResult:
    """The same lines in any order (a multiset); spacing within a line and blank lines do not matter."""

    def lines(text: str) -> Counter[str]:
        return Counter(" ".join(line.split()) for line in text.splitlines() if line.strip())

    got, want = lines(output), lines(expected)
    if got == want:
        return CheckResult(True)
    missing, extra = want - got, got - want
    parts = []
    if missing:
        parts.append(f"{sum(missing.values())} expected line(s) missing, e.g. {_show(next(iter(missing)))}")
    if extra:
        parts.append(f"{sum(extra.values())} unexpected line(s), e.g. {_show(next(iter(extra)))}")
    return CheckResult(False, "; ".join(parts))


# ---------------------------------------------------------------------------------------------------------------
# The comparisons of datasets' own harnesses (their dialects set them; why each is what it is: harness/dialects.py)
# ---------------------------------------------------------------------------------------------------------------

NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
INTEGER = re.compile(r"([+-]?)0*(\d+)")


def _integer(token: str) -> tuple[str, str] | None:
    """(sign, digits without leading zeros) of an integer token: compared as text, so no length limit applies."""
    match = INTEGER.fullmatch(token)
    if not match:
        return None
    sign, digits = match.groups()
    return ("" if digits == "0" else sign.replace("+", ""), digits)


def _numbers_match(got: str, want: str, close: Callable[[float, float], bool]) -> bool:
    """Two number tokens: two integers equal exactly (`007` is `7`); otherwise `close` as floats."""
    if not (NUMBER.fullmatch(got) and NUMBER.fullmatch(want)):
        return False
    if _integer(got) and _integer(want):
        return _integer(got) == _integer(want)
    g, w = float(got), float(want)
    return math.isfinite(g) and math.isfinite(w) and close(g, w)


def apps(output: str, expected: str, **context: Any) -> CheckResult:
    """APPS: tokens in order; numbers within `numpy.allclose`'s defaults (|got - expected| <= 1e-8 + 1e-5 ×
    |expected|), two integers exactly. Not its set-based fallbacks, which accept wrong answers."""
    return _compare_tokens(output, expected, lambda g, w: g == w or _numbers_match(
        g, w, lambda a, b: abs(a - b) <= 1e-8 + 1e-5 * abs(b)))


def code_contests(output: str, expected: str, **context: Any) -> CheckResult:
    """CodeContests: tokens in order, case-insensitive; numbers within an absolute 1e-5, two integers exactly."""
    return _compare_tokens(output.lower(), expected.lower(), lambda g, w: g == w or _numbers_match(
        g, w, lambda a, b: abs(a - b) < 1e-5))


def _same_decimals(got: str, want: str) -> bool:
    try:  # a signalling NaN ("sNaN") raises even on ==
        return [Decimal(t) for t in got.split()] == [Decimal(t) for t in want.split()]
    except InvalidOperation:
        return False


def _stripped_lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def livecodebench(output: str, expected: str, **context: Any) -> CheckResult:
    """LiveCodeBench: as many lines (output and each line stripped); each line equal, or the same numbers read as
    exact decimals (`1.50` is `1.5`)."""
    got, want = _stripped_lines(output), _stripped_lines(expected)
    if len(got) != len(want):
        return CheckResult(False, f"got {len(got)} lines, expected {len(want)}")
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w and not _same_decimals(g, w):
            return CheckResult(False, f"line {i + 1} differs: got {_show(g)}, expected {_show(w)}")
    return CheckResult(True)


# ---------------------------------------------------------------------------------------------------------------
# A user's checker program (problems with many valid answers)
# ---------------------------------------------------------------------------------------------------------------


def _checker_command(program: str, scratch: Path) -> list[str]:
    """The command running `program`: an executable path as is, a `.py` path under this Python, otherwise the
    text is taken as Python source."""
    if "\n" not in program and Path(program).is_file():
        path = Path(program)
        if path.suffix == ".py" or not os.access(path, os.X_OK):
            return [sys.executable, str(path)]
        return [str(path.resolve())]
    source = scratch / "checker.py"
    source.write_text(program, encoding="utf-8")
    return [sys.executable, str(source)]


def program(output: str, expected: str, input: Any = "", program: str | None = None, timeout_s: float = 10.0,
            **context: Any) -> CheckResult:
    """Run the problem's checker program on the host, trusted (it is the dataset's, not the model's).

    Called as `checker INPUT_FILE EXPECTED_FILE ACTUAL_FILE`; exit status 0 accepts, anything else rejects, and
    its stdout (or, when silent, its stderr; first 512 characters) becomes the feedback. `checker_args`: `program` (a path or Python source),
    `timeout_s`. A checker that hangs or cannot start is a system error, never the sample's fault."""
    if not program:
        raise UserError("checker 'program' needs checker_args['program']",
                        "set it to a checker's path or Python source; it gets INPUT EXPECTED ACTUAL file paths")
    with tempfile.TemporaryDirectory(prefix="codelhf-checker-") as tmp:
        scratch = Path(tmp)
        files = []
        for name, text in (("input.txt", input), ("expected.txt", expected), ("actual.txt", output)):
            (scratch / name).write_text(text if isinstance(text, str) else str(text), encoding="utf-8")
            files.append(str(scratch / name))
        command = _checker_command(program, scratch)
        try:
            done = subprocess.run(command + files, capture_output=True, text=True, timeout=timeout_s,
                                  cwd=scratch, check=False)
        except subprocess.TimeoutExpired:
            raise CheckerError(f"checker program did not finish within {timeout_s} s")
        except OSError as e:
            raise CheckerError(f"checker program could not start: {e}")
    feedback = (done.stdout.strip() or done.stderr.strip())[:512]
    return CheckResult(done.returncode == 0, feedback)
