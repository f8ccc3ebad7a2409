"""APPS (Hendrycks et al. 2021) and TACO (a superset in the same row layout).

A row: `question`, `solutions` (JSON list of Python 3 programs), `input_output` (JSON: `inputs`, `outputs`, and
`fn_name` for call-based problems), `starter_code`, `difficulty`, `url`; APPS ids are `problem_id`, TACO rows carry
none (the row's position is used, as TACO's own evaluation does). The original APPS release is a directory per
problem; `read_apps_directory` turns each folder into the same row.

Neither set separates public from hidden tests, so every test is hidden here: n@k filtering is vacuous on them.
Stdio tests stored as lists of lines are joined; call-based arguments stay a list of positional arguments and the
expected value stays as stored (sometimes wrapped in a one-element list; the `call` harness accepts either).

Problems are judged in the `apps` or `taco` dialect (codelhf/harness/dialects.py): their harnesses' import header,
a stdin program with a top-level `return` run as a function body, their output comparison, 4 s per test. TACO's
harness ignores the row's free-text `time_limit` and `memory_limit`; they are kept in `metadata`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codelhf.datasets.base import Loader, RowError, json_value, problem_id, stdio_text, text, with_dialect
from codelhf.problems import Problem, Solution, TestCase

TACO_ONLY_FIELDS = ("skill_types", "raw_tags", "Expected Time Complexity", "picture_num")


def tests_from_input_output(row: dict[str, Any]) -> tuple[list[TestCase], str | None]:
    io = json_value(row, "input_output")
    if not isinstance(io, dict):
        raise RowError("input_output", f"expected an object with 'inputs' and 'outputs', got {type(io).__name__}")
    inputs, outputs = io.get("inputs"), io.get("outputs")
    if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs):
        raise RowError("input_output", "'inputs' and 'outputs' must be lists of the same length")
    fn_name = io.get("fn_name") or None
    tests = []
    for args, expected in zip(inputs, outputs):
        if fn_name:
            if not isinstance(args, list):
                raise RowError("input_output", f"call-based inputs must be lists of arguments, got {args!r:.60}")
            tests.append(TestCase(input=args, output=expected))
        else:
            tests.append(TestCase(input=stdio_text(args, "input_output.inputs"),
                                  output=stdio_text(expected, "input_output.outputs")))
    return tests, fn_name


def python_solutions(row: dict[str, Any]) -> list[Solution]:
    solutions = json_value(row, "solutions", [])
    if not isinstance(solutions, list) or not all(isinstance(s, str) for s in solutions):
        raise RowError("solutions", "expected a JSON list of programs")
    return [Solution(code=s, language="python") for s in solutions]


def _convert(row: dict[str, Any], index: int, source: str) -> Problem:
    tests, fn_name = tests_from_input_output(row)
    folder_metadata = json_value(row, "metadata.json", {})  # the directory layout's difficulty and url
    if not isinstance(folder_metadata, dict):
        raise RowError("metadata.json", "expected a JSON object")
    row = {**folder_metadata, **row}
    metadata = {"source": source}
    for key in ("difficulty", "url", "source", "tags", "skill_types", "time_limit", "memory_limit"):
        if row.get(key) not in (None, "", []):
            metadata[key if key != "source" else "origin"] = row[key]
    return with_dialect(Problem(
        id=problem_id(row, index, "problem_id", "id"),
        prompt=text(row, "question"),
        harness="call" if fn_name else "stdio",
        hidden_tests=tests,
        fn_name=fn_name,
        starter_code=text(row, "starter_code", ""),
        solutions=python_solutions(row),
        metadata=metadata,
    ), source)


def _is_apps_like(row: dict[str, Any]) -> bool:
    return "input_output" in row and "question" in row


APPS = Loader(
    name="apps",
    detect=lambda row: _is_apps_like(row) and not any(k in row for k in TACO_ONLY_FIELDS),
    convert=lambda row, index: _convert(row, index, "apps"),
    description="APPS rows (question, input_output, solutions) or the original directory per problem",
)

TACO = Loader(
    name="taco",
    detect=lambda row: _is_apps_like(row) and any(k in row for k in TACO_ONLY_FIELDS),
    convert=lambda row, index: _convert(row, index, "taco"),
    description="TACO rows (the APPS layout plus tags, skill types and free-text limits)",
)


# ---------------------------------------------------------------------------------------------------------------
# The original APPS release: train/0000/{question.txt, input_output.json, solutions.json, metadata.json, ...}
# ---------------------------------------------------------------------------------------------------------------


def is_apps_directory(path: Path) -> bool:
    return path.is_dir() and any((child / "question.txt").is_file() for child in path.iterdir() if child.is_dir())


def read_apps_directory(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (folder, row) with the folder name as `problem_id`; files are parsed lazily by the loader."""
    for folder in sorted(p for p in path.iterdir() if (p / "question.txt").is_file()):
        row: dict[str, Any] = {"problem_id": folder.name,
                               "question": (folder / "question.txt").read_text(encoding="utf-8")}
        for name, key in (("input_output.json", "input_output"), ("solutions.json", "solutions")):
            if (folder / name).is_file():
                row[key] = (folder / name).read_text(encoding="utf-8")
        if (folder / "starter_code.py").is_file():
            row["starter_code"] = (folder / "starter_code.py").read_text(encoding="utf-8")
        if (folder / "metadata.json").is_file():
            row["metadata.json"] = (folder / "metadata.json").read_text(encoding="utf-8")
        yield str(folder), row
