"""Load problems from any supported source into canonical `Problem` records.

`load_problems(source)` accepts a local file (JSON, JSONL, JSONL.gz, Parquet, Arrow), a directory (an APPS release
with one folder per problem, a dataset saved with `datasets.save_to_disk`, or a folder of data files), the name
of a Hugging Face hub dataset (`name` or `name:config`, read with `datasets.load_dataset`), or `bundled`.
The format is detected from the first row's fields unless `format` names one of `loaders`.

A third-party format is one `Loader` (codelhf/datasets/base.py) registered under the entry point group
`codelhf.datasets`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codelhf.datasets.apps import is_apps_directory, read_apps_directory
from codelhf.datasets.base import Loader, RowError
from codelhf.datasets.bundled import load_bundled
from codelhf.errors import UserError
from codelhf.problems import Problem, text_lines
from codelhf.registry import Registry

log = logging.getLogger(__name__)

loaders: Registry[Loader] = Registry("dataset format", "codelhf.datasets")
loaders.register("apps", "codelhf.datasets.apps:APPS")
loaders.register("taco", "codelhf.datasets.apps:TACO")
loaders.register("code_contests", "codelhf.datasets.code_contests:CODE_CONTESTS")
loaders.register("humaneval", "codelhf.datasets.humaneval:HUMANEVAL")
loaders.register("mbpp", "codelhf.datasets.mbpp:MBPP")
loaders.register("livecodebench", "codelhf.datasets.livecodebench:LIVECODEBENCH")
loaders.register("jsonl", "codelhf.datasets.jsonl:CANONICAL")

Rows = Iterator[tuple[str, "dict[str, Any] | RowError"]]
"""(where, row) pairs; `where` names the file and the row; a row that cannot even be parsed is a `RowError`."""

FILE_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".parquet", ".arrow")
FORMATS_HINT = "give --format (one of: {names})"


def load_problems(source: str | Path, format: str | None = None, split: str | None = None,
                  limit: int | None = None, skip_bad: bool = False) -> list[Problem]:
    """Problems from `source`; malformed rows stop with a `UserError` naming file, row and field, or are skipped
    (with a logged count) when `skip_bad`."""
    if str(source) == "bundled":
        return load_bundled(split)[:limit]
    path = Path(source)
    if path.exists():
        path = _apps_split_folder(path, split)
        rows = _read_local(path, split)
        if format is None and path.is_dir() and is_apps_directory(path):
            format = "apps"
    elif path.suffix in (".json", ".jsonl", ".gz", ".parquet", ".arrow") or str(source).startswith((".", "/")):
        raise UserError(f"{source}: no such file", "check the path (or give a hub dataset name)")
    else:
        rows = _read_hub(str(source), split, limit)
    return _convert_rows(rows, str(source), format, limit, skip_bad)


def _convert_rows(rows: Rows, source: str, format: str | None,
                  limit: int | None, skip_bad: bool) -> list[Problem]:
    loader = loaders.get(format) if format else None
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    skipped: list[str] = []
    for index, (where, row) in enumerate(rows):
        if limit is not None and len(problems) >= limit:
            break
        try:
            if isinstance(row, RowError):  # a line that is not a JSON object
                raise row
            if loader is None:
                loader = detect_format(row, where)
            problem = loader.convert(row, index)
            if not problem.public_tests and not problem.hidden_tests:
                raise RowError("tests", "the problem has no tests", "a problem without tests cannot be judged")
        except RowError as e:
            field = f"field {e.field!r}: " if e.field else ""
            kind = f"{loader.name} " if loader else ""
            message = f"{where}: malformed {kind}row: {field}{e.message}"
            if not skip_bad:
                raise UserError(message, e.hint or "fix the row, or pass --skip-bad to skip malformed rows")
            skipped.append(message)
            continue
        if problem.id in seen:
            raise UserError(f"{where}: duplicate problem id {problem.id!r} (first at {seen[problem.id]})",
                            "problem ids must be unique so samples and verdicts can refer to them")
        seen[problem.id] = where
        problems.append(problem)
    if skipped:
        log.warning("%s: skipped %d malformed row(s); first: %s", source, len(skipped), skipped[0])
    if not problems:
        raise UserError(f"{source}: no problems loaded" + (f" ({len(skipped)} malformed rows skipped)"
                                                           if skipped else ""), "check the file and --split")
    return problems


def detect_format(row: dict[str, Any], where: str = "") -> Loader:
    """The one registered format whose tell-tale fields the row has."""
    matches = [loader for loader in map(loaders.get, loaders.names()) if loader.detect(row)]
    if len(matches) == 1:
        return matches[0]
    fields = ", ".join(sorted(row)[:12])
    if not matches:
        raise UserError(f"{where}: cannot tell the dataset format from the fields ({fields})",
                        FORMATS_HINT.format(names=", ".join(loaders.names())))
    raise UserError(f"{where}: the fields ({fields}) fit several formats: {', '.join(m.name for m in matches)}",
                    FORMATS_HINT.format(names=", ".join(m.name for m in matches)))


# ---------------------------------------------------------------------------------------------------------------
# Readers: one per kind of local source, and the hub
# ---------------------------------------------------------------------------------------------------------------


def _apps_split_folder(path: Path, split: str | None) -> Path:
    """The APPS release's root holds train/ and test/, each a folder of problems: `split` picks one."""
    if not path.is_dir() or is_apps_directory(path):
        return path
    splits = sorted(child.name for child in path.iterdir() if is_apps_directory(child))
    return path / _choose_split(splits, split, path) if splits else path


def _read_local(path: Path, split: str | None) -> Rows:
    if path.is_dir():
        if is_apps_directory(path):
            return read_apps_directory(path)
        if (path / "dataset_dict.json").exists() or (path / "dataset_info.json").exists():
            return _read_saved_dataset(path, split)
        return _read_data_files(path, split)
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz")):
        return _read_jsonl(path)
    if name.endswith((".json", ".json.gz")):
        return _read_json(path)
    if name.endswith(".parquet"):
        return _read_parquet(path)
    if name.endswith(".arrow"):
        return _read_arrow_file(path)
    raise UserError(f"{path}: unsupported file type", f"supported: {', '.join(FILE_SUFFIXES)}, or a directory")


def _read_jsonl(path: Path) -> Rows:
    """Like problems.read_jsonl, but a line that is not a JSON object becomes a malformed row (skippable)."""
    for lineno, line in text_lines(path):
        if line.strip():
            yield f"{path}:{lineno}", _parse_line(line)


def _parse_line(line: str) -> dict[str, Any] | RowError:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        return RowError(None, f"not valid JSON ({e.msg} at column {e.colno})")
    return obj if isinstance(obj, dict) else RowError(None, f"expected a JSON object, got {type(obj).__name__}")


def _read_json(path: Path) -> Rows:
    """A JSON list of rows (MBPP sanitized), or JSON lines in a .json file (as many hub exports are)."""
    content = "".join(line for _, line in text_lines(path))
    try:
        data = json.loads(content)
    except json.JSONDecodeError as e:
        if e.msg != "Extra data":
            raise UserError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})",
                            "expected a JSON list of rows, or one JSON object per line")
        for lineno, line in enumerate(content.splitlines(), 1):
            if line.strip():
                yield f"{path}:{lineno}", _parse_line(line)
        return
    if isinstance(data, dict):  # one problem, or {"data": [...]}: a lone list value holds the rows
        lists = [v for v in data.values() if isinstance(v, list) and v and all(isinstance(r, dict) for r in v)]
        data = lists[0] if len(lists) == 1 and len(data) == 1 else [data]
    if not isinstance(data, list):
        raise UserError(f"{path}: expected a JSON list of rows, got {type(data).__name__}")
    for i, row in enumerate(data, 1):
        yield f"{path} row {i}", row if isinstance(row, dict) else RowError(None, "expected a JSON object")


def _read_parquet(path: Path) -> Rows:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as e:  # noqa: BLE001  # pyarrow raises ArrowInvalid and friends for a file that is not Parquet
        raise UserError(f"{path}: cannot read as Parquet ({e})", "check the file")
    i = 0
    for batch in parquet.iter_batches(batch_size=256):  # batches: a large set is not read whole for --limit
        for row in batch.to_pylist():
            i += 1
            yield f"{path} row {i}", row


def _read_arrow_file(path: Path) -> Rows:
    import datasets

    try:
        table = datasets.Dataset.from_file(str(path))
    except Exception as e:  # noqa: BLE001
        raise UserError(f"{path}: cannot read as an Arrow dataset file ({e})", "check the file")
    for i, row in enumerate(table, 1):
        yield f"{path} row {i}", row


def _read_saved_dataset(path: Path, split: str | None) -> Rows:
    """A directory written by `Dataset.save_to_disk` or `DatasetDict.save_to_disk`."""
    import datasets

    try:
        data = datasets.load_from_disk(str(path))
    except Exception as e:  # noqa: BLE001
        raise UserError(f"{path}: cannot read the saved dataset ({e})", "check the directory")
    if isinstance(data, datasets.DatasetDict):
        data = data[_choose_split(list(data), split, path)]
    for i, row in enumerate(data, 1):
        yield f"{path} [{split or 'row'}] row {i}", row


def _choose_split(splits: list[str], split: str | None, where: Any) -> str:
    if split is None:
        if len(splits) == 1:
            return splits[0]
        if "test" in splits:
            return "test"
        raise UserError(f"{where}: several splits ({', '.join(splits)})", "choose one with --split")
    if split not in splits:
        raise UserError(f"{where}: no split {split!r}", f"splits: {', '.join(splits)}")
    return split


def _read_data_files(path: Path, split: str | None) -> Rows:
    """A folder of data files (a hub snapshot): those whose name starts with the split, in name order."""
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(FILE_SUFFIXES))
    by_split: dict[str, list[Path]] = {}
    for f in files:
        by_split.setdefault(f.name.split("-")[0].split(".")[0], []).append(f)
    if not files:
        raise UserError(f"{path}: no data files in this directory",
                        f"expected {', '.join(FILE_SUFFIXES)} files, an APPS release or a saved dataset")
    chosen = by_split[_choose_split(sorted(by_split), split, path)]
    for f in chosen:
        yield from _read_local(f, None)


def _read_hub(name: str, split: str | None, limit: int | None) -> Rows:
    """`name` or `name:config` through `datasets.load_dataset` (needs the network or a warm hub cache)."""
    import datasets

    repo, _, config = name.partition(":")
    split = split or "test"
    try:
        data = datasets.load_dataset(repo, config or None, split=f"{split}[:{limit}]" if limit else split)
    except Exception as e:  # noqa: BLE001  # offline, unknown name, gated, bad split: the library's message says
        raise UserError(f"cannot load {name!r} (split {split!r}) from the Hugging Face hub: "
                        f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                        "check the name and the network (or HF_HUB_OFFLINE with a cached copy); "
                        "or download it and give the local file (JSON, JSONL, Parquet, Arrow)")
    for i, row in enumerate(data, 1):
        yield f"{name}[{split}] row {i}", row
