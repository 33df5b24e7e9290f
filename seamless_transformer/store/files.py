"""A content-addressed buffer directory, compatible with hashserver's layouts.

    prefix layout                                   flat layout (no .HASHSERVER_PREFIX)
    DIR/.HASHSERVER_PREFIX        "1\\n"             DIR/<cs>
    DIR/<cs[:2]>/<cs>             mode 0444          DIR/<cs>.zst | DIR/<cs>.gz
    DIR/<cs[:2]>/<cs>.zst|.gz     (+ <cs>.BUFFERLENGTH, decimal uncompressed length)

Writes go to a temp file "<cs>-<pid>-<random>" next to the target, get mode 0444 and are
hard-linked (or renamed) into place, so a reader never sees a partial buffer and a killed
writer leaves only a temp file, which readers ignore (names containing "-"). The first write of
a process into a directory removes the stale temp files of killed writers there.
Every read is sha256-verified: a corrupt file is not served (a warning is logged) and, in a
writable directory, it is removed so that the next put repairs it.
A directory opened with writable=False refuses every write with PermissionError.
"""

import hashlib
import os

from .._util import remove_stale_temps, unlink_quiet, writer_pid
from ..checksum import Checksum, hash_file, is_hex_checksum
from ..errors import ChecksumMismatchError, SeamlessError
from .._util import lazy_logger

logger = lazy_logger(__name__)

MARKER = ".HASHSERVER_PREFIX"
CHUNK = 1 << 20
_COMPRESSED = (".zst", ".gz")  # COMPRESSION_SUFFIXES, in the order buffer files are looked for


class BufferDir:
    def __init__(self, path, *, writable=True, create=True):
        self.path = os.path.abspath(os.fspath(path))
        self.writable = writable
        self.create = create
        self._prefix_known = False

    def __repr__(self):
        return f"BufferDir({self.path!r}, writable={self.writable})"

    @property
    def layout(self) -> str:
        """"prefix" when the marker exists (or when we will create it on first write), else "flat"."""
        if self._prefix_known:
            return "prefix"
        if os.path.exists(os.path.join(self.path, MARKER)):
            self._prefix_known = True
            return "prefix"
        if self.writable and self.create and not _holds_flat_buffers(self.path):
            return "prefix"
        return "flat"

    def _target(self, cs: str) -> str:
        if self.layout == "prefix":
            return os.path.join(self.path, cs[:2], cs)
        return os.path.join(self.path, cs)

    # ------------------------------------------------------------ reading

    def has(self, cs) -> bool:
        target = self._target(Checksum(cs).hex())
        return any(os.path.exists(target + ext) for ext in ("",) + _COMPRESSED)

    def has_valid(self, cs) -> bool:
        """Whether a stored form of `cs` hashes to `cs` (big files through the stat memo, so an
        unchanged file is not re-read). A corrupt file is not valid and is discarded, as by get()."""
        from .paths import file_checksum

        cs = Checksum(cs)
        target = self._target(cs.hex())
        for ext in ("",) + _COMPRESSED:
            path = target + ext
            if not os.path.exists(path):
                continue
            try:
                if file_checksum(path) == cs:
                    return True
            except SeamlessError:
                pass
            logger.warning("%s: content does not match its checksum; not served", path)
            self._discard_corrupt(path)
        return False

    def file_path(self, cs) -> str | None:
        target = self._target(Checksum(cs).hex())
        return target if os.path.isfile(target) else None

    def get(self, cs) -> bytes | None:
        cs = Checksum(cs).hex()
        target = self._target(cs)
        for ext in ("",) + _COMPRESSED:
            path = target + ext
            try:
                with open(path, "rb") as f:
                    raw = f.read()
            except (FileNotFoundError, NotADirectoryError):
                continue
            data = _decompress(path, raw, ext) if ext else raw
            if hashlib.sha256(data).hexdigest() == cs:
                return data
            logger.warning("%s: content does not match its checksum; not served", path)
            self._discard_corrupt(path)
        return None

    def _discard_corrupt(self, path: str) -> None:
        if self.writable:
            unlink_quiet(path)

    # ------------------------------------------------------------ writing

    def _require_writable(self) -> None:
        if not self.writable:
            raise PermissionError(f"{self.path}: buffer directory is read-only")

    def _ensure_root(self) -> None:
        if not os.path.isdir(self.path):
            if not self.create:
                raise FileNotFoundError(f"{self.path}: buffer directory does not exist")
            os.makedirs(self.path, exist_ok=True)
        if self.layout == "prefix" and not self._prefix_known:
            marker = os.path.join(self.path, MARKER)
            if not os.path.exists(marker):
                _write_once(marker, b"1\n", 0o644)
            self._prefix_known = True

    def _prepare(self, cs: str) -> str:
        """Create the directory, marker and prefix dir as needed; return the target path."""
        self._ensure_root()
        target = self._target(cs)
        parent = os.path.dirname(target)
        _clean_once(parent)
        if parent != self.path and not os.path.isdir(parent):
            try:
                os.mkdir(parent)  # the umask decides who else may write (see the README on sharing)
            except FileExistsError:
                pass
        return target

    def put(self, data, cs=None) -> Checksum:
        self._require_writable()
        actual = Checksum.of(data)
        if cs is not None and Checksum(cs) != actual:
            raise ChecksumMismatchError(f"buffer does not match checksum {Checksum(cs).hex()}")
        return self.put_verified(data, actual)

    def put_verified(self, data, cs: Checksum) -> Checksum:
        """`put` for a buffer whose checksum the caller has just computed (no second hash)."""
        self._require_writable()
        actual = Checksum(cs)
        if self.has(actual):
            return actual
        target = self._prepare(actual.hex())
        tmp = temp_for(target)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            _publish(tmp, target)
        finally:
            unlink_quiet(tmp)
        return actual

    def put_file(self, src_path, cs=None, *, link=False) -> Checksum:
        """Store the content of a file, streamed in chunks; the content is always verified.

        With link=True the file is hard-linked into the store when possible (it keeps its mode).
        """
        self._require_writable()
        expected = Checksum(cs) if cs is not None else None
        if expected is not None and self.has(expected):
            return expected
        if link:
            actual = hash_file(src_path)
            if expected is not None and actual != expected:
                raise ChecksumMismatchError(f"{src_path}: content does not match checksum {expected.hex()}")
            if self.has(actual):
                return actual
            try:
                os.link(src_path, self._prepare(actual.hex()))
                return actual
            except FileExistsError:
                return actual
            except OSError:
                pass  # another filesystem, or links not allowed: copy instead
        return self._copy_in(src_path, expected)

    def _copy_in(self, src_path, expected) -> Checksum:
        if expected is not None:
            staging = self._prepare(expected.hex())
        else:
            self._ensure_root()
            _clean_once(self.path)
            staging = os.path.join(self.path, "incoming")
        tmp = temp_for(staging)
        try:
            hasher = hashlib.sha256()
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out, open(src_path, "rb") as src:
                for chunk in iter(lambda: src.read(CHUNK), b""):
                    hasher.update(chunk)
                    out.write(chunk)
            actual = Checksum(hasher.hexdigest())
            if expected is not None and actual != expected:
                raise ChecksumMismatchError(f"{src_path}: content does not match checksum {expected.hex()}")
            if not self.has(actual):
                _publish(tmp, self._prepare(actual.hex()))
            return actual
        finally:
            unlink_quiet(tmp)


_cleaned: set = set()  # (pid, directory) whose stale temp files this process has removed


def temp_for(target: str) -> str:
    """"<target>-<pid>-<random>": readers ignore it (a "-"), and its writer can be told dead."""
    return f"{target}-{os.getpid()}-{os.urandom(8).hex()}"


def _store_temp_pid(name: str) -> int | None:
    base, sep, _rest = name.partition("-")
    if not sep or not (is_hex_checksum(base) or base == "incoming"):
        return None
    return writer_pid(name, base + "-")


def _clean_once(directory: str) -> None:
    key = (os.getpid(), directory)
    if key not in _cleaned:
        _cleaned.add(key)
        remove_stale_temps(directory, _store_temp_pid)


def _publish(tmp: str, target: str, mode: int = 0o444) -> None:
    """Make a finished temp file `target`, with `mode`; a present target wins."""
    os.chmod(tmp, mode)
    try:
        os.link(tmp, target)
    except FileExistsError:
        pass
    except OSError:
        os.rename(tmp, target)  # no hard links here; same content, so replacing is harmless


def _write_once(path: str, data: bytes, mode: int) -> None:
    tmp = f"{path}-{os.urandom(8).hex()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        _publish(tmp, path, mode)
    finally:
        unlink_quiet(tmp)


def _holds_flat_buffers(path: str) -> bool:
    """Does an unmarked directory already hold buffers named <cs> directly (flat layout)?"""
    try:
        with os.scandir(path) as it:
            return any(is_hex_checksum(entry.name.split(".")[0]) for entry in it)
    except OSError:
        return False


def _buffer_length(path: str) -> int | None:
    base = path.rsplit(".", 1)[0]
    try:
        with open(base + ".BUFFERLENGTH", encoding="ascii") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _decompress(path: str, raw: bytes, ext: str) -> bytes:
    """Decompress a .zst / .gz buffer file; a broken file yields b"" (then fails verification)."""
    length = _buffer_length(path)
    try:
        if ext == ".gz":
            import gzip

            data = gzip.decompress(raw)
        else:
            data = _zstd_decompress(path, raw)
    except SeamlessError:
        raise
    except Exception as exc:  # zstd/gzip raise a variety of errors on damaged input
        logger.warning("%s: cannot decompress (%s)", path, exc)
        return b""
    if length is not None and len(data) != length:
        logger.warning("%s: length %d differs from .BUFFERLENGTH %d", path, len(data), length)
    return data


def _zstd_decompress(path: str, raw: bytes) -> bytes:
    try:
        import zstandard
    except ImportError:
        raise SeamlessError(f"{path}: reading .zst buffers needs the 'zstandard' package (pip install zstandard)") from None
    import io

    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw), read_across_frames=True)
    return reader.read()
