"""The Checksum type: a SHA-256 digest, shown as 64 lowercase hex digits."""

import hashlib
import re

_HEX64 = re.compile(r"[0-9a-fA-F]{64}\Z")

# A file whose name ends so is checksummed by its decompressed bytes.
COMPRESSION_SUFFIXES = (".gz", ".zst")

# Buffers that resolve without any storage.
TRIVIAL_BUFFERS = (b"", b"{}", b"{}\n", b"[]", b"[]\n")


def is_hex_checksum(value) -> bool:
    return isinstance(value, str) and _HEX64.match(value) is not None


class Checksum:
    """A SHA-256 checksum. Built from a 64-hex str, 32 raw bytes, or another Checksum."""

    __slots__ = ("_hex",)

    def __new__(cls, value=None):
        if type(value) is cls:  # immutable: the same object will do
            return value
        return object.__new__(cls)

    def __init__(self, value):
        if value is self:
            return
        if isinstance(value, Checksum):
            hexvalue = value._hex
        elif isinstance(value, str):
            if not _HEX64.match(value):
                raise ValueError(f"Not a checksum (64 hex digits expected): {value!r}")
            hexvalue = value.lower()
        elif isinstance(value, (bytes, bytearray)):
            if len(value) != 32:
                raise ValueError(f"Not a checksum (32 bytes expected, got {len(value)})")
            hexvalue = bytes(value).hex()
        else:
            raise ValueError(f"Not a checksum: {type(value).__name__}")
        object.__setattr__(self, "_hex", hexvalue)

    def __setattr__(self, name, value):
        raise AttributeError("Checksum is immutable")

    @classmethod
    def of(cls, buffer: bytes) -> "Checksum":
        """The checksum of a buffer."""
        checksum = object.__new__(cls)
        object.__setattr__(checksum, "_hex", hashlib.sha256(buffer).hexdigest())  # 64 lowercase hex digits
        return checksum

    def hex(self) -> str:
        return self._hex

    def digest(self) -> bytes:
        return bytes.fromhex(self._hex)

    @property
    def value(self) -> str:
        return self._hex

    def __str__(self):
        return self._hex

    def __repr__(self):
        return f"Checksum('{self._hex}')"

    def __eq__(self, other):
        if isinstance(other, Checksum):
            return self._hex == other._hex
        if isinstance(other, str):
            return self._hex == other.lower()
        if isinstance(other, (bytes, bytearray)) and len(other) == 32:
            return self._hex == bytes(other).hex()
        return NotImplemented

    def __hash__(self):
        return hash(self._hex)

    def __reduce__(self):
        return (Checksum, (self._hex,))


def checksum_of(buffer: bytes) -> Checksum:
    return Checksum.of(buffer)


TRIVIAL_CHECKSUMS = {checksum_of(b).hex(): b for b in TRIVIAL_BUFFERS}


def split_compression(name: str) -> tuple[str, str]:
    """('a.npy.zst') -> ('a.npy', '.zst'); a name without a compression suffix (or that is
    nothing but one) gets ('name', '')."""
    for suffix in COMPRESSION_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], suffix
    return name, ""


def hash_file(path) -> Checksum:
    """The checksum of a file's bytes as they are (no decompression), read in 1 MiB chunks.
    Raises OSError if the file cannot be read."""
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            hasher.update(chunk)
    return Checksum(hasher.digest())
