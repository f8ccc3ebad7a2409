"""LiveCodeBench (Jain et al. 2024), code generation rows.

A row: `question_id`, `question_title`, `question_content`, `starter_code`, `difficulty`, `platform`,
`contest_date`, `public_test_cases` (JSON list of `{input, output, testtype}`), `private_test_cases` (JSON, or
base64 → zlib → pickle → JSON in the released files), `metadata` (JSON; `func_name` for functional problems).

Functional (LeetCode) tests give one JSON value per line of `input` and a JSON `output`; they become `call` tests
on the starter code's `Solution` method. Other tests are stdin/stdout. Both are judged in the `livecodebench`
dialect (codelhf/harness/dialects.py): LiveCodeBench's import header, its line-by-line output comparison, no
unwrapping of one-element lists, 6 s per test.

The private tests are a pickle. Unpickling arbitrary data runs arbitrary code, so ours only accepts a pickled
string (what the released files hold) and refuses anything that names a class or a function.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import pickle
import zlib
from typing import Any

from codelhf.datasets.base import Loader, RowError, get, json_value, problem_id, text, with_dialect
from codelhf.problems import Problem, TestCase


class _PlainDataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only plain data is expected")


def decode_private_tests(value: str) -> Any:
    """The released encoding: base64 of zlib of a pickled JSON string. Plain JSON is accepted as well."""
    if value.lstrip().startswith("["):
        return json.loads(value)
    try:
        raw = zlib.decompress(base64.b64decode(value.encode("ascii"), validate=True))
        payload = _PlainDataUnpickler(io.BytesIO(raw)).load()
    except (binascii.Error, zlib.error, ValueError, pickle.UnpicklingError, EOFError) as e:
        raise RowError("private_test_cases", f"cannot decode ({e})",
                       "expected JSON or base64(zlib(pickle(JSON string))) as LiveCodeBench releases it")
    return json.loads(payload) if isinstance(payload, (str, bytes)) else payload


def _tests(cases: Any, field: str, fn_name: str | None) -> list[TestCase]:
    if not isinstance(cases, list):
        raise RowError(field, f"expected a list of test cases, got {type(cases).__name__}")
    tests = []
    for case in cases:
        if not isinstance(case, dict) or not isinstance(case.get("input"), str) or "output" not in case:
            raise RowError(field, "each test case needs 'input' and 'output' text")
        if case.get("testtype", "stdin") == "functional":
            if not fn_name:
                raise RowError("metadata", "functional test cases but no 'func_name' in metadata")
            try:
                args = [json.loads(line) for line in case["input"].split("\n") if line.strip()]
                expected = json.loads(case["output"])
            except json.JSONDecodeError as e:
                raise RowError(field, f"functional test is not one JSON value per line ({e.msg})")
            tests.append(TestCase(input=args, output=expected))
        else:
            tests.append(TestCase(input=case["input"], output=case["output"]))
    return tests


def _convert(row: dict[str, Any], index: int) -> Problem:
    metadata = json_value(row, "metadata", {})
    if not isinstance(metadata, dict):
        raise RowError("metadata", "expected a JSON object")
    public = json_value(row, "public_test_cases")
    private_raw = get(row, "private_test_cases", "[]")
    if isinstance(private_raw, str):
        try:
            private = decode_private_tests(private_raw)
        except json.JSONDecodeError as e:
            raise RowError("private_test_cases", f"not valid JSON once decoded ({e.msg})")
    else:
        private = private_raw
    cases = [*(public if isinstance(public, list) else []), *(private if isinstance(private, list) else [])]
    functional = any(isinstance(c, dict) and c.get("testtype") == "functional" for c in cases)
    fn_name = metadata.get("func_name") if functional else None
    info = {"source": "livecodebench"}
    for key in ("difficulty", "platform", "contest_date", "question_title", "contest_id"):
        if row.get(key):
            info[key] = row[key]
    return with_dialect(Problem(
        id=problem_id(row, index, "question_id"),
        prompt=text(row, "question_content"),
        harness="call" if functional else "stdio",
        public_tests=_tests(public, "public_test_cases", fn_name),
        hidden_tests=_tests(private, "private_test_cases", fn_name),
        fn_name=fn_name,
        starter_code=text(row, "starter_code", ""),
        metadata=info,
    ), "livecodebench")


LIVECODEBENCH = Loader(
    name="livecodebench",
    detect=lambda row: "question_content" in row and "public_test_cases" in row,
    convert=_convert,
    description="LiveCodeBench code-generation rows (public and compressed private tests)",
)
