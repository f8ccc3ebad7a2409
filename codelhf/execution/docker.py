"""The default backend: a pool of long-lived sandbox containers, one runner in each, spoken to over a socket.

Each worker slot gets one container (`--network none`, read-only root, a size-limited tmpfs at /tmp, pids,
memory and CPU limits, an init process, no new privileges, every capability dropped but the few the runner needs
to run programs under an unprivileged uid and clean up after them). Jobs travel over the container's attach
socket, so a test costs a fork inside the container, never a `docker run` or `docker exec`.

Nothing outlives the host process: containers are removed on `close()`, at interpreter exit and on SIGTERM; if
the host is killed outright, the daemon closes the runner's stdin when the attach socket drops (`stdin_once`),
the runner exits, and the container removes itself (`auto_remove`). Whatever still remains (a daemon restart, a
hung runner) carries the owner's pid in its labels and is removed by the next backend that starts on this host.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from docker.errors import APIError

from codelhf.execution.base import Limits, WorkerDied, owner_alive, process_identity
from codelhf.execution.image import connect, ensure_image
from codelhf.execution.stream import StreamWorker

LABEL = "codelhf.sandbox"
OWNER_LABEL = "codelhf.owner"
HOST_LABEL = "codelhf.host"
PROGRAM_UID_BASE = 40000
PROGRAM_UID_END = 100000
"""Program uids are reserved per container among all containers of the daemon (so of this kernel: every pool, every
process): uid u for programs, u + 1 for assert tests' judges. RLIMIT_NPROC counts a uid's processes across the whole
machine, so a shared uid would let one pool's fork bomb fail another pool's programs. The container's name,
`codelhf-u<uid>`, is the reservation: the daemon refuses a second container of that name. (Versions before this
scheme used 20000 + slot: the range starts above theirs.)"""
UID_LABEL = "codelhf.uid"
RUNNER_OVERHEAD_MB = 128
"""Memory for the runner, g++ and the init process, on top of a program's limit and the tmpfs (charged too)."""
READY_TIMEOUT_S = 60.0
RUNNER_CAPABILITIES = ["SETUID", "SETGID", "KILL", "CHOWN", "DAC_OVERRIDE", "FOWNER"]
"""What the runner (root in the container) needs: switch a test to the program uid, kill what that uid left, and
hand each test a scratch directory owned by it, then remove it whatever modes the program set. Programs never hold
any of these: switching to a non-root uid clears every capability, and no-new-privileges keeps it so."""


@dataclass(eq=False)
class DockerBackend:
    """Starts sandbox containers sized for `limits` (the largest limits any job of this run will ask for)."""

    limits: Limits = field(default_factory=Limits)
    image: str | None = None
    """Image tag; default: the tag of the current sandbox files, built if missing."""
    cpus_per_worker: float = 1.0
    tmpfs_mb: int = 256
    name: str = "docker"

    def __post_init__(self) -> None:
        self.client = connect()
        self.image = self.image or ensure_image(self.client)
        self.owner = process_identity(os.getpid())
        self.host = socket.gethostname()
        self.workers: list[DockerWorker] = []
        self.lock = threading.Lock()  # the executor starts workers from several threads at once
        remove_stale_containers(self.client, self.host)
        _install_exit_handlers()
        _live_backends.add(self)

    def start_worker(self, slot: int) -> DockerWorker:
        container = self._create_container(slot)
        worker = DockerWorker(self.client, container)
        with self.lock:  # replaced (closed) workers are forgotten here
            self.workers = [w for w in self.workers if not w.closed] + [worker]
        try:
            worker.start(READY_TIMEOUT_S)
        except BaseException:
            worker.close()
            raise
        return worker

    def _create_container(self, slot: int) -> Any:
        """Create a container under the first program uid no live container of this daemon holds."""
        memory = f"{self.limits.memory_limit_mb + self.tmpfs_mb + RUNNER_OVERHEAD_MB}m"
        taken = {c.labels.get(UID_LABEL) for c in codelhf_containers(self.client)}
        for uid in range(PROGRAM_UID_BASE, PROGRAM_UID_END, 2):
            if str(uid) in taken:
                continue
            try:
                return self.client.containers.create(
                    self.image,
                    name=f"codelhf-u{uid}",
                    stdin_open=True, tty=False, auto_remove=True,  # stdin_open implies StdinOnce: see module doc
                    network_mode="none", read_only=True,
                    tmpfs={"/tmp": f"rw,exec,nosuid,nodev,size={self.tmpfs_mb}m,mode=1777"},
                    pids_limit=self.limits.max_processes + 16,
                    mem_limit=memory, memswap_limit=memory,
                    nano_cpus=int(self.cpus_per_worker * 1e9),
                    init=True,
                    security_opt=["no-new-privileges"],
                    cap_drop=["ALL"], cap_add=RUNNER_CAPABILITIES,
                    environment={"CODELHF_PROGRAM_UID": str(uid), "CODELHF_JUDGE_UID": str(uid + 1)},
                    labels={LABEL: "1", OWNER_LABEL: self.owner, HOST_LABEL: self.host, "codelhf.slot": str(slot),
                            UID_LABEL: str(uid)},
                )
            except APIError as e:
                if e.status_code != 409:  # 409: the name (so the uid) is taken by a container started meanwhile
                    raise
        raise WorkerDied(f"no free program uid in [{PROGRAM_UID_BASE}, {PROGRAM_UID_END}) on this Docker daemon")

    def close(self) -> None:
        """Remove every container this backend started (in parallel: each removal is a daemon round trip)."""
        with self.lock:
            workers, self.workers = self.workers, []
        threads = [threading.Thread(target=w.close) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        _live_backends.discard(self)

    def __enter__(self) -> DockerBackend:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DockerWorker:
    """One container's runner: the shared `StreamWorker` over the container's attach socket."""

    def __init__(self, client: Any, container: Any):
        self.client = client
        self.container = container
        self.channel: AttachChannel | None = None
        self.stream: StreamWorker | None = None
        self.ready: dict[str, Any] = {}
        self.closed = False

    def start(self, timeout_s: float) -> None:
        # Attach before start, so not a byte of the ready frame is missed.
        raw = self.client.api.attach_socket(self.container.id, params={"stdin": 1, "stdout": 1, "stderr": 1,
                                                                        "stream": 1})
        self.channel = AttachChannel(getattr(raw, "_sock", raw))
        self.stream = StreamWorker(self.channel, self.container.name, self._why_gone)
        self.container.start()
        self.ready = self.stream.wait_ready(timeout_s)

    def call(self, job: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        if self.closed or self.stream is None:
            raise WorkerDied("worker is closed")
        return self.stream.call(job, timeout_s)

    def _why_gone(self) -> str:
        """What the daemon says about the container, plus the runner's last words on stderr."""
        assert self.channel is not None
        notes = []
        try:
            self.container.reload()
            state = self.container.attrs["State"]
            notes.append(f"status {state['Status']}, exit code {state['ExitCode']}"
                         + (", OOM-killed" if state.get("OOMKilled") else ""))
        except Exception:  # noqa: BLE001
            notes.append("container gone")
        if self.channel.stderr_tail:
            notes.append("runner stderr: " + b"".join(self.channel.stderr_tail).decode(errors="replace")[-500:])
        return " (" + "; ".join(notes) + ")"

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.channel is not None:
            self.channel.close()
        try:
            self.container.remove(force=True)
        except Exception:  # noqa: BLE001, S110  # already gone (auto_remove) or the daemon went away: nothing left
            pass


class AttachChannel:
    """The container's attach socket as a channel (codelhf/execution/stream.py): writes go to the container's
    stdin as they are; reads return its stdout, demultiplexed from Docker's stream frames, and raise `WorkerDied`
    once `deadline` (time.monotonic) passes.

    Each output frame is an 8-byte header (stream id: 1 stdout, 2 stderr; 3 zero bytes; 4-byte big-endian size)
    followed by the payload. The runner's stderr is kept (its tail) to explain a death."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.deadline = float("inf")
        self.pending = bytearray()  # bytes read from the socket, not yet demultiplexed
        self.stdout = bytearray()
        self.stderr_tail: deque[bytes] = deque(maxlen=16)
        self.eof = False

    def write(self, data: bytes) -> int:
        try:
            self.sock.settimeout(self._remaining())
            self.sock.sendall(data)
        except OSError as e:  # socket.timeout included
            raise WorkerDied(f"cannot send to the runner: {e}") from None
        return len(data)

    def flush(self) -> None:
        pass

    def read(self, n: int) -> bytes:
        """Up to `n` bytes of the runner's stdout, at least one unless the stream has ended (then b"")."""
        while not self.stdout and not self.eof:
            self._receive()
        data = bytes(self.stdout[:n])
        del self.stdout[:n]
        return data

    def _remaining(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise WorkerDied("no answer from the runner before the job timeout")
        return remaining

    def _receive(self) -> None:
        try:
            self.sock.settimeout(self._remaining())
            chunk = self.sock.recv(1 << 16)
        except TimeoutError:
            raise WorkerDied("no answer from the runner before the job timeout") from None
        except OSError as e:
            raise WorkerDied(f"attach socket failed: {e}") from None
        self.eof = not chunk
        self.pending += chunk
        while len(self.pending) >= 8:
            stream, (size,) = self.pending[0], struct.unpack(">I", self.pending[4:8])
            if len(self.pending) < 8 + size:
                break
            payload = bytes(self.pending[8:8 + size])
            del self.pending[:8 + size]
            (self.stderr_tail.append if stream == 2 else self.stdout.extend)(payload)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def codelhf_containers(client: Any) -> list[Any]:
    # ignore_removed: containers remove themselves (auto_remove) between the listing and their inspection
    return client.containers.list(all=True, filters={"label": f"{LABEL}=1"}, ignore_removed=True)


def remove_stale_containers(client: Any, host: str) -> int:
    """Remove this host's codelhf containers whose owning process is gone; other hosts' are left alone."""
    removed = 0
    for container in codelhf_containers(client):
        labels = container.labels
        if labels.get(HOST_LABEL) == host and not owner_alive(labels.get(OWNER_LABEL, "0")):
            try:
                container.remove(force=True)
                removed += 1
            except Exception:  # noqa: BLE001, S110  # removed meanwhile (auto_remove, or another process cleaning)
                pass
    return removed


_live_backends: set[DockerBackend] = set()
_handlers_installed = False


def _close_live_backends() -> None:
    for backend in list(_live_backends):
        backend.close()


def _install_exit_handlers() -> None:
    """At exit and on SIGTERM (when nobody else handles it) the live backends' containers are removed.

    Ctrl-C needs nothing here: KeyboardInterrupt unwinds through `close()` and then reaches the atexit hook."""
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_close_live_backends)
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds like Ctrl-C: `with` blocks close, then the atexit hook runs
