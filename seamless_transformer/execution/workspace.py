"""The private directory of one bash job: pins in, RESULT out.

Pins are materialized in sorted order, parent directories first:

* file pins (celltype ``bytes``, ``__format__`` mode ``file``, or ``META__FILE__<name>``, which
  becomes ``<name>``): a regular file of the job's own, 0644, or 0755 for executable pins, never a
  link into a store, so ``find -type f``, ``tar``, ``du`` and ``stat`` see what plain bash would
  see and nothing the job does (as root too) changes a stored buffer. Its content is verified
  against its checksum first (`filecopy`: shared blocks where the filesystem can, else one copy).
  A name ending in ``.gz``/``.zst`` is written compressed.
* directory pins (``__format__`` mode ``directory``, or celltype ``deepfolder``/``folder``):
  the pin buffer is the plain index ``{relpath: checksum}``; each leaf becomes a file, as above.
* every other pin is a value, deserialized by its celltype: text becomes ``<pin>`` holding the text
  plus a final newline and, when the name has no ``.`` (nor ``/`` or ``=``) and the text is at most
  1000 characters, also the environment variable ``<pin>`` (``META__X`` pins thus give ``$META__X``);
  lists and dicts become one-line ``json.dumps`` (text, so they get the variable too); bytes and
  1-D uint8 arrays are written raw; other arrays as .npy (no variable for these).

Which pins are executable is read from the code itself: every ``chmod +x`` line of the code
names them (seamless-run writes that line). Those pins are 0755 files.

The code pin is never materialized: the script is not visible in the workspace.
"""

import json
import os
import shlex

from ..celltypes import DEEP_CELLTYPES, DIRECTORY_CELLTYPES, TEXT_CELLTYPES
from ..checksum import COMPRESSION_SUFFIXES, Checksum
from ..errors import TransformationError
from ..identity import is_dunder

TEXT_ENV_LIMIT = 1000
STREAM_MIN = 1 << 20  # RESULT/ files from this size go to the store from their file, not through memory
META_FILE_PREFIX = "META__FILE__"


# ---------------------------------------------------------------- pins in


def pin_names(tf_dict: dict) -> list[str]:
    """The pins to materialize, sorted: everything but dunders and the code pin."""
    return sorted(k for k in tf_dict if k != "code" and not is_dunder(k))


def file_name(pin: str) -> str:
    """The workspace name of a pin (``META__FILE__<name>`` is materialized as ``<name>``)."""
    return pin[len(META_FILE_PREFIX):] if pin.startswith(META_FILE_PREFIX) else pin


def executable_pins(code: str, names) -> set[str]:
    """The names (workspace names, see `file_name`) that are arguments of a ``chmod +x`` line of the code."""
    names = set(names)
    found = set()
    for line in code.splitlines():
        if "chmod" not in line:
            continue
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        if words[:2] == ["chmod", "+x"]:
            found.update(w for w in words[2:] if w in names)
    return found


def pin_kind(name: str, entry, fmt: dict | None) -> str:
    """'file', 'directory' or 'value'."""
    celltype = entry[0]
    mode = ((fmt or {}).get("filesystem") or {}).get("mode")
    if mode == "directory" or celltype in DIRECTORY_CELLTYPES:
        return "directory"
    if mode == "file" or celltype == "bytes" or name.startswith(META_FILE_PREFIX):
        return "file"
    return "value"


def target_path(workspace: str, name: str, what: str = "invalid pin name") -> str:
    """The path of pin `name` inside the workspace; the name must stay inside it (UsageError)."""
    from .._util import confined_join

    return confined_join(workspace, name, what)


def materialize_pins(tf_dict: dict, storage, workspace: str, *, executables=()) -> dict:
    """Write every pin of `tf_dict` into `workspace`; return the pin environment variables.

    `executables`: workspace names to write as 0755 files. A buffer that is not available, or
    whose stored file does not match its checksum, raises CacheMissError naming the checksum.
    """
    from .._util import check_relpaths

    fmt_all = tf_dict.get("__format__") or {}
    env = {}
    check_relpaths(map(file_name, pin_names(tf_dict)), "invalid pin name")
    for name in pin_names(tf_dict):
        entry = tf_dict[name]
        kind = pin_kind(name, entry, fmt_all.get(name))
        checksum = Checksum(entry[2])
        if kind == "directory":
            _write_directory(storage, checksum, target_path(workspace, name))
            continue
        filename = file_name(name)
        path = target_path(workspace, filename)
        executable = filename in executables
        if kind == "file":
            _write_file_pin(storage, checksum, path, executable=executable)
            continue
        from ..celltypes import deserialize

        value = deserialize(storage.get_buffer(checksum), entry[0])
        data, text = value_bytes(value)
        _write_bytes(path, data, 0o755 if executable else 0o644)
        if text is not None and _env_allowed(name, text):
            env[name] = text
    return env


def value_bytes(value) -> tuple[bytes, str | None]:
    """The file content of a value pin, and its text (None if it is not text)."""
    if type(value).__module__ == "numpy":
        value = _numpy_value(value)
        if isinstance(value, bytes):
            return value, None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value), None
    if isinstance(value, str):
        text = value
    elif isinstance(value, (list, dict, tuple)) or value is None:
        text = json.dumps(value)
    else:
        text = str(value)
    if text.endswith("\n"):
        return text.encode("utf-8"), text[:-1]
    return (text + "\n").encode("utf-8"), text


def _numpy_value(arr):
    """numpy arrays as raw bytes (1-D uint8, other arrays as .npy), 0-d arrays as scalars."""
    import io

    import numpy

    if isinstance(arr, numpy.generic) or (isinstance(arr, numpy.ndarray) and arr.ndim == 0):
        return arr.item()
    if arr.ndim == 1 and arr.dtype == numpy.uint8:
        return arr.tobytes()
    f = io.BytesIO()
    numpy.save(f, arr, allow_pickle=False)
    return f.getvalue()


def _env_allowed(name: str, text: str) -> bool:
    return (
        "." not in name
        and "=" not in name
        and "/" not in name
        and "\0" not in text
        and len(text) <= TEXT_ENV_LIMIT
    )


def _write_file_pin(storage, checksum, path, *, executable=False):
    """A regular file holding the verified buffer: copied from the store's file when there is one,
    else written from the buffer (a verified read: a corrupt store file is discarded)."""
    mode = 0o755 if executable else 0o644
    compression = _compression(path)
    if not compression:
        source = storage.buffer_path(checksum)
        if source is not None:
            from ..store.filecopy import copy_verified

            os.makedirs(os.path.dirname(path), exist_ok=True)
            try:
                if copy_verified(source, path, checksum, mode):
                    return
            except FileNotFoundError:
                pass  # the buffer file went away meanwhile: another store may have it
    data = storage.get_buffer(checksum)
    if compression:
        data = _compress(data, compression)
    _write_bytes(path, data, mode)


def _write_directory(storage, checksum, path):
    index = json.loads(storage.get_buffer(checksum))
    if not isinstance(index, dict):
        raise TransformationError(f"directory pin {os.path.basename(path)!r}: index is not a dict")
    from .._util import check_relpaths

    what = f"index of directory pin {os.path.basename(path)!r}"
    check_relpaths(index, what)
    os.makedirs(path, exist_ok=True)
    for relpath in sorted(index):
        leaf = target_path(path, relpath, what)
        _write_file_pin(storage, Checksum(index[relpath]), leaf)


def _write_bytes(path, data: bytes, mode: int):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def _compression(path):
    for suffix in COMPRESSION_SUFFIXES:
        if path.endswith(suffix):
            return suffix
    return None


def _compress(data: bytes, suffix: str) -> bytes:
    if suffix == ".gz":
        import gzip

        return gzip.compress(data, mtime=0)
    try:
        import zstandard
    except ImportError:
        raise TransformationError("the zstandard package is required for .zst pins") from None
    return zstandard.ZstdCompressor().compress(data)


# ---------------------------------------------------------------- RESULT out


def collect_result(workspace: str, celltype: str, storage=None) -> tuple[bytes | Checksum, dict]:
    """Read RESULT from the workspace: (result buffer, extra buffers {Checksum: bytes}).

    A RESULT directory is always packed as a deep result: the plain index {relpath: leaf checksum},
    with the leaves as extra buffers; with `storage`, leaves of STREAM_MIN bytes or more are put
    into it from their files instead (streamed: peak memory stays flat whatever their size).
    A deep output celltype requires a RESULT directory.
    A RESULT file gives its bytes for celltype ``bytes``; for any other celltype, see `convert_result`.
    With a persistent `storage`, a ``bytes`` RESULT file of STREAM_MIN bytes or more is put into it
    from its file, and its Checksum stands in for the result buffer (stored already).
    """
    path = os.path.join(workspace, "RESULT")
    if os.path.isdir(path):
        return pack_deep(read_tree(path, None if storage is None else storage.put_file))
    if not os.path.lexists(path):
        raise TransformationError("command did not create RESULT")
    if celltype in DEEP_CELLTYPES:
        raise TransformationError(f"RESULT must be a directory for output celltype {celltype!r}")
    if celltype == "bytes" and getattr(storage, "persistent", False) and _size(path) >= STREAM_MIN:
        return storage.put_file(path), {}
    with open(path, "rb") as f:
        data = f.read()
    return convert_result(data, celltype), {}


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def read_tree(path: str, store_file=None) -> dict:
    """{posix relpath: bytes} of the files under `path` (symlinked files read, symlinked dirs not entered).

    With `store_file(path) -> Checksum`, a file of STREAM_MIN bytes or more is stored by it and
    its value is that Checksum instead of its bytes."""
    tree = {}
    for dirpath, _dirnames, filenames in os.walk(path):
        for filename in filenames:
            full = os.path.join(dirpath, filename)
            rel = os.path.relpath(full, path).replace(os.sep, "/")
            try:
                rel.encode("utf-8")
            except UnicodeEncodeError:
                raise TransformationError(f"RESULT/{rel!r}: file name is not UTF-8") from None
            try:
                if store_file is not None and os.path.getsize(full) >= STREAM_MIN:
                    tree[rel] = store_file(full)
                    continue
                with open(full, "rb") as f:
                    tree[rel] = f.read()
            except OSError as exc:
                raise TransformationError(f"RESULT/{rel}: cannot read ({exc.strerror})") from None
    if not tree:
        raise TransformationError("RESULT directory is empty")
    return tree


def pack_deep(tree: dict) -> tuple[bytes, dict]:
    """A deep result: the plain index buffer, and its leaves by checksum (leaves given as a
    Checksum are stored already and are not among them)."""
    from ..celltypes import serialize

    extra = {}
    index = {}
    for rel in sorted(tree):
        if isinstance(tree[rel], Checksum):
            index[rel] = tree[rel].hex()
            continue
        checksum = Checksum.of(tree[rel])
        extra[checksum] = tree[rel]
        index[rel] = checksum.hex()
    return serialize(index, "plain"), extra


def convert_result(data: bytes, celltype: str) -> bytes:
    """The RESULT file bytes as a buffer of `celltype`.

    bytes: unchanged. Text celltypes: the UTF-8 text. Others: a .npy array, else UTF-8 text parsed
    as JSON, else the text itself (verbatim, trailing newline kept), else a uint8 array; the value
    is then serialized with `celltype`.
    """
    from ..celltypes import serialize

    if celltype == "bytes":
        return data
    if data.startswith(b"\x93NUMPY"):
        return serialize(_load_npy(data), celltype)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return serialize(_uint8_array(data), celltype)
    if celltype in TEXT_CELLTYPES:
        return serialize(text, celltype)
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    return serialize(value, celltype)


def _load_npy(data: bytes):
    import io

    numpy = _numpy()
    return numpy.load(io.BytesIO(data), allow_pickle=False)


def _uint8_array(data: bytes):
    return _numpy().frombuffer(data, dtype="uint8").copy()


def _numpy():
    try:
        import numpy
    except ImportError:
        raise TransformationError("numpy is required to convert this RESULT") from None
    return numpy
