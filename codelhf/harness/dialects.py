"""Dialects: the program a dataset's own harness really runs, so that its solutions are judged here as they were
judged there.

Evaluation harnesses rarely run a submission exactly as written. APPS's `eval/testing_util.py` puts a fixed import
header in front of every program and runs a stdin program as the body of a function; LiveCodeBench's
`lcb_runner/evaluation/testing_util.py` puts another header in front. Human solutions in those sets (and the
published pass@k) rely on it: a LeetCode-style `class Solution` annotated with `List[int]` only runs because the
header imported `List`, and a stdin program that ends early with a top-level `return` only compiles inside a
function. A `Dialect` names those rules; the loader records its name in `Problem.dialect` (and sets the problem's
`checker` and `time_limit_s` from it), canonical JSONL keeps it, and `Harness.build_job` applies it when it builds
the program it sends to the runner. So `execute`, `validate`, `evaluate` and the trainers all run the same program,
a hand-written canonical record can opt in with `"dialect": "apps"`, and `codelhf validate --explain` prints it.

What each harness does (read from its evaluation code), and what a dialect keeps:

- `apps` (hendrycks/apps, `eval/testing_util.py`). Header, in this order: `import sys`, `import time`,
  `import itertools`, `from itertools import accumulate, product, permutations, combinations`,
  `import collections`, `from collections import Counter, OrderedDict, deque, defaultdict, ChainMap`,
  `from functools import lru_cache`, `import math`,
  `from math import sqrt, sin, cos, tan, ceil, fabs, floor, gcd, exp, log, log2`, `import fractions`,
  `from typing import List, Tuple`, `import numpy as np`, `import random`, `import heapq`, `from heapq import *`;
  for stdin programs also `stdin = sys.stdin` and `stdout = sys.stdout`. Call-based programs call `fn_name` on
  `Solution()` when the source has `class Solution`, else the module's function (our runner does the same); the
  result equals the expected value, or its first element when the expected value is a list (tuples read as
  lists). Stdin programs become the body of `def code():` in a module named `tmp_sol`. Each test gets 4 s.
  *Kept*: the header, the call rules, 4 s, and APPS's float tolerance (`numpy.allclose` defaults: within
  1e-8 + 1e-5 × |expected|), applied per token by the `apps` checker. *Not kept*: (1) its comparison cascade
  ends in set-based comparisons (lines as sets of tokens, then the same with numbers rounded to 3 decimals), which
  accept answers in the wrong order, with missing duplicates, or off by up to 5e-4: that is the set-based
  leniency of DESIGN.md, so the `apps` checker compares tokens in order, and two integers exactly (allclose would
  take 1000000005 for 1000000000). (2) Running every stdin program as a function body in a module named
  `tmp_sol` skips `if __name__ == "__main__":` blocks and breaks `global` statements in nested functions, both
  rejecting correct programs: programs run as `__main__` here, and only a program with a top-level `return`
  (which does not compile otherwise) becomes a function body, with the names it binds declared `global` so it
  still behaves as a module. (3) APPS feeds stdin through mocks (`readline` without its newline, `open` of any
  file reads the input); programs here get real stdin. (4) It turns the string keys of a first argument that is
  a dict into ints; JSON arguments arrive here as they are stored.
- `taco` (FlagOpen/TACO, `metrics/testing_util.py`): the same header as APPS, and the same call rules. A stdin
  program first runs as a script with the header in front (as `__main__`); only when it fails every test with
  exit status 1 (as a top-level `return` does) is it run again as the body of `def code():`. That is the rule
  above. Each test gets 4 s, whatever the row's `time_limit` says (kept in `metadata`); there is no memory
  limit, so the default applies. Its output comparison receives stdout as one string, so its list-based
  fallbacks never apply and its float fallback iterates characters and never matches: in effect it compares
  the whole output with outer whitespace stripped, plus a set-based quirk that accepts reordered single-character
  lines. *Kept*: header, wrapping, call rules, 4 s. *Not kept*: the quirk (it accepts wrong answers), and the
  strictness about spaces inside the output (a trailing space on a line rejects a correct program there, an
  accident of the fallbacks not working): the `tokens` checker.
- `livecodebench` (LiveCodeBench/LiveCodeBench, `lcb_runner/evaluation/testing_util.py`). Header, in this order:
  `from string import *`, `from re import *`, `from datetime import *`, `from collections import *`,
  `from heapq import *`, `from bisect import *`, `from copy import *`, `from math import *`,
  `from random import *`, `from statistics import *`, `from itertools import *`, `from functools import *`,
  `from operator import *`, `from io import *`, `from sys import *`, `from json import *`,
  `from builtins import *`, `from typing import *`, then `import` of each of string, re, datetime, collections,
  heapq, bisect, copy, math, random, statistics, itertools, functools, operator, io, sys, json, and
  `sys.setrecursionlimit(50000)`; its evaluation process also sets `sys.set_int_max_str_digits(50000)`
  (`compute_code_generation_metrics.py`), which the programs inherit, so the header does too. Functional tests:
  the result (a tuple read as a list) must equal the expected value, with no one-element-list unwrapping. Stdin
  programs become a function body (imports hoisted, a final `if __name__ == "__main__":` block inlined). Output:
  the same number of lines (output stripped, each line stripped), each line equal or made of the same numbers as
  `Decimal`s. Each test gets 6 s. *Kept*: all of it, the stdin wrapping by the rule above (a top-level `return`),
  the comparison as the `livecodebench` checker.
- `code_contests` (google-deepmind/code_contests, `execution/tester_sandboxer.cc`): programs run as written
  (Python 3 with `python3`; Python 2 and Java need interpreters our sandbox does not have, so `validate` counts
  them as skipped). Time and memory limits are the caller's; the problem's own `time_limit` and
  `memory_limit_bytes` are what a judge of these problems uses, and what the loader sets. Output: whitespace
  tokens, lower-cased; equal, or both numbers within an absolute 1e-5. *Not kept*: it reads every number as a
  double, integers included (its integer branch is unreachable, since an integer also parses as a double), so
  two integers beyond 2^53 that differ are accepted: the `code_contests` checker compares integers exactly, as
  that branch intended.
- `humaneval` (openai/human-eval, `human_eval/execution.py`): prompt + completion + test + `check(entry_point)`,
  no header, 3 s; the `assert` harness already builds exactly that.
- `mbpp`: the set ships no harness; the common one (bigcode-evaluation-harness, `bigcode_eval/tasks/mbpp.py` with
  `custom_metrics/code_eval.py`) runs the program, then the asserts of `test_list`, no header, 3 s (per program
  there; per assert here, with `test_setup_code` in between as the paper's setup asks).
- `plain`: the program runs exactly as written (the bundled set, canonical records that name no dialect).

One liberty with every header: a plain `import m` / `import m as n` line is left out of a program that never
mentions its name (nor does the rest of the header): the program cannot tell the difference, and `import numpy as
np` costs about 0.1 s of CPU per test in the sandbox, twenty times what a small program takes to run.

Add one in one file: `dialects.register("mine", Dialect("mine", header="import math\\n"))`, or name it in the
`codelhf.dialects` entry-point group; then set `"dialect": "mine"` on the problems.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from codelhf.problems import Problem
from codelhf.prompting import parse_python
from codelhf.registry import Registry

WRAPPER = "_codelhf_program"
"""The function a stdin program with a top-level `return` runs in (APPS and TACO call theirs `code`)."""


@dataclass(frozen=True)
class Dialect:
    name: str
    header: str = ""
    """Python run before every stdin and call-based Python program."""
    stdin_header: str = ""
    """More lines, run after `header`, before stdin programs only."""
    wrap_top_level_return: bool = False
    """Run a stdin program with a `return` outside any function as the body of a function."""
    checker: str = "tokens"
    """The checker that reproduces the harness's own output comparison; loaders set it on stdio problems."""
    time_limit_s: float | None = None
    """The harness's own limit per test, whatever the row says; None: the problem's own limit."""
    call_output_wrapped: bool = True
    """The set may store a call's expected value wrapped in a one-element list (APPS `outputs: [[3]]`); the
    `call` harness then accepts either reading."""

    def program(self, source: str, mode: str, language: str = "python") -> str:
        """The program the runner gets for `source` in runner mode `mode` (unchanged but for Python stdio/call)."""
        if language != "python" or mode not in ("stdio", "call"):
            return source
        header = _needed_lines(self.header + (self.stdin_header if mode == "stdio" else ""), source)
        if not header and not self.wrap_top_level_return:
            return source
        tree = _parse(source)
        if tree is None:  # a syntax error (or syntax newer than this Python): the runner judges it as it is
            return header + source
        if mode == "stdio" and self.wrap_top_level_return and _returns_at_top_level(tree):
            wrapped = _as_function_body(source, tree, header)
            if wrapped is not None:
                return wrapped
        future, rest = _hoist(source, tree, _is_future_import)
        return "".join(future) + header + rest


dialects: Registry[Dialect] = Registry("dialect", "codelhf.dialects")


def dialect_of(problem: Problem) -> Dialect:
    return dialects.get(problem.dialect or "plain")


# ---------------------------------------------------------------------------------------------------------------
# The dialects
# ---------------------------------------------------------------------------------------------------------------

APPS_HEADER = """\
import sys
import time
import itertools
from itertools import accumulate, product, permutations, combinations
import collections
from collections import Counter, OrderedDict, deque, defaultdict, ChainMap
from functools import lru_cache
import math
from math import sqrt, sin, cos, tan, ceil, fabs, floor, gcd, exp, log, log2
import fractions
from typing import List, Tuple
import numpy as np
import random
import heapq
from heapq import *
"""
APPS_STDIN = "stdin = sys.stdin\nstdout = sys.stdout\n"

LIVECODEBENCH_HEADER = """\
from string import *
from re import *
from datetime import *
from collections import *
from heapq import *
from bisect import *
from copy import *
from math import *
from random import *
from statistics import *
from itertools import *
from functools import *
from operator import *
from io import *
from sys import *
from json import *
from builtins import *
from typing import *
import string
import re
import datetime
import collections
import heapq
import bisect
import copy
import math
import random
import statistics
import itertools
import functools
import operator
import io
import sys
import json
sys.setrecursionlimit(50000)
if hasattr(sys, "set_int_max_str_digits"):  # Pythons before 3.10.7 and 3.11 have no such limit to raise
    sys.set_int_max_str_digits(50000)
"""

for _dialect in (
    Dialect("plain"),
    Dialect("apps", header=APPS_HEADER, stdin_header=APPS_STDIN, wrap_top_level_return=True, checker="apps",
            time_limit_s=4.0),
    Dialect("taco", header=APPS_HEADER, stdin_header=APPS_STDIN, wrap_top_level_return=True, time_limit_s=4.0),
    Dialect("livecodebench", header=LIVECODEBENCH_HEADER, wrap_top_level_return=True, checker="livecodebench",
            time_limit_s=6.0, call_output_wrapped=False),
    Dialect("code_contests", checker="code_contests"),
    Dialect("humaneval", time_limit_s=3.0),
    Dialect("mbpp", time_limit_s=3.0),
):
    dialects.register(_dialect.name, _dialect)


# ---------------------------------------------------------------------------------------------------------------
# Source surgery: find top-level returns and bound names, hoist statements, indent into a function body
# ---------------------------------------------------------------------------------------------------------------


PLAIN_IMPORT = re.compile(r"import ([\w.]+)(?: as (\w+))?")


def _needed_lines(header: str, source: str) -> str:
    """`header` without its `import m` / `import m as n` lines whose name neither the program nor the rest of the
    header mentions: the program cannot tell, and it saves their import on every test (see the module docstring)."""
    lines = header.splitlines(keepends=True)
    plain = [PLAIN_IMPORT.fullmatch(line.strip()) for line in lines]
    text = source + "".join(line for line, match in zip(lines, plain) if not match)
    return "".join(line for line, match in zip(lines, plain)
                   if not match or re.search(rf"\b{re.escape(match[2] or match[1].split('.')[0])}\b", text))


def _parse(source: str) -> ast.Module | None:
    try:
        return parse_python(source)  # a top-level `return` parses; only the compiler rejects it
    except (SyntaxError, ValueError):
        return None


def _top_level_nodes(tree: ast.Module) -> Iterator[ast.AST]:
    """Every node of the module's own scope: not inside a function, lambda or class body (their names, decorators
    and defaults belong to the module), nor a comprehension's loop target (local to the comprehension)."""
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            todo.extend([*node.decorator_list, *node.args.defaults, *filter(None, node.args.kw_defaults)])
        elif isinstance(node, ast.ClassDef):
            todo.extend([*node.decorator_list, *node.bases, *node.keywords])
        elif isinstance(node, ast.Lambda):
            todo.extend([*node.args.defaults, *filter(None, node.args.kw_defaults)])
        elif isinstance(node, ast.comprehension):
            todo.extend([node.iter, *node.ifs])
        else:
            todo.extend(ast.iter_child_nodes(node))


def _returns_at_top_level(tree: ast.Module) -> bool:
    return any(isinstance(node, ast.Return) for node in _top_level_nodes(tree))


NAMED_BINDINGS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.ExceptHandler, ast.MatchAs, ast.MatchStar)


def _bound_names(tree: ast.Module) -> set[str]:
    """Names the module's own scope binds (assignment, import, def, class, except-as, match capture, del)."""
    names: set[str] = set()
    for node in _top_level_nodes(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.alias) and node.name != "*":
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, NAMED_BINDINGS) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
    return names


def _is_future_import(node: ast.stmt) -> bool:
    """`from __future__ import ...` must open the file."""
    return isinstance(node, ast.ImportFrom) and node.module == "__future__"


def _is_star_import(node: ast.stmt) -> bool:
    """`from m import *` is not allowed in a function."""
    return isinstance(node, ast.ImportFrom) and node.names[0].name == "*"


def _hoist(source: str, tree: ast.Module, wanted: Callable[[ast.stmt], bool]) -> tuple[list[str], str]:
    """(the text of each top-level statement `wanted` picks, the source without them): each is replaced by
    `pass` padded to as many lines, so the rest keeps its line numbers."""
    lines = io.StringIO(source).readlines()
    starts = [0]  # character offset of each line; ast columns are UTF-8 byte offsets within a line
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(row: int, byte_col: int) -> int:
        return starts[row - 1] + len(lines[row - 1].encode()[:byte_col].decode(errors="ignore"))

    picked, rest, done = [], "", 0
    for node in filter(wanted, tree.body):
        start, end = offset(node.lineno, node.col_offset), offset(node.end_lineno, node.end_col_offset)
        picked.append(source[start:end] + "\n")
        rest += source[done:start] + "pass" + "\n" * (node.end_lineno - node.lineno)
        done = end
    return picked, rest + source[done:]


def _string_continuation_rows(source: str) -> set[int] | None:
    """Line numbers that begin inside a string literal (indenting them would change the string); None when the
    source does not tokenize."""
    rows: set[int] = set()
    opened: list[int] = []  # Python 3.12+ splits f-strings into FSTRING_START ... FSTRING_END
    fstring_start, fstring_end = getattr(tokenize, "FSTRING_START", None), getattr(tokenize, "FSTRING_END", None)
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == fstring_start:
                opened.append(token.start[0])
                continue
            if token.type == tokenize.STRING:
                first = token.start[0]
            elif token.type == fstring_end and opened:
                first = opened.pop()
            else:
                continue
            rows.update(range(first + 1, token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        return None
    return rows


def _as_function_body(source: str, tree: ast.Module, header: str) -> str | None:
    """`source` as the body of a function called at the end, its bound names declared `global` (so nested
    functions' `global` statements and class bodies see what they would see in a module). `from __future__` and
    star imports go above the function, where they are allowed."""
    inside = _string_continuation_rows(source)
    if inside is None:
        return None
    future, body = _hoist(source, tree, _is_future_import)
    body_tree = parse_python(body)
    stars, body = _hoist(body, body_tree, _is_star_import)
    indented = "".join(line if row in inside or not line.strip() else "\t" + line
                       for row, line in enumerate(io.StringIO(body).readlines(), 1))
    names = sorted(_bound_names(body_tree))
    declare = f"\tglobal {', '.join(names)}\n" if names else ""
    return "".join([*future, header, *stars, f"def {WRAPPER}():\n", declare, indented.rstrip(), f"\n\n\n{WRAPPER}()\n"])
