"""Each dataset judged as its own harness judges it, in the Docker sandbox, on fixtures in the datasets' own layouts
(tests/fixtures/datasets/dialects: an APPS release folder, TACO and CodeContests hub rows, LiveCodeBench release
rows with compressed private tests). References are accepted, deliberately wrong programs rejected, and where we
depart from a harness on purpose (codelhf/harness/dialects.py says why) the test says so."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from codelhf.datasets import load_problems
from codelhf.execution import Executor
from codelhf.problems import Problem, Solution, save_problems_jsonl
from codelhf.samples import Sample
from codelhf.validate import validate

pytestmark = pytest.mark.docker

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "datasets" / "dialects"


@pytest.fixture(scope="module")
def executor() -> Iterator[Executor]:
    with Executor(backend="docker", workers=2) as ex:
        yield ex


def by_id(problems: list[Problem]) -> dict[str, Problem]:
    return {p.id: p for p in problems}


def statuses(executor: Executor, problem: Problem, *programs: str | Solution) -> list[str]:
    """Each program's verdict on all of the problem's tests (AC, or its first failing test's status)."""
    solutions = [p if isinstance(p, Solution) else Solution(p) for p in programs]
    samples = [Sample(problem.id, program=s.code, language=s.language, sample_index=i)
               for i, s in enumerate(solutions)]
    return [v.status.value for v in executor.run([problem], samples, tests="all", progress=False)]


def as_written(problem: Problem) -> Problem:
    """The same problem judged with no dialect: programs as written, tokens compared (what codelhf did before)."""
    return dataclasses.replace(problem, dialect="plain", checker="tokens")


# ---------------------------------------------------------------------------------------------------------------
# APPS: the release's folder layout, APPS/test/NNNN/
# ---------------------------------------------------------------------------------------------------------------


def test_apps_references_pass_only_as_apps_runs_them(executor: Executor) -> None:
    """0100: top-level `return`, `sys`/`accumulate`/`np` from the header; 0101: LeetCode `class Solution` with
    `List[int]` annotations, `Counter`/`heapify` from the header; 0102: a mean printed with 10 decimals."""
    problems = load_problems(FIXTURES / "apps")  # the release root: test/ is chosen
    report = validate(problems, executor)
    assert (report.solutions_accepted, report.solutions_total, report.system_errors) == (8, 8, 0)
    before = validate([as_written(p) for p in problems], executor)
    assert before.solutions_accepted == 1  # only 0102's `print(sum(a) / n)` runs as written and matches
    failed = {c.problem_id: sorted(f.status for f in c.failures) for c in before.checks}
    assert failed == {"0100": ["CE", "CE", "RE"], "0101": ["RE", "RE", "RE"], "0102": ["WA"]}


def test_apps_wrong_answers_are_rejected(executor: Executor) -> None:
    problems = by_id(load_problems(FIXTURES / "apps"))
    off_by_one = ("class Solution:\n    def findKthPositive(self, arr: List[int], k: int) -> int:\n"
                  "        return k + sum(1 for x in arr if x <= k)\n")  # right on two tests, 4 not 3 on [5, 6]
    assert statuses(executor, problems["0101"], off_by_one) == ["WA"]
    # APPS's own harness accepts this one (its last fallback compares the lines as a set, numbers rounded to 3
    # decimals): the maximum before the minimum is a wrong answer, rejected here on purpose
    read = "n = int(input())\na = list(map(int, input().split()))\n"
    swapped = read + "print(max(a)); print(min(a)); print(sum(a) / n)\n"
    two_decimals = read + "print(min(a), max(a), round(sum(a) / n, 2))\n"
    assert statuses(executor, problems["0102"], swapped, two_decimals) == ["WA", "WA"]
    early_return_wrong = "n = int(input())\nif n == 1:\n    print(1)\n    return\nprint(0)\n"
    assert statuses(executor, problems["0100"], early_return_wrong) == ["WA"]


def test_apps_correct_programs_its_own_harness_would_reject_are_accepted(executor: Executor) -> None:
    """APPS runs every stdin program as the body of `code()` in a module named `tmp_sol`: an
    `if __name__ == "__main__":` block never runs there, and a nested function's `global` finds no module name.
    Both are correct programs; here they run as `__main__`, and a top-level `return` keeps module scoping."""
    problem = by_id(load_problems(FIXTURES / "apps"))["0100"]
    main_guard = ("import sys\n\ndef main():\n    data = sys.stdin.read().split()\n    n = int(data[0])\n"
                  "    a = list(map(int, data[1:1 + n]))\n    if n < 2:\n        print(0)\n        return\n"
                  "    best, low = a[1] - a[0], a[0]\n    for x in a[1:]:\n        best = max(best, x - low)\n"
                  "        low = min(low, x)\n    print(best)\n\nif __name__ == '__main__':\n    main()\n")
    nested_global = ("calls = 0\ndef lower(low, x):\n    global calls\n    calls += 1\n    return min(low, x)\n"
                     "n = int(input())\na = list(map(int, input().split()))\nif n < 2:\n    print(0)\n    return\n"
                     "best, low = a[1] - a[0], a[0]\nfor x in a[1:]:\n    best = max(best, x - low)\n"
                     "    low = lower(low, x)\nassert calls == n - 1\nprint(best)\n")
    assert statuses(executor, problem, main_guard, nested_global) == ["AC", "AC"]


# ---------------------------------------------------------------------------------------------------------------
# TACO, CodeContests, LiveCodeBench: hub / release rows
# ---------------------------------------------------------------------------------------------------------------


def test_taco_references_pass_and_a_wrong_one_does_not(executor: Executor) -> None:
    problems = load_problems(FIXTURES / "taco.jsonl")
    report = validate(problems, executor)
    assert (report.solutions_accepted, report.solutions_total) == (4, 4)
    assert validate([as_written(p) for p in problems], executor).solutions_accepted == 1  # the plain `import sys` one
    stdin_row, call_row = problems
    assert statuses(executor, stdin_row, "n = int(stdin.readline())\nif n == 0:\n    return\nprint(n)\n") == ["WA"]
    rotate_left = ("class Solution:\n    def rotate(self, nums: List[int], k: int) -> List[int]:\n"
                   "        k %= len(nums)\n        return nums[k:] + nums[:k]\n")
    assert statuses(executor, call_row, rotate_left) == ["WA"]


def test_code_contests_row_languages_case_and_its_own_time_limit(executor: Executor) -> None:
    [problem] = load_problems(FIXTURES / "code_contests.jsonl")
    assert (problem.time_limit_s, problem.memory_limit_mb) == (1.0, 256)
    assert len(problem.public_tests) == 1 and len(problem.hidden_tests) == 3  # private + generated
    report = validate([problem], executor)
    # Python 3 (one answers in lower case, which DeepMind's tester accepts) and C++ run; Python 2 and Java cannot
    assert (report.solutions_accepted, report.solutions_total) == (3, 3)
    assert report.skipped_languages == {"python2": 1, "java": 1} and report.solutions_skipped == 2
    assert (report.incorrect_rejected, report.incorrect_total) == (3, 3)
    assert report.checks[0].failures == [] and not report.checks[0].suspect
    verdicts = statuses(executor, problem, *problem.incorrect_solutions)
    assert verdicts == ["WA", "TLE", "WA"]  # counts only; right but 2 s of CPU per test; YES and NO swapped
    slow = problem.incorrect_solutions[1].code
    assert statuses(executor, dataclasses.replace(problem, time_limit_s=4.0), slow) == ["AC"]  # the limit did it
    assert validate([as_written(problem)], executor).solutions_accepted == 2  # lower case fails `tokens`


def test_livecodebench_functional_and_stdin_rows(executor: Executor) -> None:
    problems = by_id(load_problems(FIXTURES / "livecodebench.jsonl"))
    peaks, split = problems["3221"], problems["abc999_b"]
    assert peaks.starter_code.startswith("class Solution:\n    def findPeaks(self, mountain: List[int])")
    right = ("class Solution:\n    def findPeaks(self, mountain: List[int]) -> List[int]:\n"
             "        return [i for i, (a, b, c) in enumerate(zip(mountain, mountain[1:], mountain[2:]), 1)"
             " if b > max(a, c)]\n")
    as_tuple = right.replace("return [", "return tuple(").replace(" if b > max(a, c)]", " if b > max(a, c))")
    # one peak returned as a bare index: LiveCodeBench compares with ==, so 1 is not [1]
    bare = right.replace("        return [", "        found = [").rstrip() + (
        "\n        return found[0] if len(found) == 1 else found\n")
    assert statuses(executor, peaks, right, as_tuple, bare) == ["AC", "AC", "WA"]
    assert statuses(executor, dataclasses.replace(peaks, dialect="apps"), bare) == ["AC"]  # APPS's rules unwrap
    assert statuses(executor, as_written(peaks), right) == ["RE"]  # no `List` without the header
    halves = ("n = int(input())\na = list(map(int, input().split()))\nif n % 2:\n    print(-1)\n    return\n"
              "print(sum(a[:n // 2]))\nprint(sum(a[n // 2:]))\n")
    one_line = halves.replace("))\nprint(sum(", "), sum(")  # both sums on one line
    assert statuses(executor, split, halves, one_line) == ["AC", "WA"]  # its comparison goes line by line


# ---------------------------------------------------------------------------------------------------------------
# The commands: validate --explain, and execute on a canonical JSONL that names its dialect
# ---------------------------------------------------------------------------------------------------------------


def codelhf(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    found = shutil.which("codelhf", path=str(Path(sys.executable).parent))
    command = [found] if found else [sys.executable, "-c", "from codelhf.cli import main; main()"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=timeout, check=False)


def test_validate_explain_shows_the_program_that_ran_and_execute_opts_in_from_jsonl(tmp_path: Path) -> None:
    problem = by_id(load_problems(FIXTURES / "apps"))["0100"]
    buggy = "n = int(input())\nif n == 1:\n    print(0)\n    return\nprint(max(map(int, input().split())))\n"
    problem.solutions.append(dataclasses.replace(problem.solutions[0], code=buggy))
    canonical = tmp_path / "problems.jsonl"
    save_problems_jsonl(canonical, [problem])
    assert json.loads(canonical.read_text())["dialect"] == "apps"

    result = codelhf("validate", "--problems", str(canonical), "--explain", "--workers", "2")
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stderr.split())
    assert "correct solutions accepted 3/4" in out and "0100: references accepted 3/4 (dialect apps)" in out
    assert "reference 3 (python): WA on test 0: token 1 differs: got '7', expected '5'" in out
    assert "from collections import Counter, OrderedDict, deque, defaultdict, ChainMap" in result.stderr
    assert "def _codelhf_program():\n\tglobal n\n\tn = int(input())\n" in result.stderr  # the wrapper, as run
    assert "input:\n5\n7 1 5 3 6" in result.stderr

    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"problem_id": "0100", "program": s.code}) + "\n"
                               for s in problem.solutions[:3]))
    opted_in = codelhf("execute", "--problems", str(canonical), "--samples", str(samples), "--json")
    assert opted_in.returncode == 0, opted_in.stderr
    assert json.loads(opted_in.stdout)["all_passed"] == 3
    row = json.loads(canonical.read_text())
    del row["dialect"]  # a record that names no dialect runs programs as written
    canonical.write_text(json.dumps(row) + "\n")
    as_is = codelhf("execute", "--problems", str(canonical), "--samples", str(samples), "--json")
    assert json.loads(as_is.stdout)["verdicts"] == {"CE": 2, "RE": 1}
