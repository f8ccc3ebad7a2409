"""`call`: APPS-style function problems. The runner calls `fn_name` (a function, or a method of class `Solution`)
with the test's arguments; the return value is compared with the expected one after JSON normalisation.

APPS stores each test's arguments as a list and often wraps the expected return value in a one-element list
(`outputs: [[3]]` for a function returning 3); both readings of such a wrapper are accepted. Tuples equal lists,
because JSON has no tuples (the runner already sends tuples as lists).
"""

from __future__ import annotations

import json
from typing import Any

from codelhf.errors import UserError
from codelhf.harness.base import CheckResult, Harness
from codelhf.problems import Problem, TestCase
from codelhf.samples import Sample


def normalise(value: Any) -> Any:
    """A JSON round trip: tuples become lists, dict keys strings, so values compare as the test file wrote them."""
    return json.loads(json.dumps(value, default=repr))


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
        try:
            got = json.loads(text) if text is not None else None
        except json.JSONDecodeError:
            return CheckResult(False, f"return value is not JSON: {text[:200]!r}")
        if isinstance(got, dict) and set(got) == {"repr"}:
            return CheckResult(False, f"return value is not JSON-serialisable: {got['repr'][:200]}")
        want = normalise(test.output)
        if got == want or (isinstance(want, list) and len(want) == 1 and got == want[0]):
            return CheckResult(True)
        return CheckResult(False, f"returned {_show(got)}, expected {_show(want)}")
