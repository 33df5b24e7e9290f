"""Transformation dicts, their identity buffer and THE checksum rule.

A transformation dict maps pin names to [celltype, subcelltype, checksum] and dunder keys
(`__language__`, `__output__`, ...) to their values. Only the load-bearing dunders and the
pins whose names do not start with META__ are identity; the tf checksum is the sha256 of
their plain serialization.
"""

import types

from .celltypes import DIRECTORY_CELLTYPES, serialize
from .checksum import Checksum, checksum_of

LOAD_BEARING_DUNDERS = frozenset({"__language__", "__output__", "__as__", "__format__", "__schema__"})
ORTHOGONAL_DUNDERS = frozenset(
    {
        "__meta__",
        "__env__",
        "__compilation__",
        "__record_probe__",
        "__code_checksum__",
        "__code_text__",
        "__compilers__",
        "__languages__",
    }
)
DERIVED_DUNDERS = frozenset({"__compiled__", "__header__", "__deps__"})
KNOWN_DUNDERS = LOAD_BEARING_DUNDERS | ORTHOGONAL_DUNDERS | DERIVED_DUNDERS

META_PREFIX = "META__"
NOT_IMPLEMENTED_ARGUMENT_CELLTYPES = frozenset({"cson", "yaml", "python"})


def is_dunder(key: str) -> bool:
    return key.startswith("__")


def _pin_entry(name, pin) -> list:
    if not isinstance(pin, (list, tuple)) or len(pin) != 3:
        raise TypeError(f"pin {name!r} must be [celltype, subcelltype, checksum], not {pin!r}")
    celltype, subcelltype, checksum = pin
    return [celltype, subcelltype, Checksum(checksum).hex()]


def identity_dict(tf_dict: dict) -> dict:
    """The part of a transformation dict that is identity: load-bearing dunders and non-META__ pins."""
    result = {}
    for key, value in tf_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"transformation dict keys must be str, not {type(key).__name__}: {key!r}")
        if is_dunder(key):
            if key not in KNOWN_DUNDERS:
                raise ValueError(f"Unknown transformation dunder key: {key}")
            if key in LOAD_BEARING_DUNDERS:
                result[key] = value
        elif not key.startswith(META_PREFIX):
            result[key] = _pin_entry(key, value)
    return result


def identity_buffer(tf_dict: dict) -> bytes:
    """The plain serialization of identity_dict(tf_dict); it is stored under the tf checksum."""
    return serialize(identity_dict(tf_dict), "plain")


def tf_checksum(tf_dict: dict) -> Checksum:
    """THE transformation checksum: sha256 of the identity buffer."""
    return Checksum.of(identity_buffer(tf_dict))


# --- code text ---------------------------------------------------------------------------------


def code_buffer(code_text: str) -> bytes:
    """The buffer of a code pin: the text celltype's rule, text.rstrip("\\n") + "\\n" in UTF-8."""
    return serialize(code_text, "text")


def code_text_checksum(text: str) -> Checksum:
    """Checksum of a code text: the checksum of its code_buffer."""
    return Checksum.of(code_buffer(text))


def python_code_text(func) -> str:
    """The identity text of a Python function: its source, dedented, without decorators.

    A single-line lambda gives only its lambda expression; other lambdas raise ValueError.
    """
    import inspect
    import textwrap

    if not isinstance(func, types.FunctionType):
        raise TypeError(f"a plain Python function is required, not {type(func).__name__}")
    try:
        if func.__name__ == "<lambda>":
            return _lambda_text(func)
        source = textwrap.dedent(inspect.getsource(func))
    except OSError:
        raise ValueError(
            f"cannot read the source code of function '{func.__name__}' "
            "(functions typed at an interactive prompt or built with exec have none); "
            "define it in a file, or pass its code as a string"
        ) from None
    return _strip_decorators(source)


def _strip_decorators(source: str) -> str:
    """Drop the leading decorator lines (with their continuation lines) up to the def line."""
    import tokenize

    lines = source.splitlines(keepends=True)
    for index, token in _line_start_tokens(source):
        if token.type == tokenize.NAME and token.string in ("def", "async"):
            return "".join(lines[index:])
    return source


def _line_start_tokens(source):
    """(line index, token) for each token that starts a logical line at nesting depth 0."""
    import io
    import tokenize

    depth = 0
    at_line_start = True
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
                continue
            if token.type == tokenize.NEWLINE:
                at_line_start = True
                continue
            if at_line_start and depth == 0:
                yield token.start[0] - 1, token
            at_line_start = False
            if token.type == tokenize.OP and token.string in "([{":
                depth += 1
            elif token.type == tokenize.OP and token.string in ")]}":
                depth -= 1
    except tokenize.TokenError:
        return


def _lambda_text(func) -> str:
    import inspect

    lines, _ = inspect.getsourcelines(func)
    first_line = lines[0].strip()
    candidates = {text for text in _complete_lambdas(first_line) if _lambda_matches(text, func)}
    if len(candidates) != 1:
        raise ValueError(
            "only a lambda written on one line, with parameters unlike any other lambda on that line, "
            "is supported; use a def function instead"
        )
    return candidates.pop()


def _lambda_matches(text: str, func) -> bool:
    import ast

    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        return False
    if not isinstance(node, ast.Lambda):
        return False
    code = func.__code__
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    args = node.args
    found = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    return tuple(found) == tuple(names)


def _complete_lambdas(line: str):
    """The text of every lambda expression that starts and ends on this one line."""
    import io
    import tokenize

    tokens = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(line).readline):
            tokens.append(token)
    except tokenize.TokenError:
        pass
    results = []
    for start, token in enumerate(tokens):
        if token.type == tokenize.NAME and token.string == "lambda":
            end = _lambda_end(tokens, start)
            if end is not None:
                results.append(line[token.start[1] : tokens[end].end[1]])
    return results


def _lambda_end(tokens, start):
    """Index of the last token of the lambda starting at tokens[start], or None if it goes past the line."""
    import tokenize

    depth = 0
    in_parameters = True  # commas separate parameters until the lambda's own colon
    last = None
    for index in range(start, len(tokens)):
        token = tokens[index]
        if token.type in (tokenize.NEWLINE, tokenize.NL, tokenize.COMMENT, tokenize.ENDMARKER):
            return last if depth == 0 and not in_parameters else None
        if token.type == tokenize.OP:
            if token.string in "([{":
                depth += 1
            elif token.string in ")]}":
                depth -= 1
                if depth < 0:
                    return last
            elif depth == 0 and token.string == ":" and in_parameters:
                in_parameters = False
            elif depth == 0 and not in_parameters and token.string in (",", ";"):
                return last
        last = index
    return None


# --- argument pins -----------------------------------------------------------------------------


def default_argument_celltype(pin_name: str) -> str:
    """mixed, or plain for pin names that end in _SCHEMA."""
    return "plain" if pin_name.endswith("_SCHEMA") else "mixed"


def value_pin(value, celltype: str = "mixed"):
    """(pin entry [celltype, subcelltype, hex], buffer or None) for a Python argument.

    A Checksum instance is used as the checksum directly (buffer None), except under the
    checksum celltype, whose value is itself a checksum. None is serialized as plain.
    A 64-char str is a value, never a checksum.
    """
    if celltype in NOT_IMPLEMENTED_ARGUMENT_CELLTYPES:
        raise NotImplementedError(f"celltype {celltype!r} is not supported for arguments")
    if celltype in ("module", "checksum"):
        entry_celltype, subcelltype = "plain", celltype
    else:
        entry_celltype, subcelltype = celltype, None
    if isinstance(value, Checksum) and celltype != "checksum":
        return [entry_celltype, subcelltype, value.hex()], None
    buffer = serialize(value, "plain" if value is None else celltype)
    return [entry_celltype, subcelltype, Checksum.of(buffer).hex()], buffer


def format_entry_for(celltype: str):
    """The __format__ entry a pin of this celltype needs, or None (directory celltypes only)."""
    if celltype in DIRECTORY_CELLTYPES:
        return {"filesystem": {"mode": "directory"}, "celltype": celltype}
    return None


MODULE_SUFFIXES_REFUSED = (".so", ".pyd", ".dll", ".dylib")


class ModulePinError(TypeError):
    """A module or global that cannot be shipped with a transformation (the message says why)."""


def _cannot_ship(name: str, why: str) -> ModulePinError:
    return ModulePinError(f"module '{name}' cannot be shipped: {why}; install it in the environment "
                          "and import it inside the function instead")


def _read_source(path: str, name: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise _cannot_ship(name, f"its source {path} cannot be read ({exc})") from None


def package_sources(package) -> dict:
    """{relpath: source} of every .py file below a regular package's directory, '/'-separated.

    Subpackages are included; `__pycache__` and hidden directories are not. Raises
    ModulePinError for a namespace package or a package that holds compiled extensions.
    """
    import os

    name = package.__name__
    init = getattr(package, "__file__", None)
    if not init or os.path.basename(init) != "__init__.py":
        raise _cannot_ship(name, "it is a namespace package without an __init__.py")
    root = os.path.dirname(init)
    sources = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        for filename in sorted(filenames):
            path = os.path.join(dirpath, filename)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            if filename.endswith(MODULE_SUFFIXES_REFUSED):
                raise _cannot_ship(name, f"it contains the compiled extension {rel}")
            if filename.endswith(".py"):
                sources[rel] = _read_source(path, name)
    return sources


def _check_definition(name: str, definition: dict) -> dict:
    code = definition.get("code") if isinstance(definition, dict) else None
    ok_code = isinstance(code, str) or (
        isinstance(code, dict) and "__init__.py" in code
        and all(isinstance(k, str) and isinstance(v, str) for k, v in code.items()))
    if definition.get("language", "python") != "python" or not ok_code:
        raise ModulePinError(
            f"module '{name}': a definition is {{'language': 'python', 'type': 'interpreted', "
            "'code': str | {relpath: str} with an '__init__.py' key}")
    return {"language": "python", "type": "interpreted", "code": code}


def module_definition(module, name: str = "module") -> dict:
    """The definition of a module pin: {"language": "python", "type": "interpreted", "code": …}.

    `code` is the source of a single-file module, or {relpath: source} of every .py file of a
    package (see package_sources). `module` may also be such a definition dict already.
    Raises ModulePinError for what has no Python source: builtin and compiled extension
    modules, namespace packages.
    """
    import inspect

    if isinstance(module, dict):
        return _check_definition(name, module)
    name = getattr(module, "__name__", name)
    if hasattr(module, "__path__"):
        return {"language": "python", "type": "interpreted", "code": package_sources(module)}
    origin = getattr(module, "__file__", None)
    if not origin:
        raise _cannot_ship(name, "it is a builtin module without Python source")
    if origin.endswith(MODULE_SUFFIXES_REFUSED):
        raise _cannot_ship(name, "it is a compiled extension module")
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError) as exc:
        raise _cannot_ship(name, f"it has no Python source ({exc})") from None
    return {"language": "python", "type": "interpreted", "code": source}


def global_pin(name: str, obj):
    """(pin entry, buffer) of a `.globals` object.

    Values that the mixed celltype serializes are stored as values (["mixed", "global", cs]).
    Functions and classes travel by source, other objects by their repr, which must evaluate
    back to an equal object (["plain", "global", cs] of {"language": "python", "type":
    "source" | "repr", "name": name, "code": text}). Raises ModulePinError otherwise.
    """
    import inspect
    import textwrap

    if inspect.isfunction(obj) or inspect.isclass(obj):
        try:
            code = textwrap.dedent(inspect.getsource(obj))
        except (OSError, TypeError) as exc:
            raise ModulePinError(f"globals.{name}: {obj.__qualname__} has no Python source ({exc})") from None
        definition = {"language": "python", "type": "source", "name": obj.__name__, "code": code}
    else:
        try:
            buffer = serialize(obj, "mixed")
            return ["mixed", "global", checksum_of(buffer).hex()], buffer
        except Exception:  # noqa: BLE001 - not a value: try its repr
            pass
        text = repr(obj)
        try:
            same = eval(text, {"__builtins__": {}}) == obj  # noqa: S307 - the user's own object
        except Exception:  # noqa: BLE001
            same = False
        if not same:
            raise ModulePinError(f"globals.{name}: this {type(obj).__name__!r} object is not a value, and its repr "
                                 f"{text[:60]!r} does not evaluate back to it; pass it as an argument")
        definition = {"language": "python", "type": "repr", "name": name, "code": text}
    buffer = serialize(definition, "plain")
    return ["plain", "global", checksum_of(buffer).hex()], buffer


def build_python_dict(*, language, code_text, arguments, celltypes, modules, globals_, env, meta):
    """(tf_dict, tf Checksum, {hex: buffer}) of a transformer call.

    `arguments` holds values, or Checksums (dependency results and explicit checksums).
    """
    buffers = {}
    code_buf = code_buffer(code_text)
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
        buf = serialize(module_definition(modules[name], name), "plain")
        cs = checksum_of(buf)
        buffers[cs.hex()] = buf
        tf_dict[name] = ["plain", "module", cs.hex()]
    for name in sorted(globals_):
        entry, buf = global_pin(name, globals_[name])
        buffers[entry[2]] = buf
        tf_dict[name] = entry
    if fmt:
        tf_dict["__format__"] = fmt
    if env:
        env_buf = serialize(env, "plain")
        env_cs = checksum_of(env_buf)
        buffers[env_cs.hex()] = env_buf
        tf_dict["__env__"] = env_cs.hex()
    return _sealed(tf_dict, buffers, meta)


def _sealed(tf_dict: dict, buffers: dict, meta) -> tuple:
    """Add `__meta__` (not identity) and the identity buffer: (tf_dict, tf Checksum, buffers)."""
    if meta:
        tf_dict["__meta__"] = dict(meta)
    ident = identity_buffer(tf_dict)
    tf = checksum_of(ident)
    buffers[tf.hex()] = ident
    return tf_dict, tf, buffers


def build_compiled_dict(*, language, schema_text, code_text, objects, arguments, result_celltype,
                        compilation, languages, env, meta):
    """(tf_dict, tf Checksum, {hex: buffer}) of a compiled transformer call.

    Identity: `__language__`, `__output__`, `__schema__` (checksum of the schema text), `code`
    ("text", "transformer"), `objects` ("plain", "compiled-objects"; [{"language", "code"}], only
    when there are any) and each argument ("mixed", None). Not identity: `__compilation__` (the
    completed compilation dict), `__languages__` (those of the objects' other languages),
    `__env__`, `__meta__` (with the metavars).
    """
    buffers = {}

    def add(buffer) -> str:
        cs = checksum_of(buffer).hex()
        buffers[cs] = buffer
        return cs

    tf_dict = {
        "__language__": language,
        "__output__": ["result", result_celltype, None],
        "__schema__": add(serialize(schema_text, "text")),
        "code": ["text", "transformer", add(code_buffer(code_text))],
    }
    if objects:
        tf_dict["objects"] = ["plain", "compiled-objects", add(serialize(objects, "plain"))]
    for name in sorted(arguments):
        entry, buffer = value_pin(arguments[name], "mixed")
        tf_dict[name] = entry
        if buffer is not None:
            buffers[entry[2]] = buffer
    tf_dict["__compilation__"] = compilation
    if languages:
        tf_dict["__languages__"] = languages
    if env:
        tf_dict["__env__"] = add(serialize(env, "plain"))
    return _sealed(tf_dict, buffers, meta)
