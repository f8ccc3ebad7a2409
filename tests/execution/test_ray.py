"""The ray backend on a real local Ray cluster (three nodes on this machine, `ray.cluster_utils.Cluster`).

The executor's contract tests (tests/execution/test_executor.py) run again here on the ray backend; then what only
a cluster has: work spread over the nodes, and a node removed in the middle of a batch without losing a result.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # stay on 127.0.0.1
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")

from codelhf.execution import Executor, local
from codelhf.execution.ray import RayBackend
from codelhf.problems import Problem
from codelhf.problems import TestCase as Case
from codelhf.samples import Sample
from codelhf.verdicts import Status


def _contract_module():
    """tests/execution/test_executor.py as a module, under the name pytest gives it (so it is imported once, and its
    harness and checker are registered once, whichever file pytest collects first)."""
    name = "tests.execution.test_executor"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("test_executor.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_contract = _contract_module()
ECHO, sleepy = _contract.ECHO, _contract.sleepy
# The contract, collected here a second time: each takes the `executor` fixture below, a ray executor.
test_results_come_back_in_submission_order = _contract.test_results_come_back_in_submission_order
test_submit_returns_before_the_batch_finishes = _contract.test_submit_returns_before_the_batch_finishes
test_two_batches_in_flight_keep_their_own_results_and_stats = \
    _contract.test_two_batches_in_flight_keep_their_own_results_and_stats
test_missing_problem_or_unknown_checker_is_a_user_error_at_submit = \
    _contract.test_missing_problem_or_unknown_checker_is_a_user_error_at_submit
test_runner_error_answer_is_a_system_error_without_retry = \
    _contract.test_runner_error_answer_is_a_system_error_without_retry
test_a_judging_bug_is_that_samples_verdict_and_the_batch_is_delivered = \
    _contract.test_a_judging_bug_is_that_samples_verdict_and_the_batch_is_delivered
test_a_hung_checker_program_is_se = _contract.test_a_hung_checker_program_is_se
test_a_sample_without_tests_gets_an_empty_verdict = _contract.test_a_sample_without_tests_gets_an_empty_verdict


@pytest.fixture(scope="module")
def cluster():
    """A head and two worker nodes, one CPU each (so one sandbox worker per node)."""
    nodes = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    for _ in range(2):
        nodes.add_node(num_cpus=1)
    ray.init(address=nodes.address, namespace="codelhf-tests", log_to_driver=False)
    nodes.wait_for_nodes()
    yield nodes
    session = Path(nodes.head_node.get_session_dir_path())
    ray.shutdown()
    nodes.shutdown()
    shutil.rmtree(session, ignore_errors=True)  # Ray's logs and sockets of this cluster, under /tmp/ray
    # Killed nodes (and the actors Ray kills at shutdown) could not close their local runners: the next start on the
    # machine removes the scratch folders they left, as here once their processes are gone.
    deadline = time.monotonic() + 10
    while True:
        local.remove_stale_scratch()
        if not list(Path(tempfile.gettempdir()).glob(f"{local.SCRATCH_PREFIX}*")) or time.monotonic() > deadline:
            break
        time.sleep(0.2)


@pytest.fixture(scope="module")
def executor(cluster):
    with Executor(backend="ray", backend_options={"sandbox": "local"}) as ex:
        yield ex


def jobs_by_node(backend: RayBackend) -> dict[str, int]:
    infos = [ray.get(actor.info.remote(), timeout=60) for actor in backend.actors.values()]
    return {info["node_id"]: info["jobs"] for info in infos}


def test_one_seat_per_node_cpu_and_work_spread_over_every_node(executor, cluster):
    assert isinstance(executor.backend, RayBackend) and executor.n_workers == 3  # three nodes × one CPU
    executor.run([ECHO], [sleepy(0, 0.0)], progress=False)  # every seat is taken once the pool is warm
    before = jobs_by_node(executor.backend)
    verdicts = executor.run([ECHO], [sleepy(i, 0.5) for i in range(12)], progress=False)
    assert [v.status for v in verdicts] == [Status.AC] * 12
    after = jobs_by_node(executor.backend)
    alive = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert set(after) == alive and len(alive) == 3
    done = {node: after[node] - before.get(node, 0) for node in after}
    assert sum(done.values()) == 12 and min(done.values()) >= 2, done


def test_removing_a_node_mid_batch_loses_no_result(cluster):
    extra = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    with Executor(backend="ray", backend_options={"sandbox": "local"}) as ex:
        assert ex.n_workers == 4
        future = ex.submit([ECHO], [sleepy(i, 1.0) for i in range(12)])
        deadline = time.monotonic() + 120
        # wait until the extra node's actor has taken work, then take the node away under it
        while time.monotonic() < deadline:
            actor = ex.backend.actors.get(extra.node_id)
            if actor is not None and ray.get(actor.info.remote(), timeout=60)["jobs"] > 0:
                break
            time.sleep(0.1)
        cluster.remove_node(extra)
        verdicts = future.result(timeout=300)
        stats = future.stats
    assert [v.status for v in verdicts] == [Status.AC] * 12
    assert [v.tests[0].stdout for v in verdicts] == ["7\n"] * 12
    assert stats is not None and stats.retries >= 1 and max(v.attempts for v in verdicts) == 2


@pytest.mark.docker
def test_docker_workers_on_every_node_and_the_adapters_find_the_cluster(cluster, monkeypatch):
    from codelhf.integrations import scorer as scorer_module
    from codelhf.integrations.verl import compute_score

    monkeypatch.delenv("CODELHF_BACKEND", raising=False)
    scorer_module._default = None
    try:
        scorer = scorer_module.default_scorer()
        assert scorer.config.backend == "auto" and isinstance(scorer.executor.backend, RayBackend)
        assert scorer.executor.backend.sandbox == "docker"
        gt = '{"inputs": ["1 2\\n", "5 5\\n"], "outputs": ["3\\n", "10\\n"]}'
        results = [compute_score("codecontests", code, gt)["verdict"]
                   for code in ("a, b = map(int, input().split())\nprint(a + b)", "print(3)", "print(")]
        assert results == ["AC", "WA", "CE"]
    finally:
        scorer_module.default_scorer().close()
        scorer_module._default = None


def test_a_job_on_a_removed_node_is_retried_elsewhere_even_when_every_seat_was_there(cluster):
    # One node only offers the custom resource: every seat is there. When it goes, the retries find no node
    # with the resource, and the sample becomes SE with the reason, never a silent failure or a lost result.
    lone = cluster.add_node(num_cpus=1, resources={"sandbox_test": 1})
    cluster.wait_for_nodes()
    problem = Problem(id="echo2", prompt="", public_tests=[Case("7\n", "7\n")])
    with Executor(backend="ray", retries=1, backend_options={"sandbox": "local", "resource": "sandbox_test"}) as ex:
        assert ex.n_workers == 1
        assert ex.run([problem], [Sample("echo2", program="print(input())")], progress=False)[0].all_passed
        future = ex.submit([problem], [Sample("echo2", program="import time\ntime.sleep(5)\nprint(7)")])
        time.sleep(1.0)
        cluster.remove_node(lone)
        (verdict,) = future.result(timeout=300)
    assert verdict.status == Status.SE and "no live Ray node" in verdict.tests[0].feedback


@pytest.mark.docker
def test_codelhf_execute_backend_ray_joins_the_cluster_and_shares_its_actors(cluster, tmp_path):
    from codelhf.problems import save_problems_jsonl
    from codelhf.samples import save_samples

    save_problems_jsonl(tmp_path / "p.jsonl", [ECHO])
    save_samples(tmp_path / "s.jsonl", [Sample("echo", program="print(input())", sample_index=i) for i in range(6)]
                 + [Sample("echo", program="print(8)", sample_index=6)])
    ours = RayBackend(sandbox="docker")  # this process's handles on the per-node Docker actors (made if missing)
    for node in ours.nodes:
        ray.get(ours._actor(node).info.remote(), timeout=300)
    before = sum(jobs_by_node(ours).values())
    done = subprocess.run([sys.executable, "-m", "codelhf.cli", "execute", "--backend", "ray", "--problems",
                           str(tmp_path / "p.jsonl"), "--samples", str(tmp_path / "s.jsonl"), "--json"],
                          capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "RAY_ADDRESS": cluster.address})
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"samples": 7, "all_passed": 6,
                                                                 "verdicts": {"AC": 6, "WA": 1}}
    # the command's driver found these actors by name and ran its jobs on them, not on actors of its own
    assert sum(jobs_by_node(ours).values()) == before + 7
