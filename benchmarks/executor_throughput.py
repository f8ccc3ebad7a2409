"""Executor throughput: the same batch through codelhf's sandboxes and through what other tools do.

    .venv/bin/python benchmarks/executor_throughput.py                       # 200 programs x 10 tests, both variants
    .venv/bin/python benchmarks/executor_throughput.py --programs 20 --tests 5 --only docker,fork

Modes, all with the same number of concurrent workers (default: one per core):
  codelhf-docker    the Executor with warm containers (forks per test inside; worker start-up not timed)
  codelhf-local     the Executor with the same runner on the host (rlimits, no container)
  docker-run        the naive sandbox: `docker run --rm --network none` per program, whose 10 tests a small
                    driver runs inside that container (a fresh interpreter per test)
  fresh-python      a fresh interpreter per test on the host, no isolation (what human-eval-style runners do)
  fork              a warm host process forks per test, no isolation and no limits: the limit of this machine

Variants: `trivial` (read two numbers, print their sum), `cpu` (a loop of about 20 ms of CPU per test) and
`assert` (HumanEval/MBPP style: a function, and an `assert` on it per test; codelhf runs the test code in a judge
process of its own, the fork limit in the program's process, as unisolated harnesses do; docker-run and
fresh-python have no assert driver). The slow modes (docker-run, fresh-python) run on the first `--slow-programs`
programs only; a rate in tests/s does not depend on the batch size once it is well above the number of workers.
Every mode's outputs are checked, so a mode that skips work cannot look fast.

`--rounds N` measures every mode N times, in a rotated order each round, and reports the median: on a machine
shared with other work the load drifts within minutes, and one pass per mode would compare different machines.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

from rich.console import Console
from rich.table import Table

from codelhf.problems import Problem, TestCase
from codelhf.samples import Sample

MODES = ("codelhf-docker", "codelhf-local", "docker-run", "fresh-python", "fork")
SLOW_MODES = ("docker-run", "fresh-python")
NO_ASSERT_DRIVER = ("docker-run", "fresh-python")
console = Console(width=150)


@dataclass
class Batch:
    """Programs and their tests: program i adds i to the sum, so every program is different."""

    programs: list[str]
    tests: list[list[tuple[str, str]]]  # per program: (stdin, expected stdout), or (assert code, "")
    harness: str = "stdio"

    @property
    def n_tests(self) -> int:
        return sum(len(t) for t in self.tests)

    def head(self, n: int) -> Batch:
        return Batch(self.programs[:n], self.tests[:n], self.harness)


CPU_LOOP = 120000


def cpu_answer(n: int) -> int:
    s = 0
    for k in range(CPU_LOOP):
        s = (s + k * k + n) % 1000003
    return s


def make_batch(variant: str, n_programs: int, n_tests: int) -> Batch:
    if variant == "trivial":
        programs = [f"a, b = map(int, input().split())\nprint(a + b + {i})\n" for i in range(n_programs)]
        tests = [[(f"{j} {j * 7}\n", f"{j * 8 + i}\n") for j in range(n_tests)] for i in range(n_programs)]
    elif variant == "assert":
        programs = [f"def add(a, b):\n    return a + b + {i}\n" for i in range(n_programs)]
        tests = [[(f"assert add({j}, {j * 7}) == {j * 8 + i}", "") for j in range(n_tests)] for i in range(n_programs)]
        return Batch(programs, tests, "assert")
    else:  # cpu: about 20 ms of pure-Python arithmetic per test; the answer depends on the input
        programs = [f"n = int(input())\ns = 0\nfor k in range({CPU_LOOP}):\n    s = (s + k * k + n) % 1000003\n"
                    f"print(s + {i})\n" for i in range(n_programs)]
        answers = [cpu_answer(j) for j in range(n_tests)]
        tests = [[(f"{j}\n", f"{answers[j] + i}\n") for j in range(n_tests)] for i in range(n_programs)]
    return Batch(programs, tests)


# --- the modes: each returns the number of tests whose output was right ---------------------------------------


Tally = tuple[int, float | None, float | None]
"""Tests right; for codelhf also the seconds inside test runs (fork to exit, as the runner measures them) and the
programs' own CPU seconds, so the rest of a worker's time shows as the sandbox's overhead."""


def run_codelhf(backend: str, batch: Batch, workers: int) -> Callable[[], Tally]:
    """Start the executor's workers untimed (a warm-up batch), and return the timed run."""
    from codelhf.execution import Executor

    problems = [Problem(id=f"p{i}", prompt="", harness=batch.harness, hidden_tests=[TestCase(s, o) for s, o in cases])
                for i, cases in enumerate(batch.tests)]
    samples = [Sample(f"p{i}", program=program) for i, program in enumerate(batch.programs)]
    executor = Executor(backend=backend, workers=workers)
    executor.run(problems[:workers * 2], samples[:workers * 2], progress=False)

    def timed() -> Tally:
        try:
            verdicts = executor.run(problems, samples, progress=False)
        finally:
            executor.close()
        tests = [t for v in verdicts for t in v.tests]
        return sum(v.passed for v in verdicts), sum(t.wall_s for t in tests), sum(t.cpu_s for t in tests)

    return timed


DRIVER = """
import json, subprocess, sys
job = json.load(sys.stdin)
ok = 0
for stdin, expected in job["tests"]:
    run = subprocess.run([sys.executable, "-c", job["program"]], input=stdin, capture_output=True, text=True,
                         timeout=10)
    ok += run.returncode == 0 and run.stdout.split() == expected.split()
print(ok)
"""


def run_docker_per_program(batch: Batch, workers: int, image: str) -> int:
    def one(i: int) -> int:
        job = json.dumps({"program": batch.programs[i], "tests": batch.tests[i]})
        run = subprocess.run(["docker", "run", "--rm", "-i", "--network", "none", image, "python3", "-c", DRIVER],
                             input=job, capture_output=True, text=True, timeout=120, check=False)
        return int(run.stdout.strip() or 0)

    with ThreadPoolExecutor(workers) as pool:
        return sum(pool.map(one, range(len(batch.programs))))


def run_fresh_python(batch: Batch, workers: int) -> int:
    def one(i: int) -> int:
        ok = 0
        for stdin, expected in batch.tests[i]:
            run = subprocess.run([sys.executable, "-c", batch.programs[i]], input=stdin, capture_output=True,
                                 text=True, timeout=10, check=False)
            ok += run.returncode == 0 and run.stdout.split() == expected.split()
        return ok

    with ThreadPoolExecutor(workers) as pool:
        return sum(pool.map(one, range(len(batch.programs))))


def _fork_program(program: str, cases: list[tuple[str, str]], harness: str = "stdio") -> int:
    """Compile once, then per test: fork, child runs the code as __main__ with stdin/stdout on pipes (an assert
    test: the test code after it, in the same namespace; passing is exiting 0)."""
    code = compile(program, "<program>", "exec")
    ok = 0
    for stdin, expected in cases:
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.dup2(in_r, 0)
            os.dup2(out_w, 1)
            for fd in (in_r, in_w, out_r, out_w):
                os.close(fd)
            sys.stdin = open(0, closefd=False)  # noqa: SIM115
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
            try:
                namespace = {"__name__": "__main__"}
                exec(code, namespace)  # noqa: S102
                if harness == "assert":
                    exec(compile(stdin, "<test>", "exec"), namespace)  # noqa: S102
                sys.stdout.flush()
                os._exit(0)
            except BaseException:  # noqa: BLE001
                os._exit(1)
        os.close(in_r)
        os.close(out_w)
        os.write(in_w, stdin.encode() if harness == "stdio" else b"")
        os.close(in_w)
        chunks = []
        while chunk := os.read(out_r, 65536):
            chunks.append(chunk)
        os.close(out_r)
        _, status = os.waitpid(pid, 0)
        ok += status == 0 and b"".join(chunks).split() == expected.encode().split()
    return ok


def run_fork(batch: Batch, workers: int) -> int:
    # forkserver: workers fork per test from a fresh single-threaded process; forking this one, whose Executor
    # and thread pools have run, can deadlock a child on a lock another thread held
    with get_context("forkserver").Pool(workers) as pool:
        return sum(pool.starmap(_fork_program, [(p, t, batch.harness) for p, t in zip(batch.programs, batch.tests)]))


# --- driver ---------------------------------------------------------------------------------------------------


@dataclass
class Measurement:
    mode: str
    variant: str
    programs: int
    tests: int
    correct: int
    seconds: float
    in_tests_s: float | None
    program_cpu_s: float | None
    load: float
    """The 1-minute load average when the measurement started."""

    @property
    def tests_per_s(self) -> float:
        return self.tests / self.seconds


def measure(mode: str, variant: str, batch: Batch, workers: int, image: str | None) -> Measurement:
    load = os.getloadavg()[0]
    if mode.startswith("codelhf-"):
        timed = run_codelhf(mode.removeprefix("codelhf-"), batch, workers)
    else:
        run = {"docker-run": lambda: run_docker_per_program(batch, workers, image or ""),
               "fresh-python": lambda: run_fresh_python(batch, workers),
               "fork": lambda: run_fork(batch, workers)}[mode]

        def timed() -> Tally:
            return run(), None, None
    started = time.perf_counter()
    correct, in_tests_s, program_cpu_s = timed()
    return Measurement(mode, variant, len(batch.programs), batch.n_tests, correct, time.perf_counter() - started,
                       in_tests_s, program_cpu_s, load)


def report(results: list[Measurement], workers: int) -> None:
    for variant in dict.fromkeys(r.variant for r in results):
        by_mode: dict[str, list[Measurement]] = {}
        for r in results:
            if r.variant == variant:
                by_mode.setdefault(r.mode, []).append(r)
        rate = {mode: statistics.median(r.tests_per_s for r in rows) for mode, rows in by_mode.items()}
        rounds = max(len(rows) for rows in by_mode.values())
        table = Table(title=f"executor throughput, variant {variant!r} ({workers} workers, {os.cpu_count()} cores; "
                            f"median of {rounds} round{'s' * (rounds > 1)})")
        for column in ("mode", "programs", "tests", "correct", "tests/s", "range", "× docker-run", "× fork limit",
                       "in test runs", "program CPU", "load avg"):
            table.add_column(column, justify="left" if column == "mode" else "right")
        for mode, rows in by_mode.items():
            rates = [r.tests_per_s for r in rows]
            versus = [f"{rate[mode] / rate[m]:.2f}" if m in rate else "-" for m in ("docker-run", "fork")]
            shares = [f"{statistics.median(share(r) for r in rows) / workers:.0%}" if rows[0].in_tests_s is not None
                      else "-" for share in (lambda r: r.in_tests_s / r.seconds, lambda r: r.program_cpu_s / r.seconds)]
            table.add_row(mode, str(rows[0].programs), str(sum(r.tests for r in rows)),
                          str(sum(r.correct for r in rows)), f"{rate[mode]:.1f}", f"{min(rates):.0f}-{max(rates):.0f}",
                          *versus, *shares, f"{statistics.median(r.load for r in rows):.1f}")
        console.print(table)
    console.print("in test runs: share of the workers' time from fork to exit of a test (runner-measured); the rest "
                  "is the runner's set-up and clean-up between tests, transport and judging. program CPU: the "
                  "programs' own CPU time. load avg: the 1-minute load average as each measurement started (median). "
                  "Docker containers share one CPU group (cgroup), so on a machine busy with other processes they "
                  "get less CPU than host processes do.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--programs", type=int, default=200)
    parser.add_argument("--tests", type=int, default=10, help="tests per program")
    parser.add_argument("--slow-programs", type=int, default=40, help="programs for docker-run and fresh-python")
    parser.add_argument("--workers", type=int, default=None, help="concurrent workers (default: one per core)")
    parser.add_argument("--variants", default="trivial,cpu")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per mode, in rotated order; the median")
    parser.add_argument("--only", default=",".join(MODES), help=f"comma-separated subset of {','.join(MODES)}")
    parser.add_argument("--json", dest="json_out", default=None, help="also write the measurements to this file")
    args = parser.parse_args()

    from codelhf.execution.base import default_workers

    workers = args.workers or default_workers()
    modes = [m for m in MODES if m in args.only.split(",")]
    image = None
    if {"codelhf-docker", "docker-run"} & set(modes):
        from codelhf.execution.image import ensure_image

        image = ensure_image()  # the naive sandbox gets the same image, so only the way of running differs
    results = []
    for variant in args.variants.split(","):
        batch = make_batch(variant, args.programs, args.tests)
        usable = [m for m in modes if not (batch.harness == "assert" and m in NO_ASSERT_DRIVER)]
        for round_ in range(args.rounds):
            for mode in usable[round_ % len(usable):] + usable[:round_ % len(usable)]:
                part = batch.head(args.slow_programs) if mode in SLOW_MODES else batch
                console.print(f"[dim]{variant}, round {round_ + 1}: {mode} on {len(part.programs)} programs x "
                              f"{args.tests} tests ...[/]")
                result = measure(mode, variant, part, workers, image)
                if result.correct != result.tests:
                    console.print(f"[red]{mode}: only {result.correct} of {result.tests} tests right[/]")
                results.append(result)
    report(results, workers)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump([vars(r) for r in results], f, indent=1)


if __name__ == "__main__":
    main()
