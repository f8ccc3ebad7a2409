"""MBPP (Austin et al. 2021), in its original and its sanitized layout.

Original: `task_id`, `text` (the task), `code` (reference), `test_list` (assert lines), `test_setup_code`,
`challenge_test_list`. Sanitized: `task_id`, `prompt`, `code`, `test_list`, `test_imports`.

The prompt is the task followed by the asserts, as in the paper's prompt (the model needs them to learn the
function's name and signature). The asserts are the hidden tests, one `assert`-harness test each; setup code (or
the sanitized set's imports) runs between the program and each test. The challenge tests are kept in metadata:
the paper does not score them. The `mbpp` dialect adds no header and gives each assert 3 s (the common
harnesses give the whole program 3 s).
"""

from __future__ import annotations

from typing import Any

from codelhf.datasets.base import Loader, RowError, get, problem_id, text, with_dialect
from codelhf.problems import Problem, Solution, TestCase


def _convert(row: dict[str, Any], index: int) -> Problem:
    task = text(row, "text") if "text" in row else text(row, "prompt")
    asserts = get(row, "test_list")
    if not isinstance(asserts, list) or not asserts or not all(isinstance(a, str) for a in asserts):
        raise RowError("test_list", "expected a non-empty list of assert lines")
    imports = get(row, "test_imports", [])
    if not isinstance(imports, list):
        raise RowError("test_imports", "expected a list of import lines")
    setup = text(row, "test_setup_code", "") or "\n".join(imports)
    metadata: dict[str, Any] = {"source": "mbpp", "layout": "original" if "text" in row else "sanitized"}
    if row.get("challenge_test_list"):
        metadata["challenge_test_list"] = list(row["challenge_test_list"])
    return with_dialect(Problem(
        id=problem_id(row, index, "task_id"),
        prompt=f"{task}\nYour code should pass these tests:\n\n" + "\n".join(asserts) + "\n",
        harness="assert",
        hidden_tests=[TestCase(input=a) for a in asserts],
        setup_code=setup,
        solutions=[Solution(code=text(row, "code"), language="python")],
        metadata=metadata,
    ), "mbpp")


MBPP = Loader(
    name="mbpp",
    detect=lambda row: "test_list" in row and "code" in row,
    convert=_convert,
    description="MBPP rows, original (text, test_setup_code) or sanitized (prompt, test_imports)",
)
