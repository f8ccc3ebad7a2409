"""Check a dataset's tests with its own solutions: references should pass, known-incorrect ones should fail.

Datasets ship wrong tests (CodeContests generated tests, TACO): a problem where no reference solution passes, or
where an incorrect solution passes, has tests that cannot be trusted for rewards or pass@k. And a judge can be
wrong about a dataset: a reference rejected because the judge does not run it the way the dataset's own harness
does (its import header, its wrapping) is a judge to fix, not a test to drop. `validate` runs every Python and C++
solution through the executor, in the problem's dialect, and reports per problem which references fail (with the
verdict and the first failing test) and which incorrect solutions pass; `program_that_ran` gives the exact
program the runner got, header and wrapper included. Solutions in other languages (Python 2, Java) are counted as
skipped, by language, never as failures; a solution whose run hit a system error (SE) is counted apart, since the
sandbox and not the tests failed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from codelhf.harness import harnesses
from codelhf.problems import Problem, Solution
from codelhf.samples import LANGUAGES, Sample
from codelhf.verdicts import SampleVerdict, Status, TestVerdict


@dataclass
class SolutionFailure:
    """A reference that was rejected, or an incorrect solution that was accepted."""

    kind: str
    """`reference` (from Problem.solutions) or `incorrect` (from Problem.incorrect_solutions)."""
    index: int
    """Its position in that list."""
    language: str
    status: str
    """The solution's verdict: its first failing test's status (AC for an accepted incorrect solution)."""
    test: int | None = None
    """The first failing test, an index into Problem.tests("all") (public first); None when all passed."""
    verdict: TestVerdict | None = None
    """That test's verdict: the checker's feedback, excerpts of expected output, output and stderr."""

    def describe(self) -> str:
        where = f"{self.kind} {self.index} ({self.language})"
        if self.test is None or self.verdict is None:
            return f"{where}: {self.status} on every test"
        feedback = self.verdict.feedback
        return f"{where}: {self.status} on test {self.test}" + (f": {feedback}" if feedback else "")


@dataclass
class ProblemCheck:
    """One problem's result: how its references and incorrect solutions fared, and why it is suspect."""

    problem_id: str
    references_total: int = 0
    references_passed: int = 0
    incorrect_total: int = 0
    incorrect_passed: int = 0
    skipped: int = 0
    skipped_languages: dict[str, int] = field(default_factory=dict)
    system_errors: int = 0
    tests_failed_by_every_reference: list[int] = field(default_factory=list)
    """Indices into Problem.tests("all") (public first): the tests most likely to be wrong."""
    failures: list[SolutionFailure] = field(default_factory=list)
    """The references that failed and the incorrect solutions that passed, in that order."""
    reasons: list[str] = field(default_factory=list)

    @property
    def suspect(self) -> bool:
        return bool(self.reasons)


@dataclass
class ValidationReport:
    problems: int
    solutions_total: int
    solutions_accepted: int
    incorrect_total: int
    incorrect_rejected: int
    suspect_problems: int
    solutions_skipped: int
    skipped_languages: dict[str, int]
    """Solutions not run, by language (the sandbox runs python and cpp)."""
    system_errors: int
    checks: list[ProblemCheck]

    def summary(self) -> dict[str, Any]:
        """The `--json` object (everything but the per-problem checks) plus the suspects' ids and the ids of
        problems with a failing reference."""
        data = {k: v for k, v in asdict(self).items() if k != "checks"}
        data["suspects"] = [c.problem_id for c in self.checks if c.suspect]
        data["reference_failures"] = {c.problem_id: [f.describe() for f in c.failures if f.kind == "reference"]
                                      for c in self.checks if c.references_passed < c.references_total}
        return data

    def suspects(self) -> list[dict[str, Any]]:
        """Rows of the suspects JSONL."""
        return [{**asdict(c), "suspect": True} for c in self.checks if c.suspect]


@dataclass
class _Run:
    """One solution sent to the executor."""

    problem_id: str
    kind: str
    index: int
    language: str


def validation_samples(problems: Sequence[Problem], max_solutions: int | None = None
                       ) -> tuple[list[Sample], list[_Run], dict[str, Counter[str]]]:
    """One sample per runnable solution; returns the samples, what each one is, and the skipped
    (unrunnable-language) solutions per problem, by language."""
    samples: list[Sample] = []
    runs: list[_Run] = []
    skipped: dict[str, Counter[str]] = {}
    for problem in problems:
        skipped[problem.id] = Counter()
        for kind, solutions in (("reference", problem.solutions), ("incorrect", problem.incorrect_solutions)):
            runnable = [(i, s) for i, s in enumerate(solutions) if s.language in LANGUAGES]
            skipped[problem.id].update(s.language for s in solutions if s.language not in LANGUAGES)
            for index, solution in runnable[:max_solutions]:
                samples.append(Sample(problem_id=problem.id, program=solution.code, language=solution.language,
                                      sample_index=len(samples), metadata={"incorrect": kind == "incorrect"}))
                runs.append(_Run(problem.id, kind, index, solution.language))
    return samples, runs, skipped


def _failure(run: _Run, verdict: SampleVerdict) -> SolutionFailure:
    first = verdict.first_failure
    return SolutionFailure(run.kind, run.index, run.language, verdict.status.value, first,
                           verdict.tests[first] if first is not None else None)


def summarize(problems: Sequence[Problem], runs: list[_Run], verdicts: list[SampleVerdict],
              skipped: dict[str, Counter[str]]) -> ValidationReport:
    checks = {p.id: ProblemCheck(p.id, skipped=sum(skipped[p.id].values()),
                                 skipped_languages=dict(skipped[p.id])) for p in problems}
    reference_failures: dict[str, list[set[int]]] = {}
    for run, verdict in zip(runs, verdicts):
        check = checks[run.problem_id]
        if any(t.status == Status.SE for t in verdict.tests):
            check.system_errors += 1
            continue
        if run.kind == "incorrect":
            check.incorrect_total += 1
            check.incorrect_passed += verdict.all_passed
            if verdict.all_passed:
                check.failures.append(_failure(run, verdict))
        else:
            check.references_total += 1
            check.references_passed += verdict.all_passed
            failed = {i for i, t in enumerate(verdict.tests) if t.status != Status.AC}
            reference_failures.setdefault(run.problem_id, []).append(failed)
            if not verdict.all_passed:
                check.failures.append(_failure(run, verdict))
    for check in checks.values():
        check.failures.sort(key=lambda f: f.kind != "reference")
        if check.references_total and not check.references_passed:
            check.reasons.append(f"no reference solution passes (0/{check.references_total})")
            check.tests_failed_by_every_reference = sorted(set.intersection(*reference_failures[check.problem_id]))
        if check.incorrect_passed:
            check.reasons.append(f"{check.incorrect_passed}/{check.incorrect_total} incorrect solution(s) pass")
    ordered = [checks[p.id] for p in problems]
    return ValidationReport(
        problems=len(problems),
        solutions_total=sum(c.references_total for c in ordered),
        solutions_accepted=sum(c.references_passed for c in ordered),
        incorrect_total=sum(c.incorrect_total for c in ordered),
        incorrect_rejected=sum(c.incorrect_total - c.incorrect_passed for c in ordered),
        suspect_problems=sum(c.suspect for c in ordered),
        solutions_skipped=sum(c.skipped for c in ordered),
        skipped_languages=dict(sum((skipped[p.id] for p in problems), Counter())),
        system_errors=sum(c.system_errors for c in ordered),
        checks=ordered,
    )


def validate(problems: Sequence[Problem], executor: Any, max_solutions: int | None = None,
             progress: bool = False) -> ValidationReport:
    """Run every runnable reference and incorrect solution of `problems` on all their tests with `executor`
    (an open `codelhf.execution.Executor`)."""
    samples, runs, skipped = validation_samples(problems, max_solutions)
    verdicts = executor.run(problems, samples, tests="all", progress=progress) if samples else []
    return summarize(problems, runs, verdicts, skipped)


def program_that_ran(problem: Problem, failure: SolutionFailure) -> str:
    """The exact program the runner got for the solution `failure` names: the harness builds it as it did for
    the run, in the problem's dialect (import header, function wrapper)."""
    solutions: list[Solution] = problem.solutions if failure.kind == "reference" else problem.incorrect_solutions
    solution = solutions[failure.index]
    sample = Sample(problem_id=problem.id, program=solution.code, language=solution.language)
    return harnesses.get(problem.harness)().build_job(problem, sample, [])["program"]
