"""Build the transformation dict of a Python-API call (SPEC §2.5): pins, dunders and buffers."""

import inspect

from ..celltypes import serialize
from ..checksum import Checksum, checksum_of
from ..store.storage import get_storage
from .build import code_text_checksum, default_argument_celltype, format_entry_for, identity_buffer, value_pin


def _code_buffer(code_text: str) -> bytes:
    return (code_text.rstrip("\n") + "\n").encode("utf-8")


def _module_definition(module) -> dict:
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError) as exc:
        raise TypeError(f"module '{module.__name__}' has no Python source: {exc}") from None
    return {"language": "python", "type": "interpreted", "code": source}


def build_python_dict(*, language, code_text, arguments, celltypes, modules, globals_, env, meta):
    """(tf_dict, tf Checksum, {hex: buffer}) of a transformer call.

    `arguments` holds values, or Checksums (dependency results and explicit checksums).
    """
    buffers = {}
    code_buf = _code_buffer(code_text)
    code_cs = code_text_checksum(code_text)
    buffers[code_cs.hex()] = code_buf
    code_celltype = "python" if language == "python" else "text"
    result_celltype = celltypes.get("result", "mixed")
    tf_dict = {
        "__language__": language,
        "__output__": ["result", result_celltype, None],
        "code": [code_celltype, "transformer", code_cs.hex()],
    }
    fmt = {}
    for name in sorted(arguments):
        celltype = celltypes.get(name, default_argument_celltype(name))
        entry, buffer = value_pin(arguments[name], celltype)
        tf_dict[name] = entry
        if buffer is not None:
            buffers[entry[2]] = buffer
        entry_format = format_entry_for(celltype)
        if entry_format is not None:
            fmt[name] = entry_format
    for name in sorted(modules):
        buf = serialize(_module_definition(modules[name]), "plain")
        cs = checksum_of(buf)
        buffers[cs.hex()] = buf
        tf_dict[name] = ["plain", "module", cs.hex()]
    for name in sorted(globals_):
        buf = serialize(globals_[name], "mixed")
        cs = checksum_of(buf)
        buffers[cs.hex()] = buf
        tf_dict[name] = ["mixed", "global", cs.hex()]
    if fmt:
        tf_dict["__format__"] = fmt
    if env:
        env_buf = serialize(env, "plain")
        env_cs = checksum_of(env_buf)
        buffers[env_cs.hex()] = env_buf
        tf_dict["__env__"] = env_cs.hex()
    if meta:
        tf_dict["__meta__"] = dict(meta)
    ident = identity_buffer(tf_dict)
    tf = checksum_of(ident)
    buffers[tf.hex()] = ident
    return tf_dict, tf, buffers


def store_buffers(buffers: dict) -> None:
    storage = get_storage()
    for cs, buf in buffers.items():
        storage.put_buffer(buf, Checksum(cs))
