"""Throughput of the ray backend against the number of sandbox actors, on a local Ray cluster on this machine.

    .venv/bin/python benchmarks/ray_scaling.py                              # 1..4 actors, docker workers
    .venv/bin/python benchmarks/ray_scaling.py --sandbox local --max-actors 3 --programs 60

One `ray.cluster_utils.Cluster` with `--max-actors` nodes of one CPU each (so one sandbox worker per actor). Node k
offers the custom resources `upto{k+1}` … `upto{max}`, so `RayBackend(resource="upto{n}")` uses exactly n of them:
every size is measured on the same cluster. For each n, the same batch runs through the ray backend with n actors
and through the plain executor with n workers of the same sandbox, so the ratio is what Ray's hop costs. Also
measured: the latency of one trivial job, one at a time, both ways, and the driver's CPU time per job (the part
that does not spread over nodes: the executor's threads, Ray's client and the judging of verdicts).

On a 2-core machine, throughput can only grow up to 2 actors: the point is the overhead and the driver's cost per
job, from which the scaling to many nodes is argued in the README ("Run on a cluster").
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray
from ray.cluster_utils import Cluster
from rich.console import Console
from rich.table import Table

from codelhf.execution import Executor
from codelhf.problems import Problem, TestCase
from codelhf.samples import Sample
from codelhf.verdicts import Status


def batch(programs: int, tests: int) -> tuple[list[Problem], list[Sample]]:
    """Program i adds i to the sum of two numbers; its problem expects exactly that, so every verdict is AC."""
    problems, samples = [], []
    for i in range(programs):
        cases = [TestCase(f"{t} {t * 7}\n", f"{t + t * 7 + i}\n") for t in range(tests)]
        problems.append(Problem(id=f"p{i}", prompt="", hidden_tests=cases))
        samples.append(Sample(f"p{i}", program=f"a, b = map(int, input().split())\nprint(a + b + {i})\n"))
    return problems, samples


def timed_run(ex: Executor, problems: list[Problem], samples: list[Sample]) -> tuple[float, float]:
    """(programs/s, driver CPU ms per program) of one batch; every verdict checked."""
    cpu, wall = time.process_time(), time.perf_counter()
    verdicts = ex.run(problems, samples, progress=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    bad = [v for v in verdicts if v.status != Status.AC]
    assert not bad, f"{len(bad)} wrong verdicts, first: {bad[0].tests[0].feedback}"
    return len(samples) / wall, 1000 * cpu / len(samples)


def latency_ms(ex: Executor, problems: list[Problem], samples: list[Sample], n: int = 40) -> float:
    """Median time of one one-test job sent alone (the pool is warm)."""
    times = []
    for i in range(n):
        started = time.perf_counter()
        ex.run(problems[:1], samples[:1], progress=False)
        times.append(time.perf_counter() - started)
        del i
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-actors", type=int, default=4)
    parser.add_argument("--sandbox", default="docker", help="docker or local: the workers each actor owns")
    parser.add_argument("--programs", type=int, default=120)
    parser.add_argument("--tests", type=int, default=5)
    args = parser.parse_args()
    problems, samples = batch(args.programs, args.tests)
    one_test = ([Problem(id="one", prompt="", hidden_tests=[TestCase("1 2\n", "3\n")])],
                [Sample("one", program="a, b = map(int, input().split())\nprint(a + b)\n")])

    started = time.perf_counter()
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "resources": {f"upto{n}": 1 for n in range(1, args.max_actors + 1)}})
    for k in range(1, args.max_actors):
        cluster.add_node(num_cpus=1, resources={f"upto{n}": 1 for n in range(k + 1, args.max_actors + 1)})
    ray.init(address=cluster.address, namespace="codelhf-bench", log_to_driver=False)
    cluster.wait_for_nodes()
    print(f"cluster of {args.max_actors} nodes up in {time.perf_counter() - started:.1f} s; "
          f"load average {os.getloadavg()}")

    table = Table(title=f"{args.programs} programs × {args.tests} tests, {args.sandbox} workers, one per actor")
    for column in ("actors", "ray programs/s", f"{args.sandbox} executor, same workers", "ratio",
                   "driver CPU ms/program (ray)", "(direct)", "load avg"):
        table.add_column(column)
    try:
        for n in range(1, args.max_actors + 1):
            options = {"sandbox": args.sandbox, "resource": f"upto{n}", "workers_per_node": 1}
            with Executor(backend="ray", backend_options=options) as ex:
                assert ex.n_workers == n
                ex.run(problems[:2 * n], samples[:2 * n], progress=False)  # start every actor's worker
                ray_rate, ray_cpu = timed_run(ex, problems, samples)
                ray_latency = latency_ms(ex, *one_test) if n == 1 else None
            with Executor(backend=args.sandbox, workers=n) as ex:
                ex.run(problems[:2 * n], samples[:2 * n], progress=False)
                direct_rate, direct_cpu = timed_run(ex, problems, samples)
                direct_latency = latency_ms(ex, *one_test) if n == 1 else None
            table.add_row(str(n), f"{ray_rate:.1f}", f"{direct_rate:.1f}", f"{ray_rate / direct_rate:.2f}",
                          f"{ray_cpu:.1f}", f"{direct_cpu:.1f}", f"{os.getloadavg()[0]:.1f}")
            if n == 1:
                print(f"one job alone: ray {ray_latency:.1f} ms, {args.sandbox} executor {direct_latency:.1f} ms "
                      f"({ray_latency - direct_latency:+.1f} ms for the hop to the actor)")
    finally:
        session = cluster.head_node.get_session_dir_path()
        ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(session, ignore_errors=True)  # this cluster's logs and sockets under /tmp/ray
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
