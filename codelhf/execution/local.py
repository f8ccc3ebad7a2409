"""The local backend: the sandbox runner as a process on this machine, for development where Docker is missing.

Each worker is `python3 sandbox/runner.py` behind pipes. With bubblewrap it runs in new pid, network, IPC and UTS
namespaces, the whole filesystem read-only, a private /tmp, and only the capabilities the runner needs. When this
process is root the runner drops programs to a uid of their own and assert tests' judges to another (unique per
worker: `program_uid`), so a program cannot signal the runner or the judge, and `kill(-1)` of that uid reaches
nothing else; without bubblewrap a root runner still makes its own IPC and network namespaces. Not root and
without bubblewrap, only the runner's rlimits, process groups and subreaper stand between a program and the host.
Either way it is weaker than a container (no memory cgroup, the host's files readable where their permissions
allow), hence the warning.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections import deque
from functools import lru_cache
from pathlib import Path
from threading import Thread

from codelhf.errors import UserError
from codelhf.execution.base import Limits, WorkerDied, owner_alive, process_identity, runner_module, runner_path
from codelhf.execution.stream import PipeChannel, StreamWorker

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 30.0
LOCAL_UID_BASE = 100_000
"""Local program uids are 100000 + 1000 × host pid + worker number (mod 500), their judges' 500 above: above
Docker's range, and unique among live processes, so two runs on one machine never share an RLIMIT_NPROC count or a
kill(-1)."""
JUDGE_UID_OFFSET = 500
RUNNER_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH",
               "CAP_FOWNER")
"""What a root runner needs: switch a child to the program uid, kill that uid, hand it and clean its scratch."""

_worker_numbers = itertools.count()
_warned = False


def program_uid(number: int) -> int:
    return LOCAL_UID_BASE + 1000 * os.getpid() + number % JUDGE_UID_OFFSET


@lru_cache(maxsize=1)
def bwrap_works() -> bool:
    """Whether bubblewrap is installed and allowed to make namespaces here (containers often forbid it)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False
    probe = subprocess.run([bwrap, "--ro-bind", "/", "/", "--unshare-pid", "--unshare-net", "true"],
                           capture_output=True, timeout=30, check=False)
    return probe.returncode == 0


def usable_by_others(path: str) -> bool:
    """Whether another uid may run this file: it and every directory above it allow 'others' in."""
    current = Path(os.path.realpath(path))
    if not os.access(current, os.X_OK) or not current.stat().st_mode & stat.S_IXOTH:
        return False
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in current.parents)


@lru_cache(maxsize=1)
def runner_python() -> str:
    """The interpreter for the runner. As root, programs run as another uid and import from this interpreter's
    standard library, so it must be usable by others (a pyenv Python under a private /root is not)."""
    candidates = [sys.executable, shutil.which("python3"), "/usr/bin/python3"]
    if os.geteuid() != 0:
        return sys.executable
    for candidate in filter(None, candidates):
        if usable_by_others(candidate) and subprocess.run(
                [candidate, "-c", "import sys; sys.exit(sys.version_info < (3, 10))"], capture_output=True, check=False
        ).returncode == 0:
            return candidate
    raise UserError("no Python 3.10+ that an unprivileged uid may run was found for the local sandbox runner",
                    hint=f"tried {', '.join(filter(None, candidates))}; install Debian's python3, or use the docker "
                         "backend")


def runner_command() -> list[str]:
    command = [runner_python(), str(runner_path())]
    if not bwrap_works():
        return command
    caps = [arg for cap in RUNNER_CAPS for arg in ("--cap-add", cap)] if os.geteuid() == 0 else []
    sandbox = str(runner_path().parent)  # bound again over the private /tmp: a checkout may live under /tmp
    return ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--ro-bind", sandbox, sandbox, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--die-with-parent", "--new-session",
            "--cap-drop", "ALL", *caps, *command]


def kill_tree(root: int, timeout_s: float = 10.0) -> None:
    """SIGKILL `root` and all its descendants through pidfds (no pid-reuse race), then wait until they have exited:
    bubblewrap's namespace would die with its init anyway, but only some milliseconds later."""
    pidfds, todo = [], [root]
    while todo:
        pid = todo.pop()
        try:
            pidfds.append(os.pidfd_open(pid))
        except OSError:
            continue  # already gone
        todo.extend(runner_module().child_pids(pid))
    try:
        for pidfd in pidfds:
            try:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout_s
        waiting = list(pidfds)
        while waiting and time.monotonic() < deadline:
            exited, _, _ = select.select(waiting, [], [], deadline - time.monotonic())
            waiting = [fd for fd in waiting if fd not in exited]
    finally:
        for pidfd in pidfds:
            os.close(pidfd)


SCRATCH_PREFIX = "codelhf-local-"


def make_scratch() -> str:
    """A folder for one runner's job directories, when it has no private /tmp (no bubblewrap). The worker removes
    it on close, so a runner killed mid-job leaves nothing behind; its name holds the owning process's identity."""
    owner = process_identity(os.getpid()).replace(":", "_")
    folder = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{owner}-")
    os.chmod(folder, 0o711)  # a program's uid may enter its own job's directory, not list the others
    return folder


def remove_stale_scratch() -> None:
    """Remove the scratch folders of processes that were killed outright (a lost Ray node, SIGKILL) and so could
    not close their workers; never those of a process that is alive."""
    for folder in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        owner = re.match(rf"{SCRATCH_PREFIX}(\d+)_(\d+)-", folder.name)
        if owner and not owner_alive(f"{owner[1]}:{owner[2]}"):
            shutil.rmtree(folder, ignore_errors=True)


class LocalWorker(StreamWorker):
    """One runner process (under bubblewrap when it works); `close()` kills and reaps it."""

    def __init__(self, slot: int):
        self.uid = program_uid(next(_worker_numbers))
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "CODELHF_PROGRAM_UID": str(self.uid),
               "CODELHF_JUDGE_UID": str(self.uid + JUDGE_UID_OFFSET)}
        remove_stale_scratch()
        self.scratch = None if bwrap_works() else make_scratch()
        if self.scratch is not None:
            env["TMPDIR"] = self.scratch
        try:
            self.process = subprocess.Popen(runner_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, env=env, start_new_session=True)
        except OSError:
            if self.scratch is not None:
                shutil.rmtree(self.scratch, ignore_errors=True)
            raise
        self.stderr_tail: deque[bytes] = deque(maxlen=32)
        # The runner's own diagnostics, kept to explain a death; read by a thread so the pipe never fills.
        self._stderr_reader = Thread(target=self._keep_stderr, daemon=True, name=f"local-runner-{slot}-stderr")
        self._stderr_reader.start()
        assert self.process.stdin is not None and self.process.stdout is not None
        channel = PipeChannel(self.process.stdout.fileno(), self.process.stdin.fileno())
        super().__init__(channel, f"local runner {slot} (pid {self.process.pid})", self._explain)
        try:
            self.wait_ready(READY_TIMEOUT_S)
        except BaseException:
            self.close()
            raise

    def _keep_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr_tail.append(line)

    def _explain(self) -> str:
        code = self.process.poll()
        notes = [f"exit status {code}" if code is not None else "still running"]
        if self.stderr_tail:
            notes.append("runner stderr: " + b"".join(self.stderr_tail).decode(errors="replace")[-500:])
        return " (" + "; ".join(notes) + ")"

    def close(self) -> None:
        """Kill the runner and every process below it, reap it, and return once all are gone. Idempotent."""
        self.dead = self.dead or "closed"
        if self.process.poll() is None:
            kill_tree(self.process.pid)
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()
        self._stderr_reader.join(timeout=5)
        if self.process.stderr is not None:
            self.process.stderr.close()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


class LocalBackend:
    """Runners on this machine. Opt-in: programs are contained far less well than in Docker."""

    name = "local"

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()  # nothing to size: each runner enforces every job's own limits
        global _warned
        if not _warned:
            _warned = True
            how = ("bubblewrap namespaces (no network, read-only filesystem, private /tmp)" if bwrap_works()
                   else "rlimits and process groups only (bubblewrap is missing or not permitted)")
            log.warning("local backend: programs run on this machine under %s%s; isolation is weaker than Docker",
                        how, ", as a separate uid" if os.geteuid() == 0 else ", as your own user")

    def start_worker(self, slot: int) -> LocalWorker:
        try:
            return LocalWorker(slot)
        except OSError as e:
            raise WorkerDied(f"cannot start a local runner: {e}") from e

    def close(self) -> None:
        pass
