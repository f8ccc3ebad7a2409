"""Check a dataset's tests with its own solutions: references should pass, known-incorrect ones should fail.

Datasets ship wrong tests (CodeContests generated tests, TACO): a problem where no reference solution passes, or
where an incorrect solution passes, has tests that cannot be trusted for rewards or pass@k. `validate` runs every
Python and C++ solution through the executor and lists those problems, one JSON object per line, so a user can
filter them out. Solutions in other languages (Python 2, Java) are counted as skipped, never as failures; a
solution whose run hit a system error (SE) is counted apart, since the sandbox and not the tests failed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from codelhf.problems import Problem, Solution
from codelhf.samples import LANGUAGES, Sample
from codelhf.verdicts import SampleVerdict, Status


@dataclass
class ProblemCheck:
    """One problem's result: how its references and incorrect solutions fared, and why it is suspect."""

    problem_id: str
    references_total: int = 0
    references_passed: int = 0
    incorrect_total: int = 0
    incorrect_passed: int = 0
    skipped: int = 0
    system_errors: int = 0
    tests_failed_by_every_reference: list[int] = field(default_factory=list)
    """Indices into Problem.tests("all") (public first): the tests most likely to be wrong."""
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
    system_errors: int
    checks: list[ProblemCheck]

    def summary(self) -> dict[str, Any]:
        """The `--json` object (everything but the per-problem checks) plus the suspects' ids."""
        data = {k: v for k, v in asdict(self).items() if k != "checks"}
        data["suspects"] = [c.problem_id for c in self.checks if c.suspect]
        return data

    def suspects(self) -> list[dict[str, Any]]:
        """Rows of the suspects JSONL."""
        return [{**asdict(c), "suspect": True} for c in self.checks if c.suspect]


def validation_samples(problems: Sequence[Problem], max_solutions: int | None = None
                       ) -> tuple[list[Sample], list[tuple[str, bool]], dict[str, int]]:
    """One sample per runnable solution; returns the samples, (problem id, is_incorrect) for each, and the count
    of skipped (unrunnable-language) solutions per problem."""
    samples: list[Sample] = []
    kinds: list[tuple[str, bool]] = []
    skipped: dict[str, int] = {}
    for problem in problems:
        for incorrect, solutions in ((False, problem.solutions), (True, problem.incorrect_solutions)):
            runnable: list[Solution] = [s for s in solutions if s.language in LANGUAGES]
            skipped[problem.id] = skipped.get(problem.id, 0) + len(solutions) - len(runnable)
            for solution in runnable[:max_solutions]:
                samples.append(Sample(problem_id=problem.id, program=solution.code, language=solution.language,
                                      sample_index=len(samples), metadata={"incorrect": incorrect}))
                kinds.append((problem.id, incorrect))
    return samples, kinds, skipped


def summarize(problems: Sequence[Problem], kinds: list[tuple[str, bool]], verdicts: list[SampleVerdict],
              skipped: dict[str, int]) -> ValidationReport:
    checks = {p.id: ProblemCheck(p.id, skipped=skipped.get(p.id, 0)) for p in problems}
    reference_failures: dict[str, list[set[int]]] = {}
    for (problem_id, incorrect), verdict in zip(kinds, verdicts):
        check = checks[problem_id]
        if any(t.status == Status.SE for t in verdict.tests):
            check.system_errors += 1
            continue
        if incorrect:
            check.incorrect_total += 1
            check.incorrect_passed += verdict.all_passed
        else:
            check.references_total += 1
            check.references_passed += verdict.all_passed
            failed = {i for i, t in enumerate(verdict.tests) if t.status != Status.AC}
            reference_failures.setdefault(problem_id, []).append(failed)
    for check in checks.values():
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
        system_errors=sum(c.system_errors for c in ordered),
        checks=ordered,
    )


def validate(problems: Sequence[Problem], executor: Any, max_solutions: int | None = None,
             progress: bool = False) -> ValidationReport:
    """Run every runnable reference and incorrect solution of `problems` on all their tests with `executor`
    (an open `codelhf.execution.Executor`)."""
    samples, kinds, skipped = validation_samples(problems, max_solutions)
    verdicts = executor.run(problems, samples, tests="all", progress=progress) if samples else []
    return summarize(problems, kinds, verdicts, skipped)
