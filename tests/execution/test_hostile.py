"""Hostile programs, each contained with the right status and nothing left behind: no process of the program
(scanned by its uid, or below the runner when it has ours), no file on this machine, and a runner that still
serves the next job.

Docker is the sandbox that must contain everything. The local backend is contained too where this machine lets it
(bubblewrap, and root for a separate program uid); where it cannot, the test says so in its skip reason.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path

import pytest

FORK_BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
DAEMONS = """import os, subprocess, threading, time
subprocess.Popen(["sleep", "1000"])
subprocess.Popen(["sleep", "1001"], start_new_session=True)
if os.fork() == 0:          # a classic daemon: double fork, new session, parent gone
    os.setsid()
    if os.fork() == 0:
        time.sleep(1000)
    os._exit(0)
threading.Thread(target=time.sleep, args=(1000,), daemon=True).start()
print("spawned")
"""


@pytest.fixture(autouse=True)
def nothing_left_behind(sandbox):
    """After each test: no process of the program left, and the runner still answers."""
    yield
    assert sandbox.one("print('next')\n")["stdout"] == "next\n"
    assert sandbox.leftovers() == []


def needs_separate_uid(sandbox) -> None:
    sandbox.one("pass\n")  # start the worker, so its ready frame tells
    if not sandbox.separate_uid:
        pytest.skip("local runner without root: programs share its uid, so they can signal it and anything of "
                    "this user (weaker than Docker)")


def needs_namespaces(sandbox) -> None:
    if sandbox.kind == "local":
        from codelhf.execution.local import bwrap_works

        sandbox.one("pass\n")  # start the worker, so its ready frame tells
        if not bwrap_works() and "net" not in sandbox.worker.ready["namespaces"]:
            pytest.skip("local runner without bubblewrap or root: no network namespace (weaker than Docker)")


def test_fork_bomb(sandbox):
    test = sandbox.one(FORK_BOMB, time_limit_s=0.5, wall_limit_s=2.0, max_processes=16)
    assert test["status"] == "TLE", test


def test_memory_bomb(sandbox):
    program = "blocks = []\nwhile True:\n    blocks.append(bytearray(16 * 2**20))\n"
    test = sandbox.one(program, memory_limit_mb=128)
    assert test["status"] == "MLE" and test["memory_kb"] < 200 * 1024, test


def test_infinite_loop(sandbox):
    assert sandbox.one("x = 0\nwhile True:\n    x += 1\n", time_limit_s=0.5, wall_limit_s=10)["status"] == "TLE"


def test_sleep_forever(sandbox):
    test = sandbox.one("import time\nwhile True:\n    time.sleep(100)\n", wall_limit_s=1.0)
    assert test["status"] == "TLE" and test["wall_s"] < 5


def test_sigterm_ignored(sandbox):
    program = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    time.sleep(1)\n"
    assert sandbox.one(program, wall_limit_s=1.0)["status"] == "TLE"


def test_gigabyte_of_output_stops_at_the_cap(sandbox):
    program = "import os\nchunk = b'z' * (1 << 20)\nfor _ in range(1024):\n    os.write(1, chunk)\n"
    start = time.monotonic()
    test = sandbox.one(program, output_limit_bytes=65536)
    assert test["status"] == "OLE" and len(test["stdout"]) == 65536, test["detail"]
    assert time.monotonic() - start < 10  # killed at the cap, not after a gigabyte went through
    with open(f"/proc/{sandbox.runner_pid()}/status") as f:
        peak_kb = int(next(line for line in f if line.startswith("VmHWM:")).split()[1])
    assert peak_kb < 100 * 1024  # the runner never held more than the cap


def test_writes_outside_scratch_stay_inside(sandbox):
    needs_separate_uid(sandbox)
    marker = f"codelhf-hostile-{uuid.uuid4().hex}"
    places = [f"/tmp/{marker}", f"/var/tmp/{marker}", f"/etc/{marker}", f"/{marker}", f"/dev/shm/{marker}",
              str(Path(__file__).resolve().parent / marker)]
    program = (f"import os\nfor path in {places!r}:\n    try:\n        open(path, 'w').write('x')\n"
               "        print('wrote', path)\n    except OSError as e:\n"
               "        print('refused', path, type(e).__name__)\n"
               "open('inside.txt', 'w').write('scratch is writable')\nprint(open('inside.txt').read())\n")
    test = sandbox.one(program)
    assert test["status"] == "OK" and "scratch is writable" in test["stdout"], test
    refused = {line.split()[1] for line in test["stdout"].splitlines() if line.startswith("refused")}
    assert {places[2], places[3], places[5]} <= refused  # the system, the root, the project
    if sandbox.kind == "docker":
        assert places[1] in refused  # read-only root: only the container's own /tmp and /dev/shm take a write
    assert not [p for p in places if os.path.exists(p)]  # nothing landed on this machine
    survived = sandbox.one(f"import os\nprint([os.path.exists(p) for p in {places[:2] + [places[4]]!r}], "
                           "os.listdir('.'))\n")
    # the next test sees no stray file, and a scratch directory holding only its own program
    assert survived["stdout"] == "[False, False, False] ['main.py']\n"


def test_host_files_are_not_readable(sandbox):
    needs_separate_uid(sandbox)
    secret, name = uuid.uuid4().hex, uuid.uuid4().hex
    private = Path(f"/var/tmp/codelhf-canary-{name}")
    public = Path(f"/var/tmp/codelhf-canary-public-{name}")
    private.write_text(secret)
    private.chmod(0o600)
    public.write_text(secret)
    public.chmod(0o644)
    try:
        paths = ["/etc/shadow", str(private)] + ([str(public)] if sandbox.kind == "docker" else [])
        program = (f"for path in {paths!r}:\n    try:\n        print(open(path).read())\n"
                   "    except OSError as e:\n        print(path, type(e).__name__)\n")
        test = sandbox.one(program)
    finally:
        private.unlink()
        public.unlink()
    assert test["status"] == "OK" and secret not in test["stdout"], test
    assert "shadow" in test["stdout"]  # refused, not printed


@pytest.mark.parametrize("where", ["loopback", "outside"])
def test_sockets_cannot_connect(sandbox, where):
    needs_namespaces(sandbox)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        address = ("127.0.0.1", listener.getsockname()[1]) if where == "loopback" else ("1.1.1.1", 53)
        program = (f"import socket\ns = socket.create_connection({address!r}, timeout=3)\n"
                   "print('connected')\n")
        test = sandbox.one(program)
    assert test["status"] == "RE" and "connected" not in test["stdout"], test
    assert test["exception"] in ("ConnectionRefusedError", "OSError", "TimeoutError"), test


def test_exit_zero_before_printing(sandbox):
    test = sandbox.one("import sys\nsys.exit(0)\nprint('answer')\n")
    assert test["status"] == "OK" and test["stdout"] == ""  # the harness then judges the empty output WA


def test_deep_recursion(sandbox):
    python = sandbox.one("def f(n):\n    return f(n + 1) + 1\nf(0)\n")
    assert python["status"] == "RE" and python["exception"] == "RecursionError"
    unlimited = sandbox.one("import sys\nsys.setrecursionlimit(10**9)\ndef f(n):\n    return f(n + 1) + 1\nf(0)\n",
                            memory_limit_mb=64)
    # Frames grow until memory runs out; unwinding and printing millions of frames may then run out of time.
    assert unlimited["status"] in ("MLE", "RE", "TLE") and unlimited["memory_kb"] < 128 * 1024, unlimited
    cpp = ("int f(int n) { volatile char pad[512]; pad[0] = n; return f(n + 1) + pad[0]; }\n"
           "int main() { return f(0); }\n")
    native = sandbox.run(sandbox.job(cpp, language="cpp", memory_limit_mb=128))["tests"][0]
    # SIGSEGV once the stack (allowed up to the memory limit) is used up: RE, or MLE as the peak memory is the limit
    assert native["status"] in ("RE", "MLE") and native["signal"] == 11, native


def test_subprocesses_threads_and_daemons_are_killed(sandbox):
    test = sandbox.one(DAEMONS)
    assert test["status"] == "OK" and test["stdout"] == "spawned\n", test
    # nothing_left_behind checks that neither sleep, nor the daemon, nor its children survived


def test_killing_its_parent_fails(sandbox):
    needs_separate_uid(sandbox)
    test = sandbox.one("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n")
    assert test["status"] == "RE" and test["exception"] == "PermissionError", test
    everyone = sandbox.one("import os, signal\nos.kill(-1, signal.SIGKILL)\nprint('alone')\n")
    assert everyone["status"] == "OK" and everyone["stdout"] == "alone\n"  # only its own uid's processes exist
