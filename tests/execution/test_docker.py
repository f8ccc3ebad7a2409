"""The Docker backend for real: container flags as the daemon applied them, what a program inside can and cannot
do, nothing left behind (after close, SIGTERM, SIGKILL of the owner), the image tag, and a missing daemon."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from codelhf.execution.base import Limits, WorkerDied, sandbox_dir
from codelhf.execution.image import SANDBOX_FILES, ensure_image, image_tag

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def client():
    from codelhf.execution.image import connect

    return connect()


@pytest.fixture(scope="module")
def backend():
    from codelhf.execution.docker import DockerBackend

    backend = DockerBackend(limits=Limits(memory_limit_mb=256, max_processes=16))
    yield backend
    backend.close()


def job(program: str, stdin: str = "", **limits: object) -> dict:
    return {"id": uuid.uuid4().hex, "language": "python", "mode": "stdio", "program": program,
            "python_fork": True, "tests": [{"stdin": stdin}], "limits": Limits(**limits).to_dict()}


def containers_owned_by(client, owner_pid: int) -> list:
    from codelhf.execution.docker import OWNER_LABEL, codelhf_containers

    return [c for c in codelhf_containers(client) if c.labels.get(OWNER_LABEL, "").split(":")[0] == str(owner_pid)]


def wait_until(condition, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


@pytest.mark.docker
def test_container_flags_are_applied(backend):
    from codelhf.execution.docker import PROGRAM_UID_BASE, PROGRAM_UID_END, RUNNER_CAPABILITIES, RUNNER_OVERHEAD_MB

    worker = backend.start_worker(3)
    worker.container.reload()
    host = worker.container.attrs["HostConfig"]
    config = worker.container.attrs["Config"]
    memory = (256 + backend.tmpfs_mb + RUNNER_OVERHEAD_MB) * 2**20
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["PidsLimit"] == 16 + 16
    assert host["Memory"] == memory and host["MemorySwap"] == memory
    assert host["NanoCpus"] == 10**9
    assert host["Init"] is True
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["CapDrop"] == ["ALL"] and sorted(host["CapAdd"]) == sorted(RUNNER_CAPABILITIES)
    assert not {"SYS_ADMIN", "NET_ADMIN", "NET_RAW", "SYS_PTRACE", "MKNOD"} & set(host["CapAdd"])
    assert set(host["Tmpfs"]) == {"/tmp"} and "size=256m" in host["Tmpfs"]["/tmp"]
    assert not host.get("Binds") and not worker.container.attrs["Mounts"]
    uid = int(config["Labels"]["codelhf.uid"])
    assert PROGRAM_UID_BASE <= uid < PROGRAM_UID_END and uid % 2 == 0 and worker.container.name == f"codelhf-u{uid}"
    assert {f"CODELHF_PROGRAM_UID={uid}", f"CODELHF_JUDGE_UID={uid + 1}"} <= set(config["Env"])
    assert (worker.ready["program_uid"], worker.ready["judge_uid"]) == (uid, uid + 1)
    assert config["Labels"]["codelhf.sandbox"] == "1"


@pytest.mark.docker
def test_program_inside_is_confined(backend):
    """The program runs as the slot's unprivileged uid without any capability, cannot signal the runner, write
    outside /tmp, reach a network, or see the host's files."""
    probe = textwrap.dedent("""
        import os, socket
        print("uid", os.getuid(), os.getgid())
        print([line for line in open("/proc/self/status") if line.startswith("CapEff")][0].split()[1])
        for what, attempt in [("signal-runner", lambda: os.kill(os.getppid(), 0)),
                              ("write-root", lambda: open("/opt/codelhf/x", "w")),
                              ("network", lambda: socket.create_connection(("1.1.1.1", 53), timeout=2))]:
            try:
                attempt()
                print(what, "allowed")
            except OSError as e:
                print(what, "denied", type(e).__name__)
        print("host-project-visible", os.path.exists(PROJECT))
        open("/tmp/scratch-ok", "w").write("fine")
        print("tmp-write ok")
    """).replace("PROJECT", repr(str(PROJECT)))
    worker = backend.start_worker(5)
    result = worker.call(job(probe), timeout_s=60)
    test = result["tests"][0]
    assert test["status"] == "OK", test
    lines = test["stdout"].splitlines()
    uid = worker.ready["program_uid"]
    assert lines[0] == f"uid {uid} {uid}"
    assert lines[1] == "0" * 16
    assert lines[2].startswith("signal-runner denied")
    assert lines[3].startswith("write-root denied")
    assert lines[4].startswith("network denied")
    assert lines[5:] == ["host-project-visible False", "tmp-write ok"]


@pytest.mark.docker
def test_two_pools_on_one_machine_never_share_a_program_uid():
    """RLIMIT_NPROC counts a uid's processes on the whole machine. Two pools (two trainers, two Ray actors, two
    engineers' tests) whose slot 0 both ran as uid 20000 shared that count: pool A's program holding its 16
    processes made every fork of pool B's program fail."""
    from codelhf.execution.docker import DockerBackend

    first, second = DockerBackend(limits=Limits(max_processes=16)), DockerBackend(limits=Limits(max_processes=16))
    try:
        a, b = first.start_worker(0), second.start_worker(0)
        uids = [a.ready["program_uid"], a.ready["judge_uid"], b.ready["program_uid"], b.ready["judge_uid"]]
        assert len(set(uids)) == 4, uids
        hog = ("import os, time\nfor _ in range(15):\n    if os.fork() == 0:\n        time.sleep(5)\n"
               "        os._exit(0)\nprint('holding', flush=True)\ntime.sleep(4)\n")
        held: list[dict] = []
        holder = threading.Thread(target=lambda: held.append(
            a.call(job(hog, max_processes=16, time_limit_s=1.0, wall_limit_s=8.0), timeout_s=60)))
        holder.start()
        time.sleep(2.0)  # the hog's 16 processes are up
        forker = "import os\nfor _ in range(8):\n    pid = os.fork()\n    if pid == 0:\n        os._exit(0)\n" \
                 "    os.waitpid(pid, 0)\nprint('forked')\n"
        test = b.call(job(forker, max_processes=16), timeout_s=60)["tests"][0]
        holder.join()
        assert held[0]["tests"][0]["stdout"] == "holding\n"
        assert test["status"] == "OK" and test["stdout"] == "forked\n", test
    finally:
        first.close()
        second.close()


@pytest.mark.docker
def test_killed_container_is_worker_died_not_a_hang(backend, client):
    worker = backend.start_worker(6)
    killer = threading.Timer(1.0, worker.container.kill)
    killer.start()
    started = time.monotonic()
    with pytest.raises(WorkerDied):
        worker.call(job("import time\ntime.sleep(30)\n"), timeout_s=60)
    killer.join()
    assert time.monotonic() - started < 20


@pytest.mark.docker
def test_close_leaves_no_container(client):
    from codelhf.execution.docker import DockerBackend

    backend = DockerBackend()
    backend.start_worker(0)
    backend.start_worker(1)
    assert len(containers_owned_by(client, os.getpid())) >= 2
    backend.close()
    assert wait_until(lambda: not [c for c in containers_owned_by(client, os.getpid())
                                   if c.labels.get("codelhf.slot") in ("0", "1")])


CHILD = """
import sys, time
from codelhf.execution.docker import DockerBackend
backend = DockerBackend()
for slot in range(2):
    backend.start_worker(slot)
print("started", flush=True)
time.sleep(300)
"""


def start_child_backend() -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True, cwd=PROJECT)
    assert child.stdout is not None and child.stdout.readline().strip() == "started"
    return child


@pytest.mark.docker
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_owner_killed_leaves_no_container(client, sig):
    """SIGTERM: the backend removes its containers on the way out. SIGKILL: the daemon closes the runner's stdin,
    the container ends and removes itself; a new backend's start would remove anything still there."""
    from codelhf.execution.docker import DockerBackend

    child = start_child_backend()
    assert len(containers_owned_by(client, child.pid)) == 2
    child.send_signal(sig)
    child.wait(timeout=60)
    if sig == signal.SIGTERM:
        assert child.returncode == 128 + signal.SIGTERM
        assert containers_owned_by(client, child.pid) == []
    DockerBackend().close()
    assert wait_until(lambda: containers_owned_by(client, child.pid) == [])


@pytest.mark.docker
def test_start_removes_stale_containers_of_dead_owners_only(client):
    """At start, containers whose owner is gone are removed: a finished process, or a live pid whose start time
    differs (the pid was reused). A live owner's containers stay."""
    import socket

    from codelhf.execution.base import process_identity
    from codelhf.execution.docker import HOST_LABEL, LABEL, OWNER_LABEL, DockerBackend

    finished = subprocess.Popen(["true"])
    finished.wait()
    owners = {"dead": str(finished.pid), "reused": f"{os.getpid()}:1", "alive": process_identity(os.getpid())}
    image = ensure_image(client)
    made = {kind: client.containers.run(image, ["sleep", "600"], detach=True, network_mode="none",
                                        labels={LABEL: "1", OWNER_LABEL: owner, HOST_LABEL: socket.gethostname()})
            for kind, owner in owners.items()}
    try:
        DockerBackend().close()
        present = {c.id for c in client.containers.list(all=True)}
        assert made["dead"].id not in present and made["reused"].id not in present
        assert made["alive"].id in present
    finally:
        for container in made.values():
            try:
                container.remove(force=True)
            except Exception:  # noqa: BLE001, S110  # already removed by the backend under test
                pass


def test_image_tag_follows_the_sandbox_files(tmp_path):
    """A changed runner (or Dockerfile, or build script) is a new tag; other files do not matter."""
    copy = tmp_path / "sandbox"
    copy.mkdir()
    for name in (*SANDBOX_FILES, "PROTOCOL.md"):
        shutil.copy(sandbox_dir() / name, copy / name)
    tag = image_tag(copy)
    assert tag == image_tag() and tag.startswith("codelhf-sandbox:")
    (copy / "PROTOCOL.md").write_text("changed")
    assert image_tag(copy) == tag
    for name in SANDBOX_FILES:
        original = (copy / name).read_bytes()
        (copy / name).write_bytes(original + b"\n# changed\n")
        assert image_tag(copy) != tag, name
        (copy / name).write_bytes(original)
    assert image_tag(copy) == tag


@pytest.mark.parametrize("command", [["sandbox", "status"], ["sandbox", "self-test"], ["execute"]])
def test_unreachable_daemon_is_a_clear_error(tmp_path, command):
    problems = tmp_path / "problems.jsonl"
    problems.write_text('{"id": "p", "prompt": "", "hidden_tests": [{"input": "1\\n", "output": "1\\n"}]}\n')
    samples = tmp_path / "samples.jsonl"
    samples.write_text('{"problem_id": "p", "program": "print(input())"}\n')
    if command == ["execute"]:
        command = command + ["--problems", str(problems), "--samples", str(samples)]
    env = dict(os.environ, DOCKER_HOST="unix:///nonexistent.sock")
    run = subprocess.run([sys.executable, "-m", "codelhf.cli", *command], capture_output=True, text=True, env=env,
                         timeout=120, cwd=tmp_path, check=False)
    assert run.returncode == 3, run.stderr
    assert "cannot reach a Docker daemon at unix:///nonexistent.sock" in run.stderr
    assert "hint:" in run.stderr and "Traceback" not in run.stderr + run.stdout


@pytest.mark.docker
def test_build_uses_the_registry_or_falls_back_to_the_offline_build(client):
    """Here the registry is unreachable, so the build must say so and build offline; with a registry the
    Dockerfile path builds instead. Either way the image's command is the runner."""
    from codelhf.execution.image import build_image

    tag = f"codelhf-sandbox:test-{uuid.uuid4().hex[:8]}"
    lines: list[str] = []
    try:
        build_image(client, tag, lines.append)
        if any("registry build not possible" in line for line in lines):
            assert lines[-1].startswith(f"built {tag}")
        image = client.images.get(tag)
        assert image.attrs["Config"]["Cmd"] == ["python3", "/opt/codelhf/runner.py"]
        script = "python3 -c 'import sys; print(sys.version_info[:2])'; g++ --version | head -n 1"
        output = client.containers.run(tag, ["sh", "-c", script], remove=True, network_mode="none")
        version, compiler = output.decode().splitlines()
        assert version == "(3, 11)" and compiler.startswith("g++")
    finally:
        try:
            client.images.remove(tag)
        except Exception:  # noqa: BLE001, S110  # the build failed before tagging: the assertion above says why
            pass
