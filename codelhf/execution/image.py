"""Reaching the Docker daemon and making sure the sandbox image exists.

The image tag is a hash of the sandbox files (runner, Dockerfile, offline build script): a changed runner is a
new tag, so a stale image can never serve a newer host. A missing image is built on first use: with the Dockerfile
when the base image can be pulled, else from Debian packages with `sandbox/build_offline.sh`, which needs no
registry. Every way of failing ends in `SandboxUnavailable` (exit code 3) saying what to install or start.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
from docker.errors import DockerException, ImageNotFound
from requests import RequestException

from codelhf.errors import SandboxUnavailable
from codelhf.execution.base import sandbox_dir

IMAGE_REPO = "codelhf-sandbox"
SANDBOX_FILES = ("runner.py", "Dockerfile", "build_offline.sh")
PULL_TIMEOUT_S = 90.0
"""How long the registry path may take to pull the base image before the offline build takes over."""
BUILD_TIMEOUT_S = 900.0

SETUP_HINT = "run `bash sandbox/setup.sh` (as root on Debian it installs and starts Docker), or use `--backend local`"

Log = Callable[[str], None]


def image_tag(sandbox: Path | None = None) -> str:
    """`codelhf-sandbox:<12 hex digits>`, a hash over the names and bytes of the sandbox files."""
    folder = sandbox or sandbox_dir()
    digest = hashlib.sha256()
    for name in SANDBOX_FILES:
        digest.update(name.encode() + b"\0" + (folder / name).read_bytes() + b"\0")
    return f"{IMAGE_REPO}:{digest.hexdigest()[:12]}"


def connect(timeout_s: float = 30.0) -> Any:
    """A `docker.DockerClient` that has answered a ping, or `SandboxUnavailable` saying why not."""
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env(timeout=int(timeout_s))
        client.ping()
        return client
    except DockerException as e:
        if "Permission denied" in str(e):
            raise SandboxUnavailable(f"no permission to use the Docker daemon at {where}",
                                     "add your user to the `docker` group (then log in again), or run as root") from e
        raise SandboxUnavailable(f"cannot reach a Docker daemon at {where}", SETUP_HINT) from e


def image_present(client: Any, tag: str) -> bool:
    try:
        client.images.get(tag)
        return True
    except ImageNotFound:
        return False


def ensure_image(client: Any | None = None, force: bool = False, log: Log | None = None) -> str:
    """The sandbox image's tag, building the image first when it is missing (or when `force`).

    A file lock makes parallel processes (test workers, several executors) build one at a time: the second finds
    the image there, or at least the offline build's base image, and is done in seconds."""
    client = client or connect()
    tag = image_tag()
    if not force and image_present(client, tag):
        return tag
    lock_path = Path(tempfile.gettempdir()) / "codelhf-image-build.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if force or not image_present(client, tag):
            build_image(client, tag, log or (lambda line: None))
    return tag


def build_image(client: Any, tag: str, log: Log) -> None:
    """Build `tag` from the Dockerfile when its base can be pulled within `PULL_TIMEOUT_S`, else offline."""
    folder = sandbox_dir()
    base = _dockerfile_base(folder / "Dockerfile")
    started = time.monotonic()
    try:
        if not image_present(client, base):  # present: loaded by hand (`docker load`) or pulled before
            log(f"pulling {base} (up to {PULL_TIMEOUT_S:.0f} s) ...")
            _pull(client, base, deadline=started + PULL_TIMEOUT_S)
        log(f"building {tag} from {folder / 'Dockerfile'} ...")
        for chunk in client.api.build(path=str(folder), tag=tag, rm=True, forcerm=True, decode=True,
                                      timeout=int(BUILD_TIMEOUT_S)):
            if "error" in chunk:
                raise RuntimeError(chunk["error"].strip())
            if chunk.get("stream", "").strip():
                log(chunk["stream"].rstrip())
        log(f"built {tag} in {time.monotonic() - started:.0f} s")
        return
    except (DockerException, RequestException, RuntimeError) as e:  # registry down, offline, rate limit, timeout:
        # build offline
        reason = (str(getattr(e, "explanation", None) or e).strip().splitlines() or [type(e).__name__])[0][:200]
        log(f"registry build not possible ({reason}); building from Debian packages instead")
    _build_offline(folder, tag, log)


def _dockerfile_base(dockerfile: Path) -> str:
    for line in dockerfile.read_text().splitlines():
        if line.strip().upper().startswith("FROM "):
            return line.split()[1]
    raise RuntimeError(f"{dockerfile} has no FROM line")


def _pull(client: Any, image: str, deadline: float) -> None:
    repository, _, tag = image.partition(":")
    for chunk in client.api.pull(repository, tag=tag or "latest", stream=True, decode=True):
        if "error" in chunk:
            raise RuntimeError(chunk["error"])
        if time.monotonic() > deadline:
            raise TimeoutError(f"pulling {image} took longer than {PULL_TIMEOUT_S:.0f} s")


def _build_offline(folder: Path, tag: str, log: Log) -> None:
    missing = [tool for tool in ("docker", "debootstrap") if shutil.which(tool) is None]
    if missing:
        raise SandboxUnavailable(
            f"cannot build the sandbox image: no registry to pull from and {' and '.join(missing)} not installed",
            "apt-get install docker.io debootstrap (as root), then `codelhf sandbox build`")
    if os.geteuid() != 0:
        raise SandboxUnavailable("cannot build the sandbox image offline: debootstrap needs root",
                                 "run `sudo codelhf sandbox build` once (or `bash sandbox/setup.sh` as root)")
    started = time.monotonic()
    process = subprocess.Popen(["bash", str(folder / "build_offline.sh"), tag], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    tail: list[str] = []
    for line in process.stdout:
        log(line.rstrip())
        tail = (tail + [line.rstrip()])[-15:]
    if process.wait(timeout=BUILD_TIMEOUT_S) != 0:
        raise SandboxUnavailable("the offline sandbox image build failed:\n    " + "\n    ".join(tail),
                                 "check that the apt mirror is reachable (`apt-get update`), then "
                                 "`codelhf sandbox build --force`")
    log(f"built {tag} in {time.monotonic() - started:.0f} s")
