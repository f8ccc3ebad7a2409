"""codelhf's own problem records (see codelhf/problems.py), as written by `save_problems_jsonl`."""

from __future__ import annotations

from typing import Any

from codelhf.datasets.base import Loader, RowError
from codelhf.errors import UserError
from codelhf.problems import Problem


def _convert(row: dict[str, Any], index: int) -> Problem:
    try:
        return Problem.from_dict(row, f"row {index + 1}")
    except UserError as e:
        raise RowError(None, e.message.split(": ", 1)[-1], e.hint)


CANONICAL = Loader(
    name="jsonl",
    detect=lambda row: {"id", "prompt"} <= set(row) and ("public_tests" in row or "hidden_tests" in row),
    convert=_convert,
    description="codelhf problem records (id, prompt, harness, public_tests, hidden_tests, ...)",
)
