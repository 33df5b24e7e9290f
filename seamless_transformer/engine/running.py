"""Which transformations this host is running, so that `seamless-cancel` can reach them.

    $XDG_RUNTIME_DIR/seamless-<uid>/running/               (else under the cache:
    ${XDG_CACHE_HOME:-$HOME/.cache}/seamless/seamless-<uid>/running/)
        <tf>/                      one directory per running transformation checksum
            <host>-<pid>           one entry per process running it: "<pid> <process start time>\\n"
            CANCEL                 written by seamless-cancel: the entry names to cancel, one a line
                                   (an empty CANCEL cancels every entry)

The directory seamless-<uid> is private: created 0700, and used only while lstat says it is a
real directory (not a symlink) owned by this user and closed to others. Otherwise nothing is
written or read there (a warning says that seamless-cancel cannot reach this process's jobs), so
another local user can neither redirect the entries nor plant a CANCEL file. A shared temporary
directory is never used.

A process registers a transformation with `registered(tf, on_cancel)` (a context manager).
One poller thread per process checks every POLL_SECONDS whether a CANCEL file names one of its
entries; if so it removes the entry and calls `on_cancel()`. Entries are removed when the
context exits and, for anything left behind, at interpreter exit.

The entry file itself is written by the poller, once a transformation has run for
DEFER_SECONDS: most transformations finish long before anyone could cancel them, and
writing and removing an entry for each would cost more than running them (a directory, a
file and a process start time per job). A job becomes cancelable within
DEFER_SECONDS + POLL_SECONDS of its start.

`cancel_running(tf)` is the other side: it drops the entries of dead processes, writes CANCEL
for the live ones, waits (≤ 5 s) until their entries are gone and removes CANCEL again. When
it finds no entry, it first waits out the deferral (≤ DEFER_SECONDS + 2 × POLL_SECONDS), so a
job that started just before is not missed.
"""

import atexit
import logging
import os
import socket
import stat
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

from .._util import unlink_quiet
from ..checksum import Checksum

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.25
DEFER_SECONDS = 0.2
CANCEL_WAIT_SECONDS = 5.0
CANCEL_FILE = "CANCEL"

_lock = threading.Lock()
_registered: dict = {}  # tf hex -> {"count", "callbacks", "written" (entry on disk), "since" (monotonic)}
_poller = {"thread": None, "pid": None}
_atexit_installed = False


def registry_root() -> str:
    """The directory holding one subdirectory per running transformation."""
    from ..config import runtime_dir

    return os.path.join(runtime_dir(), f"seamless-{os.getuid()}", "running")


def _private(path: str, *, create: bool) -> None:
    """Make sure `path` is a real directory of this user, closed to others (PermissionError if not;
    FileNotFoundError if it does not exist and `create` is false)."""
    if create:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        raise PermissionError(f"{path} is not a private directory of this user")


def checked_root(*, create: bool) -> str:
    """registry_root(), after checking (and with `create`, making) its private directories."""
    root = registry_root()
    private = os.path.dirname(root)
    if create:
        os.makedirs(os.path.dirname(private), exist_ok=True)
    _private(private, create=create)
    _private(root, create=create)
    return root


def entry_name(pid=None) -> str:
    return f"{socket.gethostname()}-{os.getpid() if pid is None else pid}"


_own_start = {}


def _start_time(pid: int) -> str:
    if pid == os.getpid() and pid in _own_start:
        return _own_start[pid]
    try:
        import psutil

        value = repr(psutil.Process(pid).create_time())
        if pid == os.getpid():
            _own_start[pid] = value
        return value
    except Exception:  # noqa: BLE001 - the start time only guards against pid reuse
        return "?"


def _tf_dir(tf) -> str:
    return os.path.join(registry_root(), Checksum(tf).hex())


def _rmdir(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError:
        pass


# ---------------------------------------------------------------- the running process's side


def _write_entry(tf_hex: str, attempts: int = 100) -> None:
    directory = os.path.join(checked_root(create=True), tf_hex)
    pid = os.getpid()
    from .._util import atomic_write  # a reader never sees a half-written entry

    for attempt in range(attempts):
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            atomic_write(os.path.join(directory, entry_name()), f"{pid} {_start_time(pid)}\n".encode(), 0o600)
            return
        # another process of the same tf removed the empty directory between our mkdir and our
        # write (FileNotFoundError), or inside makedirs, between its mkdir and its isdir check
        except (FileNotFoundError, FileExistsError):
            if attempt == attempts - 1:  # make it again
                raise


def _remove_entry(tf_hex: str) -> None:
    directory = _tf_dir(tf_hex)
    unlink_quiet(os.path.join(directory, entry_name()))
    _rmdir(directory)


def _cancel_requested(tf_hex: str) -> bool:
    path = os.path.join(_tf_dir(tf_hex), CANCEL_FILE)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            names = f.read().split()
    except OSError:
        return False
    return not names or entry_name() in names


def _write_due_entries() -> None:
    """Write the entries of registrations that have run for DEFER_SECONDS."""
    now = time.monotonic()
    with _lock:
        due = [(tf_hex, reg) for tf_hex, reg in _registered.items()
               if not reg["written"] and now - reg["since"] >= DEFER_SECONDS]
    for tf_hex, registration in due:
        try:
            _write_entry(tf_hex)
        except OSError as exc:  # an unusable registry only costs cancelability
            _warn_once(f"seamless-cancel cannot reach this process's jobs: {exc}")
            continue
        with _lock:
            registration["written"] = True
            gone = _registered.get(tf_hex) is not registration
        if gone:  # finished while its entry was being written
            _remove_entry(tf_hex)


_warned: set = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        logger.warning("%s", message)


def _poll_once() -> None:
    _write_due_entries()
    with _lock:
        watched = [tf_hex for tf_hex, reg in _registered.items() if reg["written"]]
    for tf_hex in watched:
        if not _cancel_requested(tf_hex):
            continue
        with _lock:
            registration = _registered.pop(tf_hex, None)
        if registration is None:
            continue
        _remove_entry(tf_hex)
        for callback in registration["callbacks"]:
            try:
                callback()
            except Exception:  # noqa: BLE001 - one failing callback must not stop the poller
                logger.debug("cancel callback failed", exc_info=True)


def _poll_loop() -> None:
    while True:
        time.sleep(POLL_SECONDS)
        with _lock:
            if not _registered or _poller["pid"] != os.getpid():
                _poller["thread"] = None
                return
        _poll_once()


def _ensure_poller() -> None:
    """Start the poller thread of this process (under _lock)."""
    thread = _poller["thread"]
    if thread is not None and thread.is_alive() and _poller["pid"] == os.getpid():
        return
    thread = threading.Thread(target=_poll_loop, name="seamless-cancel-poller", daemon=True)
    _poller.update(thread=thread, pid=os.getpid())
    thread.start()


def _cleanup_at_exit() -> None:
    with _lock:
        leftover = list(_registered)
        _registered.clear()
    for tf_hex in leftover:
        _remove_entry(tf_hex)


@contextmanager
def registered(tf, on_cancel):
    """Announce that this process runs `tf`; `on_cancel()` is called if seamless-cancel asks."""
    global _atexit_installed
    tf_hex = Checksum(tf).hex()
    with _lock:
        registration = _registered.setdefault(
            tf_hex, {"count": 0, "callbacks": [], "written": False, "since": time.monotonic()}
        )
        registration["count"] += 1
        registration["callbacks"].append(on_cancel)
        if not _atexit_installed:
            atexit.register(_cleanup_at_exit)
            _atexit_installed = True
        _ensure_poller()
    try:
        yield
    finally:
        _unregister(tf_hex, on_cancel, registration)


def _unregister(tf_hex: str, on_cancel, registration: dict) -> None:
    with _lock:
        if _registered.get(tf_hex) is not registration:
            return  # already canceled (and removed) by the poller
        registration["count"] -= 1
        if on_cancel in registration["callbacks"]:
            registration["callbacks"].remove(on_cancel)
        if registration["count"] > 0:
            return
        del _registered[tf_hex]
        written = registration["written"]
    if written:
        _remove_entry(tf_hex)


def _reset() -> None:
    with _lock:
        _registered.clear()


# ---------------------------------------------------------------- the seamless-cancel side


@dataclass(frozen=True)
class Entry:
    name: str  # "<host>-<pid>"
    host: str
    pid: int
    path: str


def _parse_entry(directory: str, name: str) -> Entry | None:
    host, sep, pid = name.rpartition("-")
    if not sep or not pid.isdigit():
        return None
    return Entry(name, host, int(pid), os.path.join(directory, name))


def _is_alive(entry: Entry) -> bool:
    if entry.host != socket.gethostname():
        return True  # cannot check another host's processes: assume alive
    try:
        with open(entry.path, encoding="ascii", errors="replace") as f:
            recorded = f.read().split()
    except OSError:
        return False
    try:
        os.kill(entry.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _same_start(recorded[1] if len(recorded) > 1 else "?", _start_time(entry.pid))


def _same_start(recorded: str, current: str) -> bool:
    """Is the process with this pid the one that wrote the entry (not a reused pid)?"""
    try:
        return abs(float(recorded) - float(current)) < 1.0
    except ValueError:
        return True  # a start time is unknown: trust the pid


def live_entries(tf) -> list:
    """The processes registered as running `tf`; entries of dead processes are removed."""
    directory = _tf_dir(tf)
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    live = []
    for name in names:
        entry = _parse_entry(directory, name)
        if entry is None:
            continue
        if _is_alive(entry):
            live.append(entry)
        else:
            unlink_quiet(entry.path)
    if not live:
        unlink_quiet(os.path.join(directory, CANCEL_FILE))
        _rmdir(directory)
    return live


def cancel_running(tf, timeout: float = CANCEL_WAIT_SECONDS) -> list:
    """Ask every live process running `tf` to cancel it; wait ≤ timeout for them.

    Returns [(pid, stopped: bool)] in entry order (empty if nothing was running, or if the
    registry is not a private directory of this user: then a warning says so).
    """
    try:
        checked_root(create=False)
    except FileNotFoundError:
        pass
    except OSError as exc:
        _warn_once(f"cannot use the registry of running transformations: {exc}")
        return []
    entries = live_entries(tf)
    # A job younger than the deferral has no entry yet: give it the time to write one, so
    # that every job started before this call is seen.
    settle = time.monotonic() + DEFER_SECONDS + 2 * POLL_SECONDS
    while not entries and time.monotonic() < settle:
        time.sleep(0.05)
        entries = live_entries(tf)
    if not entries:
        return []
    directory = _tf_dir(tf)
    from .._util import atomic_write

    atomic_write(os.path.join(directory, CANCEL_FILE), "".join(e.name + "\n" for e in entries).encode())
    deadline = time.monotonic() + timeout
    pending = list(entries)
    while pending and time.monotonic() < deadline:
        time.sleep(0.05)
        pending = [e for e in pending if os.path.exists(e.path) and _is_alive(e)]
    unlink_quiet(os.path.join(directory, CANCEL_FILE))
    _rmdir(directory)
    return [(e.pid, e not in pending) for e in entries]
