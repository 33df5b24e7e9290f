"""Run one bash transformation in a private workspace.

    execute_bash(tf_dict, storage) ──► workspace (pins) ──► bash -c 'eval "$(< /dev/fd/N)"' (new session)
         │                                                   │ stdout ─► `stdout` stream (live)
         │                                                   │ stderr ─► `stderr` stream (live) + 64 KiB tail
         ◄── BashOutcome(result buffer, leaves, rusage) ◄─── RESULT

The script reaches bash through an unnamed file (fd N, read by bash and closed for the job),
never through argv, so a script of any size runs; ``$0`` and messages are those of ``bash -c``. The job runs in its own process group, so
cancellation and errors on our side reach every process it started: SIGTERM to the group,
SIGKILL after 3 s. If we die instead, even by SIGKILL, `lifeline` stops the group and removes the
workspace; workspaces of dead owners left anyway are removed by the next job. Both pipes are read by one selector
loop, so a chatty job can never block on a full pipe. There is no chdir and no lock: several
jobs may run at once in threads of one process.
"""

import contextlib
import contextvars
import os
import selectors
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from .. import config
from ..checksum import Checksum
from ..errors import CanceledError, TransformationError
from . import lifeline
from . import workspace as ws_mod

TAIL_BYTES = 64 * 1024
TERM_GRACE = 3.0  # seconds between SIGTERM and SIGKILL
POLL_INTERVAL = 0.02
DRAIN_TIMEOUT = 2.0  # after the job exits, how long leftover pipe writers may keep them open
SCRIPT_HEADER = "set -u -e\ntrap 'jobs -p | xargs -r kill 2>/dev/null' EXIT\n"
_result_stream = contextvars.ContextVar("seamless_result_stream", default=None)


@contextlib.contextmanager
def result_streamed_to(stream, tf_dict):
    """Within this block, the bash job of `tf_dict` run in this thread copies its RESULT file, as it
    grows, to the binary `stream` (seamless-run's stdout mode: the code writes the command's stdout
    to RESULT). When the job succeeds, all of RESULT has been written; when it fails, what it wrote
    so far. Other jobs run meanwhile (fingertip recomputations of its inputs) are not streamed."""
    token = _result_stream.set((stream, tf_dict))
    try:
        yield
    finally:
        _result_stream.reset(token)


@dataclass
class BashOutcome:
    result_buffer: bytes | Checksum  # a Checksum: a big bytes RESULT, stored from its file (collect_result)
    extra_buffers: dict = field(default_factory=dict)  # {Checksum: bytes}
    utime: float = 0.0
    stime: float = 0.0
    maxrss_bytes: int | None = None
    wall: float = 0.0
    logs: str = ""


@dataclass
class JobEnv:
    """The execution environment of a job, from the orthogonal ``__env__`` / ``__meta__`` dunders."""

    conda: str | None = None
    docker: str | None = None
    ncores: int | None = None


def job_env(tf_dict: dict, storage) -> JobEnv:
    """Read ``__env__`` (a checksum of the plain env dict, or the dict itself) and ``__meta__``."""
    import json

    env = tf_dict.get("__env__") or {}
    if isinstance(env, str):
        env = json.loads(storage.get_buffer(Checksum(env)))
    docker = env.get("docker") or {}
    meta = tf_dict.get("__meta__") or {}
    return JobEnv(
        conda=env.get("conda_environment"),
        docker=docker.get("name") if isinstance(docker, dict) else docker,
        ncores=meta.get("ncores"),
    )


def code_text(tf_dict: dict, storage) -> str:
    """The bash code: the code pin's buffer, else the ``__code_text__`` dunder when it is present."""
    from ..errors import CacheMissError

    entry = tf_dict.get("code")
    if entry is None:
        raise TransformationError("bash transformation has no code pin")
    try:
        return storage.get_buffer(Checksum(entry[2])).decode("utf-8")
    except CacheMissError:
        if isinstance(tf_dict.get("__code_text__"), str):
            return tf_dict["__code_text__"]
        raise


def conda_lines(name: str) -> str:
    """Lines that activate conda environment `name` (CONDA_ROOT, else `conda info --base`)."""
    root = config.conda_root()
    if not root:
        try:
            proc = subprocess.run(
                ["conda", "info", "--base"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
            )
        except FileNotFoundError:
            proc = None
        if proc is None or proc.returncode != 0 or not proc.stdout.strip():
            raise TransformationError(
                f"conda environment {name!r} requested, but conda is not available (set CONDA_ROOT or put conda on PATH)"
            )
        root = proc.stdout.strip().splitlines()[-1]
    activate = os.path.join(root, "etc", "profile.d", "conda.sh")
    if not os.path.exists(activate):
        raise TransformationError(f"conda environment {name!r} requested, but {activate} does not exist")
    return f"set +u\nsource {shlex.quote(activate)}\nconda activate {shlex.quote(name)}\nset -u\n"


def make_script(code: str, env: JobEnv) -> str:
    """The script run by ``bash -c``: strict mode, kill background jobs on exit, conda, the code."""
    script = SCRIPT_HEADER
    if env.conda:
        script += conda_lines(env.conda)
    return script + code


def prepare_job(tf_dict: dict, storage, workspace: str, env: JobEnv | None = None) -> tuple[str, dict]:
    """Materialize the pins into `workspace`; return (script, pin environment variables).

    `env` is the job's JobEnv when the caller has read it already."""
    if env is None:
        env = job_env(tf_dict, storage)
    code = code_text(tf_dict, storage)
    executables = ws_mod.executable_pins(code, map(ws_mod.file_name, ws_mod.pin_names(tf_dict)))
    pin_env = ws_mod.materialize_pins(tf_dict, storage, workspace, executables=executables)
    if env.ncores is not None:
        pin_env["SEAMLESS_NCORES"] = str(env.ncores)
    return make_script(code, env), pin_env


def script_file(script: str) -> tuple:
    """(file object, fd >= 10) of an unnamed file holding `script`."""
    import fcntl

    handle = tempfile.TemporaryFile()
    fd = fcntl.fcntl(handle.fileno(), fcntl.F_DUPFD_CLOEXEC, 10)  # clear of 0-2, which Popen replaces
    handle.write(script.encode("utf-8", "surrogateescape"))
    handle.flush()
    os.lseek(fd, 0, os.SEEK_SET)
    return handle, fd


def command_line(workspace: str, env: JobEnv, pin_env: dict, container=None, script_fd=None) -> list[str]:
    """The argv of the job: bash reading the script from `script_fd` (the words expand before the
    redirection closes the fd for the job); inside ``docker run -i``, the script file is bash's
    stdin instead (the client forwards it), read the same way, and the job's stdin is /dev/null.
    The script itself is never an argument: any size runs, and ``ps`` does not show it."""
    if not env.docker:
        return ["bash", "-c", f'eval "$(< /dev/fd/{script_fd})" {script_fd}<&-']
    argv = ["docker", "run", "--rm", "-i", "-u", f"{os.getuid()}:{os.getgid()}"]
    if container:
        argv += ["--name", container]
    argv += ["-v", f"{workspace}:{workspace}", "-w", workspace]
    for name in sorted(pin_env):
        argv += ["-e", name]  # the value comes from the docker client's environment
    return argv + [env.docker, "bash", "-c", 'eval "$(< /dev/fd/0)" 0</dev/null']


def execute_bash(tf_dict: dict, storage, *, cancel=None, stdout=None, stderr=None) -> BashOutcome:
    """Run the bash transformation `tf_dict`; see the module docstring.

    `stdout`/`stderr` are binary streams (default: sys.stdout/sys.stderr). A failing job raises
    TransformationError with the attributes ``stderr`` (bytes, the last 64 KiB) and ``logs`` (str).
    """
    out = _binary_stream(stdout, sys.stdout)
    err = _binary_stream(stderr, sys.stderr)
    env = job_env(tf_dict, storage)
    if env.docker and _which("docker") is None:
        raise TransformationError(f"docker image {env.docker!r} requested, but docker is not available")
    output = tf_dict.get("__output__") or ["result", "mixed", None]
    if cancel is not None and cancel.is_set():
        raise CanceledError("Transformation was canceled")
    lifeline.clean_stale_workspaces(_rmtree)
    workspace, lock_fd = lifeline.new_workspace()
    watchdog = script_handle = None
    try:
        script, pin_env = prepare_job(tf_dict, storage, workspace, env)
        container = f"seamless-{os.path.basename(workspace)}" if env.docker else None
        script_handle, script_fd = script_file(script)
        argv = command_line(workspace, env, pin_env, container, script_fd)
        watchdog = lifeline.start_watchdog(workspace)
        job = _Job(argv, {**os.environ, **pin_env}, workspace, out, err, container)
        job.follower = _Follower(os.path.join(workspace, "RESULT"), _stream_for(tf_dict))
        job.run(cancel, script_fd, watchdog)
        if job.exit_status != 0:
            raise _failure(f"command failed with exit status {job.exit_status}", job)
        try:
            result, extra = ws_mod.collect_result(workspace, output[1], storage)
        except TransformationError as exc:
            raise _failure(str(exc), job) from None
        return BashOutcome(result, extra, job.utime, job.stime, job.maxrss, job.wall, job.logs())
    finally:
        if script_handle is not None:
            os.close(script_fd)
            script_handle.close()
        _remove_workspace(workspace, err)
        os.close(lock_fd)
        if watchdog is not None:
            watchdog.disarm()


def _stream_for(tf_dict):
    """The stream this job's RESULT goes to live, or None (see result_streamed_to)."""
    bound = _result_stream.get()
    return bound[0] if bound is not None and bound[1] == tf_dict else None


def _failure(message: str, job) -> TransformationError:
    streamed = getattr(job, "follower", None) is not None and job.follower.stream is not None
    return TransformationError(message, stderr=bytes(job.stderr_tail[-TAIL_BYTES:]), logs=job.logs(),
                               stdout=_unshown_stdout(job.cwd, result_streamed=streamed))


def _unshown_stdout(workspace: str, *, result_streamed: bool = False) -> bytes:
    """What a failed job printed into RESULT (stdout mode) or STDOUT (-cp :B), which no one saw.

    A RESULT that was streamed live (result_streamed_to) has been seen already."""
    for name in (("STDOUT",) if result_streamed else ("RESULT", "STDOUT")):
        path = os.path.join(workspace, name)
        if os.path.isfile(path) and not os.path.islink(path):
            with open(path, "rb") as handle:
                return handle.read()
    return b""


class _Job:
    """One running ``bash -c`` process group, with its output pumped to our streams."""

    def __init__(self, argv, env, cwd, out, err, container=None):
        self.argv, self.env, self.cwd = argv, env, cwd
        self.container = container  # docker container name: killing the client does not stop it
        self.streams = {"stdout": out, "stderr": err}
        self.stderr_paths = _PathRewriter(cwd)  # messages name the workspace's files relatively
        self.stderr_tail = bytearray()
        self.log_tail = bytearray()
        self.exit_status = None
        self.utime = self.stime = self.wall = 0.0
        self.maxrss = None
        self.proc = None
        self.follower = None

    def run(self, cancel, script_fd=None, watchdog=None):
        start = time.monotonic()
        try:
            docker = self.container is not None  # the docker client forwards its stdin: the script
            self.proc = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, stdin=script_fd if docker else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                pass_fds=() if script_fd is None or docker else (script_fd,), preexec_fn=lifeline.die_with_owner(),
            )  # fmt: skip
        except OSError as exc:
            raise TransformationError(f"cannot start {self.argv[0]}: {exc.strerror}") from None
        if watchdog is not None:
            watchdog.arm(self.proc.pid)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.proc.stdout, selectors.EVENT_READ, "stdout")
        self.selector.register(self.proc.stderr, selectors.EVENT_READ, "stderr")
        try:
            try:
                self._wait(cancel)
            except BaseException:
                self._terminate()
                raise
            self.wall = time.monotonic() - start
            self._kill_leftovers()
            self._drain(DRAIN_TIMEOUT)
            self._forward("stderr", b"", final=True)
        finally:
            if self.follower is not None:
                self.follower.close()
            self.selector.close()
            self.proc.stdout.close()
            self.proc.stderr.close()

    def _wait(self, cancel):
        while not self._reap():
            if cancel is not None and cancel.is_set():
                raise CanceledError("Transformation was canceled")
            self._pump(POLL_INTERVAL)

    def _reap(self, block=False) -> bool:
        """Collect the exit status and rusage of bash if it has ended."""
        if self.exit_status is not None:
            return True
        pid, status, usage = os.wait4(self.proc.pid, 0 if block else os.WNOHANG)
        if pid == 0:
            return False
        code = os.waitstatus_to_exitcode(status)
        self.exit_status = code if code >= 0 else 128 - code
        self.proc.returncode = code
        self.utime, self.stime = usage.ru_utime, usage.ru_stime
        self.maxrss = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
        return True

    def _pump(self, timeout):
        """Forward whatever the job wrote; wait at most `timeout` seconds for it."""
        if self.follower is not None:
            self.follower.forward()
        if not self.selector.get_map():
            time.sleep(timeout)
            return
        for key, _ in self.selector.select(timeout):
            chunk = os.read(key.fileobj.fileno(), 65536)
            if not chunk:
                self.selector.unregister(key.fileobj)
                continue
            self._forward(key.data, chunk)

    def _forward(self, name, chunk, final=False):
        if name == "stderr":
            chunk = self.stderr_paths.feed(chunk, final)
        stream = self.streams[name]
        if stream is not None:
            try:
                stream.write(chunk)
                stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                self.streams[name] = None  # the reader went away; keep draining the pipe
        if name == "stderr":
            _append_tail(self.stderr_tail, chunk)
        _append_tail(self.log_tail, chunk)

    def _drain(self, timeout):
        deadline = time.monotonic() + timeout
        while self.selector.get_map() and time.monotonic() < deadline:
            self._pump(POLL_INTERVAL)

    def _group_alive(self) -> bool:
        try:
            os.killpg(self.proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def _signal_group(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _kill_leftovers(self):
        """Nothing the job started may outlive it."""
        if self._group_alive():
            self._signal_group(signal.SIGKILL)

    def _terminate(self):
        """SIGTERM to the process group, SIGKILL after TERM_GRACE seconds; reap bash."""
        self._signal_group(signal.SIGTERM)
        if self.container:
            _docker_kill(self.container)
        deadline = time.monotonic() + TERM_GRACE
        try:
            while time.monotonic() < deadline:
                self._reap()
                if self.exit_status is not None and not self._group_alive():
                    break
                self._pump(POLL_INTERVAL)
        except KeyboardInterrupt:
            pass  # a second interrupt: no more grace
        self._signal_group(signal.SIGKILL)
        if self.exit_status is None:
            self._reap(block=True)
        self._drain(0.5)

    def logs(self) -> str:
        return bytes(self.log_tail[-TAIL_BYTES:]).decode("utf-8", errors="replace")


class _PathRewriter:
    """Rewrites '<workspace>/' to '' in a byte stream, live: only a tail that may be the start of
    the workspace path is held back until the next chunk. A traceback of the job then names
    'script.py', not a temporary directory that is gone by the time it is read."""

    def __init__(self, workspace: str):
        paths = {workspace, os.path.realpath(workspace)}
        self.needles = sorted((os.fsencode(p.rstrip("/") + "/") for p in paths), key=len, reverse=True)
        self.pending = b""

    def feed(self, chunk: bytes, final: bool = False) -> bytes:
        data = self.pending + chunk
        for needle in self.needles:
            data = data.replace(needle, b"")
        keep = 0 if final else max(self._held(data, needle) for needle in self.needles)
        self.pending = data[len(data) - keep:] if keep else b""
        return data[: len(data) - keep]

    @staticmethod
    def _held(data: bytes, needle: bytes) -> int:
        for k in range(min(len(needle) - 1, len(data)), 0, -1):
            if data.endswith(needle[:k]):
                return k
        return 0


class _Follower:
    """Copies a file that the job appends to (RESULT) to a stream, as it grows; no-op without a stream."""

    def __init__(self, path, stream):
        self.path, self.stream = path, stream
        self.handle = None

    def forward(self):
        if self.stream is None:
            return
        if self.handle is None:
            try:
                self.handle = open(self.path, "rb")
            except (FileNotFoundError, IsADirectoryError):
                return
        while chunk := self.handle.read(1 << 16):
            try:
                self.stream.write(chunk)
                self.stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                self.stream = None  # the reader went away
                return

    def close(self):
        self.forward()
        if self.handle is not None:
            self.handle.close()


def _docker_kill(container):
    try:
        subprocess.run(["docker", "kill", container], capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        pass


def _append_tail(tail: bytearray, chunk: bytes):
    tail += chunk
    if len(tail) > 2 * TAIL_BYTES:
        del tail[: len(tail) - TAIL_BYTES]


def _binary_stream(stream, default):
    if stream is not None:
        return stream
    buffer = getattr(default, "buffer", None)
    return buffer if buffer is not None else _TextStream(default)


class _TextStream:
    """Binary writes onto a text stream without a .buffer (e.g. a capturing replacement)."""

    def __init__(self, stream):
        import codecs

        self.stream = stream
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def write(self, data: bytes):
        self.stream.write(self.decoder.decode(data))

    def flush(self):
        self.stream.flush()


def _which(program):
    import shutil

    return shutil.which(program)


def _remove_workspace(workspace, err):
    if config.keep_workspace():
        lifeline.mark_kept(workspace)
        if err is not None:
            try:
                err.write(f"workspace kept: {workspace}\n".encode())
                err.flush()
            except (OSError, ValueError):
                pass
        return
    _rmtree(workspace)


def _rmtree(workspace):
    """rm -rf, also of what the job made read-only."""
    import shutil

    def make_writable(_func, path, _exc):
        parent = os.path.dirname(path)
        os.chmod(parent, 0o700)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)

    try:
        shutil.rmtree(workspace, onerror=make_writable)
    except OSError:
        shutil.rmtree(workspace, ignore_errors=True)
