"""Harnesses: jobs they build, and verdicts of real programs run through the Executor.

The first part checks job building and judging on runner answers written by hand (the wire format of
sandbox/PROTOCOL.md); the second runs real programs through the real runner, on the local backend and in Docker.
"""

from __future__ import annotations

import textwrap

import pytest

from codelhf.errors import UserError
from codelhf.execution import Executor
from codelhf.harness import harnesses
from codelhf.problems import Problem
from codelhf.problems import TestCase as Case  # not named Test*, so pytest does not collect it
from codelhf.samples import Sample
from codelhf.verdicts import Status


def run(status: str = "OK", **fields) -> dict:
    """One test's entry of a runner result frame."""
    return {"status": status, "cpu_s": 0.01, "wall_s": 0.02, "memory_kb": 2048, "exit_code": 0, "signal": None,
            "stdout": "", "stderr": "", "exception": None, "result": None, "detail": "", "completed": status == "OK",
            **fields}


def judge(problem: Problem, *runs: dict) -> list[Status]:
    harness = harnesses.get(problem.harness)()
    frame = {"id": "1", "compile": {"ok": True, "stderr": ""}, "tests": list(runs)}
    return [v.status for v in harness.judge(problem, problem.tests(), frame)]


# ---------------------------------------------------------------------------------------------------------------
# Job building and judging (no sandbox)
# ---------------------------------------------------------------------------------------------------------------

HUMANEVAL_TEST = "def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(0) == 0\n"
HUMANEVAL = Problem(id="HumanEval/0", prompt="def double(x):\n", harness="assert", entry_point="double",
                    hidden_tests=[Case(HUMANEVAL_TEST)])
MBPP = Problem(id="mbpp/1", prompt="Write square(x).", harness="assert", setup_code="import math",
               hidden_tests=[Case("assert square(3) == 9"), Case("assert square(-2) == 4")])
APPS_CALL = Problem(id="apps/call", prompt="", harness="call", fn_name="pair",
                    public_tests=[Case([1, 2], [[1, 2]]), Case([3, 4], [3, 4])])


def test_stdio_job_feeds_stdin_and_judges_with_the_problem_checker():
    problem = Problem(id="p", prompt="", public_tests=[Case("1 2", "3")], hidden_tests=[Case("2", "0.5")],
                      checker="float", checker_args={"abs_tol": 0.01})
    job = harnesses.get("stdio")().build_job(problem, Sample("p", program="print(1)"), problem.tests())
    assert job["mode"] == "stdio" and job["language"] == "python" and job["program"] == "print(1)"
    assert job["tests"] == [{"stdin": "1 2"}, {"stdin": "2"}]
    assert judge(problem, run(stdout="3.001\n"), run(stdout="0.6")) == [Status.AC, Status.WA]


def test_failures_pass_through_and_keep_their_measurements():
    problem = Problem(id="p", prompt="", public_tests=[Case("", "x")] * 5)
    statuses = judge(problem, run("TLE"), run("MLE"), run("OLE"), run("RE", exit_code=1), run("SE"))
    assert statuses == [Status.TLE, Status.MLE, Status.OLE, Status.RE, Status.SE]
    harness = harnesses.get("stdio")()
    verdict = harness.judge(problem, problem.tests()[:1], {"tests": [run("RE", exit_code=3, signal=None,
                                                                           memory_kb=4096, stderr="boom",
                                                                           detail="exit status 3")]})[0]
    assert (verdict.exit_code, verdict.memory_mb, verdict.stderr, verdict.feedback) == (3, 4.0, "boom",
                                                                                        "exit status 3")


def test_compile_error_shows_the_compiler_message():
    problem = Problem(id="p", prompt="", public_tests=[Case("", "x")])
    frame = {"compile": {"ok": False, "stderr": "SyntaxError: invalid syntax"}, "tests": [run("CE")]}
    verdict = harnesses.get("stdio")().judge(problem, problem.tests(), frame)[0]
    assert verdict.status == Status.CE and "SyntaxError" in verdict.stderr


def test_a_short_runner_answer_is_a_system_error_for_every_test():
    problem = Problem(id="p", prompt="", public_tests=[Case("", "x")] * 2)
    assert judge(problem, run(stdout="x")) == [Status.SE, Status.SE]


def test_call_compares_json_values_and_unwraps_apps_single_element_lists():
    job = harnesses.get("call")().build_job(APPS_CALL, Sample("apps/call", program="def pair(a, b): ..."),
                                            APPS_CALL.tests())
    assert job["mode"] == "call" and job["fn_name"] == "pair" and job["tests"] == [{"args": [1, 2]},
                                                                                   {"args": [3, 4]}]
    # [[1, 2]] may mean "returns [1, 2]" (APPS wrapper) or literally [[1, 2]]: both accepted
    assert judge(APPS_CALL, run(result="[1, 2]"), run(result="[3, 4]")) == [Status.AC, Status.AC]
    assert judge(APPS_CALL, run(result="[[1, 2]]"), run(result="[4, 3]")) == [Status.AC, Status.WA]
    assert judge(APPS_CALL, run(result='{"repr": "<object>"}'), run(result="null")) == [Status.WA, Status.WA]


def test_call_compares_numbers_with_tolerance_only_under_the_float_checker():
    exact = Problem(id="f", prompt="", harness="call", fn_name="f", public_tests=[Case([], [[0.3, {"x": 1.0}]])])
    close = run(result='[0.30000000000000004, {"x": 0.9999999}]')
    assert judge(exact, close) == [Status.WA]
    tolerant = Problem(id="f", prompt="", harness="call", fn_name="f", public_tests=exact.public_tests,
                       checker="float", checker_args={"abs_tol": 1e-6})
    assert judge(tolerant, close) == [Status.AC]
    assert judge(tolerant, run(result='[0.31, {"x": 1.0}]')) == [Status.WA]
    one = Problem(id="g", prompt="", harness="call", fn_name="g", public_tests=[Case([], 1)] * 2, checker="float")
    assert judge(one, run(result="1.0000001"), run(result="true")) == [Status.AC, Status.WA]  # a bool is no number


def test_call_needs_fn_name_and_python():
    no_name = Problem(id="c", prompt="", harness="call", public_tests=[Case([1], 1)])
    with pytest.raises(UserError, match="fn_name"):
        harnesses.get("call")().build_job(no_name, Sample("c", program="x"), no_name.tests())
    with pytest.raises(UserError, match="cpp"):
        harnesses.get("call")().build_job(APPS_CALL, Sample("apps/call", program="x", language="cpp"), [])


def test_assert_jobs_for_humaneval_and_mbpp():
    harness = harnesses.get("assert")()
    he = harness.build_job(HUMANEVAL, Sample("HumanEval/0", completion="    return 2 * x\n"), HUMANEVAL.tests())
    assert he["program"] == "def double(x):\n    return 2 * x\n"
    assert he["tests"] == [{"code": HUMANEVAL_TEST + "\n\ncheck(double)\n"}]
    mbpp = harness.build_job(MBPP, Sample("mbpp/1", program="def square(x):\n    return x * x\n"), MBPP.tests())
    assert mbpp["program"].rstrip().endswith("import math")
    assert [t["code"] for t in mbpp["tests"]] == ["assert square(3) == 9", "assert square(-2) == 4"]
    assertion, other = run("RE", exception="AssertionError"), run("RE", exception="NameError")
    assert judge(MBPP, assertion, other) == [Status.WA, Status.RE]
    assert judge(MBPP, run(), run()) == [Status.AC, Status.AC]
    # the judge's completion proof, not the status alone, makes an assert test pass
    assert judge(MBPP, run(completed=False), run(completed=None)) == [Status.WA, Status.WA]
    assert he["prelude"] == [HUMANEVAL.prompt] and he["entry_point"] == "double"  # the prompt's helpers are trusted
    assert mbpp["prelude"] == ["import math"] and mbpp["entry_point"] is None


# ---------------------------------------------------------------------------------------------------------------
# Real programs through the Executor, on the host runner and in Docker
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def executor(request):
    with Executor(backend=request.param, workers=2) as ex:
        yield ex


ADD = Problem(id="add", prompt="Print the sum of two integers.", public_tests=[Case("1 2\n", "3\n")],
              hidden_tests=[Case("40 2", "42"), Case("-5 5\n", "0\n")], time_limit_s=1.0, memory_limit_mb=256)

PY_ADD = "a, b = map(int, input().split())\nprint(a + b)\n"
CPP_ADD = "#include <iostream>\nint main() { long long a, b; std::cin >> a >> b; std::cout << a + b << '\\n'; }\n"
STDIO_CASES = {
    "python AC": ("python", PY_ADD, Status.AC),
    "python __main__ and fd-level output AC": ("python", textwrap.dedent("""\
        import os, sys
        def main():
            a, b = map(int, sys.stdin.read().split())
            os.write(1, str(a + b).encode())  # below Python's sys.stdout: captured only at the descriptor
            sys.stdout.buffer.write(b"\\n")
        if __name__ == "__main__":
            main()
        """), Status.AC),
    "python WA": ("python", "a, b = map(int, input().split())\nprint(a - b)\n", Status.WA),
    "python TLE": ("python", "while True:\n    pass\n", Status.TLE),
    "python MLE": ("python", "x = bytearray(2 * 1024 ** 3)\nprint(len(x))\n", Status.MLE),
    "python OLE": ("python", "while True:\n    print('y' * 1000)\n", Status.OLE),
    "python RE": ("python", "raise ValueError('boom')\n", Status.RE),
    "python CE": ("python", "def broken(:\n", Status.CE),
    "cpp AC": ("cpp", CPP_ADD, Status.AC),
    "cpp WA": ("cpp", CPP_ADD.replace("a + b", "a * b"), Status.WA),
    "cpp RE": ("cpp", "#include <cstdlib>\nint main() { std::abort(); }\n", Status.RE),
    "cpp CE": ("cpp", "int main() { return x; }\n", Status.CE),
}


def test_every_verdict_from_a_real_stdio_program(executor):
    names = list(STDIO_CASES)
    samples = [Sample("add", program=program, language=language, sample_index=i)
               for i, (language, program, _) in enumerate(STDIO_CASES.values())]
    verdicts = executor.run([ADD], samples, progress=False)
    got = {name: v.status for name, v in zip(names, verdicts)}
    assert got == {name: expected for name, (_, _, expected) in STDIO_CASES.items()}, [
        (name, v.tests[0].feedback) for name, v in zip(names, verdicts)]
    fd_output = verdicts[names.index("python __main__ and fd-level output AC")].tests[0]
    assert fd_output.stdout == "3\n"
    assert all(v.total == 3 and v.attempts == 1 for v in verdicts)
    ce = verdicts[names.index("python CE")]
    assert "SyntaxError" in ce.tests[0].stderr + ce.tests[0].feedback


def test_each_checker_on_real_output(executor, tmp_path):
    checker = tmp_path / "sums_to.py"
    checker.write_text("import sys\nn = int(open(sys.argv[1]).read())\n"
                       "got = open(sys.argv[3]).read().split()\n"
                       "ok = len(got) == 2 and int(got[0]) + int(got[1]) == n\n"
                       "print('ok' if ok else 'pair does not sum to %d' % n)\nsys.exit(0 if ok else 1)\n")
    problems = [
        Problem(id="exact", prompt="", public_tests=[Case("", "a b\n")], checker="exact"),
        Problem(id="float", prompt="", public_tests=[Case("", "0.3333333333\n")], checker="float",
                checker_args={"abs_tol": 1e-4}),
        Problem(id="unordered", prompt="", public_tests=[Case("", "x 1\ny 2\n")], checker="unordered"),
        Problem(id="program", prompt="", public_tests=[Case("10\n", "5 5\n")], checker="program",
                checker_args={"program": str(checker)}),
    ]
    programs = [("exact", "print('a b')", Status.AC), ("exact", "print('a  b')", Status.WA),
                ("float", "print(1 / 3)", Status.AC), ("float", "print(0.33)", Status.WA),
                ("unordered", "print('y 2'); print('x  1')", Status.AC), ("unordered", "print('x 1')", Status.WA),
                ("program", "print(3, 7)", Status.AC), ("program", "print(5, 6)", Status.WA)]
    samples = [Sample(pid, program=src, sample_index=i) for i, (pid, src, _) in enumerate(programs)]
    verdicts = executor.run(problems, samples, progress=False)
    assert [v.status for v in verdicts] == [expected for _, _, expected in programs]
    assert verdicts[-1].tests[0].feedback == "pair does not sum to 10"


CALL = Problem(id="call", prompt="", harness="call", fn_name="divmod_pair",
               public_tests=[Case([7, 2], [[3, 1]]), Case([9, 3], [3, 0])], hidden_tests=[Case([1, 1], [1, 0])])


def test_call_harness_with_tuples_lists_and_solution_class(executor):
    programs = [
        ("def divmod_pair(a, b):\n    return (a // b, a % b)\n", Status.AC),  # tuple result equals a list
        ("def divmod_pair(a, b):\n    return [a // b, a % b]\n", Status.AC),
        ("class Solution:\n    def divmod_pair(self, a, b):\n        return divmod(a, b)\n", Status.AC),
        ("def divmod_pair(a, b):\n    return [a % b, a // b]\n", Status.WA),
        ("def divmod_pair(a, b):\n    return object()\n", Status.WA),
        ("def divmod_pair(a, b):\n    return a / 0\n", Status.RE),
        ("def other(a, b):\n    return 0\n", Status.RE),
    ]
    samples = [Sample("call", program=src, sample_index=i) for i, (src, _) in enumerate(programs)]
    verdicts = executor.run([CALL], samples, progress=False)
    assert [v.status for v in verdicts] == [expected for _, expected in programs]
    assert "returned [1, 3]" in verdicts[3].tests[0].feedback


def test_assert_harness_humaneval_and_mbpp(executor):
    samples = [
        Sample("HumanEval/0", completion="    return 2 * x\n", sample_index=0),
        Sample("HumanEval/0", completion="    return x + 2\n", sample_index=1),  # right for 2, wrong for 0
        Sample("HumanEval/0", completion="    return undefined_name\n", sample_index=2),
        Sample("mbpp/1", program="def square(x):\n    return math.pow(x, 2)\n", sample_index=0),  # setup imports
        Sample("mbpp/1", program="def square(x):\n    return x * abs(x)\n", sample_index=1),
    ]
    verdicts = executor.run([HUMANEVAL, MBPP], samples, progress=False)
    assert [v.status for v in verdicts] == [Status.AC, Status.WA, Status.RE, Status.AC, Status.WA]
    assert [t.status for t in verdicts[4].tests] == [Status.AC, Status.WA]
