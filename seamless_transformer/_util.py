"""Small helpers with no dependency beyond the standard library: atomic file writes, quiet unlink,
and the one validator of paths that come from data (index keys, pin names, queue records).
"""

import os
import secrets


def temp_name(path: str) -> str:
    """A sibling temp name for `path` (same directory, so os.replace is atomic)."""
    directory, base = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{base}.tmp-{secrets.token_hex(6)}")


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
