"""Verdicts, named as the classic judges name them (DMOJ, isolate).

Per test: AC accepted, WA wrong answer, TLE time limit, MLE memory limit, OLE output limit, RE runtime error,
CE compile (or syntax) error, SE system error. SE is the sandbox's fault, never the program's: the executor
retries it and only reports it when retries are exhausted. Tests not run (after a compile error) are CE.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from codelhf.problems import read_jsonl, write_jsonl


class Status(str, Enum):
    AC = "AC"
    WA = "WA"
    TLE = "TLE"
    MLE = "MLE"
    OLE = "OLE"
    RE = "RE"
    CE = "CE"
    SE = "SE"

    def __str__(self) -> str:
        return self.value


# When several flags apply to one test, the most severe wins (STYLE rule 5, after DMOJ's result.py).
PRECEDENCE = [Status.SE, Status.CE, Status.TLE, Status.MLE, Status.OLE, Status.RE, Status.WA, Status.AC]


def worst(statuses: Iterable[Status]) -> Status:
    """The most severe of several statuses (AC when there are none)."""
    found = set(statuses)
    return next((s for s in PRECEDENCE if s in found), Status.AC)


EXCERPT_CHARS = 512


def excerpt(text: str | None, limit: int = EXCERPT_CHARS) -> str:
    if not text:
        return ""
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more chars]"


@dataclass
class TestVerdict:
    status: Status
    cpu_s: float = 0.0
    wall_s: float = 0.0
    memory_mb: float = 0.0
    """Peak resident memory of the test's process."""
    exit_code: int | None = None
    signal: int | None = None
    stdout: str = ""
    """Short excerpts, for people reading a failure; the full output is never kept."""
    expected: str = ""
    stderr: str = ""
    feedback: str = ""
    """What the checker (or the sandbox) says about the verdict, e.g. 'token 3 differs'."""

    def __post_init__(self) -> None:
        self.status = Status(self.status)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        return d


@dataclass
class SampleVerdict:
    problem_id: str
    sample_index: int
    tests: list[TestVerdict] = field(default_factory=list)
    test_set: str = "all"
    """Which tests were run: public, hidden or all."""
    attempts: int = 1
    """How many times the job was sent to a worker (more than 1 after a worker crashed)."""

    @property
    def passed(self) -> int:
        return sum(t.status == Status.AC for t in self.tests)

    @property
    def total(self) -> int:
        return len(self.tests)

    @property
    def all_passed(self) -> bool:
        return self.total > 0 and self.passed == self.total

    @property
    def first_failure(self) -> int | None:
        """Index of the first test that did not pass, or None."""
        return next((i for i, t in enumerate(self.tests) if t.status != Status.AC), None)

    @property
    def status(self) -> Status:
        """The sample's verdict: AC when all passed, else its first failing test's status."""
        i = self.first_failure
        return Status.AC if i is None and self.tests else (self.tests[i].status if i is not None else Status.SE)

    def to_dict(self) -> dict[str, Any]:
        return {
            "problem_id": self.problem_id,
            "sample_index": self.sample_index,
            "passed": self.passed,
            "total": self.total,
            "all_passed": self.all_passed,
            "status": self.status.value,
            "first_failure": self.first_failure,
            "test_set": self.test_set,
            "attempts": self.attempts,
            "tests": [t.to_dict() for t in self.tests],
        }

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> SampleVerdict:
        return cls(
            problem_id=str(row["problem_id"]),
            sample_index=int(row["sample_index"]),
            tests=[TestVerdict(**t) for t in row.get("tests", [])],
            test_set=row.get("test_set", "all"),
            attempts=row.get("attempts", 1),
        )


def save_verdicts(path: str | Path, verdicts: Iterable[SampleVerdict]) -> int:
    return write_jsonl(path, (v.to_dict() for v in verdicts))


def load_verdicts(path: str | Path) -> list[SampleVerdict]:
    return [SampleVerdict.from_dict(row) for _, row in read_jsonl(path)]


def count_statuses(verdicts: Iterable[SampleVerdict]) -> dict[str, int]:
    """Samples by their verdict (a sample's first failing test), for summaries and plots."""
    counts = {s.value: 0 for s in PRECEDENCE}
    for v in verdicts:
        counts[v.status.value] += 1
    return {k: n for k, n in counts.items() if n}
