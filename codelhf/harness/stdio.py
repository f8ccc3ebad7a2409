"""`stdio`: the program reads the test's input on stdin; its stdout is judged by the problem's checker."""

from __future__ import annotations

from typing import Any

from codelhf.harness.base import CheckResult, Harness, as_check_result, as_text, checkers
from codelhf.problems import Problem, TestCase
from codelhf.samples import Sample


class StdioHarness(Harness):
    mode = "stdio"

    def build_job(self, problem: Problem, sample: Sample, tests: list[TestCase]) -> dict[str, Any]:
        checkers.get(problem.checker or "tokens")  # an unknown checker name fails now, before anything runs
        return super().build_job(problem, sample, tests)

    def job_tests(self, problem: Problem, tests: list[TestCase]) -> list[dict[str, Any]]:
        return [{"stdin": as_text(t.input)} for t in tests]

    def check(self, problem: Problem, test: TestCase, result: dict[str, Any]) -> CheckResult:
        checker = checkers.get(problem.checker or "tokens")
        context = {**problem.checker_args, "input": as_text(test.input), "problem": problem}
        return as_check_result(checker(result.get("stdout") or "", as_text(test.output), **context))
