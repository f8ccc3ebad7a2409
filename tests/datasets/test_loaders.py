"""Every loader on its fixture (tests/fixtures/datasets, each in the source's real layout), the file kinds
(JSON, JSONL, JSONL.gz, Parquet, Arrow), format detection, and what a user sees for a malformed row."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import pickle
import shutil
import zlib
from pathlib import Path

import pytest

from codelhf.datasets import detect_format, load_problems, loaders
from codelhf.datasets.livecodebench import decode_private_tests
from codelhf.errors import UserError
from codelhf.problems import Problem
from codelhf.problems import TestCase as Case  # aliased: pytest would try to collect Test*

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "datasets"


def by_id(problems: list[Problem]) -> dict[str, Problem]:
    return {p.id: p for p in problems}


# ---------------------------------------------------------------------------------------------------------------
# One test per source
# ---------------------------------------------------------------------------------------------------------------


def test_apps_rows_stdio_call_based_and_lines() -> None:
    problems = by_id(load_problems(FIXTURES / "apps.jsonl"))
    assert list(problems) == ["4001", "4002", "4003"]
    stdio, call, lines = problems["4001"], problems["4002"], problems["4003"]
    assert stdio.harness == "stdio" and stdio.public_tests == []
    assert stdio.hidden_tests[1] == Case("-5 5\n", "0\n")
    assert len(stdio.solutions) == 2 and stdio.solutions[0].language == "python"
    assert stdio.metadata == {"source": "apps", "difficulty": "introductory",
                              "url": "https://example.org/problems/4001"}
    assert call.harness == "call" and call.fn_name == "count_vowels"
    assert call.starter_code == "def count_vowels(s):\n    "
    assert call.hidden_tests[0] == Case(["hello"], [2])  # arguments as a list, output as stored
    assert lines.hidden_tests[0] == Case("3\n1 2 3\n", "6\n3\n")  # lists of lines joined
    assert lines.difficulty == "competition"


def test_apps_directory_layout() -> None:
    problems = by_id(load_problems(FIXTURES / "apps_dir"))
    assert list(problems) == ["0000", "0001"]  # the folder names are the ids
    assert problems["0000"].prompt.startswith("Print the input string reversed")
    assert problems["0000"].hidden_tests == [Case("abc\n", "cba\n"), Case("x\n", "x\n")]
    assert problems["0000"].metadata["difficulty"] == "introductory"
    double = problems["0001"]
    assert (double.harness, double.fn_name, double.starter_code) == ("call", "double", "def double(xs):\n    ")
    assert double.hidden_tests[0] == Case([[1, 2]], [[2, 4]])


def test_taco_rows_have_no_id_and_free_text_limits() -> None:
    [problem] = load_problems(FIXTURES / "taco.jsonl")
    assert problem.id == "0"  # the row's position, as TACO's own evaluation numbers them
    # TACO's harness gives every test 4 s and no memory limit, whatever the row states; the statement is kept
    assert (problem.time_limit_s, problem.memory_limit_mb) == (4.0, 512)
    assert (problem.metadata["time_limit"], problem.metadata["memory_limit"]) == ("2 seconds", "256 megabytes")
    assert problem.dialect == "taco" and problem.checker == "tokens"
    assert problem.metadata["source"] == "taco" and problem.metadata["difficulty"] == "EASY"


def test_code_contests_tests_kept_apart_and_languages_mapped() -> None:
    problems = by_id(load_problems(FIXTURES / "code_contests.jsonl"))
    double = problems["1_A. Double it"]
    assert double.public_tests == [Case("3\n", "6\n")]
    assert double.hidden_tests == [Case("10\n", "20\n"), Case("0\n", "0\n"), Case("-4\n", "-8\n")]
    assert double.metadata["n_private_tests"] == 1 and double.metadata["n_generated_tests"] == 2
    assert [s.language for s in double.solutions] == ["cpp", "python", "python2", "java"]
    assert [s.language for s in double.incorrect_solutions] == ["python", "cpp"]
    assert double.time_limit_s == 1.5 and double.memory_limit_mb == 256
    assert double.metadata["difficulty"] == "A" and double.metadata["origin"] == "CODEFORCES"
    assert double.metadata["cf_rating"] == 800
    assert problems["1_C. Larger of two"].time_limit_s == 4.0  # no time limit in the row: the default


def test_humaneval_rows() -> None:
    problems = by_id(load_problems(FIXTURES / "humaneval.jsonl"))
    add = problems["Toy/0"]
    assert add.harness == "assert" and add.entry_point == "add"
    assert add.hidden_tests[0].input.rstrip().endswith("check(add)")
    assert add.solutions[0].code == add.prompt + "    return a + b\n"


def test_mbpp_original_and_sanitized_layouts() -> None:
    original = by_id(load_problems(FIXTURES / "mbpp.jsonl"))
    square, hypot = original["901"], original["902"]
    assert square.harness == "assert"
    assert [t.input for t in square.hidden_tests] == ["assert square(3) == 9", "assert square(-2) == 4",
                                                      "assert square(0) == 0"]
    assert "assert square(3) == 9" in square.prompt  # the paper's prompt shows the asserts
    assert square.metadata["challenge_test_list"] == ["assert square(10**6) == 10**12"]
    assert hypot.setup_code == "import math"
    sanitized = by_id(load_problems(FIXTURES / "mbpp_sanitized.json"))
    assert sanitized["904"].setup_code == "import random"
    assert sanitized["903"].prompt.startswith("Write a function to count the words")
    assert sanitized["903"].metadata["layout"] == "sanitized"


def compress_private_tests(cases: list[dict]) -> str:
    """The encoding LiveCodeBench releases its private tests in."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(cases)))).decode("ascii")


def test_livecodebench_stdin_functional_and_compressed_private_tests(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in (FIXTURES / "livecodebench.jsonl").read_text().splitlines()]
    for row in rows:
        row["private_test_cases"] = compress_private_tests(json.loads(row["private_test_cases"]))
    released = tmp_path / "lcb.jsonl"
    released.write_text("".join(json.dumps(r) + "\n" for r in rows))
    problems = by_id(load_problems(released))
    assert problems == by_id(load_problems(FIXTURES / "livecodebench.jsonl"))  # same as the plain-JSON form
    stdin, functional = problems["abc900_a"], problems["9001"]
    assert stdin.harness == "stdio" and stdin.public_tests == [Case("2\n1 2\n", "3\n")]
    assert stdin.hidden_tests == [Case("3\n1 1 1\n", "3\n"), Case("1\n-9\n", "-9\n")]
    assert functional.harness == "call" and functional.fn_name == "digitSum"
    assert functional.public_tests == [Case([123], 6)]
    assert functional.hidden_tests == [Case([0], 0), Case([9999], 36)]
    assert functional.starter_code.startswith("class Solution:")


def test_livecodebench_refuses_a_pickle_that_names_code() -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("this must never run",))

    hostile = base64.b64encode(zlib.compress(pickle.dumps(Evil()))).decode("ascii")
    with pytest.raises(Exception, match="refusing to load builtins.print"):
        decode_private_tests(hostile)


def test_canonical_jsonl() -> None:
    [problem] = load_problems(FIXTURES / "problems.jsonl")
    assert problem.id == "echo" and problem.public_tests == [Case("hi\n", "hi\n")]
    assert problem.difficulty == "easy"


def test_every_registered_format_has_a_fixture_detected_as_itself() -> None:
    fixtures = {"apps": "apps.jsonl", "taco": "taco.jsonl", "code_contests": "code_contests.jsonl",
                "humaneval": "humaneval.jsonl", "mbpp": "mbpp.jsonl", "livecodebench": "livecodebench.jsonl",
                "jsonl": "problems.jsonl"}
    assert sorted(fixtures) == loaders.names()
    for name, file in fixtures.items():
        first = json.loads((FIXTURES / file).read_text().splitlines()[0])
        assert detect_format(first).name == name


# ---------------------------------------------------------------------------------------------------------------
# File kinds
# ---------------------------------------------------------------------------------------------------------------


def test_same_problems_from_jsonl_gz_json_parquet_and_arrow(tmp_path: Path) -> None:
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    expected = load_problems(FIXTURES / "code_contests.jsonl")
    rows = [json.loads(line) for line in (FIXTURES / "code_contests.jsonl").read_text().splitlines()]
    with gzip.open(tmp_path / "cc.jsonl.gz", "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    (tmp_path / "cc.json").write_text(json.dumps(rows))
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "cc.parquet")
    datasets.DatasetDict({"test": datasets.Dataset.from_list(rows),
                          "train": datasets.Dataset.from_list(rows[:1])}).save_to_disk(str(tmp_path / "arrow"))
    for source in ("cc.jsonl.gz", "cc.json", "cc.parquet", "arrow"):
        assert load_problems(tmp_path / source) == expected, source
    assert [p.id for p in load_problems(tmp_path / "arrow", split="train")] == ["1_A. Double it"]


def test_parquet_snapshot_directory_picks_the_split(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [json.loads(line) for line in (FIXTURES / "apps.jsonl").read_text().splitlines()]
    (tmp_path / "data").mkdir()
    pq.write_table(pa.Table.from_pylist(rows[:2]), tmp_path / "data" / "train-00000-of-00001.parquet")
    pq.write_table(pa.Table.from_pylist(rows[2:]), tmp_path / "data" / "test-00000-of-00001.parquet")
    assert [p.id for p in load_problems(tmp_path, split="train")] == ["4001", "4002"]
    assert [p.id for p in load_problems(tmp_path)] == ["4003"]  # test by default
    with pytest.raises(UserError, match="no split 'validation'"):
        load_problems(tmp_path, split="validation")


def test_limit_and_explicit_format() -> None:
    assert [p.id for p in load_problems(FIXTURES / "apps.jsonl", limit=2)] == ["4001", "4002"]
    [taco_as_apps] = load_problems(FIXTURES / "taco.jsonl", format="apps")
    assert taco_as_apps.metadata["source"] == "apps"


# ---------------------------------------------------------------------------------------------------------------
# Malformed input: the message names file, row and field; --skip-bad skips with a count
# ---------------------------------------------------------------------------------------------------------------


def write_apps_with_bad_rows(path: Path) -> Path:
    rows = [json.loads(line) for line in (FIXTURES / "apps.jsonl").read_text().splitlines()]
    rows[1]["input_output"] = '{"inputs": [["hello"]], "outputs": '  # truncated JSON
    lines = [json.dumps(rows[0]), json.dumps(rows[1]), "{not json", json.dumps(rows[2])]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_malformed_row_names_file_row_and_field(tmp_path: Path) -> None:
    path = write_apps_with_bad_rows(tmp_path / "apps.jsonl")
    with pytest.raises(UserError) as error:
        load_problems(path)
    assert f"{path}:2: malformed apps row: field 'input_output': not valid JSON" in error.value.message
    assert "--skip-bad" in error.value.hint


def test_skip_bad_skips_and_counts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_apps_with_bad_rows(tmp_path / "apps.jsonl")
    with caplog.at_level(logging.WARNING, logger="codelhf.datasets"):
        problems = load_problems(path, skip_bad=True)
    assert [p.id for p in problems] == ["4001", "4003"]
    assert "skipped 2 malformed row(s)" in caplog.text


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r.pop("description"), "field 'description': missing"),
    (lambda r: r["private_tests"].update(output=[]), "field 'private_tests': 1 inputs but 0 outputs"),
    (lambda r: r["solutions"].update(language=[2, 3, 9, 4]), "field 'solutions': unknown language 9"),
])
def test_code_contests_malformed_fields(tmp_path: Path, mutate, message: str) -> None:
    row = json.loads((FIXTURES / "code_contests.jsonl").read_text().splitlines()[0])
    mutate(row)
    (tmp_path / "cc.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(UserError, match=message):
        load_problems(tmp_path / "cc.jsonl", format="code_contests")


def test_duplicate_ids_unknown_format_and_missing_file(tmp_path: Path) -> None:
    line = (FIXTURES / "humaneval.jsonl").read_text().splitlines()[0]
    (tmp_path / "dup.jsonl").write_text(line + "\n" + line + "\n")
    with pytest.raises(UserError, match="duplicate problem id 'Toy/0'"):
        load_problems(tmp_path / "dup.jsonl")
    (tmp_path / "odd.jsonl").write_text('{"title": "x", "body": "y"}\n')
    with pytest.raises(UserError, match="cannot tell the dataset format") as error:
        load_problems(tmp_path / "odd.jsonl")
    assert "--format" in error.value.hint
    with pytest.raises(UserError, match="no such file"):
        load_problems(tmp_path / "absent.jsonl")


def test_hub_name_offline_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets
    import huggingface_hub

    # the libraries read these variables once, at import: set their constants too (offline fails fast)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True, raising=False)
    with pytest.raises(UserError, match="cannot load 'codelhf-no-such/dataset'"):
        load_problems("codelhf-no-such/dataset")



def test_apps_release_root_with_train_and_test_folders(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "apps_dir", tmp_path / "APPS" / "test")
    shutil.copytree(FIXTURES / "apps_dir" / "0001", tmp_path / "APPS" / "train" / "0042")
    assert [p.id for p in load_problems(tmp_path / "APPS")] == ["0000", "0001"]  # test by default
    assert [p.id for p in load_problems(tmp_path / "APPS", split="train")] == ["0042"]
