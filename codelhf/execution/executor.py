"""The executor: keeps a pool of sandbox workers busy with samples and turns their answers into verdicts.

    with Executor(backend="docker") as ex:
        verdicts = ex.run(problems, samples)             # blocking, with a progress bar
        future = ex.submit(problems, next_samples)       # returns at once; generate the next batch meanwhile
        verdicts = future.result()

One thread per worker takes jobs (one sample: its program and tests) from a shared queue. Workers start lazily,
each in its own thread, so N containers start in parallel. A worker that dies or hangs (`WorkerDied`) is closed
and replaced, and its job sent again, up to `retries` times; only then do the job's tests become `SE`, with the
reason in their feedback. Every sample gets exactly one result, in the order it was submitted.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from codelhf.errors import UserError
from codelhf.execution.base import Backend, Limits, Worker, WorkerDied, backends, default_workers
from codelhf.harness import Harness, harnesses
from codelhf.problems import Problem, TestCase
from codelhf.samples import Sample
from codelhf.verdicts import PRECEDENCE, SampleVerdict, Status, TestVerdict

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------------------------
# Statistics of one batch (logged as exec/... metrics)
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class ExecStats:
    programs: int = 0
    tests: int = 0
    seconds: float = 0.0
    """Wall time from submission to the last result."""
    retries: int = 0
    """Jobs sent again after their worker died or reported a system error."""
    verdicts: dict[str, int] = field(default_factory=dict)
    """Samples by verdict (a sample's first failing test, AC when all pass)."""
    test_verdicts: dict[str, int] = field(default_factory=dict)

    @property
    def programs_per_s(self) -> float:
        return self.programs / self.seconds if self.seconds > 0 else 0.0

    @property
    def tests_per_s(self) -> float:
        return self.tests / self.seconds if self.seconds > 0 else 0.0

    def as_metrics(self, prefix: str = "exec") -> dict[str, float]:
        """Flat, slash-namespaced scalars for `MetricsLogger` (STYLE rule 11)."""
        metrics = {
            f"{prefix}/programs": self.programs,
            f"{prefix}/tests": self.tests,
            f"{prefix}/seconds": round(self.seconds, 4),
            f"{prefix}/programs_per_s": round(self.programs_per_s, 3),
            f"{prefix}/tests_per_s": round(self.tests_per_s, 3),
            f"{prefix}/retries": self.retries,
        }
        for status in PRECEDENCE:
            metrics[f"{prefix}/verdict/{status.value}"] = self.verdicts.get(status.value, 0)
        return metrics


class BatchFuture(Future):
    """A `Future` of one submitted batch: `size` samples, `completed` of them judged so far (for progress bars), and
    the batch's `stats`, set just before the result."""

    size: int = 0
    completed: int = 0
    stats: ExecStats | None = None


# ---------------------------------------------------------------------------------------------------------------
# Jobs and batches
# ---------------------------------------------------------------------------------------------------------------


class _Batch:
    """The samples of one `submit`: collects results by position and completes the future with the last one."""

    def __init__(self, n: int, test_set: str):
        self.future = BatchFuture()
        self.future.size = n
        self.results: list[SampleVerdict | None] = [None] * n
        self.test_set = test_set
        self.remaining = n
        self.retries = 0
        self.started = time.perf_counter()
        self.lock = threading.Lock()

    def deliver(self, index: int, verdict: SampleVerdict) -> None:
        with self.lock:
            if self.future.done():
                return
            assert self.results[index] is None, f"sample {index} delivered twice"
            self.results[index] = verdict
            self.remaining -= 1
            self.future.completed += 1
            finished = self.remaining == 0
        if finished:
            self._finish()

    def fail(self, error: BaseException) -> None:
        with self.lock:
            if self.future.done():
                return
            self.future.set_exception(error)

    def _finish(self) -> None:
        results: list[SampleVerdict] = self.results  # type: ignore[assignment]  # all filled now
        tests = Counter(t.status.value for v in results for t in v.tests)
        self.future.stats = ExecStats(  # before the result: whoever waits on it then reads this batch's stats
            programs=len(results), tests=sum(v.total for v in results), seconds=time.perf_counter() - self.started,
            retries=self.retries, verdicts=dict(Counter(v.status.value for v in results)), test_verdicts=dict(tests))
        with self.lock:
            if not self.future.done():
                self.future.set_result(results)


@dataclass
class _Job:
    batch: _Batch
    index: int
    problem: Problem
    sample: Sample
    harness: Harness
    tests: list[TestCase]
    payload: dict[str, Any]
    timeout_s: float
    attempts: int = 0


_STOP = object()


# ---------------------------------------------------------------------------------------------------------------
# The executor
# ---------------------------------------------------------------------------------------------------------------


class Executor:
    """Runs samples against their problems' tests in a pool of sandbox workers.

    `backend`: "docker" (default, isolated) or "local" (the same runner on the host, weaker isolation), or a
    `Backend` object; `backend_options` go to a named backend's constructor (with `limits`, see `Backend`).
    `workers`: pool size (default: one per core). `retries`: how often a job whose worker died is sent again before
    its tests become `SE`. `python_fork`: run Python programs in forks of the sandbox's warm zygote (fast) rather
    than a fresh interpreter per test. `tests`: which tests to run by default (all, public, hidden).
    `limit_overrides`: any `Limits` field (e.g. `time_limit_s=2`), applied over every problem's own."""

    def __init__(self, backend: str | Backend = "docker", workers: int | None = None, retries: int = 2,
                 python_fork: bool = True, tests: str = "all", backend_options: Mapping[str, Any] | None = None,
                 **limit_overrides: Any):
        try:
            Limits(**{k: v for k, v in limit_overrides.items() if v is not None})
        except TypeError as e:
            raise UserError(f"unknown limit in {sorted(limit_overrides)}: {e}",
                            "limits are the fields of codelhf.execution.base.Limits, e.g. time_limit_s")
        if isinstance(backend, str):
            options = {"limits": Limits(**{k: v for k, v in limit_overrides.items() if v is not None}),
                       **(backend_options or {})}
            backend = backends.get(backend)(**options)
        self.backend: Backend = backend
        # a backend may know a better default pool size than this machine's cores (ray: the whole cluster's)
        self.n_workers = workers or getattr(backend, "default_workers", None) or default_workers()
        self.retries = retries
        self.python_fork = python_fork
        self.tests = tests
        self.limit_overrides = limit_overrides
        self._queue: queue.Queue[Any] = queue.Queue()
        self._workers: list[Worker | None] = [None] * self.n_workers
        self._worker_sizes = [0] * self.n_workers  # the `_size` each worker was started under
        self._size = 0  # bumped when a batch needs bigger sandboxes than the running ones
        self._threads: list[threading.Thread] = []
        self._harnesses: dict[str, Harness] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._closed = False
        atexit.register(self.close)

    # -- public API ---------------------------------------------------------------------------------------------

    def submit(self, problems: Sequence[Problem] | Mapping[str, Problem], samples: Sequence[Sample],
               tests: str | None = None) -> BatchFuture:
        """Queue `samples` and return at once; the future's result is one `SampleVerdict` per sample, in order.

        Raises `UserError` here, before anything runs, for a sample whose problem is missing or that its
        harness cannot run."""
        if self._closed:
            raise RuntimeError("this Executor is closed")
        test_set = tests or self.tests
        by_id = problems if isinstance(problems, Mapping) else {p.id: p for p in problems}
        batch = _Batch(len(samples), test_set)
        jobs = [self._make_job(batch, i, by_id, sample, test_set) for i, sample in enumerate(samples)]
        self._fit_backend_limits(jobs)
        self._start_threads()
        for job in jobs:
            if job.tests:
                self._queue.put(job)
            else:  # nothing to run: deliver the empty verdict (all_passed is False for zero tests)
                batch.deliver(job.index, SampleVerdict(job.problem.id, job.sample.sample_index, [], test_set, 0))
        if not samples:
            batch._finish()
        return batch.future

    def run(self, problems: Sequence[Problem] | Mapping[str, Problem], samples: Sequence[Sample],
            tests: str | None = None, progress: bool = True) -> list[SampleVerdict]:
        """Run `samples` and wait for their verdicts (in order), showing a progress bar with programs/s.

        For the batch's statistics, `submit` and `wait` instead: `future.stats` holds them."""
        return self.wait(self.submit(problems, samples, tests), progress)

    def wait(self, future: BatchFuture, progress: bool = True) -> list[SampleVerdict]:
        """The verdicts of a submitted batch, with a progress bar (on stderr) while they come in."""
        if not progress or future.done():
            return future.result()
        columns = [TextColumn("executing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.fields[rate]}")]
        with Progress(*columns, console=Console(stderr=True)) as bar:  # stdout stays for results
            task = bar.add_task("run", total=future.size, rate="")
            started = time.perf_counter()
            while not future.done():
                done = future.completed
                elapsed = time.perf_counter() - started
                bar.update(task, completed=done, rate=f"{done / elapsed:.1f} programs/s" if elapsed > 0 else "")
                time.sleep(0.1)
            stats = future.stats
            rate = f"{stats.programs_per_s:.1f} programs/s, {stats.tests_per_s:.1f} tests/s" if stats else ""
            bar.update(task, completed=future.size, rate=rate)
        return future.result()

    def close(self) -> None:
        """Stop the threads, close every worker and the backend; pending batches fail. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        atexit.unregister(self.close)
        while True:  # fail what was never started
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Job):
                item.batch.fail(RuntimeError("Executor closed before the batch finished"))
        for _ in self._threads:
            self._queue.put(_STOP)
        for slot in range(self.n_workers):  # closing a worker also wakes a thread blocked in its call
            self._close_worker(slot)
        for thread in self._threads:
            thread.join(timeout=30)
        for slot in range(self.n_workers):  # a thread may have started one while we were closing
            self._close_worker(slot)
        self.backend.close()

    def __enter__(self) -> Executor:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- building jobs ------------------------------------------------------------------------------------------

    def _harness(self, name: str) -> Harness:
        if name not in self._harnesses:
            self._harnesses[name] = harnesses.get(name)()
        return self._harnesses[name]

    def _make_job(self, batch: _Batch, index: int, by_id: Mapping[str, Problem], sample: Sample,
                  test_set: str) -> _Job:
        problem = by_id.get(sample.problem_id)
        if problem is None:
            raise UserError(f"sample {index} is for problem {sample.problem_id!r}, which is not among the "
                            f"{len(by_id)} problems given",
                            "check that the samples and the problems come from the same dataset and split")
        harness = self._harness(problem.harness)
        tests = problem.tests(test_set)
        limits = Limits.for_problem(problem, **self.limit_overrides)
        payload = harness.build_job(problem, sample, tests)
        payload.update(id=f"{next(self._ids)}", limits=limits.to_dict(), python_fork=self.python_fork)
        return _Job(batch, index, problem, sample, harness, tests, payload, limits.job_timeout_s(len(tests)))

    # -- the worker threads -------------------------------------------------------------------------------------

    def _start_threads(self) -> None:
        with self._lock:
            if self._threads:
                return
            for slot in range(self.n_workers):
                thread = threading.Thread(target=self._serve, args=(slot,), name=f"codelhf-exec-{slot}", daemon=True)
                thread.start()
                self._threads.append(thread)

    def _serve(self, slot: int) -> None:
        while True:
            job = self._queue.get()
            if job is _STOP:
                return
            if job.batch.future.done():  # its batch already failed (say, no sandbox could start): skip
                continue
            try:
                self._execute(slot, job)
            except BaseException as e:  # a bug (or a user's checker raising) must not vanish in a thread
                log.exception("executing sample %d of a batch failed", job.index)
                job.batch.fail(e)
                self._close_worker(slot)  # its stream may be mid-frame: never reuse it

    def _execute(self, slot: int, job: _Job) -> None:
        """Send `job` to this slot's worker until it answers or retries run out; deliver exactly one result."""
        while True:
            if self._closed:
                job.batch.fail(RuntimeError("Executor closed before the batch finished"))
                return
            job.attempts += 1
            try:
                worker = self._worker(slot)
                answer = worker.call(job.payload, job.timeout_s)
            except WorkerDied as e:
                self._close_worker(slot)
                if self._closed:  # interrupted by close(), not a fault of the worker: the loop fails the batch
                    continue
                if job.attempts <= self.retries:
                    log.warning("worker %d died (%s); sending sample %d again", slot, e, job.index)
                    with job.batch.lock:
                        job.batch.retries += 1
                    continue
                verdicts = self._system_error(job, f"worker died {job.attempts} times; last: {e}")
                break
            if "error" in answer:  # the runner could not understand the job: resending cannot help
                verdicts = self._system_error(job, f"runner rejected the job: {answer['error']}")
                break
            runner_faults = [t.get("detail", "") for t in answer.get("tests") or [] if t.get("status") == "SE"]
            if runner_faults and job.attempts <= self.retries:
                log.warning("worker %d reported a system error (%s); sending sample %d again on a fresh worker",
                            slot, runner_faults[0], job.index)
                self._close_worker(slot)
                with job.batch.lock:
                    job.batch.retries += 1
                continue
            verdicts = self._judge(job, answer)
            break
        job.batch.deliver(job.index, SampleVerdict(job.problem.id, job.sample.sample_index, verdicts,
                                                   job.batch.test_set, job.attempts))

    def _fit_backend_limits(self, jobs: list[_Job]) -> None:
        """Let a backend that sizes its sandboxes by `limits` (docker: container memory and pids) fit the largest
        job of this batch; a container smaller than a problem's memory limit would OOM-kill correct programs.
        Workers started for smaller limits are replaced before their next job."""
        if not jobs:
            return
        current = self.backend.limits
        memory_mb = max(job.payload["limits"]["memory_limit_mb"] for job in jobs)
        processes = max(job.payload["limits"]["max_processes"] for job in jobs)
        if memory_mb > current.memory_limit_mb or processes > current.max_processes:
            self.backend.limits = replace(
                current, memory_limit_mb=max(memory_mb, current.memory_limit_mb),
                max_processes=max(processes, current.max_processes))
            self._size += 1

    def _worker(self, slot: int) -> Worker:
        if self._workers[slot] is not None and self._worker_sizes[slot] != self._size:
            self._close_worker(slot)  # started for smaller limits than the jobs now queued
        worker = self._workers[slot]
        if worker is None:
            size = self._size
            worker = self.backend.start_worker(slot)
            self._workers[slot], self._worker_sizes[slot] = worker, size
        return worker

    def _close_worker(self, slot: int) -> None:
        worker, self._workers[slot] = self._workers[slot], None
        if worker is not None:
            try:
                worker.close()
            except Exception:
                log.exception("closing worker %d failed", slot)

    @staticmethod
    def _judge(job: _Job, answer: dict[str, Any]) -> list[TestVerdict]:
        """The harness's verdicts; if judging itself fails (a harness bug), this sample's tests are SE with the
        reason, and the batch goes on. Harnesses already turn a checker's exception into that test's WA."""
        try:
            return job.harness.judge(job.problem, job.tests, answer)
        except Exception as e:  # contained per sample, reported in its feedback and the log
            log.exception("judging sample %d (problem %r) failed", job.index, job.problem.id)
            return Executor._system_error(job, f"judging failed: {type(e).__name__}: {e}"[:500])

    @staticmethod
    def _system_error(job: _Job, reason: str) -> list[TestVerdict]:
        return [TestVerdict(Status.SE, feedback=reason) for _ in job.tests]

