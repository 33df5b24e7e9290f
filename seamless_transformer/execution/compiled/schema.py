"""Schemas of compiled transformers: YAML text → signature, C header and numpy dtypes.

The signature language and the header generator are those of `seamless-signature`; this module
only adds the one-line errors and the numpy side (dtypes with C struct alignment).
"""

import functools
import re

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
    _check_names(signature, sig.generate_header(signature))
    return signature


C_KEYWORDS = frozenset("""auto bool break case char const continue default do double else enum extern float for
goto if inline int long register restrict return short signed sizeof static struct switch typedef union
unsigned void volatile while transform""".split())
# Also taken: C11 keywords, C++ keywords (C++ code includes transform.h), the names that the header's
# includes (stdint.h, stdbool.h) define, and the reserved forms (_Upper..., __...).
RESERVED_NAMES = C_KEYWORDS | frozenset("""true false NULL alignas alignof and and_eq asm bitand bitor catch
char8_t char16_t char32_t class compl concept consteval constexpr constinit const_cast co_await co_return
co_yield decltype delete dynamic_cast explicit export friend mutable namespace new noexcept not not_eq
nullptr operator or or_eq private protected public reinterpret_cast requires static_assert static_cast
template this thread_local throw try typeid typename using virtual wchar_t xor xor_eq size_t ptrdiff_t
intptr_t uintptr_t intmax_t uintmax_t""".split()) | frozenset(
    f"{u}int{kind}{bits}_t" for u in ("", "u") for kind in ("", "_least", "_fast") for bits in (8, 16, 32, 64))


def _reserved(name: str, typedefs) -> bool:
    return name in RESERVED_NAMES or name in typedefs or name.startswith("__") or (
        name[:1] == "_" and name[1:2].isupper())


def _check_names(signature, header: str):
    """Names that would make the header fail to compile: reserved words and the header's own type
    names, one name used twice (parameters, wildcards, or the fields of one struct)."""
    typedefs = re.findall(r"\b(\w+)(?:\[[^]]*\])*;$", "\n".join(
        line for line in header.splitlines() if line.startswith(("typedef", "}"))), re.M)
    if len(set(typedefs)) != len(typedefs):
        raise SchemaError(f"invalid schema: two parameters give the same C type name {_first_twice(typedefs)}")
    seen = set()
    wildcards = signature.input_wildcards + signature.output_wildcards
    for name in [p.name for p in signature.inputs + signature.outputs] + list(wildcards) + [
            "max" + w for w in signature.output_wildcards]:
        if _reserved(name, typedefs):
            raise SchemaError(f"invalid schema: '{name}' is a reserved C/C++ name and cannot be a parameter or wildcard name")
        if name in seen:
            raise SchemaError(f"invalid schema: the name '{name}' is used twice (parameters and wildcards share one namespace)")
        seen.add(name)
    for param in signature.inputs + signature.outputs:
        _check_fields(param.name, param.dtype, typedefs)


def _check_fields(owner: str, dtype, typedefs):
    names = [field.name for field in getattr(dtype, "fields", None) or ()]
    for name in names:
        if _reserved(name, typedefs):
            raise SchemaError(f"invalid schema: struct field '{name}' of '{owner}' is a reserved C/C++ name")
    if len(set(names)) != len(names):
        raise SchemaError(f"invalid schema: struct '{owner}' has the field '{_first_twice(names)}' twice")
    for field in getattr(dtype, "fields", None) or ():
        _check_fields(f"{owner}.{field.name}", field.dtype, typedefs)


def _first_twice(names):
    return next(name for i, name in enumerate(names) if name in names[:i])


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
