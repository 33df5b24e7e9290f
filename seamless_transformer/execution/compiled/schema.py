"""Schemas of compiled transformers: YAML text → signature, C header and numpy dtypes.

The signature language and the header generator are those of `seamless-signature`; this module
only adds the one-line errors and the numpy side (dtypes with C struct alignment).
"""

import functools

SCALAR_NUMPY = {
    "int8": "int8", "int16": "int16", "int32": "int32", "int64": "int64",
    "uint8": "uint8", "uint16": "uint16", "uint32": "uint32", "uint64": "uint64",
    "float32": "float32", "float64": "float64", "bool": "bool", "char": "S1",
    "complex64": "complex64", "complex128": "complex128",
}


class SchemaError(ValueError):
    """A schema that is not valid YAML or not a valid signature (one-line message)."""


def _signature_module():
    try:
        import seamless_signature
    except ImportError:
        raise ImportError("compiled transformers need seamless-signature: "
                          "pip install 'seamless-transformer[compiled]'") from None
    return seamless_signature


@functools.lru_cache(maxsize=256)
def load_signature(schema_text: str):
    """The seamless_signature.Signature of a schema text (SchemaError if it is invalid)."""
    import yaml

    sig = _signature_module()
    try:
        data = yaml.safe_load(schema_text)
    except yaml.YAMLError as exc:
        raise SchemaError(f"schema is not valid YAML: {' '.join(str(exc).split())}") from None
    try:
        signature = sig.Signature.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"invalid schema: {exc}") from None
    _check_names(signature)
    return signature


C_KEYWORDS = frozenset("""auto bool break case char const continue default do double else enum extern float for
goto if inline int long register restrict return short signed sizeof static struct switch typedef union
unsigned void volatile while transform""".split())


def _check_names(signature):
    """Names that would make the header fail to compile: C keywords, one name used twice."""
    seen = set()
    wildcards = signature.input_wildcards + signature.output_wildcards
    for name in [p.name for p in signature.inputs + signature.outputs] + list(wildcards) + [
            "max" + w for w in signature.output_wildcards]:
        if name in C_KEYWORDS:
            raise SchemaError(f"invalid schema: '{name}' is a C keyword and cannot be a parameter or wildcard name")
        if name in seen:
            raise SchemaError(f"invalid schema: the name '{name}' is used twice (parameters and wildcards share one namespace)")
        seen.add(name)
    for param in signature.inputs + signature.outputs:
        for field in getattr(param.dtype, "fields", None) or ():
            if field.name in C_KEYWORDS:
                raise SchemaError(f"invalid schema: struct field '{field.name}' of '{param.name}' is a C keyword")


@functools.lru_cache(maxsize=256)
def header_of(schema_text: str) -> str:
    """The C header (`transform.h`) that declares `int transform(...)` for this schema."""
    return _signature_module().generate_header(load_signature(schema_text))


def numpy_dtype(dtype_spec):
    """The numpy dtype of a seamless_signature dtype (structs aligned like C structs)."""
    import numpy as np

    if hasattr(dtype_spec, "fields"):
        fields = []
        for field in dtype_spec.fields:
            sub = numpy_dtype(field.dtype)
            fields.append((field.name, sub, tuple(field.shape)) if field.shape else (field.name, sub))
        return np.dtype(fields, align=True)
    return np.dtype(SCALAR_NUMPY[dtype_spec.name])


def dtype_label(dtype_spec) -> str:
    """How a dtype is named in messages: its schema name, or 'struct {a, b}'."""
    if hasattr(dtype_spec, "fields"):
        return "struct {" + ", ".join(f.name for f in dtype_spec.fields) + "}"
    return dtype_spec.name
