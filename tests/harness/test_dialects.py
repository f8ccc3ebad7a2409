"""Dialects: the program each dataset's harness really runs (header, function wrapper), built on the host.

The programs built here are run with this machine's Python where they need nothing outside the standard library;
tests/datasets/test_dialect_fixtures.py runs them in the Docker sandbox on fixtures in the datasets' layouts.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest

from codelhf.errors import UserError
from codelhf.harness import dialect_of, dialects, harnesses
from codelhf.harness.dialects import APPS_HEADER, LIVECODEBENCH_HEADER, WRAPPER
from codelhf.problems import Problem, load_problems_jsonl, save_problems_jsonl
from codelhf.problems import TestCase as Case  # not named Test*, so pytest does not collect it
from codelhf.samples import Sample

APPS = dialects.get("apps")


def run_python(program: str, stdin: str = "") -> str:
    done = subprocess.run([sys.executable, "-c", program], input=stdin, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_dataset_has_a_dialect_and_plain_leaves_programs_alone() -> None:
    assert dialects.names() == ["apps", "code_contests", "humaneval", "livecodebench", "mbpp", "plain", "taco"]
    program = "print(input())\n"
    for name in ("plain", "code_contests", "humaneval", "mbpp"):
        assert dialects.get(name).program(program, "stdio") == program
    assert APPS.program("int main() { return 0; }\n", "stdio", language="cpp") == "int main() { return 0; }\n"
    assert APPS.program("assert f(1) == 2\n", "assert") == "assert f(1) == 2\n"
    with pytest.raises(UserError, match="unknown dialect 'apss'"):
        dialect_of(Problem(id="p", prompt="", dialect="apss"))


def test_apps_header_goes_in_front_with_the_stdin_names_only_for_stdin_programs() -> None:
    stdin_program = APPS.program("print(len(stdin.readline()), sqrt(16), Counter('aab')['a'])\n", "stdio")
    assert stdin_program.startswith("import sys\n")
    assert "from collections import Counter, OrderedDict, deque, defaultdict, ChainMap\n" in stdin_program
    assert stdin_program.endswith("stdin = sys.stdin\nstdout = sys.stdout\n"
                                  "print(len(stdin.readline()), sqrt(16), Counter('aab')['a'])\n")
    assert run_python(stdin_program, "abc\n") == "4 4.0 2\n"
    call_program = APPS.program("class Solution:\n    def f(self, a: List[int]) -> int:\n        return 1\n", "call")
    assert "stdin = sys.stdin" not in call_program and "from typing import List, Tuple\n" in call_program


def test_a_plain_import_line_is_left_out_when_the_program_never_names_it() -> None:
    """`import numpy as np` costs ~0.15 s per test; a program that never says `np` cannot tell it is missing."""
    without = APPS.program("print(1)\n", "call")
    assert "numpy" not in without and "import random\n" not in without and "import heapq\n" in without
    with_np = APPS.program("print(np.zeros(2))\n", "call")
    assert "import numpy as np\n" in with_np
    # everything the header binds but the left-out lines is still there, in the header's order
    kept = [line for line in APPS_HEADER.splitlines(keepends=True) if line in with_np]
    assert with_np.startswith("".join(kept))
    assert len(kept) == len(APPS_HEADER.splitlines()) - 4  # no sys, time, fractions, random
    lcb = dialects.get("livecodebench").program("print(1)\n", "stdio")
    assert lcb.startswith("from string import *\n") and "import sys\n" in lcb  # sys.setrecursionlimit needs it
    assert lcb.endswith("    sys.set_int_max_str_digits(50000)\nprint(1)\n") and "sys.setrecursionlimit(50000)\n" in lcb


def test_future_imports_stay_first() -> None:
    program = APPS.program('"""Doc."""\nfrom __future__ import annotations\nprint(sqrt(4))\n', "stdio")
    assert program.startswith("from __future__ import annotations\nimport sys\n")
    assert run_python(program) == "2.0\n"


def test_a_stdin_program_with_a_top_level_return_runs_as_a_function_body() -> None:
    source = textwrap.dedent("""\
        n = int(input())
        if n == 0:
            print("none")
            return
        print(n * 2)
        """)
    program = dialects.get("taco").program(source, "stdio")
    assert program.endswith(textwrap.dedent(f"""\
        stdout = sys.stdout
        def {WRAPPER}():
        \tglobal n
        \tn = int(input())
        \tif n == 0:
        \t    print("none")
        \t    return
        \tprint(n * 2)


        {WRAPPER}()
        """))
    assert run_python(program, "0\n") == "none\n" and run_python(program, "21\n") == "42\n"
    assert APPS.program("print(2)\n", "stdio").endswith("stdout = sys.stdout\nprint(2)\n")  # no return: as written


def test_the_function_body_still_behaves_as_a_module() -> None:
    """`global` in a nested function, a class body reading a module name, `__main__` blocks, multi-line strings
    (not re-indented), tabs, star and `__future__` imports: all as they would be at module level."""
    source = textwrap.dedent('''\
        from __future__ import annotations
        from itertools import *
        calls = 0
        def bump():
            global calls
            calls += 1
        class Box:
            size = calls + 10
        text = """keep
          these
        lines"""
        if int(input()) < 0:
            print("negative")
            return
        for _ in range(3):
        \tbump()
        if __name__ == "__main__":
            print(calls, Box.size, repr(text), list(islice(count(), 2)), [y := 5 for _ in "ab"], y)
        ''')
    program = APPS.program(source, "stdio")
    assert program.startswith("from __future__ import annotations\nimport sys\n")
    assert f"from itertools import *\ndef {WRAPPER}():\n\tglobal Box, _, bump, calls, text, y\n" in program
    assert run_python(program, "-1\n") == "negative\n"
    assert run_python(program, "1\n") == "3 10 'keep\\n  these\\nlines' [0, 1] [5, 5] 5\n"


def test_programs_the_host_cannot_parse_get_the_header_and_nothing_else() -> None:
    assert APPS.program("print(1\n", "stdio").endswith("stdout = sys.stdout\nprint(1\n")  # the runner says CE
    assert APPS.program("return 5\n", "call").endswith("from heapq import *\nreturn 5\n")  # call: never wrapped


def test_the_harness_sends_the_dialect_program_and_canonical_records_keep_the_dialect(tmp_path) -> None:
    problem = Problem(id="p", prompt="", harness="call", fn_name="f", dialect="apps", public_tests=[Case([1], 2)])
    job = harnesses.get("call")().build_job(problem, Sample("p", program="def f(x: List[int]): return 2"), [])
    assert job["program"] == APPS.program("def f(x: List[int]): return 2", "call")
    save_problems_jsonl(tmp_path / "p.jsonl", [problem])
    assert load_problems_jsonl(tmp_path / "p.jsonl")[0].dialect == "apps"
    assert Problem.from_dict({"id": "q", "prompt": ""}).dialect == "plain"  # older records: as written


def test_headers_are_the_harnesses_own() -> None:
    """Each line of the headers is listed in the module's docstring, in order: a change to a header must change
    the documentation of where it comes from too."""
    module = importlib.import_module("codelhf.harness.dialects")  # (the package's `dialects` is the registry)
    doc = " ".join(module.__doc__.split())
    for header, lines in ((APPS_HEADER, 15), (LIVECODEBENCH_HEADER, 18)):
        at = 0
        for line in header.splitlines()[:lines]:
            at = doc.index(f"`{line}`", at)  # ValueError: not listed (after the line before it)
