"""The work of seamless-upload: checksum the targets, find the missing buffers, send them, write sidecars.

    plan_uploads(targets, params) -> Plan     checksums + which buffers the sink lacks
    run_uploads(plan, params)                 buffers (20 at a time), then index buffers, then sidecars

A sink is where buffers go: the active storage, or a --destination buffer directory
(prefix layout if DIR/.HASHSERVER_PREFIX exists, otherwise flat). In a destination, files are
copied, hard-linked or symlinked; a compressed source is stored as it is, as <cs>.gz|.zst plus
<cs>.BUFFERLENGTH (the decimal uncompressed length).
"""

import os
from dataclasses import dataclass, field

from .._util import unlink_quiet
from ..checksum import Checksum
from ..errors import ChecksumMismatchError, SeamlessError, UsageError
from .files import temp_for as _temp_for
from .paths import COMPRESSED_SUFFIXES

_CHUNK = 1 << 20


@dataclass
class Target:
    path: str
    checksum: Checksum
    index: object = None  # DirIndex for a directory


@dataclass
class Plan:
    sink: object
    targets: list = field(default_factory=list)
    items: list = field(default_factory=list)  # [(cs, source path)] the sink lacks
    nbytes: int = 0


class StorageSink:
    """The active storage."""

    def __init__(self):
        from .storage import get_storage

        self.storage = get_storage()

    def present(self, cs) -> bool:
        return self.storage.has_buffer(cs, everywhere=True)

    def missing(self, checksums) -> list:
        return self.storage.missing_buffers(checksums)

    def put_buffer(self, data: bytes, cs) -> None:
        self.storage.put_buffer(data, cs)

    def put_file(self, path: str, cs) -> None:
        from .paths import store_file

        store_file(path, cs, self.storage)


class DestinationSink:
    """A buffer directory given with --destination; `policy` decides about buffers already there."""

    def __init__(self, directory: str, link: str | None, policy: str | None):
        from .files import MARKER, BufferDir

        self.directory = directory
        self.prefix = os.path.exists(os.path.join(directory, MARKER))
        self.link = link or "copy"
        self.policy = policy or "skip"
        self.reader = BufferDir(directory, writable=False)

    def _target(self, cs: Checksum) -> str:
        if self.prefix:
            return os.path.join(self.directory, cs.hex()[:2], cs.hex())
        return os.path.join(self.directory, cs.hex())

    def _valid(self, cs: Checksum) -> bool:
        from .paths import file_checksum

        target = self._target(cs)
        for path in (target, *(target + suffix for suffix in COMPRESSED_SUFFIXES)):
            try:
                if os.path.exists(path) and file_checksum(path) == cs:
                    return True
            except UsageError:
                pass
        return False

    def present(self, cs) -> bool:
        cs = Checksum(cs)
        if not self.reader.has(cs):
            return False
        if self.policy == "skip" or self._valid(cs):
            return True
        if self.policy == "verify":
            raise UsageError(f"{self._target(cs)}: buffer in the destination does not match its checksum")
        return False  # repair: rewrite it


    def missing(self, checksums) -> list:
        return [cs for cs in checksums if not self.present(cs)]
    def _publish(self, tmp: str, target: str, *, chmod=True) -> None:
        """Move a finished temp file into place (a hard link keeps the source's mode)."""
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if chmod:
            os.chmod(tmp, 0o444)
        os.replace(tmp, target)

    def put_buffer(self, data: bytes, cs) -> None:
        target = self._target(Checksum(cs))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        tmp = _temp_for(target)
        try:
            with open(tmp, "xb") as f:
                f.write(data)
            self._publish(tmp, target)
        finally:
            unlink_quiet(tmp)

    def put_file(self, path: str, cs) -> None:
        cs = Checksum(cs)
        target = self._target(cs)
        suffix = next((s for s in COMPRESSED_SUFFIXES if path.endswith(s)), "")
        if suffix:
            length = _canonical_length(path)
            target += suffix
        os.makedirs(os.path.dirname(target), exist_ok=True)
        tmp = _temp_for(target)
        try:
            copied = self._link_or_copy(path, tmp, cs if not suffix else None)
            self._publish(tmp, target, chmod=copied)
        finally:
            unlink_quiet(tmp)
        if suffix:
            self.put_length(cs, length)

    def put_length(self, cs: Checksum, length: int) -> None:
        target = self._target(cs) + ".BUFFERLENGTH"
        tmp = _temp_for(target)
        try:
            with open(tmp, "x", encoding="ascii") as f:
                f.write(f"{length}\n")
            os.replace(tmp, target)
        finally:
            unlink_quiet(tmp)

    def _link_or_copy(self, path: str, tmp: str, cs) -> bool:
        """Link or copy `path` to `tmp`; True if it was copied."""
        if self.link == "symlink":
            os.symlink(os.path.abspath(path), tmp)
            return False
        if self.link == "hardlink":
            try:
                os.link(path, tmp)
                return False
            except OSError:
                pass  # another file system: copy
        import hashlib

        hasher = hashlib.sha256()
        with open(path, "rb") as src, open(tmp, "xb") as out:
            while chunk := src.read(_CHUNK):
                hasher.update(chunk)
                out.write(chunk)
        if cs is not None and hasher.hexdigest() != cs.hex():
            raise ChecksumMismatchError(f"'{path}' changed while it was uploaded")
        return True


def _canonical_length(path: str) -> int:
    """The decompressed length of a .gz / .zst file."""
    from .paths import canonical_chunks

    return sum(len(chunk) for chunk in canonical_chunks(path))


def _incremental_hit(path: str, sink) -> Checksum | None:
    """--incremental: the sidecar's checksum if it is newer than the file and the buffer is there."""
    from .paths import read_checksum_sidecar, sidecar_base

    sidecar = sidecar_base(path) + ".CHECKSUM"
    try:
        if os.stat(sidecar).st_mtime_ns < os.stat(path).st_mtime_ns:
            return None
        cs = read_checksum_sidecar(sidecar)
    except (OSError, UsageError):
        return None
    return cs if sink.present(cs) else None


def plan_uploads(paths, params) -> Plan:
    """Checksum every target and list the buffers the sink does not hold yet."""
    from .paths import directory_index, file_checksum

    sink = DestinationSink(params["destination"], params["link"], params["policy"]) \
        if params["destination"] else StorageSink()
    plan = Plan(sink)
    wanted = {}
    for path in paths:
        if os.path.isdir(path):
            index = directory_index(path)
            plan.targets.append(Target(path, index.checksum, index))
            for key, cs in index.entries.items():
                wanted.setdefault(cs, index.sources[key])
            continue
        cs = _incremental_hit(path, sink) if params["incremental"] else None
        if cs is not None:
            plan.targets.append(Target(path, cs))
            continue
        cs = file_checksum(path)
        plan.targets.append(Target(path, cs))
        wanted.setdefault(cs, path)
    for cs in sink.missing(sorted(wanted, key=lambda cs: cs.hex())):
        plan.items.append((cs, wanted[cs]))
        plan.nbytes += os.path.getsize(wanted[cs])
    return plan


def run_uploads(plan: Plan, params) -> None:
    """Send the missing buffers, then the index buffers, then write every sidecar."""
    from .paths import write_checksum_sidecar, write_index_sidecar
    from .materialize import parallel_map, progress

    sink = plan.sink
    with progress(len(plan.items), plan.nbytes, "upload") as bar:
        parallel_map(lambda item: sink.put_file(item[1], item[0]), plan.items, bar)
    failed = set(sink.missing([cs for cs, _source in plan.items]))
    for cs, source in plan.items:
        if cs in failed:
            raise SeamlessError(f"upload of '{source}' could not be verified")
    for target in plan.targets:
        if target.index is not None:
            if not sink.present(target.checksum):
                sink.put_buffer(target.index.buffer, target.checksum)
            write_index_sidecar(target.path, target.index.buffer)
        else:
            write_checksum_sidecar(target.path, target.checksum)
