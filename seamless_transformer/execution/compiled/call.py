"""Call `transform` of a built module: Python values in, Python values out.

Inputs are checked against the schema and converted to native byte order, C-contiguous arrays of
the schema's dtype (structs with C alignment). Every wildcard gets one size, taken from the inputs
that use it; output-only wildcards get the buffer size `max<W>` from the metavars, and their
outputs are trimmed to the size that `transform` reports. Output arrays are not initialized
(transform writes every element). A non-zero return value raises.
Every error is one line that names the parameter.
"""

from .schema import dtype_label, numpy_dtype


class CompiledCallError(ValueError):
    """An input that does not fit the schema (one line, naming the parameter)."""


def _numpy():
    try:
        import numpy
    except ImportError:
        raise ImportError("compiled transformers need numpy: pip install 'seamless-transformer[compiled]'") from None
    return numpy


def _as_array(param, value, expected):
    """`value` as an array of dtype `expected` (same shape), or CompiledCallError."""
    try:
        return _convert(param, value, expected)
    except (ValueError, TypeError, OverflowError) as exc:  # ragged lists, tuples for a struct...
        if isinstance(exc, CompiledCallError):
            raise
        raise CompiledCallError(f"input '{param.name}': cannot be read as {dtype_label(param.dtype)}: "
                                f"{' '.join(str(exc).split())}") from None


def _convert(param, value, expected):
    np = _numpy()
    label = dtype_label(param.dtype)
    if expected.names is not None:  # a struct: same fields of the same types, in any layout
        arr = np.asarray(value)
        if not _same_fields(arr.dtype, expected):
            raise CompiledCallError(f"input '{param.name}': expected {label}, got dtype {arr.dtype}")
        return arr.astype(expected)
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        arr = np.asarray(value)
        if arr.dtype.newbyteorder("=") != expected.newbyteorder("="):
            raise CompiledCallError(f"input '{param.name}': expected {label}, got dtype {arr.dtype}")
        return arr
    arr = np.asarray(value)
    if arr.dtype == object or not np.can_cast(arr.dtype, expected, "same_kind"):
        raise CompiledCallError(f"input '{param.name}': expected {label}, got {_describe(value, arr)}")
    return arr.astype(expected)


def _same_fields(actual, expected) -> bool:
    """Whether two dtypes hold the same fields (names, element types, shapes), whatever their
    byte order, offsets and padding."""
    if actual.shape != expected.shape:
        return False
    actual, expected = actual.base, expected.base
    if expected.names is None:
        return actual.names is None and actual.newbyteorder("=") == expected.newbyteorder("=")
    if actual.names != expected.names:
        return False
    return all(_same_fields(actual.fields[n][0], expected.fields[n][0]) for n in expected.names)


def _describe(value, arr) -> str:
    if arr.ndim == 0:
        return type(value).__name__
    return f"{type(value).__name__} of {arr.dtype}"


class _Sizes:
    """The size of each wildcard and which parameter set it."""

    def __init__(self):
        self.size, self.source = {}, {}

    def bind(self, wildcard, size, param_name):
        if size > 0xFFFFFFFF:
            raise CompiledCallError(f"input '{param_name}': wildcard {wildcard} = {size} exceeds an unsigned int")
        if wildcard in self.size and self.size[wildcard] != size:
            raise CompiledCallError(
                f"input '{param_name}': wildcard {wildcard} is {size}, but input "
                f"'{self.source[wildcard]}' gives {wildcard} = {self.size[wildcard]}")
        self.size.setdefault(wildcard, size)
        self.source.setdefault(wildcard, param_name)


def _check_shape(param, arr, sizes: _Sizes):
    shape = param.shape
    if arr.ndim != len(shape):
        wanted = "[" + ", ".join(str(d) for d in shape) + "]"
        raise CompiledCallError(f"input '{param.name}': expected shape {wanted}, got shape {tuple(arr.shape)}")
    for dim, actual in zip(shape, arr.shape):
        if isinstance(dim, str):
            sizes.bind(dim, actual, param.name)
        elif dim != actual:
            raise CompiledCallError(f"input '{param.name}': expected shape {list(shape)}, got shape {tuple(arr.shape)}")


def prepare_input(param, value, sizes: _Sizes):
    """(numpy array, is_scalar) of one input; arrays are C-contiguous, native byte order."""
    np = _numpy()
    expected = numpy_dtype(param.dtype)
    if param.shape is None:
        if isinstance(value, (list, tuple)):
            raise CompiledCallError(f"input '{param.name}': expected a {dtype_label(param.dtype)} scalar, got a {type(value).__name__}")
        if isinstance(value, bool) and expected.kind in "iuf":
            raise CompiledCallError(f"input '{param.name}': expected {dtype_label(param.dtype)}, got bool")
        arr = _as_array(param, value, expected)
        if arr.ndim != 0:
            raise CompiledCallError(f"input '{param.name}': expected a scalar, got shape {tuple(arr.shape)}")
        if expected.kind in "iu" and np.asarray(value).dtype.kind in "iu" and not isinstance(value, np.generic):
            info = np.iinfo(expected)
            if not info.min <= int(value) <= info.max:
                raise CompiledCallError(f"input '{param.name}': {value} does not fit in {dtype_label(param.dtype)}")
        return np.ascontiguousarray(arr.reshape(1), dtype=expected), True
    arr = _as_array(param, value, expected)
    _check_shape(param, arr, sizes)
    return np.ascontiguousarray(arr, dtype=expected), False


def _output_shape(param, sizes: _Sizes, maxima: dict):
    if param.shape is None:
        return (1,)
    return tuple(sizes.size[d] if d in sizes.size else maxima[d] if isinstance(d, str) else d
                 for d in param.shape)


def _maxima(output_wildcards, metavars: dict) -> dict:
    result = {}
    for wildcard in output_wildcards:
        value = metavars.get("max" + wildcard)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
            raise CompiledCallError(f"output-only wildcard {wildcard} needs metavars.max{wildcard} "
                                    f"(an int from 0 to 4294967295, an unsigned int), got {value!r}")
        result[wildcard] = value
    return result


def _pointer(ffi, ctype, arr):
    return ffi.cast(ctype, ffi.from_buffer(arr))


def call_transform(module, signature, inputs: dict, metavars: dict):
    """Run transform() on `inputs` ({name: value}); one output → its value, several → a dict.

    Raises CompiledCallError (bad input), RuntimeError (non-zero status, size over max<W>).
    """
    ffi, lib = module.ffi, module.lib
    argtypes = ffi.typeof(lib.transform).args
    input_wildcards, output_wildcards = signature.input_wildcards, signature.output_wildcards  # computed
    sizes, prepared = _Sizes(), []
    for param in signature.inputs:
        if param.name not in inputs:
            raise CompiledCallError(f"input '{param.name}' is missing")
        prepared.append((param, *prepare_input(param, inputs[param.name], sizes)))
    maxima = _maxima(output_wildcards, metavars)
    # np.empty, not zeros: zeroing 80 MB costs a third of the call; transform writes its outputs
    outputs = [(p, (_numpy().zeros if p.shape is None else _numpy().empty)(
                   _output_shape(p, sizes, maxima), dtype=numpy_dtype(p.dtype))) for p in signature.outputs]
    reported = {w: ffi.new("unsigned int *", 0) for w in output_wildcards}
    args = [sizes.size[w] for w in input_wildcards]
    args += [maxima[w] for w in output_wildcards]
    for param, arr, scalar in prepared:
        ctype = argtypes[len(args)]
        if scalar:
            args.append(_pointer(ffi, ffi.getctype(ctype, "*"), arr)[0])
        else:
            args.append(_pointer(ffi, ctype, arr))
    args += [reported[w] for w in output_wildcards]
    for param, arr in outputs:
        args.append(_pointer(ffi, argtypes[len(args)], arr))
    status = lib.transform(*args)
    if status != 0:
        raise RuntimeError(f"Compiled transform returned non-zero status {status}")
    sizes.size.update({w: reported[w][0] for w in output_wildcards})
    results = {p.name: _finish(p, arr, sizes, maxima) for p, arr in outputs}
    if len(results) == 1:
        return next(iter(results.values()))
    return results


def _finish(param, arr, sizes: _Sizes, maxima: dict):
    if param.shape is None:  # complex and struct scalars stay numpy (0-d): mixed stores them as .npy
        return arr.reshape(()) if arr.dtype.names is not None or arr.dtype.kind == "c" else arr[0].item()
    index = []
    for dim in param.shape:
        if isinstance(dim, str) and dim in maxima:
            if sizes.size[dim] > maxima[dim]:
                raise RuntimeError(f"Compiled transform reported {dim} = {sizes.size[dim]}, "
                                   f"more than max{dim} = {maxima[dim]}")
            index.append(slice(0, sizes.size[dim]))
        else:
            index.append(slice(None))
    return arr[tuple(index)].copy() if maxima else arr
