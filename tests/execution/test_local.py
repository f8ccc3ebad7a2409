"""The local backend's worker: a runner process behind pipes that dies, hangs and closes cleanly."""

from __future__ import annotations

import glob
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from codelhf.execution import local
from codelhf.execution.base import Limits, WorkerDied, process_identity


def sleeper_job(seconds: float) -> dict:
    return {"id": uuid.uuid4().hex, "language": "python", "mode": "stdio",
            "program": f"import time\ntime.sleep({seconds})\nprint('woke')\n", "tests": [{"stdin": ""}],
            "limits": Limits(time_limit_s=1.0, wall_limit_s=30.0).to_dict()}


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def worker():
    w = local.LocalBackend().start_worker(0)
    yield w
    w.close()


def test_close_kills_and_reaps_the_runner_and_everything_below_it(worker, process_tree):
    assert worker.call(sleeper_job(0), 30)["tests"][0]["stdout"] == "woke\n"
    outcome: list[str] = []

    def call() -> None:
        try:
            worker.call(sleeper_job(20), 60)
            outcome.append("answered")
        except WorkerDied:
            outcome.append("died")

    running = threading.Thread(target=call)
    running.start()
    time.sleep(0.5)  # the test's process is up, below the runner
    processes = process_tree(worker.process.pid)
    assert len(processes) >= 2
    worker.close()
    running.join(timeout=10)
    assert outcome == ["died"]  # the job in flight fails at once, it does not hang
    assert worker.process.returncode is not None
    assert [pid for pid in processes if alive(pid)] == []
    worker.close()  # idempotent


def test_killed_runner_is_worker_died_at_once(worker):
    threading.Timer(0.5, os.killpg, (worker.process.pid, signal.SIGKILL)).start()
    start = time.monotonic()
    with pytest.raises(WorkerDied, match="closed its stream|cannot"):
        worker.call(sleeper_job(20), 60)
    assert time.monotonic() - start < 5
    with pytest.raises(WorkerDied):  # and it stays dead
        worker.call(sleeper_job(0), 60)


def test_a_killed_runner_leaves_no_job_directory_in_the_hosts_tmp():
    """A runner killed mid-job cannot remove its job's directory; the worker's close removes the folder it was in."""
    before = set(glob.glob("/tmp/codelhf-*"))
    worker = local.LocalBackend().start_worker(0)
    threading.Timer(0.5, os.killpg, (worker.process.pid, signal.SIGKILL)).start()
    with pytest.raises(WorkerDied):
        worker.call(sleeper_job(20), 60)
    if worker.scratch is not None:  # without bubblewrap (with it, the runner's /tmp is private and dies with it)
        assert [d for d in os.listdir(worker.scratch) if d.startswith("codelhf-")]  # the killed job's, still there
    worker.close()
    assert worker.scratch is None or not os.path.exists(worker.scratch)
    assert set(glob.glob("/tmp/codelhf-*")) <= before


def test_scratch_folders_of_a_killed_owner_are_removed_by_the_next_worker(tmp_path):
    """A process killed outright (a lost Ray node) cannot close its workers; the next worker started removes
    their folders, and never those of a process that is still alive."""
    dead_pid = subprocess.Popen(["true"])
    dead_pid.wait()
    root = Path(tempfile.gettempdir())
    dead = root / f"{local.SCRATCH_PREFIX}{dead_pid.pid}_1-test"
    reused = root / f"{local.SCRATCH_PREFIX}{os.getpid()}_1-test"  # our pid, another start time: a dead owner too
    alive_owner = root / f"{local.SCRATCH_PREFIX}{process_identity(os.getpid()).replace(':', '_')}-test"
    for folder in (dead, reused, alive_owner):
        (folder / "codelhf-job").mkdir(parents=True)
    try:
        local.LocalBackend().start_worker(0).close()
        assert not dead.exists() and not reused.exists() and alive_owner.exists()
    finally:
        for folder in (dead, reused, alive_owner):
            shutil.rmtree(folder, ignore_errors=True)


def test_hung_runner_is_worker_died_at_the_job_timeout(worker):
    start = time.monotonic()
    with pytest.raises(WorkerDied, match="job timeout"):
        worker.call(sleeper_job(20), 1.0)
    assert 0.9 < time.monotonic() - start < 5


def test_workers_get_distinct_program_uids_and_one_warning(monkeypatch, caplog):
    monkeypatch.setattr(local, "_warned", False)
    with caplog.at_level(logging.WARNING, logger="codelhf.execution.local"):
        backend = local.LocalBackend()
        local.LocalBackend()
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "weaker than Docker" in caplog.records[0].message
    first, second = backend.start_worker(0), backend.start_worker(1)
    try:
        if os.geteuid() == 0:
            assert first.ready["program_uid"] != second.ready["program_uid"]
            assert first.ready["program_uid"] >= local.LOCAL_UID_BASE
    finally:
        first.close()
        second.close()
