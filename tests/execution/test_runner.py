"""The sandbox runner through real workers (local, and Docker behind its marker): every status reached by a real
program, Python and C++, the three modes, output captured at the descriptor level, fork and fresh interpreters."""

from __future__ import annotations

import subprocess
import sys

import pytest

from codelhf.execution.base import runner_module, runner_path

SUM = "a, b = map(int, input().split())\nprint(a + b)\n"
CPP_SUM = ("#include <cstdio>\n"
           "int main() { long long a, b; scanf(\"%lld %lld\", &a, &b); printf(\"%lld\\n\", a + b); }\n")


# ------------------------------------------------------------------------------------------------------ statuses

@pytest.mark.parametrize("fork", [True, False], ids=["fork", "fresh"])
def test_python_stdio_ok_on_several_tests(sandbox, fork):
    result = sandbox.run(sandbox.job(SUM, [{"stdin": "1 2\n"}, {"stdin": "40 2"}, {"stdin": "-5 5\n"}], fork=fork))
    assert result["compile"]["ok"]
    assert [t["status"] for t in result["tests"]] == ["OK"] * 3
    assert [t["stdout"] for t in result["tests"]] == ["3\n", "42\n", "0\n"]
    first = result["tests"][0]
    assert first["exit_code"] == 0 and first["signal"] is None and first["memory_kb"] > 0 and first["wall_s"] > 0


def test_busy_loop_is_tle_on_cpu_time(sandbox):
    test = sandbox.one("while True:\n    pass\n", time_limit_s=0.5, wall_limit_s=20)
    assert test["status"] == "TLE", test
    assert test["cpu_s"] >= 0.5 and "CPU" in test["detail"]


def test_sleep_is_tle_at_the_wall_limit(sandbox):
    test = sandbox.one("import time\ntime.sleep(60)\n", wall_limit_s=1.0)
    assert test["status"] == "TLE" and test["signal"] == 9 and "wall" in test["detail"], test
    assert 0.9 < test["wall_s"] < 10 and test["cpu_s"] < 0.5


def test_allocation_over_the_limit_is_mle(sandbox):
    test = sandbox.one("block = bytearray(400 * 2**20)\nprint(len(block))\n", memory_limit_mb=128)
    assert test["status"] == "MLE" and test["exception"] == "MemoryError", test
    assert test["stdout"] == ""


def test_memory_under_the_limit_is_fine(sandbox):
    test = sandbox.one("block = bytearray(64 * 2**20)\nprint(len(block))\n", memory_limit_mb=128)
    assert test["status"] == "OK" and test["stdout"] == f"{64 * 2**20}\n", test
    assert test["memory_kb"] > 64 * 1024


def test_output_over_the_cap_is_ole_and_truncated(sandbox):
    test = sandbox.one("import sys\nfor _ in range(10**6):\n    sys.stdout.write('y' * 100 + '\\n')\n",
                       output_limit_bytes=5000)
    assert test["status"] == "OLE", test
    assert len(test["stdout"]) == 5000 and set(test["stdout"]) <= {"y", "\n"}


@pytest.mark.parametrize("language", ["python", "cpp"])
def test_file_over_the_size_limit_is_ole(sandbox, language):
    program = {"python": "with open('big', 'wb') as f:\n    f.write(b'x' * (2 << 20))\n",
               "cpp": "#include <cstdio>\nint main() { FILE *f = fopen(\"big\", \"wb\");\n"
                      "  for (int i = 0; i < (2 << 20); i++) fputc('x', f);\n  fclose(f); }\n"}[language]
    test = sandbox.run(sandbox.job(program, language=language, file_size_limit_bytes=1 << 20))["tests"][0]
    assert test["status"] == "OLE" and "file" in test["detail"], test


def test_exception_is_re_with_its_class_and_traceback(sandbox):
    test = sandbox.one("def f():\n    return {}['missing']\nf()\n")
    assert test["status"] == "RE" and test["exit_code"] == 1 and test["exception"] == "KeyError"
    assert "Traceback" in test["stderr"] and 'File "main.py", line 2' in test["stderr"]
    assert "return {}['missing']" in test["stderr"]  # the source line, as from a script on disk
    assert "runner.py" not in test["stderr"]  # the runner's own frames are not the program's business


@pytest.mark.parametrize("code, exit_code, status", [("sys.exit(3)", 3, "RE"), ("sys.exit('bye')", 1, "RE"),
                                                     ("sys.exit(0)", 0, "OK"), ("sys.exit()", 0, "OK")])
def test_system_exit_codes_follow_cpython(sandbox, code, exit_code, status):
    test = sandbox.one(f"import sys\nprint('before')\n{code}\nprint('after')\n")
    assert (test["status"], test["exit_code"], test["stdout"]) == (status, exit_code, "before\n")
    assert test["exception"] is None
    if code == "sys.exit('bye')":
        assert test["stderr"] == "bye\n"


def test_python_syntax_error_is_ce_for_every_test(sandbox):
    result = sandbox.run(sandbox.job("print('unclosed'\n", [{"stdin": ""}, {"stdin": "1"}]))
    assert not result["compile"]["ok"] and "SyntaxError" in result["compile"]["stderr"]
    assert [t["status"] for t in result["tests"]] == ["CE", "CE"]


def test_cpp_compile_error_is_ce(sandbox):
    result = sandbox.run(sandbox.job("int main() { return undefined_name; }\n", [{"stdin": ""}], language="cpp"))
    assert not result["compile"]["ok"] and "undefined_name" in result["compile"]["stderr"]
    assert result["tests"][0]["status"] == "CE"


def test_cpp_stdio_runs_per_test_after_one_compile(sandbox):
    result = sandbox.run(sandbox.job(CPP_SUM, [{"stdin": "1 2\n"}, {"stdin": "3000000000 4"}], language="cpp"))
    assert result["compile"]["ok"], result["compile"]
    assert [(t["status"], t["stdout"]) for t in result["tests"]] == [("OK", "3\n"), ("OK", "3000000004\n")]


def test_cpp_crash_and_bad_alloc(sandbox):
    crash = sandbox.run(sandbox.job("int main() { int *p = nullptr; return *p + 1; }\n", language="cpp"))["tests"][0]
    assert crash["status"] == "RE" and crash["signal"] == 11, crash
    hog = "#include <vector>\nint main() { std::vector<char> v(1ull << 32); return v[7]; }\n"
    test = sandbox.run(sandbox.job(hog, language="cpp", memory_limit_mb=128))["tests"][0]
    assert test["status"] == "MLE" and "bad_alloc" in test["stderr"], test


# ------------------------------------------------------------------------------------------- what programs can see

def test_main_block_runs_and_name_is_main(sandbox):
    test = sandbox.one("def main():\n    print('in main', __name__)\n\nif __name__ == '__main__':\n    main()\n")
    assert test["stdout"] == "in main __main__\n"


def test_descriptor_level_output_is_captured_in_order(sandbox):
    program = ("import os, sys\nprint('print', flush=True)\nos.write(1, b'os.write\\n')\n"
               "sys.stdout.buffer.write(b'buffer\\n')\nsys.stdout.flush()\nos.write(2, b'to stderr\\n')\n")
    test = sandbox.one(program)
    assert test["stdout"] == "print\nos.write\nbuffer\n" and test["stderr"] == "to stderr\n"


def test_input_without_trailing_newline(sandbox):
    program = "n = int(input())\nrest = input()\nprint(n * 2, rest[::-1])\n"
    assert sandbox.one(program, stdin="21\nabc")["stdout"] == "42 cba\n"
    total = "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n"
    assert sandbox.one(total, stdin="1 2\n3")["stdout"] == "6\n"


def test_unicode_round_trips(sandbox):
    assert sandbox.one("print(input()[::-1])\n", stdin="añb€\n")["stdout"] == "€bña\n"
    # a lone surrogate (JSON allows it) reaches the program as bytes instead of failing the job
    lone = sandbox.one("import sys\nprint(len(sys.stdin.buffer.read()))\n", stdin="a\ud800b")
    assert lone["status"] == "OK" and lone["stdout"] == "5\n"


def test_non_daemon_threads_are_waited_for(sandbox):
    program = ("import threading, time\ndef late():\n    time.sleep(0.3)\n    print('thread done', flush=True)\n"
               "threading.Thread(target=late).start()\nprint('main done', flush=True)\n")
    test = sandbox.one(program)
    assert test["status"] == "OK" and test["stdout"] == "main done\nthread done\n"


def test_atexit_handlers_run(sandbox):
    assert sandbox.one("import atexit\natexit.register(print, 'at exit')\nprint('body')\n")["stdout"] == \
        "body\nat exit\n"


# ------------------------------------------------------------------------------------------------ call and assert

@pytest.mark.parametrize("fork", [True, False], ids=["fork", "fresh"])
def test_call_mode_function_tuple_and_main_block_not_run(sandbox, fork):
    program = "def pair(a, b):\n    return (b, a)\n\nif __name__ == '__main__':\n    print('main block ran')\n"
    result = sandbox.run(sandbox.job(program, [{"args": [1, [2, 3]]}, {"args": ["x", None]}], mode="call",
                                  fn_name="pair", fork=fork))
    assert [t["status"] for t in result["tests"]] == ["OK", "OK"]
    assert [t["result"] for t in result["tests"]] == ["[[2, 3], 1]", '[null, "x"]']
    assert all(t["stdout"] == "" for t in result["tests"])


def test_call_mode_solution_class_and_non_json_result(sandbox):
    program = "class Solution:\n    def twoSum(self, nums, target):\n        return {n for n in nums if n < target}\n"
    test = sandbox.run(sandbox.job(program, [{"args": [[3, 1, 9], 5]}], mode="call", fn_name="twoSum"))["tests"][0]
    assert test["status"] == "OK" and test["result"] == '{"repr": "{1, 3}"}'


def test_call_mode_missing_function_is_re(sandbox):
    test = sandbox.run(sandbox.job("def other(): pass\n", [{"args": []}], mode="call", fn_name="wanted"))["tests"][0]
    assert test["status"] == "RE" and test["exception"] == "NameError" and "wanted" in test["stderr"]


def test_assert_mode_passes_and_fails(sandbox):
    program = "def inc(x):\n    return x + 1\n"
    result = sandbox.run(sandbox.job(program, [{"code": "assert inc(1) == 2\n"}, {"code": "assert inc(1) == 3\n"}],
                                  mode="assert"))
    passed, failed = result["tests"]
    assert passed["status"] == "OK" and passed["exception"] is None
    assert failed["status"] == "RE" and failed["exception"] == "AssertionError"


def test_fork_and_fresh_interpreters_agree(sandbox):
    programs = {
        SUM: [{"stdin": "2 3\n"}],
        "import sys\nprint(sys.argv[0], __name__, len(sys.stdin.read()))\n": [{"stdin": "abc"}],
        "raise ValueError('x')\n": [{"stdin": ""}],
        "import sys\nsys.exit(4)\n": [{"stdin": ""}],
        "import os\nprint(sorted(os.environ))\nprint(os.getcwd() == os.environ['HOME'])\n": [{"stdin": ""}],
        "import signal\nprint([signal.getsignal(s) for s in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT)])\n":
            [{"stdin": ""}],
    }
    for program, tests in programs.items():
        fork, fresh = (sandbox.run(sandbox.job(program, tests, fork=f))["tests"][0] for f in (True, False))
        keys = ("status", "stdout", "stderr", "exit_code", "exception")
        assert {k: fork[k] for k in keys} == {k: fresh[k] for k in keys}, program


# ------------------------------------------------------------------------------------------------------ protocol

def test_ready_frame_describes_the_runner(sandbox):
    sandbox.one("pass\n")  # the worker starts on first use
    ready = sandbox.worker.ready
    assert ready["ready"] and ready["protocol"] == 2 and set(ready["languages"]) == {"python", "cpp"}
    assert ready["subreaper"]  # orphans of a test come back to the runner to be killed (needs ctypes)
    assert tuple(map(int, ready["python"].split(".")[:2])) >= (3, 10)


def test_jobs_the_runner_cannot_understand_get_an_error_answer(sandbox):
    for bad in (sandbox.job("print(1)", language="cobol"), sandbox.job("print(1)", mode="call"),
                {"id": "x", "program": 42, "tests": []}, sandbox.job("print(1)", time_limit_s=-1)):
        answer = sandbox.run(bad)
        assert answer["id"] == bad["id"] and answer["error"] and "tests" not in answer
    assert sandbox.one("print('still serving')\n")["stdout"] == "still serving\n"


def test_frames_round_trip_through_the_runner_functions():
    import io

    frames = runner_module()
    stream = io.BytesIO()
    frames.write_frame(stream, {"id": 1, "text": "a\ud800b é"})
    frames.write_frame(stream, {"id": 2})
    stream.write(b"\x00\x00\x00\x03abc")
    stream.seek(0)
    assert frames.read_frame(stream) == {"id": 1, "text": "a\ud800b é"}
    assert frames.read_frame(stream) == {"id": 2}
    with pytest.raises(frames.FrameError):
        frames.read_frame(stream)
    assert frames.read_frame(stream) is None
    assert frames.read_frame(io.BytesIO(b"\x00\x00\x00\x09{}")) is None  # cut inside a frame: end of stream


def test_runner_exits_quietly_when_the_host_goes_away():
    """A broken result stream (EPIPE) ends the runner with status 0 and no traceback, after its job."""
    runner = subprocess.Popen([sys.executable, str(runner_path())], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env={"PATH": "/usr/bin:/bin", "CODELHF_PROGRAM_UID": "65534"})
    frames = runner_module()
    assert frames.read_frame(runner.stdout)["ready"]
    runner.stdout.close()
    frames.write_frame(runner.stdin, {"id": 1, "program": "print(1)", "tests": [{"stdin": ""}]})
    _, stderr = runner.communicate(timeout=60)
    assert runner.returncode == 0 and stderr == b""
