"""Run one compiled transformation dict: resolve its pins, build (or reuse) the module, call it.

The dict's pins: `code` (text), `objects` (plain list of {"language", "code"}, optional) and one
pin per input. `__schema__` is the checksum of the schema text; `__compilation__` the completed
compilation dict of `__language__` (not identity: the language's defaults when absent), and
`__languages__` those of the other languages of `objects`; `__meta__["metavars"]` holds max<W>.
"""

from ...celltypes import deserialize, serialize
from ...checksum import Checksum
from ...errors import TransformationError
from .languages import complete_compilation, get_compilation

NON_INPUT_PINS = ("code", "objects")


def _compilation(language: str, given) -> dict:
    """The dict's own compilation of `language` (checked), else the language's definition here."""
    if not given:
        return get_compilation(language)
    try:
        return complete_compilation(language, given)
    except (TypeError, ValueError) as exc:
        raise TransformationError(f"invalid __compilation__: {exc}") from None


def completed_objects(tf_dict: dict, code: str, objects: list) -> list:
    """[{"name", "language", "code", "compilation"}]: the main code as "main", then obj0, obj1…"""
    language = tf_dict["__language__"]
    others = tf_dict.get("__languages__") or {}
    result = [{"name": "main", "language": language, "code": code,
               "compilation": _compilation(language, tf_dict.get("__compilation__"))}]
    for index, obj in enumerate(objects):
        lang = obj["language"]
        compilation = result[0]["compilation"] if lang == language else _compilation(lang, others.get(lang))
        result.append({"name": f"obj{index}", "language": lang, "code": obj["code"], "compilation": compilation})
    return result


def execute_compiled(tf_dict: dict, *, resolve, fingertip=False):
    """(result value, seconds spent compiling, total input bytes) of a compiled transformation.

    Raises TransformationError (compiler failure, header mismatch), CompiledCallError (an input
    that does not fit the schema), RuntimeError (non-zero status).
    """
    from .build import get_module
    from .call import call_transform
    from .schema import header_of, load_signature

    if "__schema__" not in tf_dict:
        raise TransformationError(f"a '{tf_dict['__language__']}' transformation needs a schema "
                                  "(use CompiledTransformer)")
    schema_text = deserialize(resolve(tf_dict["__schema__"], fingertip=fingertip), "text")
    header = header_of(schema_text)
    if tf_dict.get("__header__") not in (None, header):
        raise TransformationError("the supplied header does not match the one generated from the schema")
    inputs, code, objects, total = {}, None, [], 0
    for name in sorted(tf_dict):
        if name.startswith("__") or name.startswith("META__"):
            continue
        celltype, _sub, cs = tf_dict[name]
        buffer = resolve(cs, fingertip=fingertip)
        total += len(buffer)
        if name == "code":
            code = deserialize(buffer, "text")
        elif name == "objects":
            objects = deserialize(buffer, "plain")
        else:
            inputs[name] = deserialize(buffer, celltype)
    if code is None:
        raise TransformationError("compiled transformation has no code pin")
    module, seconds = get_module(completed_objects(tf_dict, code, objects), header)
    metavars = (tf_dict.get("__meta__") or {}).get("metavars") or {}
    value = call_transform(module, load_signature(schema_text), inputs, metavars)
    return value, seconds, total


def result_buffers(value, celltype: str):
    """(result buffer, {Checksum: leaf buffer}) of a compiled result.

    Several outputs under deepcell: each output is a leaf (its mixed buffer), and the result is
    the plain index {name: leaf checksum}. Under mixed, a dict that holds arrays raises
    TransformationError (mixed cannot serialize it).
    """
    if not isinstance(value, dict):
        return serialize(value, celltype), {}
    if celltype == "deepcell":
        buffers = {name: serialize(v, "mixed") for name, v in value.items()}
        checksums = {name: Checksum.of(b) for name, b in buffers.items()}
        index = {name: cs.hex() for name, cs in checksums.items()}
        return serialize(index, "plain"), {checksums[name]: buffers[name] for name in buffers}
    if any(not isinstance(v, (int, float, bool, str, bytes)) for v in value.values()):
        raise TransformationError("several outputs with arrays need .celltypes.result = 'deepcell' "
                                  "(mixed holds no dict of arrays)")
    return serialize(value, celltype), {}
