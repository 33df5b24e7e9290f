"""Checksums of files and directories, and the sidecar files that carry them.

* A file's checksum is sha256 of its bytes; ``.gz`` / ``.zst`` files are decompressed first.
* A directory's checksum is sha256 of its *index*: the plain serialization of
  ``{posix relpath without .gz/.zst: file checksum}``. The walk does not descend into symlinked
  directories, reads symlinked files, includes hidden files, and drops empty directories.
* ``X.CHECKSUM`` holds ``hex\\n``; ``DIR.INDEX`` holds the index buffer next to ``DIR.CHECKSUM``.

Large unchanged files are not re-read: their checksum is memoized by ``statcache``.
"""

import json
import os
import stat
import time
from contextlib import contextmanager
from .._util import record_class as dataclass

from .._util import atomic_write, check_relpath
from ..checksum import COMPRESSION_SUFFIXES as COMPRESSED_SUFFIXES, Checksum, checksum_of, is_hex_checksum, split_compression
from ..errors import UsageError
from . import statcache

CHUNK_SIZE = 1 << 20
# Below this size, reading and hashing a file costs less than a memo lookup (bench/identity.py).
MEMO_MIN_SIZE = 64 * 1024
# A memo row is written only for files whose ctime is older than one timestamp tick, so a later
# edit within the same tick can never leave a stale row (the "racy clean" problem of git).
_TICK_NS = 50_000_000
_COARSE_TICK_NS = 2_000_000_000  # filesystems with whole-second timestamps

_BATCH_BYTES = 8 << 20  # a thread task hashes files up to this many bytes ...
_BATCH_FILES = 64  # ... or this many files
_ZSTD_INPUT = 128 << 10  # compressed bytes fed at a time: bounds the output of one step

_CONTROL = {c: f"\\x{c:02x}" for c in list(range(32)) + [127]}


@dataclass(frozen=True)
class DirIndex:
    buffer: bytes  # the index: plain JSON {relpath: hex}
    checksum: Checksum  # sha256 of buffer: the directory checksum
    entries: dict  # relpath -> Checksum
    sources: dict  # relpath -> absolute path of the file that was read


def display_path(path) -> str:
    """A path as one printable line: undecodable bytes and control characters escaped."""
    from .._util import unpinned

    text = os.fsencode(unpinned(path, shown=True)).decode("utf-8", "backslashreplace")
    return text.translate(_CONTROL)


def _strip_compression(path: str) -> str:
    return split_compression(path)[0]


def sidecar_base(path) -> str:
    """The name sidecars are built on: trailing '/' and a .gz/.zst suffix removed."""
    path = os.fspath(path)
    return _strip_compression(path.rstrip("/") or path)


def _unreadable(path, exc: OSError) -> UsageError:
    reason = exc.strerror or exc.__class__.__name__
    return UsageError(f"cannot read '{display_path(path)}': {reason}")


def _stat(path) -> os.stat_result:
    try:
        return os.stat(path)
    except OSError as exc:
        raise _unreadable(path, exc) from None


_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
}


def _require_regular(path, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
        raise UsageError(f"'{display_path(path)}' is {kind}; only regular files can be hashed")


def _corrupt(path, exc) -> UsageError:
    return UsageError(f"'{display_path(path)}' is not valid compressed data: {exc}")


def _zstd_chunks(path: str, raw):
    """Decompressed chunks of every frame of a .zst file; a frame cut short is an error
    (zstandard's stream_reader silently accepts truncated input)."""
    try:
        import zstandard
    except ImportError:
        raise UsageError(
            f"cannot read '{display_path(path)}': the zstandard package is required"
            " for .zst files (pip install zstandard)"
        ) from None
    dctx = zstandard.ZstdDecompressor()
    dobj, inside_frame = dctx.decompressobj(), False
    while data := raw.read(_ZSTD_INPUT):
        while data:
            out = dobj.decompress(data)
            inside_frame = True
            if out:
                yield out
            if not dobj.eof:
                break
            data, dobj, inside_frame = dobj.unused_data, dctx.decompressobj(), False
    if inside_frame:
        raise _corrupt(path, "truncated zstd frame")


def _canonical_chunks(path: str, raw):
    """The canonical (decompressed) bytes of an open file, in chunks (memory stays flat).

    Plain files yield views of one reused buffer: use each chunk before asking for the next.
    """
    if path.endswith(".gz"):
        import gzip

        reader = gzip.GzipFile(fileobj=raw, mode="rb")
        while chunk := reader.read(CHUNK_SIZE):
            yield chunk
    elif path.endswith(".zst"):
        yield from _zstd_chunks(path, raw)
    else:
        buf = bytearray(CHUNK_SIZE)
        view = memoryview(buf)
        while n := raw.readinto(buf):
            yield view[:n]


@contextmanager
def _reading(path: str):
    """Turn the errors of reading (and decompressing) `path` into one-line UsageErrors."""
    import zlib

    try:
        yield
    except UsageError:
        raise
    except (EOFError, zlib.error) as exc:
        raise _corrupt(path, exc) from None
    except OSError as exc:
        if exc.errno is None:  # gzip.BadGzipFile and friends
            raise _corrupt(path, exc) from None
        raise _unreadable(path, exc) from None
    except Exception as exc:
        if type(exc).__module__.startswith("zstandard"):
            raise _corrupt(path, exc) from None
        raise


def canonical_chunks(path: str):
    """The canonical (decompressed) bytes of the file at `path`, in chunks; read and
    decompression errors become one-line UsageErrors. Chunks of plain files are views of
    one reused buffer: use each before asking for the next."""
    with _reading(path), open(path, "rb", buffering=0) as raw:
        yield from _canonical_chunks(path, raw)


def _hash_file(path: str, st: os.stat_result) -> str:
    """sha256 hex of the canonical bytes of `path`."""
    import hashlib

    h = hashlib.sha256()
    with _reading(path), open(path, "rb", buffering=0) as raw:
        if st.st_size <= CHUNK_SIZE and not path.endswith(COMPRESSED_SUFFIXES):
            h.update(raw.read())
        else:
            for chunk in _canonical_chunks(path, raw):
                h.update(chunk)
    return h.hexdigest()


def _memo_worthy(st: os.stat_result) -> bool:
    return st.st_size >= MEMO_MIN_SIZE


def _memo_safe(st: os.stat_result, stat_time_ns: int) -> bool:
    """True if any edit after `stat_time_ns` is bound to change ctime (see _TICK_NS)."""
    tick = _COARSE_TICK_NS if st.st_ctime_ns % 1_000_000_000 == 0 else _TICK_NS
    return stat_time_ns - st.st_ctime_ns > tick


def file_checksum(path) -> Checksum:
    """Checksum of a file's canonical bytes (decompressed for .gz/.zst); memoized by stat."""
    path = os.fspath(path)
    stat_time = time.time_ns()
    st = _stat(path)
    _require_regular(path, st)
    if _memo_worthy(st):
        hit = statcache.get_cached_checksum(path, st)
        if hit is not None and is_hex_checksum(hit):
            return Checksum(hit)
    hexvalue = _hash_file(path, st)
    if _memo_worthy(st) and _memo_safe(st, stat_time):
        statcache.put_cached_checksum(path, st, hexvalue)
    return Checksum(hexvalue)


def _walk_files(top: str) -> list:
    """[(relpath, full path, stat)] of every file under `top`, validated (sorted by relpath)."""

    def onerror(exc: OSError):
        raise _unreadable(exc.filename or top, exc)

    found = []
    for dirpath, _dirnames, filenames in os.walk(top, onerror=onerror):
        reldir = os.path.relpath(dirpath, top)
        for name in filenames:
            full = os.path.join(dirpath, name)
            rel = name if reldir == "." else f"{reldir}/{name}"
            try:
                rel.encode("utf-8")
            except UnicodeEncodeError:
                raise UsageError(f"file name is not valid UTF-8: '{display_path(full)}'") from None
            st = _stat(full)
            _require_regular(full, st)
            found.append((rel, full, st))
    found.sort()
    return found


def _compute_threads() -> int:
    from ..config import compute_threads

    return compute_threads()


def _batches(files: list) -> list:
    """Split [(path, stat)] into batches of a few MiB or a few dozen files: a thread task per
    small file costs more than hashing it, while big files each get their own task."""
    batches, current, size = [], [], 0
    for item in files:
        current.append(item)
        size += item[1].st_size + 4096
        if size >= _BATCH_BYTES or len(current) >= _BATCH_FILES:
            batches.append(current)
            current, size = [], 0
    if current:
        batches.append(current)
    return batches


def _hash_many(files: list) -> list:
    """Hex checksums of [(path, stat)], hashed in parallel threads (hashlib releases the GIL)."""
    batches = _batches(files)
    if len(batches) < 2:
        return [_hash_file(path, st) for path, st in files]
    from concurrent.futures import ThreadPoolExecutor

    def work(batch):
        return [_hash_file(path, st) for path, st in batch]

    with ThreadPoolExecutor(max_workers=min(_compute_threads(), len(batches))) as pool:
        return [cs for result in pool.map(work, batches) for cs in result]


def _checksum_files(files: list, stat_time: int) -> dict:
    """{full path: hex} for [(rel, full, st)], using and feeding the stat memo in batches."""
    memo_items = [(full, st) for _rel, full, st in files if _memo_worthy(st)]
    known = statcache.get_cached_checksums(memo_items) if memo_items else {}
    known = {p: h for p, h in known.items() if is_hex_checksum(h)}
    todo = [(full, st) for _rel, full, st in files if full not in known]
    hashed = dict(zip((full for full, _st in todo), _hash_many(todo)))
    statcache.put_cached_checksums(
        [
            (full, st, hashed[full])
            for full, st in todo
            if _memo_worthy(st) and _memo_safe(st, stat_time)
        ]
    )
    known.update(hashed)
    return known


def directory_index(path) -> DirIndex:
    """The index of a directory and its checksum."""
    top = os.fspath(path)
    st = _stat(top)
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"'{display_path(top)}' is not a directory")
    stat_time = time.time_ns()
    files = _walk_files(top)
    checksums = _checksum_files(files, stat_time)
    plain, sources = {}, {}
    for rel, full, _st in files:
        key = _strip_compression(rel)
        hexvalue = checksums[full]
        if key in plain and plain[key] != hexvalue:
            raise UsageError(
                f"'{display_path(sources[key])}' and '{display_path(full)}'"
                f" both map to '{key}' but differ"
            )
        plain[key] = hexvalue
        sources.setdefault(key, os.path.abspath(full))
    text = json.dumps(plain, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    buffer = text.encode("utf-8")
    entries = {key: Checksum(hexvalue) for key, hexvalue in plain.items()}
    return DirIndex(buffer, checksum_of(buffer), entries, sources)


def _read_sidecar_text(path) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise _unreadable(path, exc) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return ""


def _uncommented(text: str) -> str:
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return "\n".join(lines).strip()


def read_checksum_sidecar(sidecar_path) -> Checksum:
    """The checksum in an X.CHECKSUM file ('#' lines and whitespace ignored)."""
    value = _uncommented(_read_sidecar_text(sidecar_path))
    if not is_hex_checksum(value):
        raise UsageError(f"{display_path(sidecar_path)} does not contain a valid checksum")
    return Checksum(value)


def sidecar_too_long(data_path, suffix: str = ".CHECKSUM") -> bool:
    """Whether <base><suffix> would exceed the file-name limit of its directory (NAME_MAX, 255)."""
    base = sidecar_base(data_path)
    try:
        limit = os.pathconf(os.path.dirname(os.path.abspath(base)), "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    return len(os.fsencode(os.path.basename(base) + suffix)) > limit


def require_sidecar_room(data_path) -> None:
    """UsageError (exit 2) if X.CHECKSUM cannot exist next to `data_path` because of its name's length."""
    if sidecar_too_long(data_path):
        name = os.path.basename(sidecar_base(data_path))
        raise UsageError(
            f"output '{display_path(data_path)}' has a name of {len(os.fsencode(name))} bytes: too long for its"
            f" .CHECKSUM sidecar (at most {255 - len('.CHECKSUM')} bytes)"
        )


def write_checksum_sidecar(data_path, cs) -> str:
    """Write <base>.CHECKSUM (base without .gz/.zst) atomically; return its path."""
    sidecar = sidecar_base(data_path) + ".CHECKSUM"
    atomic_write(sidecar, (Checksum(cs).hex() + "\n").encode("ascii"))
    return sidecar


def _valid_index(buffer: bytes) -> bool:
    try:
        index = json.loads(buffer)
    except ValueError:
        return False
    return isinstance(index, dict) and all(is_hex_checksum(v) for v in index.values())


def check_index_keys(index: dict, what: str) -> None:
    """Every key of a directory index is a confined relative path, and no key is a directory of
    another (UsageError naming it otherwise)."""
    from .._util import check_relpaths

    check_relpaths(index, what)


def read_index_sidecar(index_path, checksum_path=None) -> bytes:
    """The normalized index buffer of DIR.INDEX, verified against DIR.CHECKSUM when present.

    Without `checksum_path`, the sibling <base>.CHECKSUM is used if it exists.
    """
    index_path = os.fspath(index_path)
    normalized = (_uncommented(_read_sidecar_text(index_path)) + "\n").encode("utf-8")
    if not _valid_index(normalized):
        raise UsageError(f"{display_path(index_path)} does not contain a valid index")
    check_index_keys(json.loads(normalized), display_path(index_path))
    if checksum_path is None:
        base = index_path[: -len(".INDEX")] if index_path.endswith(".INDEX") else index_path
        checksum_path = base + ".CHECKSUM"
        if not os.path.exists(checksum_path):
            return normalized
    expected = read_checksum_sidecar(checksum_path)
    if checksum_of(normalized) != expected:
        raise UsageError(
            f"{display_path(index_path)} does not match {display_path(checksum_path)}"
        )
    return normalized


def retire_sidecars(data_path, new_cs=None) -> None:
    """Before X's content is replaced: remove X.CHECKSUM unless it already names `new_cs`, and
    X.INDEX with it. A kill between the replacement and the new sidecar then leaves X without a
    sidecar, never X next to a sidecar of its old content."""
    from .._util import unlink_quiet

    base = sidecar_base(data_path)
    try:
        current = read_checksum_sidecar(base + ".CHECKSUM")
    except UsageError:
        current = None
    if new_cs is not None and current == Checksum(new_cs):
        return
    unlink_quiet(base + ".CHECKSUM")
    unlink_quiet(base + ".INDEX")


def write_index_sidecar(dir_path, index_buffer: bytes) -> None:
    """Write DIR.INDEX, then DIR.CHECKSUM (its sha256), each atomically."""
    base = sidecar_base(dir_path)
    atomic_write(base + ".INDEX", bytes(index_buffer))
    atomic_write(base + ".CHECKSUM", (checksum_of(index_buffer).hex() + "\n").encode("ascii"))


def store_file(path: str, cs: Checksum, storage) -> None:
    """Store one file's canonical bytes; compressed files go through a decompressed temp copy."""
    if storage.has_buffer(cs, everywhere=True):
        return
    if not path.endswith(COMPRESSED_SUFFIXES):
        storage.put_file(path, cs)
        return
    import tempfile

    with tempfile.NamedTemporaryFile(prefix="seamless-upload-") as tmp:
        for chunk in canonical_chunks(path):
            tmp.write(chunk)
        tmp.flush()
        storage.put_file(tmp.name, cs)


def upload_path(path, storage) -> Checksum:
    """Store a file, or a directory's files plus its index buffer; return the file / index checksum."""
    path = os.fspath(path)
    if os.path.isdir(path):
        index = directory_index(path)
        stored = set()
        for key, cs in sorted(index.entries.items()):
            if cs not in stored:
                store_file(index.sources[key], cs, storage)
                stored.add(cs)
        storage.put_buffer(index.buffer, index.checksum)
        return index.checksum
    cs = file_checksum(path)
    store_file(path, cs, storage)
    return cs
