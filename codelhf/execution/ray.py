"""The ray backend: the executor's workers spread over the nodes of a Ray cluster.

    with Executor(backend="ray") as ex:                      # joins RAY_ADDRESS / the running cluster, else starts one
        verdicts = ex.run(problems, samples)

Each node runs one `SandboxActor`, pinned to it by node affinity (or only nodes that offer a custom resource,
`resource="sandbox"`), named after the node so every process of a training job (trainer, reward workers, a reward
service) shares it. The actor owns that node's warm sandbox workers: Docker containers by default, or local
runners (`sandbox="local"`), as many as the node has CPUs unless `workers_per_node` says otherwise, started on
first use and kept warm between jobs. The actor takes no CPU from Ray's accounting (`num_cpus=0`): its programs
are limited by the sandbox's own limits, and Ray's CPUs stay for the trainer.

On the driver the executor sees ordinary workers. A `RayWorker` is a seat at one node's actor: `call` sends a
job and waits for its verdict frame. When the actor or its node dies (`ActorDiedError` and friends), or a job
outlives its timeout, the call raises `WorkerDied`, so the executor's own replace-and-retry path takes over:
`start_worker` seats the replacement on the live node with the fewest seats, and the job runs again. No result is
lost to a lost node. Seats are spread over nodes the same way from the start, so a batch spreads over the cluster.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from codelhf.errors import UserError
from codelhf.execution.base import Limits, WorkerDied, backends

log = logging.getLogger(__name__)

NAMESPACE = "codelhf"
ACTOR_PREFIX = "codelhf-sandbox-"
DIED = "__worker_died__"
"""Key of the answer an actor gives when its sandbox worker died under a job (the host raises `WorkerDied`)."""
QUEUE_ALLOWANCE_S = 600.0
"""Extra time a call may wait at a busy actor (shared with other processes) before its own job timeout runs."""
POLL_S = 0.2
ACTOR_READY_TIMEOUT_S = 600.0
"""How long a new actor may take to start its backend (a node without the sandbox image builds it first)."""
SHUNNED_S = 60.0
"""A node whose actor just died gets no new seat for this long while other nodes are alive: Ray may take a while
to declare a crashed node dead, and an actor placed there meanwhile would only hang."""


# ---------------------------------------------------------------------------------------------------------------
# On each node: the actor that owns the node's sandbox workers
# ---------------------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Pooled:
    worker: Any
    slot: int
    generation: int
    aborted: bool = False


class SandboxActor:
    """A pool of `capacity` warm workers of a local backend (docker or local); one job per worker at a time."""

    def __init__(self, sandbox: str, capacity: int, backend_options: dict[str, Any] | None = None):
        self.backend = backends.get(sandbox)(**(backend_options or {}))
        self.capacity = capacity
        self.idle: queue.LifoQueue[_Pooled] = queue.LifoQueue()
        self.free_slots = set(range(capacity))  # the workers' slot numbers
        self.generation = 0  # bumped when jobs need bigger sandboxes than the running ones
        self.running: dict[str, _Pooled] = {}
        self.jobs = 0
        self.lock = threading.Lock()

    def info(self) -> dict[str, Any]:
        import ray

        return {"node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid(), "capacity": self.capacity,
                "started": self.capacity - len(self.free_slots), "jobs": self.jobs}

    def call(self, job: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        self._fit(job)
        pooled = self._take()
        with self.lock:
            self.running[job["id"]] = pooled
            self.jobs += 1
        try:
            answer = pooled.worker.call(job, timeout_s)
        except WorkerDied as e:
            self._discard(pooled)
            return {DIED: f"{e} (on node {self.info()['node_id'][:12]})"}
        finally:
            with self.lock:
                self.running.pop(job["id"], None)
        if pooled.aborted:
            self._discard(pooled)
        else:
            self.idle.put(pooled)
        return answer

    def abort(self, job_id: str) -> None:
        """Stop the job (its client gave up on it): close its worker, which ends the call under way."""
        with self.lock:
            pooled = self.running.get(job_id)
        if pooled is not None:
            pooled.aborted = True
            pooled.worker.close()

    def close(self) -> None:
        while True:
            try:
                self._discard(self.idle.get_nowait())
            except queue.Empty:
                break
        self.backend.close()

    def _take(self) -> _Pooled:
        """An idle worker of the current generation, a new one while a slot is free, else wait for one."""
        while True:
            try:
                pooled = self.idle.get_nowait()
            except queue.Empty:
                with self.lock:
                    slot = min(self.free_slots) if self.free_slots else None
                    if slot is not None:
                        self.free_slots.discard(slot)
                if slot is None:
                    try:  # a slot freed meanwhile (a discarded worker) is seen on the next round
                        pooled = self.idle.get(timeout=POLL_S)
                    except queue.Empty:
                        continue
                else:
                    try:
                        return _Pooled(self.backend.start_worker(slot), slot, self.generation)
                    except BaseException:
                        with self.lock:
                            self.free_slots.add(slot)
                        raise
            if pooled.generation == self.generation:
                return pooled
            self._discard(pooled)  # started for smaller limits than this job's

    def _discard(self, pooled: _Pooled) -> None:
        try:
            pooled.worker.close()
        except Exception:
            log.exception("closing a sandbox worker failed")
        with self.lock:
            self.free_slots.add(pooled.slot)

    def _fit(self, job: dict[str, Any]) -> None:
        """Grow a backend sized by `limits` (docker: container memory, pids) to this job's limits."""
        current = getattr(self.backend, "limits", None)
        wanted = job.get("limits") or {}
        if not isinstance(current, Limits):
            return
        memory_mb = max(current.memory_limit_mb, int(wanted.get("memory_limit_mb", 0)))
        processes = max(current.max_processes, int(wanted.get("max_processes", 0)))
        if (memory_mb, processes) != (current.memory_limit_mb, current.max_processes):
            with self.lock:
                self.backend.limits = replace(current, memory_limit_mb=memory_mb, max_processes=processes)
                self.generation += 1


# ---------------------------------------------------------------------------------------------------------------
# On the driver: the backend the executor talks to
# ---------------------------------------------------------------------------------------------------------------


class RayWorker:
    """One seat at a node's actor; `call` raises `WorkerDied` when the actor, its node or the job's worker dies."""

    def __init__(self, backend: RayBackend, node_id: str, actor: Any):
        self.backend, self.node_id, self.actor = backend, node_id, actor
        self.pending: tuple[str, Any] | None = None
        self.closed = False

    def call(self, job: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        import ray
        from ray import exceptions

        if self.closed:
            raise WorkerDied("seat closed")
        ref = self.actor.call.remote(job, timeout_s)
        self.pending = (job["id"], ref)
        deadline = time.monotonic() + timeout_s + QUEUE_ALLOWANCE_S
        try:
            while not ray.wait([ref], timeout=POLL_S)[0]:
                if self.closed:
                    raise WorkerDied("seat closed while its job ran")
                if time.monotonic() > deadline:
                    self._abort()
                    raise WorkerDied(f"no answer from the sandbox actor on node {self.node_id[:12]} in time")
            answer = ray.get(ref)
        except (exceptions.RayActorError, exceptions.ObjectLostError, exceptions.WorkerCrashedError) as e:
            self.backend.forget(self.node_id, died=True)
            raise WorkerDied(f"sandbox actor on node {self.node_id[:12]} died: {type(e).__name__}") from None
        finally:
            self.pending = None
        if DIED in answer:
            raise WorkerDied(answer[DIED])
        return answer

    def _abort(self) -> None:
        if self.pending is not None:
            try:
                self.actor.abort.remote(self.pending[0])
            except Exception as e:  # noqa: BLE001  (whatever Ray raises here, the actor is gone: nothing to stop)
                log.debug("aborting a job on node %s: %s", self.node_id[:12], e)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._abort()  # a job still running on our behalf releases its worker at once
        self.backend.release(self.node_id)


class RayBackend:
    """Seats on one `SandboxActor` per (alive) node; see the module docstring."""

    name = "ray"

    def __init__(self, address: str | None = None, sandbox: str = "docker", workers_per_node: int | None = None,
                 resource: str | None = None, sandbox_options: dict[str, Any] | None = None,
                 limits: Limits | None = None):
        try:
            import ray
        except ImportError as e:
            raise UserError(f"the ray backend needs Ray ({e})", "pip install 'codelhf[ray]'")

        self.started_ray = not ray.is_initialized()
        if self.started_ray:  # join RAY_ADDRESS (or `address`) when given, else start a one-node cluster here
            ray.init(address=address or os.environ.get("RAY_ADDRESS"), namespace=NAMESPACE,
                     ignore_reinit_error=True, log_to_driver=False)
        self.limits = limits or Limits()  # (the Backend contract: each node's actor sizes its sandboxes per job)
        self.sandbox = sandbox
        self.workers_per_node = workers_per_node
        self.resource = resource
        self.sandbox_options = dict(sandbox_options or {})
        self.actors: dict[str, Any] = {}
        self.seats: dict[str, int] = {}
        self.died_at: dict[str, float] = {}  # node id → when its actor was last seen dead
        self.lock = threading.Lock()
        self.nodes = self._alive_nodes()
        if not self.nodes:
            raise UserError("no Ray node can host a sandbox" + (f" (none offers resource {resource!r})"
                                                                if resource else ""),
                            f"start nodes with --resources '{{\"{resource}\": 1}}'" if resource else "")

    @property
    def default_workers(self) -> int:
        """The executor's default pool: every sandbox worker of the cluster busy."""
        return sum(self.nodes.values())

    def _alive_nodes(self) -> dict[str, int]:
        """node id → sandbox workers it hosts, for alive nodes (with `resource`, when given)."""
        import ray

        nodes = {}
        for node in ray.nodes():
            resources = node.get("Resources", {})
            if not node.get("Alive") or (self.resource and resources.get(self.resource, 0) <= 0):
                continue
            nodes[node["NodeID"]] = self.workers_per_node or max(1, int(resources.get("CPU", 1)))
        return nodes

    def _actor(self, node_id: str) -> Any:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        if node_id not in self.actors:
            capacity = self.nodes[node_id]
            remote = ray.remote(SandboxActor).options(
                name=f"{ACTOR_PREFIX}{self.sandbox}-{node_id}", namespace=NAMESPACE, get_if_exists=True,
                num_cpus=0, max_concurrency=4 * capacity + 8, max_restarts=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False))
            self.actors[node_id] = remote.remote(self.sandbox, capacity, self.sandbox_options)
        return self.actors[node_id]

    def start_worker(self, slot: int) -> RayWorker:
        """A seat on the live node with the fewest seats; a dead node is dropped and the next one tried."""
        import ray
        from ray import exceptions

        with self.lock:
            self.nodes = self._alive_nodes()
        last_error = "no node"
        for _ in range(len(self.nodes) + 1):
            with self.lock:
                if not self.nodes:
                    break
                recent = time.monotonic() - SHUNNED_S
                trusted = [n for n in self.nodes if self.died_at.get(n, 0.0) < recent] or list(self.nodes)
                node_id = min(trusted, key=lambda n: (self.seats.get(n, 0), n))
                actor = self._actor(node_id)
                self.seats[node_id] = self.seats.get(node_id, 0) + 1
            try:
                ray.get(actor.info.remote(), timeout=ACTOR_READY_TIMEOUT_S)  # its backend (image, daemon) is up
                return RayWorker(self, node_id, actor)
            except (exceptions.RayActorError, exceptions.GetTimeoutError) as e:
                last_error = f"node {node_id[:12]}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                log.warning("sandbox actor unusable on %s; trying another node", last_error)
                self.release(node_id)
                self.forget(node_id, died=True)
                with self.lock:
                    self.nodes.pop(node_id, None)
        raise WorkerDied(f"no live Ray node has a usable sandbox actor (last: {last_error[:300]})")

    def forget(self, node_id: str, died: bool = False) -> None:
        """The node's actor died: the next seat there starts (or finds) a new one."""
        with self.lock:
            self.actors.pop(node_id, None)
            if died:
                self.died_at[node_id] = time.monotonic()

    def release(self, node_id: str) -> None:
        with self.lock:
            self.seats[node_id] = max(0, self.seats.get(node_id, 0) - 1)

    def close(self) -> None:
        """Let go of the actors (they live on for other processes of the job and end with their owner); a cluster
        this backend started itself is shut down."""
        import ray

        with self.lock:
            actors, self.actors = dict(self.actors), {}
        if self.started_ray and ray.is_initialized():
            for actor in actors.values():
                try:
                    ray.get(actor.close.remote(), timeout=60)
                except Exception as e:  # noqa: BLE001  (a dead actor's sandbox went with it)
                    log.debug("closing a sandbox actor: %s", e)
            ray.shutdown()

