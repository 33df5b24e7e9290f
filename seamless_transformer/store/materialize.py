"""What uploads and downloads share: confirmations, progress bars, verified atomic placement.

    confirm_upload / confirm_download   thresholds SEAMLESS_MAX_{UPLOAD,DOWNLOAD}_{FILES,SIZE}
    progress(total, nbytes)             a tqdm bar on a TTY stderr, else a silent counter
    fetch(cs, source)                   the bytes of a buffer, sha256-verified
    place_file(path, cs, source, ...)   write one file (a short temp name + rename) under an existing-file policy
    place_directory(path, entries, ...) build a temp directory and rename it in, or update an existing
                                        directory file by file; unlisted files are an error unless remove
    parallel_map(func, items)           TRANSFER_THREADS at a time (per directory)
    remove_path(path)                   rm -rf of one path (a symlink itself, not its target)

Policies for an existing file: "repair" (default) keeps a matching file untouched and
replaces a differing one atomically; "skip" never touches an existing file; "verify" fails with
exit 2 on a mismatch. Sidecars are written by the callers, after the content.
"""

import os
import re
import sys

from ..checksum import TRIVIAL_CHECKSUMS, Checksum, checksum_of
from ..errors import ChecksumMismatchError, UsageError

TRANSFER_THREADS = 20
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
          "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)\s*([kKmMgGtT]i?)?[bB]?\s*$")
DEFAULTS = {
    "SEAMLESS_MAX_UPLOAD_FILES": 400,
    "SEAMLESS_MAX_UPLOAD_SIZE": "100 MB",
    "SEAMLESS_MAX_DOWNLOAD_FILES": 2000,
    "SEAMLESS_MAX_DOWNLOAD_SIZE": "500 MB",
}


# ---------------------------------------------------------------- sizes and confirmations


def parse_size(text) -> int:
    """'100 MB' -> 100_000_000 (decimal units; KiB/MiB/... are binary; a bare number is bytes)."""
    match = _SIZE.match(str(text))
    if not match:
        raise UsageError(f"invalid size '{text}'")
    number, unit = match.groups()
    return int(float(number) * _UNITS[(unit or "").lower()])


def format_size(nbytes: int) -> str:
    """A size in decimal units: '532 B', '1.5 kB', '120.0 MB'."""
    if nbytes < 1000:
        return f"{nbytes} B"
    value = float(nbytes)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def _threshold(name: str, kind) -> int:
    from ..config import transfer_limit

    raw = transfer_limit(name) or DEFAULTS[name]
    try:
        return int(raw) if kind is int else parse_size(raw)
    except (ValueError, UsageError):
        raise UsageError(f"{name}: invalid value '{raw}'") from None


def _ask(question: str, default: bool) -> bool:
    """Ask on stderr (stdin must be a TTY; otherwise the default answer is used)."""
    if not sys.stdin or not sys.stdin.isatty():
        return default
    hint = "[Y/n]" if default else "[y/N]"
    sys.stderr.write(f"{question} {hint} ")
    sys.stderr.flush()
    reply = sys.stdin.readline().strip().lower()
    if not reply:
        return default
    return reply in ("y", "yes")


def _confirm(direction: str, nfiles: int, nbytes: int, answer, default: bool, prog: str) -> None:
    files_limit = _threshold(f"SEAMLESS_MAX_{direction.upper()}_FILES", int)
    size_limit = _threshold(f"SEAMLESS_MAX_{direction.upper()}_SIZE", str)
    if nfiles <= files_limit and nbytes <= size_limit:
        return
    what = f"{direction} of {nfiles} files ({format_size(nbytes)})"
    if answer is None:
        answer = _ask(f"{prog}: {direction} {nfiles} files ({format_size(nbytes)})?", default)
    if not answer:
        raise UsageError(f"{what} not confirmed; use -y")


def confirm_upload(nfiles: int, nbytes: int, answer=None, prog="seamless-upload") -> None:
    """Raise UsageError unless an upload above the thresholds is confirmed (default: no)."""
    _confirm("upload", nfiles, nbytes, answer, False, prog)


def confirm_download(nfiles: int, nbytes: int, answer=None, prog="seamless-download") -> None:
    """Raise UsageError if a download above the thresholds is declined (default: yes)."""
    _confirm("download", nfiles, nbytes, answer, True, prog)


# ---------------------------------------------------------------- progress


class _Silent:
    def update(self, n=1):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def progress(total: int, nbytes: int = 0, desc: str | None = None):
    """A progress bar over `total` items, shown only on a TTY stderr for > 1 item or > 1 MB."""
    if not (total > 1 or nbytes > 10**6) or not sys.stderr.isatty():
        return _Silent()
    try:
        from tqdm import tqdm
    except ImportError:
        return _Silent()
    columns, lines = _terminal_size()
    return tqdm(total=total, desc=desc, unit="file", file=sys.stderr, leave=False, ncols=columns, nrows=lines)


def _terminal_size() -> tuple:
    """(columns, lines) of the stderr terminal; 80 x 24 when it says 0 (a fresh pty: tqdm
    would otherwise print nothing at all)."""
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except OSError:
        return 80, 24
    return size.columns or 80, size.lines or 24


def parallel_map(func, items, bar=None) -> list:
    """[func(item)] computed TRANSFER_THREADS at a time; the first exception is re-raised."""
    items = list(items)
    if len(items) < 2:
        results = [func(item) for item in items]
        if bar is not None and results:
            bar.update(len(results))
        return results
    from concurrent.futures import ThreadPoolExecutor

    def work(item):
        result = func(item)
        if bar is not None:
            bar.update()
        return result

    with ThreadPoolExecutor(max_workers=min(TRANSFER_THREADS, len(items))) as pool:
        return list(pool.map(work, items))


# ---------------------------------------------------------------- fetching buffers


def fetch(cs, storage) -> bytes:
    """The buffer `cs` from storage, verified (CacheMissError 'buffer <cs> not available')."""
    cs = Checksum(cs)
    if cs.hex() in TRIVIAL_CHECKSUMS:
        return TRIVIAL_CHECKSUMS[cs.hex()]
    data = storage.get_buffer(cs)
    if checksum_of(data) != cs:
        raise ChecksumMismatchError(f"checksum mismatch for buffer {cs.hex()}")
    return data


def buffer_size(cs, storage) -> int:
    """The size of a stored buffer, as far as it is cheaply known (0 when unknown)."""
    if Checksum(cs).hex() in TRIVIAL_CHECKSUMS:
        return len(TRIVIAL_CHECKSUMS[Checksum(cs).hex()])
    path = storage.buffer_path(cs)
    try:
        return os.path.getsize(path) if path else 0
    except OSError:
        return 0


# ---------------------------------------------------------------- placing files


def tmp_sibling(path: str) -> str:
    """A short temp name in the same directory as X (so rename is atomic), whatever the length of X."""
    from .._util import temp_name

    return temp_name(path.rstrip("/") or path)


def _compress(data: bytes, compression: str | None) -> bytes:
    if compression == "gz":
        import gzip

        return gzip.compress(data, mtime=0)
    if compression == "zst":
        try:
            import zstandard
        except ImportError:
            raise UsageError("--compression zst needs the zstandard package (pip install zstandard)") from None
        return zstandard.ZstdCompressor().compress(data)
    return data


def write_atomic(path: str, data: bytes, compression=None) -> None:
    """Write `data` (compressed if asked) to a temp name, then rename it to `path`."""
    tmp = tmp_sibling(path)
    try:
        with open(tmp, "xb") as f:
            f.write(_compress(data, compression))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        remove_path(tmp)
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = path  # a full disk: name the file it was for
        raise


def remove_path(path: str) -> None:
    """Remove a file, symlink or directory tree at `path`; nothing there is fine."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            import shutil

            shutil.rmtree(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass


def _matches(path: str, cs: Checksum) -> bool:
    from .paths import file_checksum

    try:
        return os.path.isfile(path) and file_checksum(path) == cs
    except UsageError:
        return False


def _materialize(path: str, cs: Checksum, storage, link: str, compression) -> None:
    """Put the content of `cs` at `path` (atomically): copy, or hard/symbolic link to the store."""
    source = storage.buffer_path(cs) if link in ("hardlink", "symlink") and not compression else None
    if source is not None:
        tmp = tmp_sibling(path)
        try:
            if link == "hardlink":
                os.link(source, tmp)
            else:
                os.symlink(os.path.abspath(source), tmp)
            if not _matches(tmp, cs):
                raise ChecksumMismatchError(f"checksum mismatch for buffer {cs.hex()}")
            os.replace(tmp, path)
            return
        except OSError:
            remove_path(tmp)  # another file system: fall back to a copy
        except BaseException:
            remove_path(tmp)
            raise
    from .filecopy import place_verified

    if compression or not place_verified(path, tmp_sibling(path), cs, storage):  # streamed from the store's file
        write_atomic(path, fetch(cs, storage), compression)


def place_file(path: str, cs, storage, *, policy="repair", link="copy", compression=None,
               before_write=None) -> bool:
    """Download buffer `cs` to `path` under `policy`; True if the file was (re)written.
    `before_write()`, if given, is called just before the content changes."""
    from .._util import unpinned

    cs = Checksum(cs)
    if os.path.lexists(path) and not os.path.isdir(path):
        if policy == "skip" or _matches(path, cs):
            return False
        if policy == "verify":
            raise UsageError(f"'{unpinned(path, shown=True)}' differs from its checksum {cs.hex()}")
    elif os.path.isdir(path):
        raise UsageError(f"'{unpinned(path, shown=True)}' is a directory; cannot download a file there")
    if before_write is not None:
        before_write()
    _materialize(path, cs, storage, link, compression)
    return True


def _local_files(top: str) -> dict:
    """{key: relpath} of the files under `top` (key: relpath without .gz/.zst)."""
    from .paths import sidecar_base

    found = {}
    for dirpath, _dirs, files in os.walk(top):
        for name in files:
            rel = os.path.relpath(os.path.join(dirpath, name), top).replace(os.sep, "/")
            found[sidecar_base(rel)] = rel
    return found


def _prune_empty_dirs(top: str) -> None:
    for dirpath, _dirs, _files in os.walk(top, topdown=False):
        if dirpath != top:
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


def place_directory(path: str, entries: dict, storage, *, policy="repair", link="copy",
                    compression=None, remove_unlisted=False, bar=None, before_write=None) -> None:
    """Download {relpath: cs} into directory `path`.
    `before_write()`, if given, is called just before the first change.

    Every relpath must be confined (no absolute path, '..', empty or NUL component, none a
    directory of another) and no symlink of an existing directory may lead outside `path`:
    UsageError before anything is written.
    Every write goes through pinned directories (`_util.pinned_dir`): a symlink swapped in for
    `path` or one of its directories meanwhile is never written through.
    """
    from .._util import check_relpaths, pinned_dir

    what = f"index of '{path}'"
    check_relpaths(entries, what)
    parent, name = os.path.split(os.path.abspath(path))
    with pinned_dir(parent) as pinned_parent:  # the user's choice; pinned, so later swaps do not matter
        here = os.path.join(pinned_parent, name)
        if os.path.islink(here):  # it could lead anywhere: never write through it
            raise UsageError(f"'{path}' is a symbolic link; a directory is downloaded only into a real directory "
                             "(remove the link first)")
        if not os.path.isdir(here):
            if os.path.lexists(here):
                raise UsageError(f"'{path}' exists and is not a directory")
            _place_new_directory(here, entries, storage, link, compression, bar, before_write, what)
            return
        with pinned_dir(here, nofollow_root=True, what=what) as top:
            _update_directory(top, path, entries, storage, policy, link, compression, remove_unlisted, bar,
                              before_write, what)


def _fill(root: str, entries: dict, storage, policy, link, compression, bar, what) -> None:
    """Place every entry under the pinned directory `root`, each through its own pinned directory."""
    import posixpath

    from .._util import pinned_dir

    suffix = "." + compression if compression else ""

    def one(item):
        rel, cs = item
        reldir, name = posixpath.split(rel + suffix)
        with pinned_dir(root, reldir, create=True, what=what) as directory:
            return place_file(os.path.join(directory, name), cs, storage, policy=policy, link=link,
                              compression=compression)

    parallel_map(one, sorted(entries.items()), bar)


def _place_new_directory(here, entries, storage, link, compression, bar, before_write, what) -> None:
    """Build the directory under a temp name next to `here`, then rename it in."""
    from .._util import pinned_dir

    tmp = tmp_sibling(here)
    os.mkdir(tmp)
    try:
        with pinned_dir(tmp, nofollow_root=True, what=what) as top:
            _fill(top, entries, storage, "repair", link, compression, bar, what)
        if before_write is not None:
            before_write()
        os.rename(tmp, here)
    except BaseException:
        remove_path(tmp)
        raise


def _update_directory(top, path, entries, storage, policy, link, compression, remove_unlisted, bar,
                      before_write, what) -> None:
    """Update the existing directory `top` (pinned; `path` is its name for messages) file by file."""
    from .._util import confined_join

    suffix = "." + compression if compression else ""
    for rel in entries:
        confined_join(top, rel + suffix, what)  # refused before anything is written
    unlisted = sorted(rel for key, rel in _local_files(top).items() if key not in entries)
    if unlisted and not remove_unlisted:
        raise UsageError(
            f"'{path}' holds {len(unlisted)} file(s) that are not in its index"
            f" (first: '{unlisted[0]}'); use --dest-rm to remove them"
        )
    if before_write is not None:
        before_write()
    _fill(top, entries, storage, policy, link, compression, bar, what)
    for rel in unlisted:
        _remove_within(top, rel, what)
    _prune_empty_dirs(top)


def _remove_within(top: str, rel: str, what: str) -> None:
    """Remove file `rel` of the pinned directory `top`; never through a symlink swapped in meanwhile."""
    import posixpath

    from .._util import pinned_dir

    reldir, name = posixpath.split(rel)
    try:
        with pinned_dir(top, reldir, what=what) as directory:
            remove_path(os.path.join(directory, name))
    except (OSError, UsageError):
        pass  # gone, or no longer inside: nothing of ours to remove


def swap_in_directory(path: str, entries: dict, storage, *, bar=None) -> None:
    """Replace `path` by a fresh directory built under a temp name (old contents removed)."""
    tmp = tmp_sibling(path)
    os.mkdir(tmp)
    try:
        place_directory(os.path.join(tmp, "d"), entries, storage, bar=bar)
        old = tmp_sibling(path) if os.path.lexists(path) else None
        if old is not None:
            os.rename(path, old)
        os.rename(os.path.join(tmp, "d"), path)
        if old is not None:
            remove_path(old)
    finally:
        remove_path(tmp)
