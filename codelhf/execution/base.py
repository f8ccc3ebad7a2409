"""What every execution backend shares: limits, the worker interface, and where the runner lives.

A *backend* (docker, local, ray) starts *workers*. A worker is one runner process (sandbox/runner.py; the wire
format is in sandbox/PROTOCOL.md) that executes one job at a time: a program and its tests. The `Executor`
(codelhf/execution/executor.py) keeps a pool of workers busy, turns problems and samples into jobs through the
harness, retries a job whose worker died, and never loses a result.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from codelhf.problems import Problem
from codelhf.registry import Registry


@dataclass
class Limits:
    """Per-test limits, with units in the names (STYLE rule 6). Defaults: 4 s CPU, 512 MiB, 64 KiB of output."""

    time_limit_s: float = 4.0
    wall_limit_s: float = 0.0
    """0 means derived: 2 × time_limit_s + 2, so a loaded machine does not turn correct programs into TLE."""
    memory_limit_mb: int = 512
    output_limit_bytes: int = 64 * 1024
    max_processes: int = 32
    file_size_limit_bytes: int = 16 * 1024 * 1024
    open_files: int = 64
    compile_time_limit_s: float = 30.0

    def __post_init__(self) -> None:
        if not self.wall_limit_s:
            self.wall_limit_s = 2 * self.time_limit_s + 2

    @classmethod
    def for_problem(cls, problem: Problem, **overrides: Any) -> Limits:
        """The problem's own limits, with the caller's overrides (None values ignored) on top."""
        values = {"time_limit_s": problem.time_limit_s, "memory_limit_mb": problem.memory_limit_mb,
                  "output_limit_bytes": problem.output_limit_bytes}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def job_timeout_s(self, n_tests: int) -> float:
        """How long the host waits for a whole job before it declares the worker hung."""
        return self.compile_time_limit_s + n_tests * (self.wall_limit_s + 1.0) + 10.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class WorkerDied(Exception):
    """The worker stopped answering (process or container died, stream closed, or it hung past the job timeout).

    The executor replaces the worker and sends the job again."""


class Worker(Protocol):
    def call(self, job: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Send one job frame and return its result frame; raise `WorkerDied` on EOF, crash or timeout."""
        ...

    def close(self) -> None:
        """Stop the runner and release everything it holds (container, process, scratch). Idempotent."""
        ...


class Backend(Protocol):
    """Starts workers. Every registered backend is constructed as `Backend(limits=Limits(...), **options)`.

    `limits` are the largest per-test limits any job of the run will ask for; a backend that sizes its sandboxes by
    them (docker: container memory and pids) reads them when it starts a worker. The executor raises them before a
    batch that needs more, and replaces the workers started under the smaller ones; a backend with nothing to size
    keeps them only to satisfy this contract."""

    name: str
    limits: Limits

    def start_worker(self, slot: int) -> Worker:
        """Start runner number `slot` (0..workers-1) and wait for its ready frame."""
        ...

    def close(self) -> None:
        """Release what the backend holds beyond its workers (and stale leftovers of crashed runs)."""
        ...


backends: Registry[Any] = Registry("executor backend", "codelhf.backends")
backends.register("docker", "codelhf.execution.docker:DockerBackend")
backends.register("local", "codelhf.execution.local:LocalBackend")
backends.register("ray", "codelhf.execution.ray:RayBackend")


def sandbox_dir() -> Path:
    """The `sandbox/` folder: beside the package in a checkout, or inside it (codelhf/_sandbox) in a wheel."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here.parent / "sandbox", here / "_sandbox"):
        if (candidate / "runner.py").exists():
            return candidate
    raise FileNotFoundError("sandbox/runner.py not found next to the codelhf package")


def runner_path() -> Path:
    return sandbox_dir() / "runner.py"


@lru_cache(maxsize=1)
def runner_module() -> ModuleType:
    """The runner loaded as a module, so the host speaks the protocol with the runner's own frame functions."""
    spec = importlib.util.spec_from_file_location("codelhf_sandbox_runner", runner_path())
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there while the runner is executing
    spec.loader.exec_module(module)
    return module


def default_workers() -> int:
    """One worker per core: a test's CPU time is what is limited, so more would only add contention."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


# ---- who owns what a run leaves behind (containers, scratch folders): stale once its owner is gone ----


def process_identity(pid: int) -> str:
    """`pid:start-time`: unlike a bare pid it cannot be mistaken for a later process that reuses the number."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return f"{pid}:{int(fields[19])}"
    except (OSError, IndexError, ValueError):
        return str(pid)


def owner_alive(owner: str) -> bool:
    pid = int(owner.split(":")[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return ":" not in owner or process_identity(pid) == owner
