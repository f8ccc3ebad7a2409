"""The canonical problem record that every dataset loader produces and every other module consumes.

A `Problem` says what the model sees (`prompt`), how a program is judged (`harness` and `checker`), and with
which tests. Public tests (shown in the statement, used for n@k filtering) are kept apart from hidden ones.

What a `TestCase` holds depends on the harness:
- `stdio`: `input` is the text fed on stdin, `output` the expected stdout text.
- `call`: `input` is the list of positional arguments, `output` the expected return value (JSON values).
- `assert`: `input` is test code run after the program (an `assert` line, or HumanEval's `check(...)`);
  `output` is unused.
"""

from __future__ import annotations

import gzip
import json
import random
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from codelhf.errors import UserError

DEFAULT_TIME_LIMIT_S = 4.0
DEFAULT_MEMORY_LIMIT_MB = 512
DEFAULT_OUTPUT_LIMIT_BYTES = 64 * 1024


@dataclass
class TestCase:
    input: Any
    output: Any = None


@dataclass
class Solution:
    """A reference (or known-incorrect) program and its language (`python` or `cpp`; others are kept, not run)."""

    code: str
    language: str = "python"


@dataclass
class Problem:
    id: str
    prompt: str
    harness: str = "stdio"
    public_tests: list[TestCase] = field(default_factory=list)
    hidden_tests: list[TestCase] = field(default_factory=list)
    fn_name: str | None = None
    """`call` harness: the function (or `Solution` method) to call."""
    entry_point: str | None = None
    """`assert` harness (HumanEval): the function the test code's `check` receives."""
    starter_code: str = ""
    setup_code: str = ""
    """`assert` harness (MBPP `test_setup_code`): run between the program and the tests."""
    time_limit_s: float = DEFAULT_TIME_LIMIT_S
    memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB
    output_limit_bytes: int = DEFAULT_OUTPUT_LIMIT_BYTES
    checker: str = "tokens"
    checker_args: dict[str, Any] = field(default_factory=dict)
    """Extra arguments for the checker, e.g. `{"abs_tol": 1e-6}` for `float` or `{"program": "..."}`."""
    dialect: str = "plain"
    """How the dataset's own harness runs a program (import header, stdin program as a function body): `apps`,
    `taco`, `livecodebench`, ... or `plain` (as written); see codelhf/harness/dialects.py. Loaders set it."""
    solutions: list[Solution] = field(default_factory=list)
    incorrect_solutions: list[Solution] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    """Free-form: `source`, `difficulty`, `tags`, `family`, `split`, ..."""

    def tests(self, which: str = "all") -> list[TestCase]:
        """The tests to run: `public`, `hidden`, or `all` (public first)."""
        if which == "public":
            return list(self.public_tests)
        if which == "hidden":
            return list(self.hidden_tests)
        if which == "all":
            return list(self.public_tests) + list(self.hidden_tests)
        raise UserError(f"unknown test selection {which!r}", "use one of: public, hidden, all")

    @property
    def difficulty(self) -> str:
        return str(self.metadata.get("difficulty", "all"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any], where: str = "") -> Problem:
        """Build from a canonical row; `where` (file:line) goes into the error message of a malformed row."""
        known = {f.name for f in fields(cls)}
        unknown = set(row) - known
        if unknown:
            raise UserError(f"{where}: unknown field(s) {sorted(unknown)} in problem record",
                            f"canonical problem fields are: {', '.join(sorted(known))}")
        for name in ("id", "prompt"):
            if name not in row:
                raise UserError(f"{where}: problem record has no {name!r} field",
                                "every problem needs 'id' and 'prompt'; see codelhf/problems.py")
        data = dict(row)
        data["id"] = str(data["id"])
        try:
            for key in ("public_tests", "hidden_tests"):
                data[key] = [t if isinstance(t, TestCase) else TestCase(**t) for t in data.get(key) or []]
            for key in ("solutions", "incorrect_solutions"):
                data[key] = [s if isinstance(s, Solution) else Solution(**s) for s in data.get(key) or []]
        except TypeError as e:
            raise UserError(f"{where}: malformed test or solution in problem {data['id']!r}: {e}",
                            "tests are {'input': ..., 'output': ...}; solutions are {'code': ..., 'language': ...}")
        return cls(**data)


# ---------------------------------------------------------------------------------------------------------------
# Choosing problems: evaluation subsets and training batches
# ---------------------------------------------------------------------------------------------------------------


def spread(problems: Sequence[Problem], limit: int | None) -> list[Problem]:
    """At most `limit` problems taken at even strides, so a split stored family by family keeps every family."""
    if limit is None or limit >= len(problems):
        return list(problems)
    return [problems[i * len(problems) // limit] for i in range(limit)]


def problems_for_step(problems: Sequence[Problem], step: int, n: int, seed: int) -> list[Problem]:
    """The `n` problems of training step (or round) `step`, counted from 1: consecutive slices of per-epoch seeded
    shuffles, so every problem is seen once per epoch and a resumed run sees the same ones."""
    out: list[Problem] = []
    index = (step - 1) * n
    while len(out) < n:
        epoch, offset = divmod(index, len(problems))
        order = list(range(len(problems)))
        random.Random(seed * 7919 + epoch).shuffle(order)
        take = order[offset:offset + n - len(out)]
        out.extend(problems[i] for i in take)
        index += len(take)
    return out


# ---------------------------------------------------------------------------------------------------------------
# JSONL I/O (shared by problems, samples and verdicts)
# ---------------------------------------------------------------------------------------------------------------


def text_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(line number, line) of a UTF-8 text file, gunzipped when the name ends in .gz. Bytes that are not UTF-8 and
    a damaged gzip stream are the user's to fix: a `UserError` naming the file (and line), never a traceback."""
    path = Path(path)
    lineno, raw = 0, b""
    try:
        with (gzip.open if path.name.endswith(".gz") else open)(path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                yield lineno, raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"{path}:{lineno}: not UTF-8 text (byte 0x{raw[e.start]:02x} at column {e.start + 1}); "
                        "save the file as UTF-8") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise UserError(f"{path}: not a valid gzip file, damaged or cut short ({e}); recompress it, or use the "
                        "uncompressed file") from None


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line of a .jsonl or .jsonl.gz file."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file", "check the path")
    for lineno, line in text_lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{path}:{lineno}: not valid JSON ({e.msg} at column {e.colno})",
                            "each line must be one JSON object")
        if not isinstance(obj, dict):
            raise UserError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        yield lineno, obj


def write_jsonl(path: str | Path, rows: Iterable[Any]) -> int:
    """Write dataclasses or dicts as JSONL (gzip when the name ends in .gz); returns the number of rows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.suffix == ".gz" else open
    n = 0
    with opener(path, "wt", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(asdict(row) if hasattr(row, "__dataclass_fields__") else row) + "\n")
            n += 1
    return n


def load_problems_jsonl(path: str | Path) -> list[Problem]:
    """Read canonical `Problem` records; other formats are read by `codelhf.datasets.load_problems`."""
    return [Problem.from_dict(row, f"{path}:{lineno}") for lineno, row in read_jsonl(path)]


def save_problems_jsonl(path: str | Path, problems: Iterable[Problem]) -> int:
    return write_jsonl(path, problems)
