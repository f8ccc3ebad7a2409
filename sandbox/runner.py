#!/usr/bin/env python3
"""The codelhf sandbox runner: reads jobs from a byte stream, runs each test in fresh sandboxed processes, answers
results.

Standard library only (ctypes included), Python 3.10+, Linux 5.3+ (memfd, pidfd, SCM_RIGHTS, clone with
CLONE_PARENT on x86_64, aarch64, riscv64, ppc64le, armv7l or i686). It lives inside every sandbox container
and, for the `local` backend, in a process on the host. The wire format, the threat model and the meaning of every
field are in PROTOCOL.md beside this file: keep the two in step.

Three kinds of process, so that nothing of one job can be seen by the next:
- the *runner* reads jobs, prepares each test's descriptors and scratch directory, watches the test, judges what it
  saw and cleans up. It holds job data, so no program ever runs in a copy of it.
- the *zygote*, a fresh interpreter started by the runner before the first job (this file loaded as a module, its
  `zygote_main`), imports the modules programs commonly use and then only forks: it keeps a few forks *parked*,
  and each test process is one of them, handed its request and descriptors by the runner, reading its program and
  test from them once the sandbox is set up. The zygote never holds a byte of job data.
- the *test processes*: the program (forked warm from the zygote, or a fresh interpreter exec'd by such a fork, or a
  native binary), and for `assert` tests a *judge*: the dataset's test code runs in its own process, under its own
  uid, and the program's return values reach it as plain data over a socket. Only the judge can say a test passed.

The file starts with the *child side*: what a program's process runs once the sandbox is set up. A fresh interpreter
per test (`python_fork: false`) runs only that part, `python3 /proc/self/fd/5 --child`, so both modes share one
`run_python` and differ only in whether the interpreter is warm; the child side therefore imports nothing a bare
interpreter has not loaded already (json is imported where a mode needs it).
"""

import io
import os
import sys
import types

# Descriptors of a test's processes: stdin, stdout, stderr, the report pipe (`key hex` lines), the spec (marshal),
# the child side's source (fresh interpreters), the set-up pipe (closed before any untrusted code runs) and the
# socket between an assert test's program and its judge.
REPORT_FD, SPEC_FD, SOURCE_FD, SETUP_FD, PEER_FD = 3, 4, 5, 6, 7
PROGRAM_FILE = "main.py"
THREAD_STACK_BYTES = 8 << 20
"""Stack of a Python thread (the usual Linux default): RLIMIT_STACK is unlimited for the main thread's recursion,
and glibc would otherwise give each thread a stack as large as that limit."""
WIRE_DEPTH = 200
"""Deepest nesting of a value between program and judge; deeper parts cross as references, never as data."""
PEER_MESSAGE_LIMIT = 16 << 20
GLOBAL_VALUE_LIMIT = 1 << 20
"""A program global larger than this (encoded) reaches the judge as a reference, not a copy."""


# ------------------------------------------------------------------------------------------- child: python program

def report(key: str, text: str) -> None:
    """One `key hex` line on the report pipe: hex, so that nothing a program prints or returns breaks the format."""
    try:
        os.write(REPORT_FD, f"{key} {text.encode('utf-8', 'surrogatepass').hex()}\n".encode())
    except OSError:
        pass  # the program closed the pipe: nothing to report


def announce_start() -> None:
    """The last act of trusted set-up: from here on, whatever happens is the program's doing (never SE)."""
    os.write(SETUP_FD, b"started\n")
    os.close(SETUP_FD)


def fresh_std_streams() -> None:
    """Point sys.stdin/stdout/stderr at new objects on fds 0/1/2, as a new interpreter would have them."""
    sys.stdin = sys.__stdin__ = io.TextIOWrapper(open(0, "rb", closefd=False), encoding="utf-8")  # noqa: SIM115
    sys.stdout = sys.__stdout__ = io.TextIOWrapper(open(1, "wb", closefd=False), encoding="utf-8")  # noqa: SIM115
    sys.stderr = sys.__stderr__ = io.TextIOWrapper(open(2, "wb", closefd=False), encoding="utf-8",  # noqa: SIM115
                                                   errors="backslashreplace", line_buffering=True)


def exit_status(e: SystemExit) -> int:
    """The process exit status CPython gives to an uncaught SystemExit (and prints what it prints)."""
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def encode_result(value: object) -> str:
    """A call's return value as JSON text (tuples become lists), or {"repr": ...} when JSON cannot hold it."""
    import json

    try:
        return json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        return json.dumps({"repr": repr(value)})


def find_entry(module: types.ModuleType, fn_name: str) -> "types.FunctionType":
    """`fn_name` as a method of class Solution (LeetCode/APPS starter code) or else a top-level function."""
    solution_class = getattr(module, "Solution", None)
    if isinstance(solution_class, type) and hasattr(solution_class, fn_name):
        return getattr(solution_class(), fn_name)
    entry = getattr(module, fn_name, None)
    if not callable(entry):
        raise NameError(f"the program defines no function or Solution method named {fn_name!r}")  # noqa: TRY004
    return entry


def wait_like_interpreter_exit(status: int) -> int:
    """What a normal interpreter does at exit: join non-daemon threads, run atexit, flush (120 if that fails)."""
    import atexit

    threading = sys.modules.get("threading")  # no threading imported, no threads to wait for
    while threading is not None:
        others = [t for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon]
        if not others:
            break
        for thread in others:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001  # what CPython does when the final flush fails
            status = 120 if status == 0 else status
    return status


def compile_program(source: str) -> "types.CodeType | None":
    """Compile inside the test's limits; a failure is reported as `compile_error` (CE) and gives None."""
    try:
        return compile(source, PROGRAM_FILE, "exec")
    except BaseException as e:  # noqa: BLE001  # SyntaxError, ValueError (null bytes), MemoryError, RecursionError, ...
        import traceback

        report("compile_error", "".join(traceback.format_exception_only(type(e), e))[-4096:])
        return None


def run_python(spec: dict) -> "typing.NoReturn":
    """Child side of a Python test: compile, run the program (as __main__, or imported for `call`), report, exit.

    In mode `assert` the program's process only serves the judge (`serve`): the test code never enters it."""
    import _thread

    _thread.stack_size(THREAD_STACK_BYTES)
    code = compile_program(spec["program"])
    if code is None:
        os._exit(1)
    mode = spec["mode"]
    sys.argv = [PROGRAM_FILE]
    sys.path.insert(0, os.getcwd())
    module = types.ModuleType("solution" if mode == "call" else "__main__")
    module.__file__ = os.path.join(os.getcwd(), PROGRAM_FILE)
    sys.modules[module.__name__] = module
    try:
        exec(code, module.__dict__)  # noqa: S102
        if mode == "call":
            report("result", encode_result(find_entry(module, spec["fn_name"])(*spec["test"].get("args", []))))
        elif mode == "assert":
            serve(module)
            os._exit(0)  # the judge has what it needs; the runner ends whatever the program left running
        status = 0
    except SystemExit as e:
        status = exit_status(e)
    except BaseException as e:  # noqa: BLE001  # everything a program can raise ends here, as in an interpreter
        report("exception", type(e).__name__)
        e.__traceback__ = e.__traceback__.tb_next if e.__traceback__ else None  # the program's frames, not ours
        sys.excepthook(type(e), e, e.__traceback__)
        status = 1
    os._exit(wait_like_interpreter_exit(status))


# ------------------------------------------------------------------------- plain values between program and judge
# JSON with tags, so that the judge gets Python's plain types back exactly: lists are arrays; every object is a
# one-key tag ({"tuple": [...]}, {"set": [...]}, {"dict": [[k, v], ...]}, {"bytes": hex}, {"int": hex} for big
# integers, {"complex": [re, im]}, {"handle": n} for a reference to an object that is not plain data).

def to_wire(value: object, other: "typing.Callable", depth: int = 0) -> object:
    """`value` as tagged JSON data. Exact types only: anything else (subclasses too) is `other(value, depth)`'s."""
    kind = type(value)
    if value is None or kind is bool or kind is str or kind is float:
        return value
    if kind is int:
        return value if -(1 << 62) < value < (1 << 62) else {"int": hex(value)}
    if depth >= WIRE_DEPTH:
        return other(value, depth)
    if kind is list:
        return [to_wire(v, other, depth + 1) for v in value]
    if kind is tuple or kind is set or kind is frozenset:
        return {kind.__name__: [to_wire(v, other, depth + 1) for v in value]}
    if kind is dict:
        return {"dict": [[to_wire(k, other, depth + 1), to_wire(v, other, depth + 1)] for k, v in value.items()]}
    if kind is bytes:
        return {"bytes": value.hex()}
    if kind is complex:
        return {"complex": [value.real, value.imag]}
    return other(value, depth)


def from_wire(data: object, on_handle: "typing.Callable[[int], object]", depth: int = 0) -> object:
    """Tagged JSON data back to plain values; ValueError/TypeError for anything malformed."""
    kind = type(data)
    if data is None or kind is bool or kind is int or kind is float or kind is str:
        return data
    if depth > WIRE_DEPTH:
        raise ValueError("value nested too deeply")
    if kind is list:
        return [from_wire(v, on_handle, depth + 1) for v in data]
    if kind is dict and len(data) == 1:
        ((tag, body),) = data.items()
        if tag in ("tuple", "set", "frozenset") and type(body) is list:
            items = [from_wire(v, on_handle, depth + 1) for v in body]
            return tuple(items) if tag == "tuple" else set(items) if tag == "set" else frozenset(items)
        if tag == "dict" and type(body) is list and all(type(p) is list and len(p) == 2 for p in body):
            return {from_wire(k, on_handle, depth + 1): from_wire(v, on_handle, depth + 1) for k, v in body}
        if tag == "bytes" and type(body) is str:
            return bytes.fromhex(body)
        if tag == "int" and type(body) is str:
            return int(body, 16)
        if tag == "complex" and type(body) is list and len(body) == 2 and all(type(x) is float for x in body):
            return complex(*body)
        if tag == "handle" and type(body) is int:
            return on_handle(body)
    raise ValueError(f"not a plain value: {str(data)[:80]}")


def send_message(fd: int, message: object) -> None:
    """4-byte big-endian length, then ASCII JSON."""
    import json

    body = json.dumps(message, separators=(",", ":")).encode()
    view = memoryview(len(body).to_bytes(4, "big") + body)
    while view:
        view = view[os.write(fd, view):]


def _read_exactly(fd: int, n: int) -> "bytes | None":
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def receive_message(fd: int, limit: int) -> object:
    """The next message, None at end of stream; ValueError when it is too large or not JSON."""
    import json

    header = _read_exactly(fd, 4)
    if header is None:
        return None
    size = int.from_bytes(header, "big")
    if size > limit:
        raise ValueError(f"message of {size} bytes, over the limit of {limit}")
    body = _read_exactly(fd, size)
    if body is None:
        return None
    return json.loads(body)


def serve(module: types.ModuleType) -> None:
    """The program's side of an assert test: offer the module's names to the judge, then answer its requests
    (call, getattr, iter, next, len, getitem, bool on objects it holds) until the judge hangs up.

    Nothing here is trusted: the program may patch any of it. Whatever it sends, the judge reads as plain data."""
    import json

    objects: list = []

    def handle(value: object) -> dict:
        objects.append(value)
        return {"handle": len(objects) - 1}

    def plain(value: object, depth: int) -> object:
        """Subclasses of plain types cross as their plain value; numpy scalars as Python numbers; the rest by
        reference."""
        if depth < WIRE_DEPTH:
            for base in (int, float, str, bytes, complex, list, tuple, set, frozenset):
                if isinstance(value, base):
                    return to_wire(base(value), plain, depth + 1)
            if isinstance(value, dict):
                return to_wire(dict(dict.items(value)), plain, depth + 1)
            if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
                return to_wire(value.item(), plain, depth + 1)
        return handle(value)

    def offer(value: object) -> list:
        if isinstance(value, types.ModuleType):
            return ["module", value.__name__, handle(value)]
        where, name = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
        if callable(value) and type(where) is str and type(name) is str and where not in ("__main__", "solution"):
            return ["import", where, name, handle(value)]  # the judge uses its own copy when it can import it
        data = to_wire(value, plain)
        return ["value", data if len(json.dumps(data)) <= GLOBAL_VALUE_LIMIT else handle(value)]

    names = [[name, *offer(value)] for name, value in list(vars(module).items())
             if not (name.startswith("__") and name.endswith("__"))]
    send_message(PEER_FD, ["ready", names])
    operations = {
        "call": lambda target, args, kwargs: target(*args, **kwargs),
        "getattr": lambda target, name: getattr(target, name),
        "iter": iter, "next": next, "len": len, "bool": bool,
        "getitem": lambda target, key: target[key],
    }
    while True:
        request = receive_message(PEER_FD, PEER_MESSAGE_LIMIT)
        if request is None:
            return
        try:
            operation, target, *arguments = request
            value = operations[operation](objects[target], *(from_wire(a, objects.__getitem__) for a in arguments))
            answer = ["ok", to_wire(value, plain)]
        except StopIteration:
            answer = ["stop"]
        except BaseException as e:  # noqa: BLE001  # to the judge, which raises it in the test code
            try:
                text = str(e)[:1000]
            except BaseException:  # noqa: BLE001
                text = ""
            answer = ["raise", type(e).__name__, text]
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001, S110
                pass
        send_message(PEER_FD, answer)


def child_main() -> "typing.NoReturn":
    """Entry point of a fresh interpreter: the test spec is on fd 4 (marshal); fds 0-3, 6 and 7 are in place."""
    import marshal

    announce_start()
    with os.fdopen(SPEC_FD, "rb") as spec_file:
        spec = marshal.loads(spec_file.read())
    os.close(SOURCE_FD)
    run_python(spec)


if __name__ == "__main__" and sys.argv[1:] == ["--child"]:
    child_main()

# end of the child side: a fresh interpreter runs only the code above this line. The runner's own imports follow.

import builtins
import ctypes
import fcntl
import json
import marshal
import math
import platform
import resource
import select
import shutil
import signal
import socket
import struct
import tempfile
import time
import traceback
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO, NoReturn

PROTOCOL = 2
MAX_FRAME_BYTES = 1 << 30
STDERR_KEEP_BYTES = 4096
DEFAULT_LIMITS = {
    "time_limit_s": 4.0,
    "wall_limit_s": 10.0,
    "memory_limit_mb": 512,
    "output_limit_bytes": 65536,
    "max_processes": 32,
    "file_size_limit_bytes": 16 * 1024 * 1024,
    "open_files": 64,
    "compile_time_limit_s": 30.0,
    "program_size_limit_bytes": 1 << 20,
}
SETUP_FAILED = 125  # exit code of a child that could not be set up
CHILD_SIDE_END = b"\n# end of the child side"
CLEAN_ENV_PATH = "/usr/local/bin:/usr/bin:/bin"
WARM_MODULES = (
    "array", "bisect", "collections", "copy", "dataclasses", "datetime", "decimal", "fractions", "functools",
    "heapq", "itertools", "math", "operator", "queue", "random", "re", "statistics", "string", "threading",
    "typing", "atexit", "json", "traceback", "importlib", "importlib.util",
)
PARKED = 4
"""Forks of the zygote kept waiting for a test: an assert test takes two at once."""
POLL_S = 0.05
"""How often the CPU time and memory of all of a test's processes are summed while it runs (a test that ends sooner
is never polled: each process's own rlimits and the sums taken at its end still apply)."""
JUDGE_PROCESSES = 4
"""RLIMIT_NPROC of the judge's uid: it forks nothing; a thread or two for test code that wants them."""
NOT_IMPORTED = {"antigravity", "this"}
"""Modules the judge never imports on a program's word (side effects at import)."""


# ---------------------------------------------------------------------------------------------------------- frames

class FrameError(ValueError):
    """A frame arrived whole but is not a JSON object; the stream is still in step, so the reader can go on."""


def _read_exact(stream: BinaryIO, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = stream.read(n - got)
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_frame(stream: BinaryIO) -> dict | None:
    """The next frame as a dict; None when the stream ends (cleanly or inside a frame); FrameError if not JSON."""
    header = _read_exact(stream, 4)
    if header is None:
        return None
    (length,) = struct.unpack(">I", header)
    if length > MAX_FRAME_BYTES:
        while length:  # skip it to stay in step with the writer
            chunk = stream.read(min(length, 1 << 20))
            if not chunk:
                return None
            length -= len(chunk)
        raise FrameError(f"frame larger than {MAX_FRAME_BYTES} bytes")
    body = _read_exact(stream, length)
    if body is None:
        return None
    try:
        obj = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise FrameError(f"frame is not UTF-8 JSON: {e}") from None
    if not isinstance(obj, dict):
        raise FrameError(f"frame is a JSON {type(obj).__name__}, not an object")
    return obj


def write_frame(stream: BinaryIO, obj: dict) -> None:
    """Write one frame and flush. ASCII JSON, so lone surrogates in programs or outputs cannot break encoding."""
    body = json.dumps(obj, separators=(",", ":")).encode("ascii")
    stream.write(struct.pack(">I", len(body)) + body)
    stream.flush()


# ------------------------------------------------------------------------------------------------------ job parsing

class JobError(ValueError):
    """A job the runner cannot understand; answered with {"id", "error"}."""


@dataclass
class Limits:
    time_limit_s: float
    wall_limit_s: float
    memory_limit_mb: float
    output_limit_bytes: int
    max_processes: int
    file_size_limit_bytes: int
    open_files: int
    compile_time_limit_s: float
    program_size_limit_bytes: int

    @classmethod
    def parse(cls, raw: Any) -> "Limits":
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise JobError("limits must be an object")
        values = dict(DEFAULT_LIMITS)
        for key, value in raw.items():
            if key not in values:
                continue  # a newer host may send limits this runner does not know; ignore them
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise JobError(f"limits.{key} must be a positive number, got {value!r}")
            values[key] = value
        return cls(**values)


@dataclass
class Job:
    id: Any
    language: str
    mode: str
    program: str
    fn_name: str | None
    python_fork: bool
    tests: list[dict]
    limits: Limits
    prelude: list[str]
    entry_point: str | None

    @classmethod
    def parse(cls, raw: dict, languages: list[str]) -> "Job":
        language = raw.get("language", "python")
        mode = raw.get("mode", "stdio")
        program, tests = raw.get("program"), raw.get("tests")
        if language not in languages:
            raise JobError(f"language {language!r} is not available here (have {languages})")
        if mode not in ("stdio", "call", "assert"):
            raise JobError(f"mode {mode!r} is not one of stdio, call, assert")
        if language != "python" and mode != "stdio":
            raise JobError(f"mode {mode!r} needs language python")
        if not isinstance(program, str):
            raise JobError("program must be a string")
        if not isinstance(tests, list) or not all(isinstance(t, dict) for t in tests):
            raise JobError("tests must be a list of objects")
        fn_name = raw.get("fn_name")
        if mode == "call" and not (isinstance(fn_name, str) and fn_name):
            raise JobError("mode call needs fn_name")
        for i, test in enumerate(tests):
            expected = {"stdio": ("stdin", str), "call": ("args", list), "assert": ("code", str)}[mode]
            if not isinstance(test.get(expected[0], expected[1]()), expected[1]):
                raise JobError(f"tests[{i}].{expected[0]} must be a {expected[1].__name__}")
        prelude = raw.get("prelude") or []
        if not isinstance(prelude, list) or not all(isinstance(p, str) for p in prelude):
            raise JobError("prelude must be a list of strings")
        entry_point = raw.get("entry_point")
        if entry_point is not None and not isinstance(entry_point, str):
            raise JobError("entry_point must be a string")
        return cls(raw.get("id"), language, mode, program, fn_name, bool(raw.get("python_fork", True)), tests,
                   Limits.parse(raw.get("limits")), prelude, entry_point or None)


# ------------------------------------------------------------------------------------------------ kernel helpers

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 1, 4, 36
CLONE_NEWIPC, CLONE_NEWNET = 0x08000000, 0x40000000
IPC_RMID = 0
M_ARENA_MAX = -8
LIBC = ctypes.CDLL(None, use_errno=True)
"""What Python's os module lacks: prctl, clone, setfsuid, the System V IPC calls, mallopt."""


def prctl(option: int, arg: int) -> bool:
    return LIBC.prctl(option, arg, 0, 0, 0) == 0


def private_namespaces() -> list[str]:
    """New IPC and network namespaces for this runner, where it may make them (root outside a container: the
    local backend without bubblewrap): its tests' System V objects are then invisible to every other process and
    vanish with it, and programs have no network. A container (no CAP_SYS_ADMIN) or bubblewrap already gave both."""
    return [name for name, flag in (("ipc", CLONE_NEWIPC), ("net", CLONE_NEWNET)) if LIBC.unshare(flag) == 0]


def set_limit(kind: int, soft: int, hard: int | None = None) -> None:
    """Set a limit, never above the hard limit we have (raising it fails for non-root)."""
    _, current_hard = resource.getrlimit(kind)
    hard = soft if hard is None else hard
    if current_hard != resource.RLIM_INFINITY:
        hard = current_hard if hard == resource.RLIM_INFINITY else min(hard, current_hard)
        soft = hard if soft == resource.RLIM_INFINITY else min(soft, hard)
    resource.setrlimit(kind, (soft, hard))


def count_own_tasks() -> int:
    """Threads and processes of our uid."""
    uid, count = os.getuid(), 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{name}/task"))
            except OSError:
                pass
    return count


def interpreter_signals() -> None:
    """The signal dispositions a new interpreter sets up (a fresh one does this itself at start)."""
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def program_env(workdir: str) -> dict[str, str]:
    """The whole environment of a program. MALLOC_ARENA_MAX=1: glibc reserves 64 MiB of address space for each
    thread's malloc arena, so under RLIMIT_AS eight threads would exhaust a 512 MiB limit without using it.
    OPENBLAS/OMP_NUM_THREADS=1: a pip-installed numpy (the Dockerfile's) starts one BLAS thread per host core at
    import, which RLIMIT_NPROC and RLIMIT_AS would turn into a failure of a correct program on a many-core host."""
    return {"PATH": CLEAN_ENV_PATH, "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "MALLOC_ARENA_MAX": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def vm_size() -> int:
    """This process's virtual memory in bytes (the fork baseline for RLIMIT_AS)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def rss_kb(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def remove_tree(path: str) -> None:
    """rmtree that also gets through directories the program made unreadable."""
    def fix_and_retry(function: Callable, failed: str, _exc: Any) -> None:
        try:
            os.chmod(os.path.dirname(failed), 0o700)
            if os.path.isdir(failed) and not os.path.islink(failed):
                os.chmod(failed, 0o700)
                shutil.rmtree(failed, ignore_errors=True)
            else:
                function(failed)
        except OSError:
            pass

    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, onerror=fix_and_retry)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


def make_memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, 0)  # no MFD_CLOEXEC: the zygote's child dup2s it anyway
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def child_pids(pid: int | str) -> list[int]:
    """Children of `pid`, from /proc (the task `children` files, else a scan of every process's parent)."""
    try:
        found: list[int] = []
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found.extend(int(p) for p in f.read().split())
        return found
    except OSError:
        pass
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == int(pid):
                        found.append(int(name))
            except (OSError, ValueError, IndexError):
                pass
    return found


def sysv_ipc_objects() -> list[tuple[str, int, int, int]]:
    """(kind, id, owner uid, creator uid) of every System V shared memory segment, message queue and semaphore set
    in this IPC namespace, from /proc/sysvipc."""
    found = []
    for kind in ("shm", "msg", "sem"):
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                header, *rows = f.read().splitlines()
        except OSError:
            continue
        columns = header.split()
        ident = columns.index("shmid" if kind == "shm" else "msqid" if kind == "msg" else "semid")
        uid, cuid = columns.index("uid"), columns.index("cuid")
        for row in rows:
            cells = row.split()
            found.append((kind, int(cells[ident]), int(cells[uid]), int(cells[cuid])))
    return found


def remove_sysv_ipc(objects: list[tuple[str, int, int, int]]) -> None:
    """IPC_RMID each object (the caller must own it). A segment still attached goes when its last user dies."""
    for kind, ident, _, _ in objects:
        if kind == "shm":
            LIBC.shmctl(ident, IPC_RMID, None)
        elif kind == "msg":
            LIBC.msgctl(ident, IPC_RMID, None)
        else:
            LIBC.semctl(ident, 0, IPC_RMID)


# ---------------------------------------------------------------------------------------------- the judge (assert)

class ProgramGone(BaseException):
    """The program's process ended (or closed its end) while the judge waited for it."""


class BadAnswer(BaseException):
    """The program sent something that is not a well-formed answer (not plain data, too large, out of order)."""


class ProgramExit(BaseException):
    """The program raised SystemExit or KeyboardInterrupt in a call: never a way to end the test early."""


class ProgramError(Exception):
    """An exception of the program's that is not a built-in one (the judge cannot make the program's class)."""


def program_exception(name: str, text: str) -> BaseException:
    """The program's exception, rebuilt as the built-in class of that name where there is one."""
    if name in ("SystemExit", "KeyboardInterrupt", "GeneratorExit"):
        return ProgramExit(f"{name}: {text}")
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(text)
        except Exception:  # noqa: BLE001, S110
            pass
    return ProgramError(f"{name}: {text}")


class Peer:
    """The judge's end of the socket to the program: one request, one answer, values decoded as plain data."""

    def __init__(self, fd: int):
        self.fd = fd

    def receive(self) -> Any:
        try:
            message = receive_message(self.fd, PEER_MESSAGE_LIMIT)
        except (ValueError, RecursionError, OSError) as e:
            raise BadAnswer(str(e)) from None
        if message is None:
            raise ProgramGone("the program's process ended")
        return message

    def value(self, data: Any) -> Any:
        try:
            return from_wire(data, lambda h: Remote(self, h))
        except (ValueError, TypeError, RecursionError) as e:
            raise BadAnswer(f"not plain data: {e}") from None

    def ask(self, operation: str, handle: int, *arguments: Any) -> Any:
        try:
            send_message(self.fd, [operation, handle, *(to_wire(a, refuse) for a in arguments)])
        except OSError:
            raise ProgramGone("the program's process ended") from None
        answer = self.receive()
        if type(answer) is list and answer[:1] == ["ok"] and len(answer) == 2:
            return self.value(answer[1])
        if answer == ["stop"] and operation == "next":
            raise StopIteration
        if type(answer) is list and len(answer) == 3 and answer[0] == "raise" and all(type(a) is str for a in answer):
            raise program_exception(answer[1], answer[2])
        raise BadAnswer(f"unexpected answer to {operation}")


def refuse(value: Any, depth: int) -> Any:
    """Judge-side values that are not plain data: references back to the program's objects cross, nothing else."""
    if type(value) is Remote:
        return {"handle": value._handle}
    raise TypeError(f"a {type(value).__name__} cannot be passed to the program (only plain data)")


class Remote:
    """An object of the program's, held by reference: calls and a few read-only operations go to the program, and
    what comes back is plain data (or another reference). Equality, hashing and ordering are the judge's own
    (identity), so a program object can never decide a comparison."""

    __slots__ = ("_handle", "_peer")

    def __init__(self, peer: Peer, handle: int):
        self._peer, self._handle = peer, handle

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._peer.ask("call", self._handle, list(args), kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._peer.ask("getattr", self._handle, name)

    def __iter__(self) -> Any:
        return self._peer.ask("iter", self._handle)

    def __next__(self) -> Any:
        return self._peer.ask("next", self._handle)

    def __getitem__(self, key: Any) -> Any:
        return self._peer.ask("getitem", self._handle, key)

    def __len__(self) -> int:
        n = self._peer.ask("len", self._handle)
        if type(n) is not int or n < 0:
            raise TypeError("len() of a program object did not give a non-negative int")
        return n

    def __bool__(self) -> bool:
        b = self._peer.ask("bool", self._handle)
        if type(b) is not bool:
            raise TypeError("bool() of a program object did not give a bool")
        return b

    def __repr__(self) -> str:
        return f"<program object #{self._handle}>"


def trusted_object(module_name: str, qualname: str) -> Any:
    """The judge's own copy of `module.qualname` if it can import it; else None."""
    import importlib
    import importlib.util

    if module_name.split(".")[0] in NOT_IMPORTED:
        return None
    try:
        if module_name not in sys.modules and importlib.util.find_spec(module_name) is None:
            return None
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split(".") if qualname else []:
            obj = getattr(obj, part)
        return obj
    except Exception:  # noqa: BLE001
        return None


def judge_namespace(peer: Peer, spec: dict) -> dict:
    """The globals the test code runs in: the trusted prelude (setup code, the prompt's helper functions), then the
    program's names the prelude does not define. A program name that shadows a built-in is left out (a program's
    own `abs` or `isinstance` must not judge it), unless it is the entry point the test asks for."""
    namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
    for snippet in spec["prelude"]:
        try:
            exec(compile(snippet, "prelude.py", "exec"), namespace)  # noqa: S102
        except Exception:  # noqa: BLE001, S110
            pass  # a prompt that is not code, or that needs what the judge lacks: its names are not trusted
    entry = spec["entry_point"]
    namespace.pop(entry, None)  # the program's, or missing: never the prompt's stub
    trusted = set(namespace)
    ready = peer.receive()
    if type(ready) is not list or len(ready) != 2 or ready[0] != "ready" or type(ready[1]) is not list:
        raise BadAnswer("the program did not start serving")
    for offer in ready[1]:
        if type(offer) is not list or len(offer) < 3 or type(offer[0]) is not str or type(offer[1]) is not str:
            raise BadAnswer("malformed name")
        name, kind = offer[0], offer[1]
        if name != entry and (name in trusted or hasattr(builtins, name)):
            continue
        if kind == "value" and len(offer) == 3:
            namespace[name] = peer.value(offer[2])
        elif kind in ("module", "import") and all(type(x) is str for x in offer[2:-1]) and type(offer[-1]) is int:
            own = trusted_object(offer[2], offer[3] if kind == "import" else "")  # "" → the module itself
            namespace[name] = own if own is not None else Remote(peer, offer[-1])
        else:
            raise BadAnswer(f"malformed name {name!r}")
    return namespace


def show_test_traceback(e: BaseException) -> None:
    """The exception with the test code's frames only (not the judge's machinery), as an interpreter prints it."""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename in ("test.py", "prelude.py")]
    text = "".join(traceback.format_list(frames)) + "".join(traceback.format_exception_only(type(e), e))
    try:
        sys.stderr.write("Traceback (most recent call last):\n" + text)
        sys.stderr.flush()
    except Exception:  # noqa: BLE001, S110
        pass


def judge_main(spec: dict, code: types.CodeType) -> NoReturn:
    """Run the test code against the program; report `done` only if it ran to its end without an exception."""
    peer = Peer(PEER_FD)
    try:
        exec(code, judge_namespace(peer, spec))  # noqa: S102
        report("done", "")
    except ProgramGone as e:
        report("program_gone", str(e))
    except BadAnswer as e:
        report("bad_answer", str(e))
        report("exception", "BadAnswer")
    except BaseException as e:  # noqa: BLE001  # AssertionError (WA), the program's, the test code's own
        report("exception", type(e).__name__)
        show_test_traceback(e)
    os._exit(0)


# ---------------------------------------------------------------------------------------------------- the zygote

def zygote_main(control_fd: int) -> NoReturn:
    """Import what programs use, then keep PARKED forks of itself waiting for a test.

    The forks are the *runner's* children (`fork_for_parent`): the runner waits for a test's end, reaps it and
    reads its rusage itself, with nothing of the zygote on that path. Messages on the SEQPACKET control socket are
    marshal, descriptors SCM_RIGHTS (neither side holds a program's data: marshal is safe here, and cheap). The
    zygote sends `parked` (a pid, with the runner's end of a socket to that fork) whenever a fork is ready, and
    parks another when one ends. It answers one request, sweep: as each given uid, kill every process of it and
    remove its System V IPC objects. A parked fork holds nothing but this process's memory; it reads its test's
    request and descriptors from its socket and only then enters the sandbox."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    prctl(PR_SET_DUMPABLE, 0)  # a program under the same uid (local, non-root) cannot read or trace this process
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != os.path.dirname(os.path.abspath(__file__))]
    warm_up()
    LIBC.mallopt(M_ARENA_MAX, 1)  # what MALLOC_ARENA_MAX (program_env) does for a new process, for our forks
    control = socket.socket(fileno=control_fd)
    control.send(marshal.dumps({"ready": True, "pid": os.getpid(), "rss_kb": rss_kb()}))
    forks: list[int] = []  # pidfds of the forks, parked or running a test

    def tell(message: dict, fds: list[int]) -> None:
        try:
            if fds:
                socket.send_fds(control, [marshal.dumps(message)], fds)
            else:
                control.send(marshal.dumps(message))
        except OSError:
            os._exit(0)  # the runner is gone

    def park() -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = fork_for_parent()
        if pid == 0:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the runner is its parent now
            control.close()
            ours.close()
            try:
                data, fds, _, _ = socket.recv_fds(theirs, 1 << 16, 16)
            except OSError:
                data = b""
            if not data:
                os._exit(0)  # the runner is gone
            theirs.close()
            child_entry(marshal.loads(data), fds)
        theirs.close()
        forks.append(os.pidfd_open(pid))
        tell({"parked": pid}, [ours.fileno()])
        ours.close()

    for _ in range(PARKED):
        park()
    while True:
        ready, _, _ = select.select([control_fd, *forks], [], [])
        for pidfd in ready:
            if pidfd != control_fd:  # a fork has ended (the runner reaps it): park another
                forks.remove(pidfd)
                os.close(pidfd)
                park()
        if control_fd in ready:
            try:
                data = control.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                os._exit(0)  # the runner is gone
            for uid in marshal.loads(data)["uids"]:
                sweep_uid(uid)
            tell({}, [])


CLONE_PARENT = 0x00008000
SYS_CLONE = {"x86_64": 56, "aarch64": 220, "riscv64": 220, "ppc64le": 120, "armv7l": 120, "i686": 120}


def fork_for_parent() -> int:
    """fork(), except that the child's parent is our parent (clone with CLONE_PARENT, which Python does not offer):
    the zygote's forks are the runner's children. CPython's own fork bookkeeping runs around the raw clone, as
    os.fork does it; glibc's fork handlers do not, which is safe in a process with one thread, the zygote."""
    api = ctypes.pythonapi
    api.PyOS_BeforeFork()
    number = SYS_CLONE[platform.machine()]
    pid = ctypes.PyDLL(None, use_errno=True).syscall(number, CLONE_PARENT | signal.SIGCHLD, 0, 0, 0, 0)
    if pid == 0:
        api.PyOS_AfterFork_Child()
        return 0
    api.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(ctypes.get_errno(), "clone failed")
    return pid


def sweep_uid(uid: int) -> None:
    """In a helper with that uid: kill(-1), reaching every process of it in this pid namespace (never the helper),
    and remove the System V IPC objects it owns."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        except BaseException:  # noqa: BLE001, S110
            pass
        try:
            remove_sysv_ipc([o for o in sysv_ipc_objects() if uid in (o[2], o[3])])
        except BaseException:  # noqa: BLE001, S110
            pass
        os._exit(0)
    os.waitpid(pid, 0)


def child_entry(request: dict, fds: list[int]) -> NoReturn:
    """In a fresh fork of the zygote: enter the sandbox, then become the program, the compiler or the judge."""
    role = request["role"]
    try:
        enter_sandbox(request, fds)
        if role == "fresh":
            os.set_inheritable(SETUP_FD, True)
            python = sys.executable or "python3"
            os.execve(python, [python, "-I", f"/proc/self/fd/{SOURCE_FD}", "--child"], program_env(os.getcwd()))
        if role == "native":
            os.set_inheritable(REPORT_FD, False)  # only Python reports
            os.set_inheritable(SETUP_FD, False)  # closed at exec: the program never holds it
            os.write(SETUP_FD, b"started\n")
            try:
                os.execve(request["path"], request["argv"], program_env(os.getcwd()))
            except OSError as e:
                if not request["program"]:
                    raise  # the compiler would not start: the sandbox's fault
                report("exec_error", str(e))  # the binary is the program's: too big for its memory limit, say
                os._exit(127)
        with os.fdopen(SPEC_FD, "rb") as spec_file:
            spec = marshal.loads(spec_file.read())
        interpreter_signals()
        fresh_std_streams()
        if role == "judge":
            code = compile(spec["code"], "test.py", "exec")  # the dataset's: a failure here is not the program's
    except BaseException as e:  # noqa: BLE001
        try:
            os.write(SETUP_FD, f"setup_error {repr(e).encode('utf-8', 'replace').hex()}\n".encode())
        finally:
            os._exit(SETUP_FAILED)
    announce_start()
    if role == "judge":
        judge_main(spec, code)
    run_python(spec)


def enter_sandbox(request: dict, received: list[int]) -> None:
    """Own session; the given descriptors only; limits; the program uid; the scratch directory; a clean env."""
    os.setsid()
    targets = request["targets"]
    moved = {target: fcntl.fcntl(source, fcntl.F_DUPFD, 64) for target, source in zip(targets, received)}
    highest = max(targets)
    for fd in range(highest + 1):
        if fd not in moved:
            try:
                os.close(fd)
            except OSError:
                pass
    for target, source in moved.items():
        os.dup2(source, target)
    os.closerange(highest + 1, os.sysconf("SC_OPEN_MAX") if os.sysconf("SC_OPEN_MAX") > 0 else 65536)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    limits = request["limits"]
    memory = limits["memory_bytes"] + (vm_size() if limits["above_baseline"] else 0)
    cpu = max(1, math.ceil(limits["time_limit_s"]))
    set_limit(resource.RLIMIT_CPU, cpu, cpu + 1)
    set_limit(resource.RLIMIT_AS, memory)
    set_limit(resource.RLIMIT_STACK, resource.RLIM_INFINITY)  # recursion up to the memory limit; see THREAD_STACK
    set_limit(resource.RLIMIT_FSIZE, limits["file_size_limit_bytes"])
    set_limit(resource.RLIMIT_NOFILE, limits["open_files"])
    set_limit(resource.RLIMIT_CORE, 0)
    set_limit(resource.RLIMIT_NPROC, limits["max_processes"])
    set_limit(resource.RLIMIT_MSGQUEUE, 0)  # no POSIX message queue: they outlive the test (IPC, see PROTOCOL.md)
    if request["role"] != "judge":
        try:  # the container's out-of-memory killer takes a program's process first, never the runner
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write("1000")
        except OSError:
            pass
    if os.getuid() == 0:
        os.setgroups([])
        os.setgid(request["uid"])
        os.setuid(request["uid"])
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after setuid, which clears it
    # A program's processes are dumpable, so the runner can read their memory use; the judge is not, so the
    # program (under the same uid when the runner is not root) can neither trace nor read it.
    prctl(PR_SET_DUMPABLE, 0 if request["role"] == "judge" else 1)
    os.chdir(request["workdir"])
    os.environ.clear()
    os.environ.update(program_env(request["workdir"]))


def warm_up() -> None:
    """Import what programs commonly import, then freeze the heap so forks share it copy-on-write."""
    import gc
    import importlib

    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    gc.collect()
    gc.freeze()
    LIBC.malloc_trim(0)  # hand back the heap that compiling this file left free: every fork would copy its page tables


class ZygoteDied(Exception):
    """The zygote is gone (killed, or out of memory): the test is the sandbox's failure (SE), and a new zygote is
    started for the next."""


class Zygote:
    """The runner's handle on its zygote: started by exec (so it holds nothing of the runner). `parked` are its
    forks waiting for a test, our children: (pid, socket)."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        python = sys.executable or "python3"
        # Loaded as a module, not run as a script: a script's compilation leaves ~2.5 MiB more heap behind, which
        # every fork of the zygote would copy the page tables of, and unmap at exit.
        bootstrap = ("import importlib.util as u, sys\n"
                     f"spec = u.spec_from_file_location('codelhf_zygote', {os.path.abspath(__file__)!r})\n"
                     "module = sys.modules['codelhf_zygote'] = u.module_from_spec(spec)\n"
                     "spec.loader.exec_module(module)\nmodule.zygote_main(3)\n")
        argv = [python, "-I", "-c", bootstrap, "--zygote"]
        self.pid = os.fork()
        if self.pid == 0:
            try:
                high = os.dup(theirs.fileno())
                os.dup2(high, 3)
                os.closerange(4, os.sysconf("SC_OPEN_MAX") if os.sysconf("SC_OPEN_MAX") > 0 else 65536)
                os.execv(python, argv)
            finally:
                os._exit(127)
        theirs.close()
        self.control = ours
        self.parked: list[tuple[int, socket.socket]] = []
        self.rss_kb = int(self.receive()["rss_kb"])

    def receive(self) -> dict:
        """The next message (blocking); `parked` ones are filed."""
        try:
            data, fds, _, _ = socket.recv_fds(self.control, 1 << 16, 1)
        except OSError as e:
            raise ZygoteDied(f"the zygote stopped answering: {e}") from None
        if not data:
            raise ZygoteDied("the zygote died")
        message = marshal.loads(data)
        if "parked" in message:
            self.parked.append((message["parked"], socket.socket(fileno=fds[0])))
        return message

    def spawn(self, request: dict, fds: list[int]) -> int:
        """Hand a test to a parked fork; its pid."""
        while True:
            while not self.parked:
                self.receive()
            pid, sock = self.parked.pop(0)
            try:
                socket.send_fds(sock, [marshal.dumps(request)], fds)
                return pid
            except OSError:  # it died while parked (a program under our uid may kill it): reap it, take the next
                os.waitpid(pid, 0)
            finally:
                sock.close()

    def sweep(self, uids: list[int]) -> None:
        try:
            self.control.send(marshal.dumps({"uids": uids}))
        except OSError as e:
            raise ZygoteDied(f"the zygote stopped answering: {e}") from None
        while "parked" in self.receive():
            pass

    def close(self) -> None:
        self.control.close()
        for pid, sock in self.parked:
            sock.close()  # the fork sees the end of its socket and exits
        try:
            os.kill(self.pid, signal.SIGKILL)  # its forks die with it or with us (PR_SET_PDEATHSIG)
            os.waitpid(self.pid, 0)
            for pid, _ in self.parked:
                os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        self.parked = []


# ------------------------------------------------------------------------------------------ parent: one sandboxed run

@dataclass
class Process:
    """One process of a test, as the runner asks the zygote for it."""

    role: str  # "python" (fork of the warm zygote), "fresh" (a new interpreter), "native", "judge"
    uid: int
    fds: dict[int, int]  # target descriptor → the runner's descriptor (closed by the runner once spawned)
    limits: dict[str, Any]
    workdir: str
    path: str = ""
    argv: list[str] = field(default_factory=list)
    program: bool = True  # native: the program (an exec failure is its fault) or the compiler (SE)


@dataclass
class Run:
    """What the runner saw of one test: the program's process tree and, for assert tests, the judge."""

    exit_code: int | None = None
    signal: int | None = None
    cpu_s: float = 0.0
    wall_s: float = 0.0
    memory_kb: int = 0
    stdout: bytes = b""
    stderr: bytes = b""
    report: bytes = b""  # the program's report pipe: written by the program, so never trusted for a pass
    verdict: bytes = b""  # the judge's report pipe: the program has no descriptor of it
    setup: dict[str, bytes] = field(default_factory=dict)
    killed: str = ""  # "wall", "cpu", "memory", "output" or "report" when the runner killed the test, and why
    program_ended: bool = False  # the program's process ended by itself (not killed by the runner)

    @staticmethod
    def field_of(data: bytes, key: str) -> str | None:
        """The last `key hex` line, decoded (junk a program wrote is skipped)."""
        value = None
        for line in data.splitlines():
            name, _, text = line.partition(b" ")
            if name == key.encode():
                try:
                    value = bytes.fromhex(text.decode("ascii")).decode("utf-8", "replace")
                except ValueError:
                    continue
        return value

    def report_field(self, key: str) -> str | None:
        return self.field_of(self.report, key)

    def verdict_field(self, key: str) -> str | None:
        return self.field_of(self.verdict, key)

    def setup_error(self) -> str | None:
        """Why a process could not be set up, or None. A set-up pipe that closed without `started` counts too: the
        process died before the program was loaded."""
        for name, data in self.setup.items():
            error = self.field_of(data, "setup_error")
            if error is not None:
                return f"{name}: {error}"
            if not data.startswith(b"started\n"):
                return f"{name}: the process ended before it was set up"
        return None


class Runner:
    """Runs jobs: each test in processes forked from the zygote, watched, measured over their whole process tree,
    then killed to the last descendant, with the scratch and IPC objects they left removed."""

    def __init__(self) -> None:
        self.root = os.geteuid() == 0
        self.uid = int(os.environ.get("CODELHF_PROGRAM_UID", "65534")) if self.root else os.getuid()
        self.judge_uid = int(os.environ.get("CODELHF_JUDGE_UID", str(self.uid + 1))) if self.root else self.uid
        self.tmp_root = os.environ.get("TMPDIR") or "/tmp"
        self.gxx = shutil.which("g++", path=CLEAN_ENV_PATH)
        self.languages = ["python"] + (["cpp"] if self.gxx else [])
        with open(os.path.abspath(__file__), "rb") as source:
            child_side = source.read().split(CHILD_SIDE_END, 1)[0]
        self.source_fd = make_memfd("codelhf-child", child_side)
        self.null_fd = os.open(os.devnull, os.O_RDWR)
        prctl(PR_SET_DUMPABLE, 0)  # as the zygote: not readable by a program under the same uid
        self.subreaper = prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans of a test become our children, to be killed
        self.clock_ticks = os.sysconf("SC_CLK_TCK")
        self.namespaces = private_namespaces() if self.root else []
        self.zygote = Zygote()
        self.nproc_in_use = 0
        self.ipc_before = {o[:2] for o in sysv_ipc_objects()}  # not ours to remove when programs share our uid
        self._sweep([self.uid, self.judge_uid])  # whatever an earlier runner under these uids left

    # -- one job ----------------------------------------------------------------------------------------------
    def run_job(self, job: Job) -> dict:
        if not self.root:
            self.nproc_in_use = count_own_tasks()
        size = len(job.program.encode("utf-8", "surrogatepass"))
        if size > job.limits.program_size_limit_bytes:
            text = f"program too large: {size} bytes, over the limit of {int(job.limits.program_size_limit_bytes)}"
            return {"id": job.id, "compile": {"ok": False, "stderr": text, "wall_s": 0.0},
                    "tests": [ce_result(text) for _ in job.tests]}
        job_dir = tempfile.mkdtemp(prefix="codelhf-", dir=self.tmp_root)
        os.chmod(job_dir, 0o711)  # the program uid may enter (to run the compiled binary), not list
        try:
            return {"id": job.id, **self._run_tests(job, job_dir)}
        except ZygoteDied as e:
            self.zygote.close()
            self.zygote = Zygote()
            return {"id": job.id, "compile": {"ok": True, "stderr": "", "wall_s": 0.0},
                    "tests": [se_result(str(e)) for _ in job.tests]}
        finally:
            remove_tree(job_dir)

    def _run_tests(self, job: Job, job_dir: str) -> dict:
        if job.language == "cpp":
            compiled, binary = self._compile_cpp(job, job_dir)
        else:
            compiled, binary = {"ok": True, "stderr": "", "wall_s": 0.0}, ""
        tests: list[dict] = []
        for i, test in enumerate(job.tests):
            if not compiled["ok"]:
                tests.append(ce_result(compiled["stderr"]))
                continue
            result = self._run_test(job, i, test, job_dir, binary)
            if result["status"] == "CE":  # Python compiles in each test's limits: the first says it for all
                compiled = {"ok": False, "stderr": result["stderr"], "wall_s": result["wall_s"]}
            tests.append(result)
        return {"compile": compiled, "tests": tests}

    def _limits(self, limits: Limits, above_baseline: bool, **overrides: Any) -> dict[str, Any]:
        values = {"time_limit_s": limits.time_limit_s, "memory_bytes": int(limits.memory_limit_mb) << 20,
                  "above_baseline": above_baseline, "file_size_limit_bytes": int(limits.file_size_limit_bytes),
                  "open_files": int(limits.open_files),
                  "max_processes": int(limits.max_processes) + self.nproc_in_use}
        values.update(overrides)
        return values

    def _compile_cpp(self, job: Job, job_dir: str) -> tuple[dict, str]:
        build = os.path.join(job_dir, "build")
        os.mkdir(build, 0o755)
        with open(os.path.join(build, "main.cpp"), "w", encoding="utf-8", errors="surrogatepass") as f:
            f.write(job.program)
        if self.root:
            os.chown(build, self.uid, self.uid)
        binary = os.path.join(build, "main")
        limits = replace(job.limits, time_limit_s=job.limits.compile_time_limit_s,
                         wall_limit_s=job.limits.compile_time_limit_s,
                         memory_limit_mb=max(job.limits.memory_limit_mb, 2048),
                         file_size_limit_bytes=max(job.limits.file_size_limit_bytes, 256 << 20),
                         max_processes=max(job.limits.max_processes, 16), open_files=256)
        argv = [self.gxx, "-O2", "-std=c++17", "-o", binary, "main.cpp"]
        compiler = Process("native", self.uid, {0: make_memfd("stdin", b"")}, self._limits(limits, False), build,
                           self.gxx, argv, program=False)
        run = self.run(compiler, None, limits)
        ok = run.exit_code == 0 and not run.killed and not run.setup_error() and os.path.exists(binary)
        detail = f"\ncompilation stopped at the limit of {job.limits.compile_time_limit_s} s" if run.killed else ""
        compiled = {"ok": ok, "stderr": run.stderr.decode("utf-8", "replace") + detail, "wall_s": run.wall_s}
        if self.root and ok:  # tests may run the binary but not replace it for the next test
            os.chown(build, 0, 0)
            os.chown(binary, 0, 0)
            os.chmod(binary, 0o755)
        return compiled, binary

    def _run_test(self, job: Job, index: int, test: dict, job_dir: str, binary: str) -> dict:
        workdir = os.path.join(job_dir, f"t{index}")
        os.mkdir(workdir, 0o700)
        if self.root:
            os.chown(workdir, self.uid, self.uid)
        try:
            program, judge = self._processes(job, test, workdir, binary)
            run = self.run(program, judge, job.limits)
        finally:
            remove_tree(workdir)
            self.remove_strays()
        return judge_run(run, job)

    def _processes(self, job: Job, test: dict, workdir: str, binary: str) -> tuple[Process, Process | None]:
        """The test's program process and, for an assert test, its judge, with the descriptors each reads."""
        stdin = make_memfd("stdin", test.get("stdin", "").encode("utf-8", "surrogatepass"))
        if job.language != "python":
            return Process("native", self.uid, {0: stdin}, self._limits(job.limits, False), workdir, binary,
                           [binary]), None
        with open(os.path.join(workdir, PROGRAM_FILE), "w", encoding="utf-8", errors="surrogatepass") as f:
            f.write(job.program)  # like a script on disk: __file__ exists, tracebacks show source lines
        spec = {"program": job.program, "mode": job.mode, "fn_name": job.fn_name,
                "test": test if job.mode == "call" else {}}
        fds = {0: stdin, SPEC_FD: make_memfd("spec", marshal.dumps(spec))}
        if not job.python_fork:
            fds[SOURCE_FD] = os.dup(self.source_fd)
        limits = self._limits(job.limits, True)
        program = Process("python" if job.python_fork else "fresh", self.uid, fds, limits, workdir)
        if job.mode != "assert":
            return program, None
        ours, theirs = socket.socketpair()
        program.fds[PEER_FD] = ours.detach()
        judge_spec = {"code": test.get("code", ""), "prelude": job.prelude, "entry_point": job.entry_point}
        judge = Process("judge", self.judge_uid,
                        {0: os.dup(self.null_fd), 1: os.dup(self.null_fd), PEER_FD: theirs.detach(),
                         SPEC_FD: make_memfd("spec", marshal.dumps(judge_spec))},
                        {**limits, "max_processes": JUDGE_PROCESSES + self.nproc_in_use}, "/")
        return program, judge

    # -- one test's processes ---------------------------------------------------------------------------------
    def run(self, program: Process, judge: Process | None, limits: Limits) -> Run:
        """Spawn the judge (if any, and wait until it is set up) and the program; collect their output, enforce the
        limits over every process of the test, kill everything, reap and sum. The judge, when there is one, is the
        process whose end ends the test."""
        run = Run()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        rep_r, rep_w = os.pipe()
        pipes = {out_r: "stdout", err_r: "stderr", rep_r: "report"}
        program.fds.update({1: out_w, 2: err_w, REPORT_FD: rep_w})
        if judge is not None:
            ver_r, ver_w = os.pipe()
            pipes[ver_r] = "verdict"
            judge.fds.update({2: os.dup(err_w), REPORT_FD: ver_w})
        setups: dict[str, int] = {}  # set-up pipes, read once their writers are gone (the judge's: before the program)
        start = time.monotonic()
        deadline = start + limits.wall_limit_s
        pids: dict[str, int] = {}
        pidfds: dict[str, int] = {}
        try:
            # The judge first: once it is set up, nothing the program does can turn the test into SE.
            for name, process in (("judge", judge), ("program", program)):
                if process is None:
                    continue
                if pids and not self._read_setup(run, "judge", setups["judge"], deadline, until_started=True):
                    close_all(process.fds.values())
                    process.fds.clear()
                    break
                setups[name], process.fds[SETUP_FD] = os.pipe()
                run.setup[name] = b""
                pids[name] = self._spawn(process)
                pidfds[name] = os.pidfd_open(pids[name])  # our child, not reaped yet: the pid is its own
            meter = TreeMeter(self, pids, limits)
            main = pidfds.get("judge" if judge is not None else "program")
            exited = "program" in pids and self._watch(run, main, pipes, limits, meter, deadline)
            run.wall_s = time.monotonic() - start  # the program's time, not the clean-up's
            run.program_ended = "program" in pids and (exited if judge is None else readable(pidfds["program"]))
            self._finish(run, pids, pidfds, meter)
            self._drain(run, pipes, limits)
            for name, fd in setups.items():
                self._read_setup(run, name, fd, time.monotonic() + 1.0)
        except BaseException:
            close_all(fd for process in (program, judge) if process for fd in process.fds.values())
            raise
        finally:
            close_all([*pidfds.values(), *pipes, *setups.values()])
        return run

    @staticmethod
    def _read_setup(run: Run, name: str, fd: int, deadline: float, until_started: bool = False) -> bool:
        """Read process `name`'s set-up pipe until its end (or, `until_started`, until it says `started`); whether
        it did say `started`."""
        while not (until_started and run.setup[name].startswith(b"started\n")):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                break
            data = os.read(fd, 4096)
            if not data:
                break
            run.setup[name] = (run.setup[name] + data)[:4096]
        return run.setup[name].startswith(b"started\n")

    def _spawn(self, process: Process) -> int:
        """Hand the process to a parked fork of the zygote; its pid."""
        targets = sorted(process.fds)
        request = {"role": process.role, "uid": process.uid, "targets": targets,
                   "limits": process.limits, "workdir": process.workdir, "path": process.path,
                   "argv": process.argv, "program": process.program}
        try:
            return self.zygote.spawn(request, [process.fds[t] for t in targets])
        finally:
            close_all(process.fds.values())
            process.fds.clear()

    def _watch(self, run: Run, main: int, pipes: dict[int, str], limits: Limits, meter: "TreeMeter",
               deadline: float) -> bool:
        """Collect output until the main process (a pidfd) exits (True) or the test must be killed (False:
        `run.killed` says why)."""
        next_poll = time.monotonic() + POLL_S
        while True:
            now = time.monotonic()
            if now >= deadline:
                run.killed = "wall"
                return False
            ready, _, _ = select.select([*pipes, main], [], [], max(0.0, min(deadline, next_poll) - now))
            for fd in ready:
                if fd != main and not self._read_into(run, fd, pipes, limits):
                    return False
            if main in ready:
                return True
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + POLL_S
                cpu_s, memory_kb = meter.sample()
                if cpu_s > limits.time_limit_s:
                    run.killed = "cpu"
                    return False
                if memory_kb > meter.memory_limit_kb:
                    run.killed = "memory"
                    return False

    def _read_into(self, run: Run, fd: int, pipes: dict[int, str], limits: Limits) -> bool:
        """Read what is there; False when a cap was passed and the test must die now."""
        data = os.read(fd, 1 << 16)
        if not data:
            del pipes[fd]
            os.close(fd)
            return True
        kind = pipes[fd]
        if kind == "stdout":
            room = int(limits.output_limit_bytes) - len(run.stdout)
            run.stdout += data[:max(room, 0)]
            if len(data) > room:
                run.killed = run.killed or "output"
                return False
        elif kind == "stderr":
            run.stderr += data[:max(STDERR_KEEP_BYTES - len(run.stderr), 0)]
        else:
            text = run.report + data if kind == "report" else run.verdict + data
            if len(text) > int(limits.output_limit_bytes) + 4096:
                run.killed = run.killed or "report"
                return False
            if kind == "report":
                run.report = text
            else:
                run.verdict = text
        return True

    def _drain(self, run: Run, pipes: dict[int, str], limits: Limits) -> None:
        """After every writer is dead, read the rest; bounded, in case something escaped and holds a pipe."""
        deadline = time.monotonic() + 1.0
        while pipes and time.monotonic() < deadline:
            ready, _, _ = select.select(list(pipes), [], [], max(0.0, deadline - time.monotonic()))
            for fd in ready:
                if fd in pipes and not self._read_into(run, fd, pipes, limits):
                    break

    def _finish(self, run: Run, pids: dict[str, int], pidfds: dict[str, int], meter: "TreeMeter") -> None:
        """Kill every process of the test, reap them all, and add up what they used."""
        for pidfd in pidfds.values():
            try:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass
        cpu_s, maxrss_kb = 0.0, 0
        for name, pid in pids.items():
            _, status, usage = os.wait4(pid, 0)
            cpu_s += usage.ru_utime + usage.ru_stime
            if name == "program":
                maxrss_kb = usage.ru_maxrss
                if os.WIFSIGNALED(status):
                    run.signal = os.WTERMSIG(status)
                else:
                    run.exit_code = os.WEXITSTATUS(status)
        groups = [kill_group(pid) for pid in pids.values()]  # every group, no short cut: what each process left
        left = any(groups)
        orphans_cpu_s, orphans_maxrss_kb, orphans = self._kill_orphans()
        run.cpu_s = cpu_s + orphans_cpu_s
        run.memory_kb = max(maxrss_kb, orphans_maxrss_kb, meter.peak_memory_kb)
        # Without a subreaper, orphans went to init and only the sweep finds them. A test whose groups are empty
        # and that left no orphan provably started nothing that still lives: the sweep (a fork) is skipped.
        if left or orphans or not self.subreaper or self.ipc_left():
            self._sweep([self.uid, self.judge_uid])

    def _kill_orphans(self) -> tuple[float, int, bool]:
        """Kill and reap every child of ours that belongs to a test (as subreaper we inherit the test's orphans, and
        their orphans in turn); their CPU time and peak memory, and whether there were any."""
        found, cpu_s, maxrss_kb = False, 0.0, 0
        while True:
            children = test_children()
            found = found or bool(children)
            for child in children:
                try:
                    os.kill(child, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            reaped = False
            for child in children:
                try:
                    _, _, usage = os.wait4(child, 0)
                except ChildProcessError:
                    continue
                cpu_s += usage.ru_utime + usage.ru_stime
                maxrss_kb = max(maxrss_kb, usage.ru_maxrss)
                reaped = True
            if not children or not reaped:
                return cpu_s, maxrss_kb, found

    def ipc_left(self) -> bool:
        """Whether the test left System V IPC objects (POSIX queues and shared memory are files: remove_strays)."""
        objects = [o for o in sysv_ipc_objects() if o[:2] not in self.ipc_before]
        return any(self.uid in (o[2], o[3]) for o in objects)

    def _sweep(self, uids: list[int]) -> None:
        """Kill what the program uid(s) left anywhere in our pid namespace and remove their IPC objects. As root a
        helper of each uid does it; otherwise programs share our uid: remove only the IPC objects that appeared
        since we started, and leave the processes to the process groups and the subreaper."""
        if self.root:
            self.zygote.sweep(sorted(set(uids)))
        else:
            remove_sysv_ipc([o for o in sysv_ipc_objects() if o[:2] not in self.ipc_before and o[2] == self.uid])

    def remove_strays(self) -> None:
        """Remove what the program uid left in the shared temp places outside its scratch directory (root only):
        files in /tmp, /var/tmp, POSIX shared memory (/dev/shm) and message queues (/dev/mqueue)."""
        if not self.root:
            return
        for place in {self.tmp_root, "/tmp", "/dev/shm", "/var/tmp", "/dev/mqueue"}:
            try:
                entries = list(os.scandir(place))
            except OSError:
                continue
            for entry in entries:
                try:
                    if entry.stat(follow_symlinks=False).st_uid in (self.uid, self.judge_uid):
                        remove_tree(entry.path)
                except OSError:
                    pass


def close_all(fds: typing.Iterable[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def test_children() -> list[int]:
    """Our children that belong to a test: every test process starts a session of its own, and nothing can come
    back into ours, so the zygote and its parked forks (which are our children too) are the ones in our session."""
    ours, found = os.getsid(0), []
    for pid in child_pids(os.getpid()):
        try:
            if os.getsid(pid) != ours:
                found.append(pid)
        except ProcessLookupError:
            pass
    return found


def readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


def kill_group(group: int) -> bool:
    """SIGKILL a process group; True if it had a member left."""
    try:
        os.killpg(group, signal.SIGKILL)
        return True
    except (ProcessLookupError, PermissionError):
        return False


class TreeMeter:
    """CPU time and memory of all of a test's processes while it runs, from /proc: the program, everything below
    it, the orphans that came to the runner, and (for CPU only) the judge. Memory is the sum of proportional set
    sizes (shared pages split between the processes sharing them), read with the program uid as file-system uid
    so the root runner may read them; where that is refused, resident anonymous and shared memory instead."""

    def __init__(self, runner: Runner, pids: dict[str, int], limits: Limits):
        self.runner = runner
        self.pids = pids
        self.peak_memory_kb = 0
        self.page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
        # a fork of the zygote starts with its pages; the limit is what the program may add, as for RLIMIT_AS
        self.memory_limit_kb = (int(limits.memory_limit_mb) << 10) + runner.zygote.rss_kb

    def processes(self) -> tuple[list[int], list[int]]:
        """(the program's processes, the judge's)."""
        roots = [self.pids["program"]] + [p for p in test_children() if p not in self.pids.values()]
        program, seen = [], set()
        while roots:
            pid = roots.pop()
            if pid in seen:
                continue
            seen.add(pid)
            program.append(pid)
            roots.extend(child_pids(pid))
        return program, [self.pids["judge"]] if "judge" in self.pids else []

    def sample(self) -> tuple[float, int]:
        program, judge = self.processes()
        ticks, resident_kb, largest_kb = 0, 0, 0
        for pid in program + judge:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
            if pid not in judge:
                resident_kb += int(fields[21]) * self.page_kb
                largest_kb = max(largest_kb, int(fields[21]) * self.page_kb)
        # Resident sizes count a page shared by several processes (with each other, with the zygote) once per
        # process: only when that rough sum passes the limit is the exact sum worth a walk of every page table.
        memory_kb = largest_kb
        if resident_kb > self.memory_limit_kb:
            with self.runner_fs_identity():
                memory_kb = sum(process_memory_kb(pid) for pid in program)
        self.peak_memory_kb = max(self.peak_memory_kb, memory_kb)
        return ticks / self.runner.clock_ticks, memory_kb

    def runner_fs_identity(self) -> "FsIdentity":
        return FsIdentity(self.runner.uid if self.runner.root else None)


class FsIdentity:
    """Within the block, file access checks (and /proc's) see the program uid: the runner holds no CAP_SYS_PTRACE,
    and the kernel lets a process read another's memory map only as its owner. (None: we are that uid already.)"""

    def __init__(self, uid: int | None):
        self.uid = uid

    def __enter__(self) -> None:
        if self.uid is not None:
            LIBC.setfsgid(self.uid)
            LIBC.setfsuid(self.uid)

    def __exit__(self, *exc: object) -> None:
        if self.uid is not None:
            LIBC.setfsuid(0)
            LIBC.setfsgid(0)


def process_memory_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return sum(int(fields.get(k, "0 kB").split()[0]) for k in ("RssAnon", "RssShmem"))
    except (OSError, ValueError):
        return 0


# ------------------------------------------------------------------------------------------------------- judging

def ce_result(stderr: str) -> dict:
    return {"status": "CE", "cpu_s": 0.0, "wall_s": 0.0, "memory_kb": 0, "exit_code": None, "signal": None,
            "stdout": "", "stderr": stderr[:STDERR_KEEP_BYTES], "exception": None, "result": None,
            "detail": "compilation failed"}


def se_result(detail: str) -> dict:
    return {**ce_result(""), "status": "SE", "detail": f"the sandbox failed: {detail}"}


def judge_run(run: Run, job: Job) -> dict:
    """One status by precedence SE > CE > TLE > MLE > OLE > RE > OK, with the reason in `detail`.

    OK needs positive proof: for assert tests the judge's `done`, for call tests a returned value, and never an
    exit status alone. Only the set-up pipes, which no program ever holds, can make a test SE."""
    limits = job.limits
    stderr = run.stderr.decode("utf-8", "replace")
    assert_mode = job.mode == "assert"
    # an assert test fails unless its judge says `done`; then the program's own report (it may have died) explains
    failed = run.verdict_field("done") is None if assert_mode else run.exit_code != 0
    exception = run.verdict_field("exception") if assert_mode else None
    if failed and not exception:
        exception = run.report_field("exception")
    compile_error = run.report_field("compile_error")
    exec_error = run.report_field("exec_error")
    setup_error = run.setup_error()
    if setup_error:
        status, detail = "SE", f"the sandbox could not set up the test: {setup_error}"
    elif compile_error is not None:
        status, detail, stderr = "CE", "compilation failed", compile_error
    elif run.killed == "wall":
        status, detail = "TLE", f"killed at the wall limit of {limits.wall_limit_s} s"
    elif run.killed == "cpu" or run.signal == signal.SIGXCPU or run.cpu_s > limits.time_limit_s:
        status, detail = "TLE", (f"CPU time {run.cpu_s:.2f} s of the test's processes together, over the limit "
                                 f"of {limits.time_limit_s} s")
    elif run.killed == "memory":
        status, detail = "MLE", (f"the test's processes together used {run.memory_kb} KiB, over the limit of "
                                 f"{limits.memory_limit_mb} MiB")
    elif exception == "MemoryError" or (failed and "std::bad_alloc" in stderr):
        status, detail = "MLE", "allocation failed at the memory limit"
    elif run.signal == signal.SIGKILL and run.program_ended:
        status, detail = "MLE", "killed by SIGKILL not sent by the runner (the out-of-memory killer)"
    elif failed and run.memory_kb * 1024 >= 0.95 * limits.memory_limit_mb * (1 << 20):
        status, detail = "MLE", f"failed with peak memory {run.memory_kb} KiB at the limit"
    elif run.killed == "output":
        status, detail = "OLE", f"stdout passed {limits.output_limit_bytes} bytes"
    elif run.signal == signal.SIGXFSZ or (failed and "[Errno 27] File too large" in stderr):
        status, detail = "OLE", f"a file passed the limit of {limits.file_size_limit_bytes} bytes"
    elif run.killed == "report" or "over the limit" in (run.verdict_field("bad_answer") or ""):
        status, detail = "OLE", "a returned value larger than the limit (a call's: the output limit)"
    elif exec_error is not None:
        status, detail = "RE", f"the program could not be started: {exec_error}"
    elif assert_mode and failed:
        status, detail = "RE", assert_failure(run, exception)
    elif failed:
        status = "RE"
        detail = (f"killed by signal {signal.Signals(run.signal).name}" if run.signal
                  else f"exit code {run.exit_code}" + (f" ({exception})" if exception else ""))
    elif job.mode == "call" and run.report_field("result") is None:
        status, detail = "RE", "the function never returned a value (the program ended first)"
    else:
        status, detail = "OK", ""
    return {"status": status, "cpu_s": round(run.cpu_s, 4), "wall_s": round(run.wall_s, 4),
            "memory_kb": run.memory_kb, "exit_code": run.exit_code, "signal": run.signal,
            "stdout": run.stdout.decode("utf-8", "replace"), "stderr": stderr, "exception": exception,
            "result": run.report_field("result") if job.mode == "call" else None, "detail": detail,
            "completed": status == "OK"}


def assert_failure(run: Run, exception: str | None) -> str:
    """Why an assert test did not pass, from the judge's report."""
    gone = run.verdict_field("program_gone")
    bad = run.verdict_field("bad_answer")
    if gone is not None:
        how = (f"signal {signal.Signals(run.signal).name}" if run.signal
               else f"exit status {run.exit_code}") if run.program_ended else "it closed the connection"
        return f"the program ended before the test finished ({how})"
    if bad is not None:
        return f"the program's answer was not plain data: {bad}"
    if exception:
        return f"the test raised {exception}"
    return "the judge ended without a verdict (killed)"


# ---------------------------------------------------------------------------------------------------------- main

def take_over_stdio() -> tuple[BinaryIO, BinaryIO]:
    """Move the protocol stream off fds 0/1 (to private, close-on-exec fds) and park 0/1 on /dev/null."""
    proto_in, proto_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    sys.stdout = sys.stderr
    return os.fdopen(proto_in, "rb"), os.fdopen(proto_out, "wb")


def main() -> None:
    if sys.argv[1:] == ["--child"]:
        child_main()
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    stream_in, stream_out = take_over_stdio()
    runner = Runner()
    try:
        write_frame(stream_out, {"ready": True, "protocol": PROTOCOL, "python": platform.python_version(),
                                 "languages": runner.languages, "pid": os.getpid(), "root": runner.root,
                                 "program_uid": runner.uid, "judge_uid": runner.judge_uid,
                                 "subreaper": runner.subreaper, "zygote_pid": runner.zygote.pid,
                                 "namespaces": runner.namespaces})
        while True:
            try:
                raw = read_frame(stream_in)
            except FrameError as e:
                write_frame(stream_out, {"id": None, "error": str(e)})
                continue
            if raw is None:
                return
            try:
                result = runner.run_job(Job.parse(raw, runner.languages))
            except JobError as e:
                result = {"id": raw.get("id"), "error": str(e)}
            except Exception:  # noqa: BLE001  # a runner bug must not take the pool down: say so, and go on
                result = {"id": raw.get("id"), "error": "runner fault:\n" + traceback.format_exc()[-4000:]}
            write_frame(stream_out, result)
    except BrokenPipeError:
        return  # the host went away


if __name__ == "__main__":
    main()
