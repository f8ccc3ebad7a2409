"""`assert`: test code that asserts on the program's functions (HumanEval, MBPP). A test passes only when the
runner's judge ran the test code to its end (its completion proof, `completed`), fails as `WA` on an
`AssertionError`, and as `RE` on any other exception or when the program ended first.

The test code never runs in the program's process: the runner runs it in a judge process of its own, where the
program's functions are references and their return values arrive as plain data (sandbox/PROTOCOL.md, "Assert
tests"). The judge first runs the trusted *prelude*: the problem's `setup_code`, and for HumanEval-style problems
(with an `entry_point`) the prompt, so that helpers the test uses (HumanEval's `poly`, `encode_cyclic`) are the
dataset's and not the program's.

- HumanEval: the program is prompt + completion; the problem has one test whose code defines `check(candidate)`;
  `check(<entry_point>)` is appended when the code does not call it itself.
- MBPP: the program is the sample plus the problem's `setup_code`; each `assert` line is one test.
"""

from __future__ import annotations

import re
from typing import Any

from codelhf.harness.base import CheckResult, Harness, as_text
from codelhf.problems import Problem, TestCase
from codelhf.samples import Sample
from codelhf.verdicts import Status


class AssertHarness(Harness):
    mode = "assert"
    languages = ("python",)

    def build_job(self, problem: Problem, sample: Sample, tests: list[TestCase]) -> dict[str, Any]:
        job = super().build_job(problem, sample, tests)
        trusted = [problem.setup_code, problem.prompt if problem.entry_point else ""]
        job.update(prelude=[code for code in trusted if code], entry_point=problem.entry_point or None)
        return job

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

    def check(self, problem: Problem, test: TestCase, result: dict[str, Any]) -> CheckResult:
        if result.get("completed") is True:
            return CheckResult(True)
        return CheckResult(False, "the runner gave no proof that the test code ran to its end")

    def failure_status(self, result: dict[str, Any]) -> Status:
        if result.get("status") == "RE" and result.get("exception") == "AssertionError":
            return Status.WA
        return super().failure_status(result)
