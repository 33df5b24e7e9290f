"""Values to bytes and back, per celltype.

The byte layout of every celltype is identity: a checksum is the sha256 of these bytes,
so each rule here is exact and must not drift.

numpy is optional. It is imported only when a buffer or a value needs it; a value can only
be a numpy object if numpy is already imported, so detection never imports it.
"""

import json
import math
import struct
import sys

from .checksum import Checksum

TEXT_CELLTYPES = frozenset({"text", "python", "ipython", "yaml"})
PLAIN_CELLTYPES = frozenset({"plain", "checksum", "deepcell", "deepfolder", "folder", "module"})
SCALAR_CELLTYPES = frozenset({"str", "int", "float", "bool"})
CELLTYPES = TEXT_CELLTYPES | PLAIN_CELLTYPES | SCALAR_CELLTYPES | {"mixed", "bytes", "binary"}
DIRECTORY_CELLTYPES = frozenset({"deepfolder", "folder"})  # a pin of these is a directory
DEEP_CELLTYPES = DIRECTORY_CELLTYPES | {"deepcell"}  # the buffer is a plain index of leaf checksums

NPY_MAGIC = b"\x93NUMPY"
_NUMPY_REQUIRED = "numpy is required to deserialize a .npy buffer; install it with 'pip install numpy'"
_MIXED_ARRAYS = "mixed containers with arrays are not supported"


def _check_celltype(celltype):
    if celltype not in CELLTYPES:
        raise ValueError(f"Unknown celltype: {celltype!r}")


def _loaded_numpy():
    """The numpy module if it is already imported, else None (values can only be numpy if it is)."""
    return sys.modules.get("numpy")


def _import_numpy(message):
    try:
        import numpy
    except ImportError:
        raise RuntimeError(message) from None
    return numpy


def _is_numpy_scalar(value) -> bool:
    np = _loaded_numpy()
    return np is not None and isinstance(value, np.generic)


def _is_numpy_array(value) -> bool:
    np = _loaded_numpy()
    return np is not None and isinstance(value, np.ndarray)


# --- JSON ------------------------------------------------------------------------------------


def _normalize_plain(value):
    """Prepare a value for plain JSON: tuples->lists, Checksum->hex, NaN/inf->None, str keys only."""
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"plain dict keys must be str, not {type(key).__name__}: {key!r}")
            result[key] = _normalize_plain(item)
        return result
    if isinstance(value, (list, tuple)):
        return [_normalize_plain(item) for item in value]
    if isinstance(value, Checksum):
        return value.hex()
    if _is_numpy_scalar(value):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _normalize_mixed(value):
    """Prepare a value for mixed JSON: numpy scalars via .item(), Checksum->hex; no arrays inside."""
    if isinstance(value, dict):
        return {key: _normalize_mixed(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalize_mixed(item) for item in value]
    if _is_numpy_array(value):
        raise TypeError(_MIXED_ARRAYS)
    if isinstance(value, Checksum):
        return value.hex()
    if _is_numpy_scalar(value):
        return value.item()
    return value


def _plain_bytes(value) -> bytes:
    text = json.dumps(_normalize_plain(value), indent=2, sort_keys=True, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


def _mixed_json_bytes(value) -> bytes:
    text = json.dumps(_normalize_mixed(value), indent=2, sort_keys=True, ensure_ascii=True)
    return (text + "\n").encode("ascii")


# --- .npy --------------------------------------------------------------------------------------


def npy_of_bytes(data: bytes) -> bytes:
    """A 0-d '|S<n>' .npy buffer holding `data`, byte-identical to numpy.save(numpy.array(data)).

    numpy stores b"" as '|S1' with one NUL byte; we do the same.
    """
    data = bytes(data) or b"\x00"
    header = "{'descr': '|S%d', 'fortran_order': False, 'shape': (), }" % len(data)
    # magic (6) + version (2) + header length (2) + header + padding + "\n" is a multiple of 64
    unpadded = len(NPY_MAGIC) + 2 + 2 + len(header) + 1
    header += " " * (-unpadded % 64) + "\n"
    return NPY_MAGIC + b"\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + data


def _npy_header(buffer: bytes):
    """Parse a .npy header: (header_text, data_offset), or None if it cannot be read."""
    if len(buffer) < 10 or not buffer.startswith(NPY_MAGIC):
        return None
    major = buffer[6]
    if major == 1:
        (length,) = struct.unpack("<H", buffer[8:10])
        start = 10
    elif major in (2, 3) and len(buffer) >= 12:
        (length,) = struct.unpack("<I", buffer[8:12])
        start = 12
    else:
        return None
    header = buffer[start : start + length].decode("latin1", errors="replace")
    return header, start + length


def _npy_bytes_scalar(buffer: bytes):
    """The bytes held by a 0-d '|S<n>' .npy buffer (trailing NULs stripped, as numpy does), or None."""
    parsed = _npy_header(buffer)
    if parsed is None:
        return None
    header, offset = parsed
    import ast

    try:
        fields = ast.literal_eval(header.strip())
    except (ValueError, SyntaxError):
        return None
    if not isinstance(fields, dict) or fields.get("shape") != ():
        return None
    descr = fields.get("descr")
    if not (isinstance(descr, str) and descr.startswith("|S") and descr[2:].isdigit()):
        return None
    size = int(descr[2:])
    data = buffer[offset : offset + size]
    if len(data) != size:
        return None
    return data.rstrip(b"\x00")


def _npy_of_array(array) -> bytes:
    import io

    np = _import_numpy("numpy is required to serialize this value")
    stream = io.BytesIO()
    np.save(stream, array, allow_pickle=False)
    return stream.getvalue()


def _load_npy(buffer: bytes):
    scalar = _npy_bytes_scalar(buffer)
    if scalar is not None:
        return scalar
    import io

    np = _import_numpy(_NUMPY_REQUIRED)
    return np.load(io.BytesIO(buffer), allow_pickle=False)


# --- serialize ---------------------------------------------------------------------------------


def _serialize_text(value) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value).decode("utf-8")
    return (str(value).rstrip("\n") + "\n").encode("utf-8")


def _coerce_bool(value) -> bool:
    if _is_numpy_scalar(value):
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise TypeError(f"bool celltype accepts only bool, 0 or 1, not {value!r}")


def _coerce_scalar(value, celltype):
    if celltype == "str":
        return str(value)
    if celltype == "int":
        return int(value)
    if celltype == "float":
        return float(value)
    return _coerce_bool(value)


def _serialize_mixed(value) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return npy_of_bytes(bytes(value))
    if _is_numpy_array(value):
        return _npy_of_array(value)
    return _mixed_json_bytes(value)


def _serialize_bytes(value) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if _is_numpy_array(value) or _is_numpy_scalar(value):
        return value.tobytes()
    return str(value).rstrip("\n").encode("utf-8")


def _serialize_binary(value) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    np = _import_numpy("numpy is required to serialize a non-bytes value as binary")
    return _npy_of_array(np.asarray(value))


def serialize(value, celltype: str) -> bytes:
    """The exact bytes of `value` under `celltype`."""
    _check_celltype(celltype)
    if celltype in TEXT_CELLTYPES:
        return _serialize_text(value)
    if celltype in PLAIN_CELLTYPES:
        return _plain_bytes(value)
    if celltype in SCALAR_CELLTYPES:
        return _plain_bytes(_coerce_scalar(value, celltype))
    if celltype == "mixed":
        return _serialize_mixed(value)
    if celltype == "bytes":
        return _serialize_bytes(value)
    return _serialize_binary(value)


# --- deserialize -------------------------------------------------------------------------------


def _deserialize_mixed(buffer: bytes):
    if buffer.startswith(NPY_MAGIC):
        return _load_npy(buffer)
    try:
        return json.loads(buffer)
    except (ValueError, UnicodeDecodeError):
        return buffer


def deserialize(buffer: bytes, celltype: str):
    """The value held by `buffer` under `celltype`."""
    _check_celltype(celltype)
    buffer = bytes(buffer)
    if celltype in TEXT_CELLTYPES:
        text = buffer.decode("utf-8")
        return text[:-1] if text.endswith("\n") else text
    if celltype in PLAIN_CELLTYPES:
        return json.loads(buffer.rstrip(b"\n"))
    if celltype in SCALAR_CELLTYPES:
        return _coerce_scalar(json.loads(buffer.rstrip(b"\n")), celltype)
    if celltype == "mixed":
        return _deserialize_mixed(buffer)
    if celltype == "binary" and buffer.startswith(NPY_MAGIC):
        return _load_npy(buffer)
    return buffer


class Buffer:
    """Immutable bytes with a lazily computed checksum.

    Buffer(b"...") keeps the bytes as they are; Buffer(value, celltype) serializes the value.
    A non-bytes value without a celltype is serialized as mixed, the default celltype.
    """

    __slots__ = ("_content", "_checksum")

    def __init__(self, value, celltype=None):
        if celltype is None:
            if isinstance(value, Buffer):
                content = value.content
            elif isinstance(value, (bytes, bytearray, memoryview)):
                content = bytes(value)
            else:
                content = serialize(value, "mixed")
        else:
            content = serialize(value, celltype)
        self._content = content
        self._checksum = None

    @property
    def content(self) -> bytes:
        return self._content

    @property
    def checksum(self) -> Checksum:
        if self._checksum is None:
            self._checksum = Checksum.of(self._content)
        return self._checksum

    def deserialize(self, celltype: str):
        return deserialize(self._content, celltype)

    def __bytes__(self):
        return self._content

    def __len__(self):
        return len(self._content)

    def __eq__(self, other):
        if isinstance(other, Buffer):
            return self._content == other._content
        if isinstance(other, (bytes, bytearray)):
            return self._content == bytes(other)
        return NotImplemented

    def __hash__(self):
        return hash(self._content)

    def __repr__(self):
        return f"Buffer({len(self._content)} bytes, {self.checksum.hex()[:12]}…)"
