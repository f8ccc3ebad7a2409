"""`assert`: the program is followed by test code that asserts (HumanEval, MBPP); a test passes if it runs
cleanly, fails as `WA` on an `AssertionError`, and as `RE` on any other exception.

- HumanEval: the program is prompt + completion; the problem has one test whose code defines `check(candidate)`;
  `check(<entry_point>)` is appended when the code does not call it itself.
- MBPP: the program is the sample plus the problem's `setup_code`; each `assert` line is one test.
"""

from __future__ import annotations

import re
from typing import Any

from codelhf.harness.base import Harness, as_text
from codelhf.problems import Problem, TestCase
from codelhf.samples import Sample
from codelhf.verdicts import Status


class AssertHarness(Harness):
    mode = "assert"
    languages = ("python",)

    def program(self, problem: Problem, sample: Sample) -> str:
        source = sample.source(problem)
        return f"{source}\n\n{problem.setup_code}\n" if problem.setup_code else source

    def job_tests(self, problem: Problem, tests: list[TestCase]) -> list[dict[str, Any]]:
        return [{"code": self.test_code(problem, as_text(t.input))} for t in tests]

    def test_code(self, problem: Problem, code: str) -> str:
        entry = problem.entry_point
        defines_check = re.search(r"^def check\(", code, re.MULTILINE)
        calls_check = re.search(r"^check\(", code, re.MULTILINE)
        if entry and defines_check and not calls_check:
            return f"{code}\n\ncheck({entry})\n"
        return code

    def expected_text(self, test: TestCase) -> str:
        return as_text(test.input)

    def failure_status(self, result: dict[str, Any]) -> Status:
        if result.get("status") == "RE" and result.get("exception") == "AssertionError":
            return Status.WA
        return super().failure_status(result)
