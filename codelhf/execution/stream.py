"""A worker is frames over a channel: the part every backend shares, whatever carries the bytes.

A *channel* is a file-like pair of directions (`read(n)`, `write(data)`, `flush()`) with a `deadline`
(time.monotonic): once it passes, reads and writes raise `WorkerDied` instead of blocking, so a hung runner costs
at most the job timeout. The local backend's channel is a pair of pipes (`PipeChannel`, here); the Docker backend's
is the container's attach socket (codelhf/execution/docker.py, `AttachChannel`). `StreamWorker` speaks the
runner's protocol (sandbox/PROTOCOL.md) over any such channel, with the runner's own frame functions.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable
from typing import Any, NoReturn, Protocol

from codelhf.execution.base import WorkerDied, runner_module


class Channel(Protocol):
    deadline: float

    def read(self, n: int) -> bytes: ...

    def write(self, data: bytes) -> int: ...

    def flush(self) -> None: ...


class PipeChannel:
    """A runner's stdout (read) and stdin (write) pipes, unbuffered, so `select` sees every byte still to come."""

    def __init__(self, read_fd: int, write_fd: int):
        self.read_fd, self.write_fd = read_fd, write_fd
        self.deadline = float("inf")
        os.set_blocking(write_fd, False)  # a big job into a runner that stopped reading must not block forever

    def _wait(self, fd: int, for_write: bool) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise WorkerDied("no answer from the runner before the job timeout")
        ready = select.select([], [fd], [], remaining)[1] if for_write else select.select([fd], [], [], remaining)[0]
        if not ready:
            raise WorkerDied("no answer from the runner before the job timeout")

    def read(self, n: int) -> bytes:
        self._wait(self.read_fd, for_write=False)
        try:
            return os.read(self.read_fd, n)
        except OSError as e:
            raise WorkerDied(f"cannot read from the runner: {e}") from None

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            self._wait(self.write_fd, for_write=True)
            try:
                view = view[os.write(self.write_fd, view):]
            except BlockingIOError:
                continue
            except OSError as e:  # EPIPE: the runner is gone
                raise WorkerDied(f"cannot send to the runner: {e}") from None
        return len(data)

    def flush(self) -> None:
        pass


class StreamWorker:
    """One runner behind a channel: waits for its ready frame, then sends one job and reads its result at a time.

    `explain()` adds what the backend knows about a death (exit status, last stderr) to the `WorkerDied` message."""

    def __init__(self, channel: Channel, name: str, explain: Callable[[], str] = lambda: ""):
        self.channel = channel
        self.name = name
        self.explain = explain
        self.ready: dict[str, Any] = {}
        self.dead = ""

    def wait_ready(self, timeout_s: float) -> dict[str, Any]:
        self.channel.deadline = time.monotonic() + timeout_s
        self.ready = self._read()
        if not self.ready.get("ready"):
            self._die(f"the first frame was not the ready frame: {self.ready!r:.200}")
        return self.ready

    def call(self, job: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        if self.dead:
            raise WorkerDied(f"{self.name}: {self.dead}")
        self.channel.deadline = time.monotonic() + timeout_s
        try:
            runner_module().write_frame(self.channel, job)
        except WorkerDied as e:
            self._die(str(e))
        result = self._read()
        if result.get("id") != job.get("id"):  # cannot happen with one job in flight, unless the stream is garbled
            self._die(f"answer for job {result.get('id')!r} while waiting for {job.get('id')!r}")
        return result

    def _read(self) -> dict[str, Any]:
        frames = runner_module()
        try:
            frame = frames.read_frame(self.channel)
        except (WorkerDied, frames.FrameError) as e:
            self._die(str(e))
        if frame is None:
            self._die("the runner closed its stream")
        return frame

    def _die(self, why: str) -> NoReturn:
        """Mark the worker unusable (its stream may be out of step) and raise; the executor replaces it."""
        self.dead = why
        raise WorkerDied(f"{self.name}: {why}{self.explain()}")
