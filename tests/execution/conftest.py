"""Runner workers for the runner and hostile-program tests: real runners, driven with job dicts (no Executor).

`sandbox` is one worker per backend for a whole test module: "local" always, "docker" behind the docker marker.
It restarts a worker that died (after failing the test that killed it) and can list what a test left running.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest

from codelhf.execution.base import Limits, WorkerDied

BACKENDS = [pytest.param("local", id="local"), pytest.param("docker", id="docker", marks=pytest.mark.docker)]
JOB_TIMEOUT_S = 120.0


def make_job(program: str, tests: list[dict] | None = None, *, language: str = "python", mode: str = "stdio",
             fn_name: str | None = None, fork: bool = True, **limits: Any) -> dict:
    """A job as sandbox/PROTOCOL.md has it; limits default to 2 s CPU (wall 6 s) and the rest of `Limits`."""
    return {"id": uuid.uuid4().hex, "language": language, "mode": mode, "program": program, "fn_name": fn_name,
            "python_fork": fork, "tests": tests if tests is not None else [{"stdin": ""}],
            "limits": Limits(**{"time_limit_s": 2.0, **limits}).to_dict()}


def command_line(pid: int | str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def pid_namespace(pid: int | str) -> str:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return ""


def processes_of_uid(uid: int) -> list[str]:
    """`pid command` of every process on this machine whose real uid is `uid` (containers' included)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
            if int(status["Uid"].split()[0]) == uid:
                found.append(f"{name} {command_line(name)}")
        except (OSError, KeyError, ValueError):
            pass
    return found


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(name))
            except (OSError, ValueError, IndexError):
                pass
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Sandbox:
    """One backend and one worker of it; `run` sends a job and returns the result frame."""

    def __init__(self, kind: str):
        self.kind = kind
        if kind == "docker":
            try:
                from codelhf.execution.docker import DockerBackend
            except ImportError as e:
                pytest.skip(f"the docker backend is not importable: {e}")
            self.backend = DockerBackend()
        else:
            from codelhf.execution.local import LocalBackend

            self.backend = LocalBackend()
        self.worker: Any = None

    job = staticmethod(make_job)

    def run(self, job: dict) -> dict:
        if self.worker is None:
            self.worker = self.backend.start_worker(0)
        try:
            return self.worker.call(job, JOB_TIMEOUT_S)
        except WorkerDied:
            self.worker.close()
            self.worker = None
            raise

    def one(self, program: str, stdin: str = "", **options: Any) -> dict:
        """Run `program` on one stdin and return that test's result."""
        result = self.run(self.job(program, [{"stdin": stdin}], **options))
        assert "error" not in result, result
        return result["tests"][0]

    @property
    def program_uid(self) -> int:
        return int(self.worker.ready["program_uid"])

    @property
    def separate_uid(self) -> bool:
        """Programs run under a uid of their own (a root runner: always in Docker, locally only as root)."""
        return bool(self.worker.ready["root"])

    def runner_pid(self) -> int:
        """The runner's pid as this machine sees it: below bubblewrap, or below the container's init."""
        if self.kind == "docker":
            self.worker.container.reload()
            top = int(self.worker.container.attrs["State"]["Pid"])
        else:
            top = self.worker.process.pid
        return next(pid for pid in [top, *descendants(top)] if "runner.py" in command_line(pid))

    def leftovers(self) -> list[str]:
        """Processes a test left behind: of the program or judge uid, or, when programs share our uid, any process
        below the runner but its zygote."""
        runner = self.runner_pid()
        if self.separate_uid:  # (in the runner's pid namespace: a pool of an older codelhf may share the uids)
            namespace = os.readlink(f"/proc/{runner}/ns/pid")
            uids = (self.program_uid, int(self.worker.ready["judge_uid"]))
            return [p for uid in uids for p in processes_of_uid(uid) if pid_namespace(p.split()[0]) == namespace]
        below = [f"{pid} {command_line(pid)}" for pid in descendants(runner)]
        return [p for p in below if not p.endswith("--zygote")]

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
        self.backend.close()


@pytest.fixture
def process_tree():
    """`process_tree(pid)`: the pid and every process below it."""
    return lambda pid: [pid, *descendants(pid)]


@pytest.fixture(scope="module", params=BACKENDS)
def sandbox(request: pytest.FixtureRequest):
    box = Sandbox(request.param)
    yield box
    box.close()
