"""The Executor over real runners: order, overlap, retries after a worker is killed, system errors, stats.

Fault tests kill a real worker (its container with `docker kill`, or the local runner process) from another
thread while a batch of slow programs runs, and check that every result still arrives, right.
"""

from __future__ import annotations

import subprocess
import threading
import time

import pytest

from codelhf.errors import UserError
from codelhf.execution import Executor
from codelhf.harness import Harness, checkers, harnesses
from codelhf.harness.stdio import StdioHarness
from codelhf.problems import Problem
from codelhf.problems import TestCase as Case  # not named Test*, so pytest does not collect it
from codelhf.samples import Sample
from codelhf.verdicts import Status

ECHO = Problem(id="echo", prompt="Print the input.", public_tests=[Case("7\n", "7\n")], time_limit_s=2.0)
BACKENDS = ["local", pytest.param("docker", marks=pytest.mark.docker)]


def sleepy(i: int, seconds: float) -> Sample:
    """A correct program for ECHO that first sleeps (wall time, not CPU: no TLE)."""
    return Sample("echo", program=f"import time\ntime.sleep({seconds})\nprint(input())\n", sample_index=i)


@pytest.fixture(scope="module", params=BACKENDS)
def executor(request):
    with Executor(backend=request.param, workers=2) as ex:
        yield ex


def test_results_come_back_in_submission_order(executor):
    problems = [Problem(id=f"p{i}", prompt="", public_tests=[Case("", f"{i}\n")]) for i in range(8)]
    # Later samples finish first, and one sample is wrong: order must follow the input, not completion.
    samples = [Sample(f"p{i}", program=f"import time\ntime.sleep({0.05 * (8 - i)})\nprint({i if i != 5 else 0})",
                      sample_index=0) for i in range(8)]
    verdicts = executor.run({p.id: p for p in problems}, samples, progress=False)
    assert [v.problem_id for v in verdicts] == [f"p{i}" for i in range(8)]
    assert [v.status for v in verdicts] == [Status.AC] * 5 + [Status.WA] + [Status.AC] * 2
    assert verdicts[3].tests[0].stdout == "3\n"


def test_submit_returns_before_the_batch_finishes(executor):
    started = time.perf_counter()
    future = executor.submit([ECHO], [sleepy(i, 1.0) for i in range(4)])  # 2 s of work at least on 2 workers
    assert time.perf_counter() - started < 1.0 and not future.done()
    verdicts = future.result(timeout=120)
    assert [v.status for v in verdicts] == [Status.AC] * 4
    stats = future.stats  # set before the result was, so a reader right after sees it
    assert stats is not None and stats.programs == 4 and stats.tests == 4 and stats.verdicts == {"AC": 4}
    metrics = stats.as_metrics()
    assert metrics["exec/verdict/AC"] == 4 and metrics["exec/retries"] == 0 and metrics["exec/programs_per_s"] > 0


def test_two_batches_in_flight_keep_their_own_results_and_stats(executor):
    first = executor.submit([ECHO], [sleepy(i, 0.2) for i in range(3)])
    second = executor.submit([ECHO], [Sample("echo", program="print(8)", sample_index=i) for i in range(2)],
                             tests="public")
    assert [v.status for v in second.result(timeout=120)] == [Status.WA] * 2
    assert [v.status for v in first.result(timeout=120)] == [Status.AC] * 3
    assert (first.stats.programs, first.stats.verdicts) == (3, {"AC": 3})  # each batch's own, whichever ended last
    assert (second.stats.programs, second.stats.verdicts) == (2, {"WA": 2})


def test_missing_problem_or_unknown_checker_is_a_user_error_at_submit(executor):
    with pytest.raises(UserError, match="'nope'"):
        executor.submit([ECHO], [Sample("echo", program="print(7)"), Sample("nope", program="print(1)")])
    typo = Problem(id="typo", prompt="", public_tests=[Case("", "1")], checker="tokenz")
    with pytest.raises(UserError, match="checker 'tokenz'") as error:
        executor.submit([typo], [Sample("typo", program="print(1)")])
    assert "tokens" in error.value.hint


@harnesses.register("test_unknown_mode")
class UnknownMode(Harness):
    """A user harness, in one class, driving a runner mode that does not exist."""

    mode = "no-such-mode"

    def job_tests(self, problem, tests):
        return [{"stdin": ""} for _ in tests]


def test_runner_error_answer_is_a_system_error_without_retry(executor):
    problem = Problem(id="odd", prompt="", harness="test_unknown_mode", public_tests=[Case("", "")] * 2)
    (verdict,) = executor.run([problem], [Sample("odd", program="print(1)")], progress=False)
    assert [t.status for t in verdict.tests] == [Status.SE, Status.SE]
    assert verdict.attempts == 1 and "runner rejected the job" in verdict.tests[0].feedback


@checkers.register("test_broken_checker")
def broken_checker(output: str, expected: str, **context) -> bool:
    if output.strip() == "2":
        raise ValueError("bug in a user's checker")
    return output.strip() == expected.strip()


@harnesses.register("test_broken_harness")
class BrokenHarness(StdioHarness):
    """A user harness whose judging itself fails on some answers."""

    def judge(self, problem, tests, result):
        if "boom" in result["tests"][0]["stdout"]:
            raise RuntimeError("bug in a user's harness")
        return super().judge(problem, tests, result)


def test_a_judging_bug_is_that_samples_verdict_and_the_batch_is_delivered(executor):
    broken = Problem(id="broken", prompt="", public_tests=[Case("", "1")], checker="test_broken_checker")
    samples = [Sample("broken", program=f"print({i})", sample_index=i) for i in (1, 2, 3)]
    verdicts = executor.run([broken], samples, progress=False)
    assert [v.status for v in verdicts] == [Status.AC, Status.WA, Status.WA]  # never lost, never AC
    assert "checking failed: ValueError: bug in a user's checker" in verdicts[1].tests[0].feedback
    harnessed = Problem(id="harnessed", prompt="", public_tests=[Case("", "1")], harness="test_broken_harness")
    samples = [Sample("harnessed", program=program) for program in ("print(1)", "print('boom')", "print(3)")]
    verdicts = executor.run([harnessed], samples, progress=False)
    assert [v.status for v in verdicts] == [Status.AC, Status.SE, Status.WA]
    assert "judging failed: RuntimeError: bug in a user's harness" in verdicts[1].tests[0].feedback


def test_a_hung_checker_program_is_se(executor):
    hung = Problem(id="hung", prompt="", public_tests=[Case("", "1")], checker="program",
                   checker_args={"program": "import time\ntime.sleep(60)\n", "timeout_s": 0.5})
    (verdict,) = executor.run([hung], [Sample("hung", program="print(1)")], progress=False)
    assert verdict.status == Status.SE and "checker failed" in verdict.tests[0].feedback
    assert executor.run([ECHO], [Sample("echo", program="print(input())")], progress=False)[0].all_passed


def test_a_sample_without_tests_gets_an_empty_verdict(executor):
    problem = Problem(id="untested", prompt="")
    (verdict,) = executor.run([problem], [Sample("untested", program="print(1)")], progress=False)
    assert verdict.total == 0 and not verdict.all_passed


@pytest.mark.parametrize("backend", BACKENDS)
def test_fresh_interpreter_mode_judges_like_fork_mode(backend):
    programs = {"import sys\nif __name__ == '__main__':\n    print(sys.stdin.read().strip())\n": Status.AC,
                "print(8)\n": Status.WA, "raise KeyError(1)\n": Status.RE, "print(\n": Status.CE}
    samples = [Sample("echo", program=src, sample_index=i) for i, src in enumerate(programs)]
    with Executor(backend=backend, workers=1, python_fork=False) as ex:
        verdicts = ex.run([ECHO], samples, progress=False)
    assert [v.status for v in verdicts] == list(programs.values())


@pytest.mark.docker
def test_containers_grow_to_a_problem_memory_limit_above_the_default():
    # 1000 MB really touched: more than a container sized for the default 512 MB limit holds, so without
    # resizing the container's OOM killer would turn this correct program into MLE.
    big = Problem(id="big", prompt="", public_tests=[Case("", "1000\n")], memory_limit_mb=1500)
    hungry = Sample("big", program="x = b'x' * (1000 * 2 ** 20)\nprint(len(x) // 2 ** 20)\n")
    with Executor(backend="docker", workers=1) as ex:
        assert ex.run([ECHO], [Sample("echo", program="print(input())")], progress=False)[0].all_passed
        (verdict,) = ex.run([big], [hungry], progress=False)
    assert verdict.status == Status.AC, verdict.tests[0].feedback
    assert verdict.tests[0].memory_mb > 1000 and verdict.attempts == 1


# ---------------------------------------------------------------------------------------------------------------
# Faults: a worker killed mid-batch
# ---------------------------------------------------------------------------------------------------------------


def docker_kill(worker) -> None:
    subprocess.run(["docker", "kill", worker.container.id], capture_output=True, check=True)


def kill_runner_process(worker) -> None:
    worker.process.kill()  # the runner (or the bubblewrap around it, which takes the runner along)


KILLERS = [pytest.param("local", kill_runner_process, id="local-runner-killed"),
           pytest.param("docker", docker_kill, id="docker-kill", marks=pytest.mark.docker)]


def kill_workers(ex: Executor, kill, times: int, after_s: float = 0.6) -> threading.Thread:
    """From another thread: `times` times, wait for a new live worker, let it get busy, and kill it."""

    def killer() -> None:
        seen: set[int] = set()
        deadline = time.monotonic() + 120
        while len(seen) < times and time.monotonic() < deadline:
            victim = next((w for w in ex._workers if w is not None and id(w) not in seen), None)
            if victim is None:
                time.sleep(0.02)
                continue
            seen.add(id(victim))
            time.sleep(after_s)
            kill(victim)

    thread = threading.Thread(target=killer)
    thread.start()
    return thread


@pytest.mark.parametrize("backend, kill", KILLERS)
def test_worker_killed_mid_batch_loses_no_result(backend, kill):
    with Executor(backend=backend, workers=2) as ex:
        future = ex.submit([ECHO], [sleepy(i, 1.0) for i in range(6)])
        killer = kill_workers(ex, kill, times=1)
        verdicts = future.result(timeout=300)
        killer.join()
        stats = future.stats
    assert [v.status for v in verdicts] == [Status.AC] * 6
    assert [v.tests[0].stdout for v in verdicts] == ["7\n"] * 6
    assert [v.attempts for v in verdicts].count(2) == 1 and stats is not None and stats.retries == 1


@pytest.mark.docker
def test_a_hung_container_is_replaced_after_the_job_timeout():
    # `docker pause` freezes the runner mid-job: no answer ever comes, so the job timeout declares the worker
    # dead. Small limits keep that timeout short: compile 1 s + (wall 2 × 0.5 + 2 = 3 s + 1 s) + 10 s = 15 s.
    def pause(worker) -> None:
        subprocess.run(["docker", "pause", worker.container.id], capture_output=True, check=True)

    with Executor(backend="docker", workers=1, time_limit_s=0.5, compile_time_limit_s=1) as ex:
        future = ex.submit([ECHO], [sleepy(0, 1.0), sleepy(1, 0.1)])
        pauser = kill_workers(ex, pause, times=1, after_s=0.3)
        started = time.monotonic()
        verdicts = future.result(timeout=120)
        pauser.join()
    assert [v.status for v in verdicts] == [Status.AC, Status.AC]
    assert [v.attempts for v in verdicts] == [2, 1]
    assert 14 < time.monotonic() - started < 60


@pytest.mark.parametrize("backend, kill", KILLERS)
def test_a_job_whose_worker_keeps_dying_becomes_a_system_error_after_retries(backend, kill):
    # Every worker that takes the first job is killed under it: after `retries` more attempts on fresh workers
    # its test is SE (never blamed on the program) with the reason; the next job runs normally.
    with Executor(backend=backend, workers=1, retries=1) as ex:
        future = ex.submit([ECHO], [sleepy(0, 3.0), Sample("echo", program="print(input())", sample_index=1)])
        killer = kill_workers(ex, kill, times=2)
        verdicts = future.result(timeout=300)
        killer.join()
    assert verdicts[0].status == Status.SE and verdicts[0].attempts == 2
    assert "worker died 2 times" in verdicts[0].tests[0].feedback
    assert verdicts[1].status == Status.AC and verdicts[1].attempts == 1


# ---------------------------------------------------------------------------------------------------------------
# Nothing left behind
# ---------------------------------------------------------------------------------------------------------------

def worker_gone(worker) -> bool:
    if hasattr(worker, "process"):
        return worker.process.poll() is not None  # killed and reaped
    inspect = subprocess.run(["docker", "inspect", worker.container.id], capture_output=True, check=False)
    return inspect.returncode != 0  # the container is removed


@pytest.mark.parametrize("backend", BACKENDS)
def test_close_mid_batch_stops_the_workers_and_fails_the_batch_at_once(backend):
    ex = Executor(backend=backend, workers=2)
    future = ex.submit([ECHO], [sleepy(i, 30.0) for i in range(4)])
    deadline = time.monotonic() + 60
    while sum(w is not None for w in ex._workers) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = [w for w in ex._workers if w is not None]
    time.sleep(0.5)
    started = time.monotonic()
    ex.close()
    assert time.monotonic() - started < 10  # not the 30 s the programs would sleep
    with pytest.raises(RuntimeError, match="closed before the batch finished"):
        future.result(timeout=1)
    assert [worker_gone(w) for w in workers] == [True, True]
    with pytest.raises(RuntimeError, match="closed"):
        ex.submit([ECHO], [sleepy(0, 0)])
