"""`call`: APPS-style function problems. The runner calls `fn_name` (a function, or a method of class `Solution`)
with the test's arguments; the return value is compared with the expected one after JSON normalisation.

APPS stores each test's arguments as a list and often wraps the expected return value in a one-element list
(`outputs: [[3]]` for a function returning 3); both readings of such a wrapper are accepted, unless the problem's
dialect says its set never wraps (LiveCodeBench: there `[3]` expects a list). Tuples equal lists,
because JSON has no tuples (the runner already sends tuples as lists). Values compare exactly, unless the problem's
checker is `float`: then numbers anywhere in the value match within `abs_tol`/`rel_tol` of its `checker_args`.
"""

from __future__ import annotations

import json
import math
from typing import Any

from codelhf.errors import UserError
from codelhf.harness.base import CheckResult, Harness
from codelhf.harness.dialects import dialect_of
from codelhf.problems import Problem, TestCase
from codelhf.samples import Sample


def normalise(value: Any) -> Any:
    """A JSON round trip: tuples become lists, dict keys strings, so values compare as the test file wrote them."""
    return json.loads(json.dumps(value, default=repr))


def equal(got: Any, want: Any, tolerance: dict[str, float] | None = None) -> bool:
    """JSON values equal; with a `tolerance`, numbers within `abs_tol` or `rel_tol`. JSON tells `true` from `1`,
    and so does this (Python's `True == 1` would not)."""
    if isinstance(got, bool) != isinstance(want, bool):
        return False
    if tolerance is not None and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (got, want)):
        return math.isclose(got, want, rel_tol=tolerance.get("rel_tol", 1e-6), abs_tol=tolerance.get("abs_tol", 1e-6))
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(equal(g, w, tolerance) for g, w in zip(got, want))
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(equal(got[k], want[k], tolerance) for k in got)
    return got == want


def _show(value: Any, limit: int = 200) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[:limit] + "..."


class CallHarness(Harness):
    mode = "call"
    languages = ("python",)

    def build_job(self, problem: Problem, sample: Sample, tests: list[TestCase]) -> dict[str, Any]:
        if not problem.fn_name:
            raise UserError(f"problem {problem.id!r} uses the 'call' harness but has no fn_name",
                            "set fn_name to the function (or Solution method) to call")
        return super().build_job(problem, sample, tests)

    def job_tests(self, problem: Problem, tests: list[TestCase]) -> list[dict[str, Any]]:
        return [{"args": t.input if isinstance(t.input, list) else [t.input]} for t in tests]

    def check(self, problem: Problem, test: TestCase, result: dict[str, Any]) -> CheckResult:
        text = result.get("result")
        if not isinstance(text, str):  # the runner says OK only with a value; a result is the proof of a return
            return CheckResult(False, "the function returned no value")
        try:
            got = json.loads(text)
        except (ValueError, RecursionError):
            return CheckResult(False, f"return value is not JSON: {text[:200]!r}")
        if isinstance(got, dict) and set(got) == {"repr"}:
            return CheckResult(False, f"return value is not JSON-serialisable: {str(got['repr'])[:200]}")
        want = normalise(test.output)
        tolerance = problem.checker_args if problem.checker == "float" else None
        wrapped = dialect_of(problem).call_output_wrapped and isinstance(want, list) and len(want) == 1
        if equal(got, want, tolerance) or (wrapped and equal(got, want[0], tolerance)):
            return CheckResult(True)
        return CheckResult(False, f"returned {_show(got)}, expected {_show(want)}")
