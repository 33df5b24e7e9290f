"""A bash job dies with the process that owns it, and leaves no workspace behind.

    owner (us) ──pipe──► watchdog (bash, own session)      EOF without "done": the owner died,
       │                     │                             so TERM the job's group, KILL it
       │ fork+exec           ▼                             after 3 s, remove the workspace
       └──────────► bash job (own session = process group; PR_SET_PDEATHSIG SIGKILL)

* `start_watchdog(workspace)` starts the watchdog before the job; `Watchdog.arm(pgid)` hands it
  the job's process group; `Watchdog.disarm()` ends it once the job is over and its workspace is
  gone. The watchdog ignores SIGINT/SIGHUP and lives in a session of its own, so a Ctrl-C or a
  kill of our whole process group reaches it only as the EOF of its pipe.
* `die_with_owner()` is the job's preexec: the kernel SIGKILLs bash when the thread that started
  it ends, which covers the moment between the fork and `arm` (bash has started nothing yet).
  If the owner died before that, the child exits at once.
* `new_workspace()` makes the job's directory and holds an exclusive flock on it while the owner
  lives. `clean_stale_workspaces()` removes the workspaces whose lock is free (their owner is
  dead) and that are not kept (``SEAMLESS_KEEP_WORKSPACE=1`` marks them with ``.seamless-kept``).
"""

import fcntl
import os
import subprocess
import tempfile
import time

PREFIX = "seamless-bash-"
KEPT_MARKER = ".seamless-kept"
STALE_AFTER = 10.0  # seconds: a younger workspace may not have been locked yet
PR_SET_PDEATHSIG = 1

WATCHDOG = r"""
trap '' INT HUP TERM
IFS= read -r pgid || exit 0
while IFS= read -r message; do [ "$message" = done ] && exit 0; done
kill -TERM -- "-$pgid" 2>/dev/null
for _ in $(seq 30); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.1; done
kill -KILL -- "-$pgid" 2>/dev/null
[ "${SEAMLESS_KEEP_WORKSPACE:-}" = 1 ] && exit 0
chmod -R u+rwx -- "$1" 2>/dev/null
rm -rf -- "$1"
"""


class Watchdog:
    def __init__(self, proc, pipe_fd):
        self.proc, self.fd = proc, pipe_fd

    def arm(self, pgid: int) -> None:
        self._send(f"{pgid}\n")

    def disarm(self) -> None:
        """The job is over: let the watchdog go without touching anything."""
        self._send("done\n")
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def _send(self, text: str) -> None:
        if self.fd is None:
            return
        try:
            os.write(self.fd, text.encode())
        except OSError:
            pass  # the watchdog is gone: the job is still ours to stop


def start_watchdog(workspace: str) -> Watchdog | None:
    """Start the watchdog of the job that will run in `workspace` (None if bash cannot start)."""
    read_end, write_end = os.pipe()  # both close-on-exec: only the watchdog gets the read end
    try:
        proc = subprocess.Popen(
            ["bash", "-c", WATCHDOG, "seamless-watchdog", workspace], stdin=read_end,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    except OSError:
        os.close(write_end)
        return None
    finally:
        os.close(read_end)
    return Watchdog(proc, write_end)


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
