"""A bash job dies with the process that owns it, and leaves no workspace behind.

    owner (us) ──pipe──► lifeline (one bash per owner process, own session)
       │                     │  "w|k ID WORKSPACE" / "g ID PGID" / "- ID": a job starts, runs, is over
       │ fork+exec           ▼  EOF (the owner died): TERM every job's group, KILL them after 3 s,
       └──────────► bash job    remove their workspaces
                    (own session = process group; PR_SET_PDEATHSIG SIGKILL)

* `start_watchdog(workspace)` registers the job's workspace with the owner's lifeline (started on
  first use, and again in a forked child or when it has gone); `Watchdog.arm(pgid)` hands it the
  job's process group; `Watchdog.disarm()` unregisters the job once it is over and its workspace
  is gone. One lifeline serves every job of a process, so a queue server or a worker pays one
  process start, not one per job ("k": the workspace is to be kept, SEAMLESS_KEEP_WORKSPACE=1
  when the job started). The lifeline ignores SIGINT/SIGHUP/SIGTERM and lives in a
  session of its own, so a Ctrl-C or a kill of our whole process group reaches it only as the
  EOF of its pipe. A workspace registered before its job was armed is removed too.
* `die_with_owner()` is the job's preexec: the kernel SIGKILLs bash when the thread that started
  it ends, which covers the moment between the fork and `arm` (bash has started nothing yet).
  If the owner died before that, the child exits at once.
* `new_workspace()` makes the job's directory and holds an exclusive flock on it while the owner
  lives. `clean_stale_workspaces()` removes the workspaces whose lock is free (their owner is
  dead) and that are not kept (``SEAMLESS_KEEP_WORKSPACE=1`` marks them with ``.seamless-kept``).
"""

import fcntl
import itertools
import os
import subprocess
import tempfile
import threading
import time

PREFIX = "seamless-bash-"
KEPT_MARKER = ".seamless-kept"
STALE_AFTER = 10.0  # seconds: a younger workspace may not have been locked yet
PR_SET_PDEATHSIG = 1

LIFELINE = r"""
trap '' INT HUP TERM
declare -A groups=() spaces=()
while IFS=' ' read -r op id arg; do
    case $op in
        w) printf -v "spaces[$id]" '%b' "$arg" ;;
        k) ;;
        g) groups[$id]=$arg ;;
        -) unset 'groups[$id]' 'spaces[$id]' ;;
    esac
done
[ ${#groups[@]} -eq 0 ] && [ ${#spaces[@]} -eq 0 ] && exit 0
for pgid in "${groups[@]}"; do kill -TERM -- "-$pgid" 2>/dev/null; done
for _ in $(seq 30); do
    alive=
    for pgid in "${groups[@]}"; do kill -0 -- "-$pgid" 2>/dev/null && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.1
done
for pgid in "${groups[@]}"; do kill -KILL -- "-$pgid" 2>/dev/null; done
for ws in "${spaces[@]}"; do chmod -R u+rwx -- "$ws" 2>/dev/null; rm -rf -- "$ws"; done
"""


class _Lifeline:
    """The owner process's lifeline: one bash process reading job registrations from a pipe."""

    def __init__(self, proc, pipe_fd):
        self.proc, self.fd = proc, pipe_fd
        self.ids = itertools.count(1)

    def send(self, line: str) -> bool:
        """Write one line; False if the lifeline is gone."""
        data = line.encode("utf-8", "surrogateescape")
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except OSError:
            return False
        return True


_lock = threading.Lock()  # guards _current and serializes the lines written to the pipe
_current: _Lifeline | None = None


def _start_lifeline() -> _Lifeline | None:
    read_end, write_end = os.pipe()  # both close-on-exec: only the lifeline gets the read end
    try:
        proc = subprocess.Popen(
            ["bash", "-c", LIFELINE, "seamless-lifeline"], stdin=read_end,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    except OSError:
        os.close(write_end)
        return None
    finally:
        os.close(read_end)
    return _Lifeline(proc, write_end)


def _forget_after_fork() -> None:
    """A forked child has its own jobs: it must not hold the parent's pipe open (the parent's
    death would go unnoticed while the child lives), and starts a lifeline of its own."""
    global _current, _lock
    _lock = threading.Lock()
    if _current is not None:
        try:
            os.close(_current.fd)
        except OSError:
            pass
        _current = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


class Watchdog:
    """One job's registration with the lifeline."""

    def __init__(self, lifeline: _Lifeline, job_id: int):
        self.lifeline, self.id = lifeline, job_id

    def arm(self, pgid: int) -> None:
        self._send(f"g {self.id} {pgid}\n")

    def disarm(self) -> None:
        """The job is over (its workspace is gone): the lifeline forgets it."""
        self._send(f"- {self.id}\n")
        self.lifeline = None

    def _send(self, line: str) -> None:
        if self.lifeline is None:
            return
        with _lock:
            self.lifeline.send(line)  # a lifeline that is gone: the job is still ours to stop


def start_watchdog(workspace: str) -> Watchdog | None:
    """Register the job that will run in `workspace` with this process's lifeline, starting the
    lifeline if there is none (None if bash cannot start)."""
    global _current
    from ..config import keep_workspace

    op = "k" if keep_workspace() else "w"  # k: the workspace is kept (SEAMLESS_KEEP_WORKSPACE=1)
    encoded = workspace.replace("\\", "\\\\").replace("\n", "\\n")  # one line; the lifeline decodes it
    with _lock:
        for _attempt in range(2):
            if _current is None or _current.proc.poll() is not None:
                _current = _start_lifeline()
                if _current is None:
                    return None
            job_id = next(_current.ids)
            if _current.send(f"{op} {job_id} {encoded}\n"):
                return Watchdog(_current, job_id)
            _current = None  # it died: start another
    return None


def die_with_owner():
    """A preexec_fn: SIGKILL this child when its parent thread ends (Linux); exit if it has already."""
    owner = os.getpid()
    prctl = _prctl()

    def preexec():
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
        if os.getppid() != owner:
            os._exit(137)

    return preexec


def _prctl():
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None  # not Linux: the watchdog alone stops the job


# ---------------------------------------------------------------- workspaces


def new_workspace() -> tuple[str, int]:
    """(path, lock fd): a fresh workspace, locked while this process holds the fd."""
    path = tempfile.mkdtemp(prefix=PREFIX)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return path, fd


def mark_kept(workspace: str) -> None:
    try:
        open(os.path.join(workspace, KEPT_MARKER), "x").close()
    except OSError:
        pass


def clean_stale_workspaces(remove) -> None:
    """Remove (with `remove(path)`) our workspaces in the temp dir whose owner is dead."""
    top = tempfile.gettempdir()
    try:
        entries = [e for e in os.scandir(top) if e.name.startswith(PREFIX)]
    except OSError:
        return
    now = time.time()
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not entry.is_dir(follow_symlinks=False) or st.st_uid != os.geteuid() or now - st.st_mtime < STALE_AFTER:
            continue
        if os.path.lexists(os.path.join(entry.path, KEPT_MARKER)) or not _lock_free(entry.path):
            continue
        remove(entry.path)


def _lock_free(path: str) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
