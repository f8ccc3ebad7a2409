#!/usr/bin/env python3
"""The codelhf sandbox runner: reads jobs from a byte stream, runs each test in a forked child, answers results.

Standard library only, Python 3.10+, Linux (memfd, pidfd). It lives inside every sandbox container and, for the
`local` backend, in a process on the host. The wire format and the meaning of each field are in PROTOCOL.md beside
this file: keep the two in step.

The file starts with the *child side*: what runs in a test's process once the sandbox is set up. A fresh
interpreter per test (`python_fork: false`) runs only that part, `python3 /proc/self/fd/5 --child` with it on fd 5
and the test on fd 4, so both modes share one `run_python` and differ only in whether the interpreter is warm; the
child side therefore imports nothing that a bare interpreter has not loaded already.
"""

import io
import os
import sys
import types

# Descriptors a Python child sees: the test's stdin, stdout, stderr, the report pipe (`key hex` lines: the
# uncaught exception's class, the call result, a set-up error), and for a fresh interpreter the test spec
# (marshal) and the child side's source.
REPORT_FD, SPEC_FD, SOURCE_FD = 3, 4, 5
PROGRAM_FILE = "main.py"


# ------------------------------------------------------------------------------------------- child: python program

def report(key: str, text: str) -> None:
    """One `key hex` line on the report pipe: hex, so that nothing a program prints or returns breaks the format."""
    try:
        os.write(REPORT_FD, f"{key} {text.encode('utf-8', 'surrogatepass').hex()}\n".encode())
    except OSError:
        pass  # the program closed the pipe: nothing to report


def fresh_std_streams() -> None:
    """Point sys.stdin/stdout/stderr at new objects on fds 0/1/2, as a new interpreter would have them."""
    sys.stdin = sys.__stdin__ = io.TextIOWrapper(open(0, "rb", closefd=False), encoding="utf-8")
    sys.stdout = sys.__stdout__ = io.TextIOWrapper(open(1, "wb", closefd=False), encoding="utf-8")
    sys.stderr = sys.__stderr__ = io.TextIOWrapper(open(2, "wb", closefd=False), encoding="utf-8",
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
        raise NameError(f"the program defines no function or Solution method named {fn_name!r}")
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
        except Exception:  # what CPython does when the final flush fails
            status = 120 if status == 0 else status
    return status


def run_python(code: types.CodeType, mode: str, fn_name: "str | None", test: dict) -> "typing.NoReturn":
    """Child side of a Python test: run the program (as __main__, or imported for `call`), report, exit."""
    sys.argv = [PROGRAM_FILE]
    sys.path[0] = os.getcwd()
    module = types.ModuleType("solution" if mode == "call" else "__main__")
    module.__file__ = os.path.join(os.getcwd(), PROGRAM_FILE)
    sys.modules[module.__name__] = module
    try:
        exec(code, module.__dict__)
        if mode == "call":
            report("result", encode_result(find_entry(module, fn_name)(*test.get("args", []))))
        elif mode == "assert":
            exec(compile(test.get("code", ""), "test.py", "exec"), module.__dict__)
        status = 0
    except SystemExit as e:
        status = exit_status(e)
    except BaseException as e:  # everything a program can raise ends here, as in an interpreter
        report("exception", type(e).__name__)
        e.__traceback__ = e.__traceback__.tb_next if e.__traceback__ else None  # the program's frames, not ours
        sys.excepthook(type(e), e, e.__traceback__)
        status = 1
    os._exit(wait_like_interpreter_exit(status))


def child_main() -> "typing.NoReturn":
    """Entry point of a fresh interpreter: the test spec is on fd 4 (marshal); fds 0-3 are already in place."""
    import marshal

    with os.fdopen(SPEC_FD, "rb") as spec_file:
        spec = marshal.loads(spec_file.read())
    os.close(SOURCE_FD)
    try:
        code = compile(spec["program"], PROGRAM_FILE, "exec")
    except BaseException as e:  # the runner compiled it already; this is only a safety net
        sys.excepthook(type(e), e, None)
        os._exit(1)
    run_python(code, spec["mode"], spec["fn_name"], spec["test"])


if __name__ == "__main__" and sys.argv[1:] == ["--child"]:
    child_main()

# end of the child side: a fresh interpreter runs only the code above this line. The runner's own imports follow.

import fcntl  # noqa: E402
import json  # noqa: E402
import marshal  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import select  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import struct  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import typing  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any, BinaryIO, NoReturn  # noqa: E402

PROTOCOL = 1
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
}
SETUP_FAILED = 125  # exit code of a child that could not be set up (the runner's fault: SE)
CHILD_SIDE_END = b"\n# end of the child side"
CLEAN_ENV_PATH = "/usr/local/bin:/usr/bin:/bin"
WARM_MODULES = (
    "array", "bisect", "collections", "copy", "dataclasses", "datetime", "decimal", "fractions", "functools",
    "heapq", "itertools", "math", "operator", "queue", "random", "re", "statistics", "string", "threading",
    "typing", "atexit", "json",
)


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
        return cls(raw.get("id"), language, mode, program, fn_name, bool(raw.get("python_fork", True)), tests,
                   Limits.parse(raw.get("limits")))


# ---------------------------------------------------------------------------------------------- child: process set-up

PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36
_libc: Any = None


def prctl(option: int, arg: int) -> bool:
    """prctl(2) through ctypes; False where ctypes is missing (minimal Pythons): no subreaper, no death signal."""
    global _libc
    try:
        if _libc is None:
            import ctypes

            _libc = ctypes.CDLL(None, use_errno=True)
        return _libc.prctl(option, arg, 0, 0, 0) == 0
    except (ImportError, OSError, AttributeError):
        return False


@dataclass
class Sandbox:
    """Who runs programs and where: the uid to switch to (root only) and the scratch root."""

    root: bool
    uid: int
    tmp_root: str
    nproc_in_use: int = 0
    """Tasks the uid already has; RLIMIT_NPROC counts them all, so a non-root runner adds them to the cap."""

    def enter(self, limits: Limits, workdir: str, address_space: int, fds: dict[int, int]) -> None:
        """In a fresh child: own session, the given descriptors only, limits, program uid, scratch directory."""
        os.setsid()
        moved = {target: fcntl.fcntl(source, fcntl.F_DUPFD, 64) for target, source in fds.items()}
        for target, source in moved.items():  # moved out of the way first: a source may sit on a target number
            os.dup2(source, target)
        os.closerange(max(fds) + 1, os.sysconf("SC_OPEN_MAX") if os.sysconf("SC_OPEN_MAX") > 0 else 65536)
        for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        cpu = max(1, math.ceil(limits.time_limit_s))
        set_limit(resource.RLIMIT_CPU, cpu, cpu + 1)
        set_limit(resource.RLIMIT_AS, address_space)
        set_limit(resource.RLIMIT_STACK, min(address_space, 256 << 20))
        set_limit(resource.RLIMIT_FSIZE, int(limits.file_size_limit_bytes))
        set_limit(resource.RLIMIT_NOFILE, int(limits.open_files))
        set_limit(resource.RLIMIT_CORE, 0)
        set_limit(resource.RLIMIT_NPROC, int(limits.max_processes) + self.nproc_in_use)
        if self.root:
            os.setgroups([])
            os.setgid(self.uid)
            os.setuid(self.uid)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after setuid, which clears it
        os.chdir(workdir)
        os.environ.clear()
        os.environ.update(program_env(workdir))

    def sweep(self) -> None:
        """Kill every process of the program uid (root only): kill(-1) from a helper that has that uid."""
        if not self.root:
            return
        pid = os.fork()
        if pid == 0:
            try:
                os.setgroups([])
                os.setgid(self.uid)
                os.setuid(self.uid)
                os.kill(-1, signal.SIGKILL)
            except BaseException:
                pass
            os._exit(0)
        os.waitpid(pid, 0)

    def remove_strays(self) -> None:
        """Remove what the program uid left in the shared temp places outside its scratch directory (root only)."""
        if not self.root:
            return
        for place in {self.tmp_root, "/tmp", "/dev/shm", "/var/tmp"}:
            try:
                entries = list(os.scandir(place))
            except OSError:
                continue
            for entry in entries:
                try:
                    if entry.stat(follow_symlinks=False).st_uid == self.uid:
                        remove_tree(entry.path)
                except OSError:
                    pass


def set_limit(kind: int, soft: int, hard: int | None = None) -> None:
    """Lower a limit (never raise the hard limit above what we have, which fails for non-root)."""
    _, current_hard = resource.getrlimit(kind)
    hard = soft if hard is None else hard
    if current_hard != resource.RLIM_INFINITY:
        hard = min(hard, current_hard)
        soft = min(soft, hard)
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


def exec_program(path: str, argv: list[str]) -> NoReturn:
    """Replace the child with a native program; the report pipe closes at exec (only Python reports)."""
    os.set_inheritable(REPORT_FD, False)
    os.execve(path, argv, program_env(os.getcwd()))


def program_env(workdir: str) -> dict[str, str]:
    return {"PATH": CLEAN_ENV_PATH, "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def vm_size() -> int:
    """This process's virtual memory in bytes (the fork baseline for RLIMIT_AS)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


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


# ------------------------------------------------------------------------------------------ parent: one sandboxed run

@dataclass
class Run:
    """What the runner saw of one child process."""

    exit_code: int | None = None
    signal: int | None = None
    cpu_s: float = 0.0
    wall_s: float = 0.0
    memory_kb: int = 0
    stdout: bytes = b""
    stderr: bytes = b""
    report: bytes = b""
    killed: str = ""  # "wall", "output" or "report" when the runner killed the group, and why

    def report_field(self, key: str) -> str | None:
        """The last `key hex` line of the report pipe, decoded (a program could write junk there: it is skipped)."""
        value = None
        for line in self.report.splitlines():
            name, _, data = line.partition(b" ")
            if name == key.encode():
                try:
                    value = bytes.fromhex(data.decode("ascii")).decode("utf-8", "replace")
                except ValueError:
                    continue
        return value


def make_memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, 0)  # no MFD_CLOEXEC: the child dup2s it anyway
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


class Runner:
    """Runs jobs: compiles once, then one sandboxed child per test, and cleans up after each."""

    def __init__(self) -> None:
        root = os.geteuid() == 0
        uid = int(os.environ.get("CODELHF_PROGRAM_UID", "65534")) if root else os.getuid()
        self.sandbox = Sandbox(root=root, uid=uid, tmp_root=os.environ.get("TMPDIR") or "/tmp")
        self.gxx = shutil.which("g++", path=CLEAN_ENV_PATH)
        self.languages = ["python"] + (["cpp"] if self.gxx else [])
        with open(os.path.abspath(__file__), "rb") as source:
            child_side = source.read().split(CHILD_SIDE_END, 1)[0]
        self.source_fd = make_memfd("codelhf-child", child_side)
        # Orphans of a test become our children, so they can be found and killed.
        self.subreaper = prctl(PR_SET_CHILD_SUBREAPER, 1)
        self.sandbox.sweep()  # whatever an earlier runner under this uid left

    # -- one process ------------------------------------------------------------------------------------------
    def run(self, target: Callable[[], None], stdin: bytes, limits: Limits, workdir: str, address_space: int,
            extra_fds: dict[int, int] | None = None, wall_limit_s: float | None = None) -> Run:
        """Fork a child that enters the sandbox and calls `target` (which never returns); watch, kill, reap."""
        stdin_fd = make_memfd("stdin", stdin)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        rep_r, rep_w = os.pipe()
        fds = {0: stdin_fd, 1: out_w, 2: err_w, REPORT_FD: rep_w, **(extra_fds or {})}
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            try:
                self.sandbox.enter(limits, workdir, address_space, fds)
                target()
            except BaseException as e:
                try:
                    os.write(2, f"sandbox set-up failed: {e!r}\n".encode())
                    report("setup_error", repr(e))
                finally:
                    os._exit(SETUP_FAILED)
            os._exit(SETUP_FAILED)
        for fd in (stdin_fd, out_w, err_w, rep_w):
            os.close(fd)
        run, pipes = Run(), {out_r: "stdout", err_r: "stderr", rep_r: "report"}
        exited = False
        try:
            exited = self._watch(pid, run, pipes, limits, start + (wall_limit_s or limits.wall_limit_s))
        finally:
            run.wall_s = time.monotonic() - start  # the program's time, not the clean-up's
            if not exited:
                kill_group(pid)
            _, status, usage = os.wait4(pid, 0)
            self._kill_leftovers(pid)
            self._drain(run, pipes, limits)
        run.cpu_s = usage.ru_utime + usage.ru_stime
        run.memory_kb = usage.ru_maxrss
        if os.WIFSIGNALED(status):
            run.signal = os.WTERMSIG(status)
        else:
            run.exit_code = os.WEXITSTATUS(status)
        return run

    def _watch(self, pid: int, run: Run, pipes: dict[int, str], limits: Limits, deadline: float) -> bool:
        """Collect output until the child exits (True) or must be killed (False: `run.killed` says why)."""
        pidfd = os.pidfd_open(pid)
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    run.killed = "wall"
                    return False
                ready, _, _ = select.select([*pipes, pidfd], [], [], remaining)
                for fd in ready:
                    if fd != pidfd and not self._read_into(run, fd, pipes, limits):
                        return False
                if pidfd in ready:
                    return True
        finally:
            os.close(pidfd)

    def _read_into(self, run: Run, fd: int, pipes: dict[int, str], limits: Limits) -> bool:
        """Read what is there; False when a cap was passed and the group must die now."""
        data = os.read(fd, 1 << 16)
        if not data:
            os.close(fd)
            del pipes[fd]
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
            run.report += data
            if len(run.report) > int(limits.output_limit_bytes) + 4096:
                run.killed = run.killed or "report"
                return False
        return True

    def _drain(self, run: Run, pipes: dict[int, str], limits: Limits) -> None:
        """After every writer is dead, read the rest; bounded, in case something escaped and holds a pipe."""
        deadline = time.monotonic() + 1.0
        while pipes and time.monotonic() < deadline:
            ready, _, _ = select.select(list(pipes), [], [], max(0.0, deadline - time.monotonic()))
            for fd in ready:
                if not self._read_into(run, fd, pipes, limits):
                    break
        for fd in pipes:
            os.close(fd)
        pipes.clear()

    def _kill_leftovers(self, group: int) -> None:
        """After the test's main process is reaped: kill what it started (its group, then every child of ours:
        as subreaper we inherit processes that left the group), and sweep the program uid with kill(-1).

        The sweep costs a fork, so it is skipped when the test provably left nothing: no group member and no
        orphan, while we are the subreaper (without it, orphans go to init and only the sweep finds them)."""
        spawned = kill_group(group)
        spawned = self._kill_children() or spawned
        if spawned or not self.subreaper:
            self.sandbox.sweep()
            self._kill_children()

    def _kill_children(self) -> bool:
        """Kill and reap every child of ours; True if there was any."""
        me, found = os.getpid(), False
        while True:
            children = child_pids(me)
            found = found or bool(children)
            for child in children:
                try:
                    os.kill(child, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            reaped = False
            while True:
                try:
                    pid, _ = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    return found
                if pid == 0:
                    break
                reaped = found = True
            if not children and not reaped:
                return found
            if not reaped:
                time.sleep(0.001)

    # -- one job ----------------------------------------------------------------------------------------------
    def run_job(self, job: Job) -> dict:
        if not self.sandbox.root:
            self.sandbox.nproc_in_use = count_own_tasks()
        job_dir = tempfile.mkdtemp(prefix="codelhf-", dir=self.sandbox.tmp_root)
        os.chmod(job_dir, 0o711)  # the program uid may enter (to run the compiled binary), not list
        try:
            if job.language == "cpp":
                compiled, execute = self._compile_cpp(job, job_dir)
            else:
                compiled, execute = self._compile_python(job)
            if not compiled["ok"]:
                tests = [ce_result(compiled["stderr"]) for _ in job.tests]
            else:
                tests = [self._run_test(job, i, test, job_dir, execute) for i, test in enumerate(job.tests)]
            return {"id": job.id, "compile": compiled, "tests": tests}
        finally:
            remove_tree(job_dir)

    def _compile_python(self, job: Job) -> tuple[dict, Callable[[dict], Callable[[], None]]]:
        start = time.monotonic()
        try:
            code = compile(job.program, PROGRAM_FILE, "exec")
        except (SyntaxError, ValueError, MemoryError, RecursionError, OverflowError) as e:
            text = "".join(traceback.format_exception_only(type(e), e))
            return {"ok": False, "stderr": text[-STDERR_KEEP_BYTES:], "wall_s": time.monotonic() - start}, None
        compiled = {"ok": True, "stderr": "", "wall_s": time.monotonic() - start}
        if job.python_fork:
            return compiled, lambda test: (lambda: (interpreter_signals(), fresh_std_streams(),
                                                    run_python(code, job.mode, job.fn_name, test)))
        python = sys.executable or "python3"
        argv = [python, f"/proc/self/fd/{SOURCE_FD}", "--child"]
        return compiled, lambda test: (lambda: os.execve(python, argv, program_env(os.getcwd())))

    def _compile_cpp(self, job: Job, job_dir: str) -> tuple[dict, Callable[[dict], Callable[[], None]] | None]:
        build = os.path.join(job_dir, "build")
        os.mkdir(build, 0o755)
        with open(os.path.join(build, "main.cpp"), "w", encoding="utf-8", errors="surrogatepass") as f:
            f.write(job.program)
        if self.sandbox.root:
            os.chown(build, self.sandbox.uid, self.sandbox.uid)
        binary = os.path.join(build, "main")
        argv = [self.gxx, "-O2", "-std=c++17", "-o", binary, "main.cpp"]
        limits = Limits(**{**job.limits.__dict__, "time_limit_s": job.limits.compile_time_limit_s,
                           "file_size_limit_bytes": max(job.limits.file_size_limit_bytes, 256 << 20),
                           "max_processes": max(job.limits.max_processes, 16), "open_files": 256})
        run = self.run(lambda: exec_program(self.gxx, argv), b"", limits, build,
                       address_space=max(int(job.limits.memory_limit_mb), 2048) << 20,
                       wall_limit_s=job.limits.compile_time_limit_s)
        ok = run.exit_code == 0 and not run.killed and os.path.exists(binary)
        detail = f"\ncompilation stopped at the limit of {job.limits.compile_time_limit_s} s" if run.killed else ""
        compiled = {"ok": ok, "stderr": run.stderr.decode("utf-8", "replace") + detail, "wall_s": run.wall_s}
        if self.sandbox.root and ok:  # tests may run the binary but not replace it for the next test
            os.chown(build, 0, 0)
            os.chown(binary, 0, 0)
            os.chmod(binary, 0o755)
        return compiled, lambda test: (lambda: exec_program(binary, [binary]))

    def _run_test(self, job: Job, index: int, test: dict, job_dir: str,
                  execute: Callable[[dict], Callable[[], None]]) -> dict:
        workdir = os.path.join(job_dir, f"t{index}")
        os.mkdir(workdir, 0o700)
        if self.sandbox.root:
            os.chown(workdir, self.sandbox.uid, self.sandbox.uid)
        memory = int(job.limits.memory_limit_mb) << 20
        extra_fds: dict[int, int] = {}
        if job.language == "python":
            address_space = vm_size() + memory  # the warm interpreter is already mapped: the limit goes on top
            with open(os.path.join(workdir, PROGRAM_FILE), "w", encoding="utf-8", errors="surrogatepass") as f:
                f.write(job.program)  # like a script on disk: __file__ exists, tracebacks show source lines
            if not job.python_fork:
                spec = {"program": job.program, "mode": job.mode, "fn_name": job.fn_name, "test": test}
                extra_fds = {SPEC_FD: make_memfd("spec", marshal.dumps(spec)), SOURCE_FD: self.source_fd}
        else:
            address_space = memory
        try:
            run = self.run(execute(test), test.get("stdin", "").encode("utf-8", "surrogatepass"), job.limits,
                           workdir, address_space, extra_fds)
        finally:
            if SPEC_FD in extra_fds:
                os.close(extra_fds[SPEC_FD])
            remove_tree(workdir)
            self.sandbox.remove_strays()
        return judge(run, job)


def kill_group(group: int) -> bool:
    """SIGKILL a process group; True if it had a member left."""
    try:
        os.killpg(group, signal.SIGKILL)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def child_pids(pid: int) -> list[int]:
    """Children of `pid`, from /proc (the task `children` files, else a scan of every process's parent)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        found: list[int] = []
        for tid in tasks:
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
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(name))
            except (OSError, ValueError, IndexError):
                pass
    return found


# ------------------------------------------------------------------------------------------------------- judging

def ce_result(stderr: str) -> dict:
    return {"status": "CE", "cpu_s": 0.0, "wall_s": 0.0, "memory_kb": 0, "exit_code": None, "signal": None,
            "stdout": "", "stderr": stderr[:STDERR_KEEP_BYTES], "exception": None, "result": None,
            "detail": "compilation failed"}


def judge(run: Run, job: Job) -> dict:
    """One status by precedence TLE > MLE > OLE > RE > OK, with the reason in `detail`."""
    limits = job.limits
    stderr = run.stderr.decode("utf-8", "replace")
    exception = run.report_field("exception")
    setup_error = run.report_field("setup_error") if run.exit_code == SETUP_FAILED else None
    failed = run.exit_code != 0
    if setup_error:
        status, detail = "SE", f"the sandbox could not set up the test: {setup_error}"
    elif run.killed == "wall":
        status, detail = "TLE", f"killed at the wall limit of {limits.wall_limit_s} s"
    elif run.signal == signal.SIGXCPU:
        status, detail = "TLE", f"stopped by SIGXCPU at the CPU limit of {limits.time_limit_s} s"
    elif run.cpu_s > limits.time_limit_s:
        status, detail = "TLE", f"CPU time {run.cpu_s:.2f} s over the limit of {limits.time_limit_s} s"
    elif exception == "MemoryError" or (failed and "std::bad_alloc" in stderr):
        status, detail = "MLE", "allocation failed at the memory limit"
    elif run.signal == signal.SIGKILL and not run.killed:
        status, detail = "MLE", "killed by SIGKILL not sent by the runner (the out-of-memory killer)"
    elif failed and run.memory_kb * 1024 >= 0.95 * limits.memory_limit_mb * (1 << 20):
        status, detail = "MLE", f"failed with peak memory {run.memory_kb} KiB at the limit"
    elif run.killed == "output":
        status, detail = "OLE", f"stdout passed {limits.output_limit_bytes} bytes"
    elif run.signal == signal.SIGXFSZ or (failed and "[Errno 27] File too large" in stderr):
        status, detail = "OLE", f"a file passed the limit of {limits.file_size_limit_bytes} bytes"
    elif run.killed == "report":
        status, detail = "OLE", "return value larger than the output limit"
    elif failed:
        status = "RE"
        detail = (f"killed by signal {signal.Signals(run.signal).name}" if run.signal
                  else f"exit code {run.exit_code}" + (f" ({exception})" if exception else ""))
    else:
        status, detail = "OK", ""
    return {"status": status, "cpu_s": round(run.cpu_s, 4), "wall_s": round(run.wall_s, 4),
            "memory_kb": run.memory_kb, "exit_code": run.exit_code, "signal": run.signal,
            "stdout": run.stdout.decode("utf-8", "replace"), "stderr": stderr, "exception": exception,
            "result": run.report_field("result") if job.mode == "call" else None, "detail": detail}


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


def warm_up() -> None:
    """Import what programs commonly import, then freeze the heap so forks share it copy-on-write."""
    import gc
    import importlib

    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    gc.freeze()


def main() -> None:
    if sys.argv[1:] == ["--child"]:
        child_main()
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    stream_in, stream_out = take_over_stdio()
    runner = Runner()
    warm_up()
    try:
        write_frame(stream_out, {"ready": True, "protocol": PROTOCOL, "python": platform.python_version(),
                                 "languages": runner.languages, "pid": os.getpid(), "root": runner.sandbox.root,
                                 "program_uid": runner.sandbox.uid, "subreaper": runner.subreaper})
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
            except Exception:  # a runner bug must not take the pool down: say so, and go on
                result = {"id": raw.get("id"), "error": "runner fault:\n" + traceback.format_exc()[-4000:]}
            write_frame(stream_out, result)
    except BrokenPipeError:
        return  # the host went away


if __name__ == "__main__":
    main()
