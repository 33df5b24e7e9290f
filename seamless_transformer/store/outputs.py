"""What seamless-run leaves in the current directory: futures while it runs, results after.

    future_files(prepared, cwd)   [(path, content)] of the .FUTURE files
    Futures(prepared, cwd)        context manager: <local>.FUTURE = "<tf>.<target>\\n" for every target while
                                  the job runs, touched every 30 s, removed on every exit path; a second
                                  line "# owner <host> <pid> <start>" names the process that will remove it
    future_owner_dead(path)       True if that process is known to be gone (the future is stale at once)
    write_stdout(buffer)          stdout mode: the result bytes, verbatim
    write_stored_stdout(cs, storage)  the same, streamed from the stored buffer file
    write_targets(prepared, result_buffer, storage, ...)
                                  targets mode: X + X.CHECKSUM (file), X/ + X.INDEX + X.CHECKSUM
                                  (directory); atomic replacement; sidecars after the content
    missing_leaves(...)           leaves of a cached result that are no longer available
    leaf_checksums(targets, deep) what writing the targets downloads (files and directory leaves)
    download_size(checksums, storage)  their total size, as far as cheaply known
    usable_result(tf, targets, storage, download=...)
                                  the cached result buffer (stdout mode: its Checksum), or None when it
                                  must be computed again

All local paths are relative to the current directory (also with -w).
"""

import json
import os
import sys
import threading

from ..checksum import Checksum, checksum_of
from .._util import lazy_logger

logger = lazy_logger("seamless_transformer.cli.run")

FUTURE_TOUCH_SECONDS = 30.0


def future_files(prepared, cwd: str, owner: bool = False) -> list:
    """[(<local>.FUTURE path, "<tf>.<target>\\n")] for every target; with `owner`, plus the owner line."""
    tf = prepared.tf_checksum.hex()
    line = _owner_line() if owner else ""
    return [(os.path.join(cwd, t.local + ".FUTURE"), f"{tf}.{t.workspace}\n{line}") for t in prepared.targets]


def _start_time(pid: int) -> str | None:
    """The start time of process `pid` in clock ticks since boot (Linux), None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def _owner_line() -> str:
    import socket

    return f"# owner {socket.gethostname()} {os.getpid()} {_start_time(os.getpid()) or '-'}\n"


def future_owner_dead(path: str) -> bool:
    """True if the .FUTURE at `path` names an owner on this host that no longer runs (by pid and
    start time); False when that cannot be known (no owner line, another host, unreadable)."""
    import socket

    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return False
    words = next((line.split() for line in lines if line.startswith("# owner ")), None)
    if words is None or len(words) != 5 or words[2] != socket.gethostname() or not words[3].isdigit():
        return False
    pid = int(words[3])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    return words[4] != "-" and _start_time(pid) not in (None, words[4])


class Futures:
    """The .FUTURE files of a running job."""

    def __init__(self, prepared, cwd: str, interval: float = FUTURE_TOUCH_SECONDS):
        self.files = future_files(prepared, cwd, owner=True)
        self.cwd = cwd
        self.interval = interval
        self._stop = threading.Event()
        self._thread = None
        self._written: list = []

    def __enter__(self):
        from .._util import atomic_write, pinned_dir
        from .paths import require_sidecar_room

        for path, _content in self.files:
            require_sidecar_room(path[: -len(".FUTURE")])  # refused before the job runs
        try:
            for path, content in self.files:
                reldir, name = os.path.split(os.path.relpath(path, self.cwd))
                with pinned_dir(self.cwd, reldir, create=True, what="result target") as directory:
                    atomic_write(os.path.join(directory, name), content.encode())  # no symlink swapped in
                self._written.append(path)
        except BaseException:
            self._remove()
            raise
        if self._written:
            self._thread = threading.Thread(target=self._touch_loop, name="seamless-futures", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._remove()
        return False

    def _touch_loop(self):
        while not self._stop.wait(self.interval):
            for path in self._written:
                try:
                    os.utime(path)
                except OSError:
                    pass

    def _remove(self):
        from .._util import unlink_quiet

        for path in self._written:
            unlink_quiet(path)
        self._written = []


def write_stdout(buffer: bytes) -> None:
    out = sys.stdout.buffer
    out.write(buffer)
    out.flush()


def write_stored_stdout(cs, storage) -> None:
    """The stored buffer `cs` onto stdout, verified, streamed from its file: memory stays flat
    whatever its size. A buffer without a matching uncompressed file here (compressed, on a
    server, or damaged) is read whole and verified (CacheMissError if it is not available)."""
    from .filecopy import stream_verified
    from .materialize import fetch

    path = storage.buffer_path(cs)
    try:
        if path is not None and stream_verified(path, sys.stdout.buffer, cs):
            return
    except FileNotFoundError:
        pass  # the buffer file went away meanwhile
    write_stdout(fetch(cs, storage))


# ---------------------------------------------------------------- targets


def _plan(prepared, deep: dict) -> list:
    """[(target, "file", cs) | (target, "directory", {rel: cs}) | (target, None, None)]."""
    return plan_targets(prepared.targets, deep)


def plan_targets(targets, deep: dict) -> list:
    """_plan for a list of Targets."""
    plan = []
    for target in targets:
        key = target.workspace
        if key in deep:
            plan.append((target, "file", Checksum(deep[key])))
            continue
        prefix = key + "/"
        entries = {k[len(prefix):]: Checksum(v) for k, v in deep.items() if k.startswith(prefix)}
        plan.append((target, "directory", entries) if entries else (target, None, None))
    return plan


def parse_deep(result_buffer: bytes) -> dict:
    return json.loads(result_buffer)


def missing_leaves(prepared, deep: dict, storage) -> bool:
    """True if a leaf that would be downloaded is not available or corrupt (the cached result cannot be used)."""
    return any(not storage.has_valid_buffer(cs) for cs in leaf_checksums(prepared.targets, deep))


def leaf_checksums(targets, deep: dict) -> list:
    """The Checksums that writing these targets downloads (files and directory leaves)."""
    found = []
    for _target, kind, what in plan_targets(targets, deep):
        found.extend([what] if kind == "file" else list((what or {}).values()))
    return found


def download_size(checksums, storage) -> int:
    """Total size in bytes of these stored buffers, as far as cheaply known."""
    from .materialize import buffer_size

    return sum(buffer_size(cs, storage) for cs in checksums)


def usable_result(tf, targets, storage, *, download: bool):
    """The cached result buffer of `tf`, or None when it must be computed again: no result, its
    buffer gone or corrupt, or (with `download`) a leaf that writing `targets` needs is gone or
    corrupt. One rule for seamless-run and the queue. Without `targets` (stdout mode) the buffer
    is only verified, not loaded: its Checksum is returned (write_stored_stdout streams it)."""
    from ..errors import CacheMissError

    result = storage.get_result(tf)
    if result is None:
        return None
    if not targets:
        if storage.has_valid_buffer(result):  # a corrupt file is discarded
            return Checksum(result)
        logger.info("result %s is no longer available; recomputing", Checksum(result).hex())
        return None
    try:
        buffer = storage.get_buffer(result)
    except CacheMissError:
        logger.info("result %s is no longer available; recomputing", result.hex())
        return None
    if targets and download:
        try:
            missing = any(not storage.has_valid_buffer(cs) for cs in leaf_checksums(targets, parse_deep(buffer)))
        except (ValueError, AttributeError, TypeError):
            missing = True
        if missing:
            logger.info("a file of result %s is no longer available; recomputing", result.hex())
            return None
    return buffer


def _sizes(plan, storage) -> tuple:
    checksums = [cs for _target, kind, what in plan for cs in ([what] if kind == "file" else (what or {}).values())]
    return len(checksums), download_size(checksums, storage)


def write_targets(prepared, result_buffer: bytes, storage, *, cwd: str, download: bool, answer=None) -> None:
    """Write every target and its sidecars. No result key -> warning."""
    from .._util import pinned_dir
    from ..celltypes import serialize

    from .paths import require_sidecar_room

    plan = _plan(prepared, parse_deep(result_buffer))
    for target, kind, _what in plan:
        if kind is not None:
            require_sidecar_room(os.path.join(cwd, target.local))  # before anything is written
    if download:
        from .materialize import confirm_download

        nfiles, nbytes = _sizes(plan, storage)
        confirm_download(nfiles, nbytes, answer, prog="seamless-run")
    for target, kind, what in plan:
        if kind is None:
            logger.warning("no result for '%s'", target.local)
            continue
        reldir, name = os.path.split(target.local)
        with pinned_dir(cwd, reldir, create=True, what=f"result target '{target.local}'") as directory:
            local = os.path.join(directory, name)  # no symlink swapped in meanwhile is written through
            if kind == "file":
                _write_file(local, what, storage, download)
            else:
                index = serialize({rel: cs.hex() for rel, cs in what.items()}, "plain")
                storage.put_buffer(index)  # the directory can be downloaded and used as input later
                _write_directory(local, what, index, storage, download)


def _write_file(local: str, cs: Checksum, storage, download: bool) -> None:
    from .._util import unlink_quiet
    from .paths import retire_sidecars, write_checksum_sidecar
    from .filecopy import place_verified
    from .materialize import fetch, remove_path, tmp_sibling, write_atomic

    unlink_quiet(local + ".INDEX")
    retire_sidecars(local, cs)  # the old sidecar goes before the content changes
    if download:
        if os.path.isdir(local) and not os.path.islink(local):
            remove_path(local)
        if not place_verified(local, tmp_sibling(local), cs, storage):  # streamed from the store's file
            write_atomic(local, fetch(cs, storage))
    elif os.path.lexists(local):
        remove_path(local)
    write_checksum_sidecar(local, cs)


def _write_directory(local: str, entries: dict, index: bytes, storage, download: bool) -> None:
    from .paths import retire_sidecars, write_index_sidecar
    from .materialize import progress, remove_path, swap_in_directory

    retire_sidecars(local, checksum_of(index))  # the old sidecars go before the content changes
    if download:
        if os.path.lexists(local) and not os.path.isdir(local):
            remove_path(local)
        with progress(len(entries), desc=os.path.basename(local)) as bar:
            swap_in_directory(local, entries, storage, bar=bar)
    elif os.path.lexists(local):
        remove_path(local)
    write_index_sidecar(local, index)
