"""The harness interface: how a problem's tests become a runner job, and how the runner's answers become verdicts.

The runner (sandbox/PROTOCOL.md) only says whether a run finished within its limits (`OK`, `TLE`, `MLE`, `OLE`,
`RE`, `CE`, `SE`). Whether an `OK` run is *right* is decided here, on the host: a harness judges it, for `stdio`
with a checker from the `checkers` registry. Failures other than `OK` pass through unchanged.

To add a harness, write one file:

    from codelhf.harness import Harness, harnesses

    @harnesses.register("mine")
    class MyHarness(Harness):
        mode = "stdio"                          # the runner mode it drives: stdio | call | assert
        def job_tests(self, problem, tests): ...
        def check(self, problem, test, result): ...

and import it (or name it in your package's `codelhf.harnesses` entry-point group as "mine = pkg.mod:MyHarness").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from codelhf.errors import UserError
from codelhf.harness.dialects import dialect_of
from codelhf.problems import Problem, TestCase
from codelhf.registry import Registry
from codelhf.samples import LANGUAGES, Sample
from codelhf.verdicts import Status, TestVerdict, excerpt


@dataclass
class CheckResult:
    """A checker's decision on one test. A checker may also return a plain bool."""

    ok: bool
    feedback: str = ""


class CheckerError(Exception):
    """The checker itself failed (a checker program that crashed or hung): the test is `SE`, not the program's
    fault."""


Checker = Callable[..., CheckResult | bool]
"""`checker(output, expected, **context) -> CheckResult | bool`; context holds `input`, `problem` and the
problem's `checker_args`. Accept `**context` and take only what you need."""

harnesses: Registry[type[Harness]] = Registry("harness", "codelhf.harnesses")
checkers: Registry[Checker] = Registry("checker", "codelhf.checkers")


def as_check_result(value: CheckResult | bool) -> CheckResult:
    return value if isinstance(value, CheckResult) else CheckResult(bool(value))


def as_text(value: Any) -> str:
    """Expected output as text: strings as they are, lists of lines joined, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value)
    return json.dumps(value)


class Harness:
    """Base class: builds the job's common fields and maps runner results to verdicts.

    Subclasses set `mode` and implement `job_tests` (the runner's per-test payloads) and, when an `OK` run can
    still be wrong, `check`. `judge` calls `check` only for runs that finished cleanly."""

    mode: str = "stdio"
    languages: tuple[str, ...] = LANGUAGES
    """Languages the harness can drive; `stdio` runs anything the runner compiles, the others need Python."""

    # -- building the job ---------------------------------------------------------------------------------------

    def build_job(self, problem: Problem, sample: Sample, tests: list[TestCase]) -> dict[str, Any]:
        """The job fields this harness decides (`language`, `mode`, `program`, `fn_name`, `tests`); the
        executor adds `id`, `limits` and `python_fork`. The program is the sample's source in the problem's
        dialect (codelhf/harness/dialects.py): with the dataset harness's import header, for instance."""
        if sample.language not in self.languages:
            raise UserError(f"problem {problem.id!r}: harness {type(self).__name__} cannot run "
                            f"{sample.language!r} samples", f"it runs: {', '.join(self.languages)}")
        return {
            "language": sample.language,
            "mode": self.mode,
            "program": dialect_of(problem).program(self.program(problem, sample), self.mode, sample.language),
            "fn_name": problem.fn_name,
            "tests": self.job_tests(problem, tests),
        }

    def program(self, problem: Problem, sample: Sample) -> str:
        return sample.source(problem)

    def job_tests(self, problem: Problem, tests: list[TestCase]) -> list[dict[str, Any]]:
        raise NotImplementedError

    # -- judging the result -------------------------------------------------------------------------------------

    def check(self, problem: Problem, test: TestCase, result: dict[str, Any]) -> CheckResult:
        """Is an `OK` run right? By default, finishing cleanly is passing."""
        return CheckResult(True)

    def expected_text(self, test: TestCase) -> str:
        """What the verdict shows as expected (an excerpt)."""
        return as_text(test.output)

    def failure_status(self, result: dict[str, Any]) -> Status:
        """The verdict of a run that did not finish cleanly: the runner's own status."""
        return Status(result["status"])

    def judge(self, problem: Problem, tests: list[TestCase], result: dict[str, Any]) -> list[TestVerdict]:
        """Turn a runner result frame (`compile` and one entry per test) into one verdict per test."""
        runs = result.get("tests") or []
        if len(runs) != len(tests):
            reason = f"runner answered {len(runs)} results for {len(tests)} tests"
            return [TestVerdict(Status.SE, expected=excerpt(self.expected_text(t)), feedback=reason) for t in tests]
        compile_stderr = (result.get("compile") or {}).get("stderr", "")
        return [self._judge_one(problem, test, run, compile_stderr) for test, run in zip(tests, runs)]

    def _judge_one(self, problem: Problem, test: TestCase, run: dict[str, Any], compile_stderr: str) -> TestVerdict:
        verdict = TestVerdict(
            status=Status.SE,
            cpu_s=float(run.get("cpu_s") or 0.0),
            wall_s=float(run.get("wall_s") or 0.0),
            memory_mb=round(float(run.get("memory_kb") or 0) / 1024, 2),
            exit_code=run.get("exit_code"),
            signal=run.get("signal"),
            stdout=excerpt(run.get("stdout")),
            expected=excerpt(self.expected_text(test)),
            stderr=excerpt(run.get("stderr") or compile_stderr),
            feedback=run.get("detail") or "",
        )
        if run.get("status") != "OK":
            verdict.status = self.failure_status(run)
            return verdict
        try:
            decision = self.check(problem, test, run)
        except CheckerError as e:  # the checker program could not run: the sandbox's side, not the sample's
            verdict.feedback = f"checker failed: {e}"
            return verdict
        except Exception as e:  # noqa: BLE001  # whatever the output made the checker do, it is this test's WA
            decision = CheckResult(False, f"checking failed: {type(e).__name__}: {str(e)[:300]}")
        verdict.status = Status.AC if decision.ok else Status.WA
        verdict.feedback = decision.feedback
        return verdict
