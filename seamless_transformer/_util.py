"""Small helpers with no dependency beyond the standard library: atomic file writes, quiet unlink,
and the one validator of paths that come from data (index keys, pin names, queue records).
"""

import os
import secrets


TEMP_PREFIX = ".seamless-tmp-"
STALE_SECONDS = 600.0
_cleaned: set = set()  # (pid, directory) already cleaned by this process


def temp_name(path: str) -> str:
    """A temp name in the directory of `path` (so os.replace is atomic), short whatever the
    length of `path`'s own name: ".seamless-tmp-<pid>-<random>". The first call for a
    directory removes the stale temp files of killed writers there (see remove_stale_temps)."""
    directory = os.path.dirname(os.path.abspath(path))
    if (os.getpid(), directory) not in _cleaned:
        _cleaned.add((os.getpid(), directory))
        remove_stale_temps(directory, lambda name: writer_pid(name, TEMP_PREFIX))
    return os.path.join(directory, f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}")


def writer_pid(name: str, prefix: str) -> int | None:
    """The pid in a temp name "<prefix><pid>-<random>", or None if `name` is not one."""
    if not name.startswith(prefix):
        return None
    pid, sep, rand = name[len(prefix):].partition("-")
    if not (sep and pid.isdigit() and rand and all(c in "0123456789abcdef" for c in rand)):
        return None
    return int(pid)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def remove_stale_temps(directory: str, pid_of) -> int:
    """Remove the temp files (and temp directories) of killed writers in `directory`: the names for
    which `pid_of(name)` gives a writer pid, not modified for STALE_SECONDS, whose writer is not
    alive on this host. A live writer's file is never removed. Returns how many were removed;
    errors are ignored."""
    import shutil
    import time

    removed = 0
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return 0
    for entry in entries:
        pid = pid_of(entry.name)
        if pid is None or pid == os.getpid():
            continue
        try:
            fresh = time.time() - entry.stat(follow_symlinks=False).st_mtime < STALE_SECONDS
            if fresh or _pid_alive(pid):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed += 1
        except OSError:
            continue
    return removed


def atomic_write(path: str, data: bytes, mode: int = 0o644) -> None:
    """Write `data` to `path` so that readers see either the old file or the new one.

    The bytes go to a temp file in the same directory, are fsynced, get their mode,
    and are renamed into place. A failure removes the temp file and re-raises.
    """
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def unlink_quiet(path: str) -> None:
    """Remove a file if it can be removed; a file that is gone or protected is left to others."""
    try:
        os.unlink(path)
    except OSError:
        pass


def atomic_write_text(path: str, text: str, mode: int = 0o644) -> None:
    atomic_write(path, text.encode("utf-8"), mode)


def check_relpath(path, what: str = "path") -> str:
    """Validate a relative path that comes from data (an index key, a pin name, a queue target).

    It must be a non-empty str of "/"-separated components, none of them empty, ".", ".." or
    containing NUL, and must not start with "/". Returns `path` unchanged; raises
    UsageError (exit 2) "<what>: unsafe path '<path>' (<reason>)" otherwise.
    """
    reason = _unsafe_reason(path)
    if reason is not None:
        from .errors import UsageError, one_line

        shown = path if isinstance(path, str) else repr(path)
        raise UsageError(one_line(f"{what}: unsafe path {shown!r} ({reason})"))
    return path


def _unsafe_reason(path) -> str | None:
    if not isinstance(path, str) or not path:
        return "empty" if path == "" else "not a string"
    if "\0" in path:
        return "contains NUL"
    if path.startswith("/"):
        return "absolute"
    for part in path.split("/"):
        if not part:
            return "empty component"
        if part in (".", ".."):
            return f"contains {part!r}"
    return None


def confined_join(root: str, path, what: str = "path") -> str:
    """`root`/`path` for a `path` from data (see check_relpath) whose existing directories,
    symlinks resolved, stay inside `root`; the last component itself is never followed by
    our writers (they rename over it). Raises UsageError (exit 2) naming the path otherwise.
    """
    full = os.path.join(root, check_relpath(path, what))
    real_root = os.path.realpath(root)
    parent = os.path.realpath(os.path.dirname(full))
    if parent != real_root and not parent.startswith(real_root.rstrip(os.sep) + os.sep):
        from .errors import UsageError, one_line

        raise UsageError(one_line(f"{what}: unsafe path {path!r} (a symlink leads outside the target)"))
    return full
