"""Small helpers with no dependency beyond the standard library: atomic file writes, quiet unlink."""

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
