"""CodeContests (Li et al. 2022, AlphaCode).

A row: `name` (the id), `description`, `public_tests`, `private_tests`, `generated_tests` (each
`{input: [...], output: [...]}`), `solutions` and `incorrect_solutions` (each `{language: [...], solution: [...]}`),
`time_limit` (`{seconds, nanos}`), `memory_limit_bytes`, `difficulty`, `cf_rating`, `source`.

Public tests (those in the statement) become `public_tests`, used for n@k filtering. Private and generated tests
become the hidden tests, private first; `metadata["n_private_tests"]` says where the generated ones start, since
generated tests are the ones most often wrong (validate them with `codelhf validate`).

Problems are judged in the `code_contests` dialect (codelhf/harness/dialects.py): programs run as written, under
the problem's own time and memory limits, output compared as DeepMind's tester does (tokens, case-insensitive,
numbers within 1e-5). Python 2 and Java solutions are kept but not run (the sandbox runs Python 3 and C++).
"""

from __future__ import annotations

from typing import Any

from codelhf.datasets.base import Loader, RowError, get, problem_id, text, with_dialect
from codelhf.problems import DEFAULT_MEMORY_LIMIT_MB, DEFAULT_TIME_LIMIT_S, Problem, Solution, TestCase

# The dataset's protocol-buffer enums, as integers in Parquet/hub rows and as names in its JSON dumps.
LANGUAGES = {0: "unknown", 1: "python2", 2: "cpp", 3: "python", 4: "java"}
LANGUAGE_NAMES = {"UNKNOWN_LANGUAGE": "unknown", "PYTHON": "python2", "CPP": "cpp", "PYTHON3": "python",
                  "JAVA": "java"}
DIFFICULTIES = ["UNKNOWN_DIFFICULTY", "EASY", "MEDIUM", "HARD", "HARDER", "HARDEST", "EXTERNAL",
                *"ABCDEFGHIJKLMNOPQRSTUV"]
SOURCES = ["UNKNOWN_SOURCE", "CODECHEF", "CODEFORCES", "HACKEREARTH", "CODEJAM", "ATCODER", "AIZU"]


def _tests(row: dict[str, Any], name: str) -> list[TestCase]:
    block = get(row, name, {"input": [], "output": []})
    if not isinstance(block, dict):
        raise RowError(name, f"expected {{input: [...], output: [...]}}, got {type(block).__name__}")
    inputs, outputs = block.get("input") or [], block.get("output") or []
    if len(inputs) != len(outputs):
        raise RowError(name, f"{len(inputs)} inputs but {len(outputs)} outputs")
    if not all(isinstance(t, str) for t in [*inputs, *outputs]):
        raise RowError(name, "test inputs and outputs must be text")
    return [TestCase(input=i, output=o) for i, o in zip(inputs, outputs)]


def _language(value: Any, name: str) -> str:
    if isinstance(value, int) and value in LANGUAGES:
        return LANGUAGES[value]
    if isinstance(value, str) and value in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[value]
    raise RowError(name, f"unknown language {value!r}", "CodeContests languages are 0-4 (1 Python 2, 2 C++, "
                                                        "3 Python 3, 4 Java)")


def _solutions(row: dict[str, Any], name: str) -> list[Solution]:
    block = get(row, name, {"language": [], "solution": []})
    if not isinstance(block, dict):
        raise RowError(name, f"expected {{language: [...], solution: [...]}}, got {type(block).__name__}")
    languages, programs = block.get("language") or [], block.get("solution") or []
    if len(languages) != len(programs):
        raise RowError(name, f"{len(languages)} languages but {len(programs)} solutions")
    return [Solution(code=code, language=_language(lang, name)) for lang, code in zip(languages, programs)]


def _enum(value: Any, names: list[str]) -> Any:
    return names[value] if isinstance(value, int) and 0 <= value < len(names) else value


def _convert(row: dict[str, Any], index: int) -> Problem:
    limit = get(row, "time_limit", {}) or {}
    if not isinstance(limit, dict):
        raise RowError("time_limit", "expected {seconds, nanos}")
    time_limit_s = float(limit.get("seconds") or 0) + float(limit.get("nanos") or 0) / 1e9
    memory_bytes = get(row, "memory_limit_bytes", 0)
    if not isinstance(memory_bytes, int):
        raise RowError("memory_limit_bytes", f"expected an integer, got {memory_bytes!r:.40}")
    private, generated = _tests(row, "private_tests"), _tests(row, "generated_tests")
    metadata = {"source": "code_contests", "difficulty": _enum(row.get("difficulty", 0), DIFFICULTIES),
                "origin": _enum(row.get("source", 0), SOURCES), "n_private_tests": len(private),
                "n_generated_tests": len(generated)}
    for key in ("cf_rating", "cf_tags", "cf_contest_id", "cf_index"):
        if row.get(key) not in (None, "", [], 0):
            metadata[key] = row[key]
    for key in ("input_file", "output_file"):  # a few problems read/write files instead of stdio
        if row.get(key):
            metadata[key] = row[key]
    return with_dialect(Problem(
        id=problem_id(row, index, "name"),
        prompt=text(row, "description"),
        harness="stdio",
        public_tests=_tests(row, "public_tests"),
        hidden_tests=private + generated,
        time_limit_s=time_limit_s or DEFAULT_TIME_LIMIT_S,
        memory_limit_mb=memory_bytes // 2**20 or DEFAULT_MEMORY_LIMIT_MB,
        solutions=_solutions(row, "solutions"),
        incorrect_solutions=_solutions(row, "incorrect_solutions"),
        metadata=metadata,
    ), "code_contests")


CODE_CONTESTS = Loader(
    name="code_contests",
    detect=lambda row: "description" in row and ("public_tests" in row or "private_tests" in row),
    convert=_convert,
    description="CodeContests rows (public/private/generated tests, correct and incorrect solutions)",
)
