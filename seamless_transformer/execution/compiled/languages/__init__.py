"""The compiled languages: one module per built-in language in this folder, plus those that
`define_compiled_language` adds at run time.

A language is a name and a *compilation* dict (every key optional except `compiler`):

    compiler         the program, found on PATH ("gcc")
    mode             "object" (one .o), "archive" (one .a) or "package" (a directory of sources → .a)
    options          flags for every build (list of str, or one str split like a shell)
    debug_options, profile_options, release_options    kept for the build profiles
    compile_flag     "-c" for compilers that would otherwise link
    output_flag      "-o"
    language_flag    "-x c" (given before everything else), or ""
    include_flag     "-I": the build directory, where transform.h lives, is added with it ("" = none)
    extension        the source file extension ("c")
    link_options     passed when the objects are linked into the Python extension module

To add a language, put a module `NAME.py` here that defines `COMPILATION` (and add NAME to
BUILTIN_LANGUAGES), or call `define_compiled_language(NAME, compilation={...})` from your code.
"""

import copy
import importlib
import shlex
import threading

BUILTIN_LANGUAGES = ("c", "cpp", "fortran", "rust")
MODES = ("object", "archive", "package")
DEFAULTS = {
    "mode": "object",
    "options": [],
    "debug_options": [],
    "profile_options": [],
    "release_options": [],
    "compile_flag": "",
    "output_flag": "-o",
    "language_flag": "",
    "include_flag": "-I",
    "extension": "",
    "link_options": [],
}
LIST_KEYS = ("options", "debug_options", "profile_options", "release_options", "link_options")
STR_KEYS = ("compiler", "mode", "compile_flag", "output_flag", "language_flag", "include_flag", "extension")

_defined: dict = {}
_lock = threading.Lock()


def complete_compilation(name: str, compilation: dict) -> dict:
    """`compilation` with every key present and lists as lists of str.

    Raises ValueError (unknown key, bad mode, missing compiler) or TypeError (wrong value type).
    """
    if not isinstance(compilation, dict):
        raise TypeError(f"compilation of language '{name}' must be a dict, not {type(compilation).__name__}")
    unknown = sorted(set(compilation) - set(DEFAULTS) - {"compiler"})
    if unknown:
        raise ValueError(f"compilation of language '{name}': unknown key '{unknown[0]}'")
    result = {**copy.deepcopy(DEFAULTS), **copy.deepcopy(compilation)}
    for key in LIST_KEYS:
        value = result[key]
        if isinstance(value, str):
            value = shlex.split(value)
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise TypeError(f"compilation of language '{name}': '{key}' must be a list of str")
        result[key] = list(value)
    if not result.get("compiler"):
        raise ValueError(f"compilation of language '{name}' needs a 'compiler'")
    for key in STR_KEYS:
        if not isinstance(result[key], str):
            raise TypeError(f"compilation of language '{name}': '{key}' must be a str")
    if result["extension"] and not result["extension"].isalnum():
        raise ValueError(f"compilation of language '{name}': extension must be letters and digits, "
                         f"not {result['extension']!r}")
    if result["mode"] not in MODES:
        raise ValueError(f"compilation of language '{name}': mode must be one of {', '.join(MODES)}, "
                         f"not '{result['mode']}'")
    return result


def define_compiled_language(name: str, compilation: dict) -> None:
    """Register (or redefine) the compiled language `name` with its `compilation` dict.

    Raises ValueError / TypeError for a bad name or compilation dict (keys: see this module).
    The definition travels with each transformation, so spawned workers need no call of their own.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a compiled language name must be an identifier, not {name!r}")
    if name in ("python", "bash", "ipython"):
        raise ValueError(f"'{name}' is not a compiled language")
    completed = complete_compilation(name, compilation)
    with _lock:
        _defined[name] = completed


def get_compilation(name: str) -> dict:
    """A fresh completed compilation dict of language `name` (ValueError if it is unknown)."""
    with _lock:
        found = _defined.get(name)
    if found is None and name in BUILTIN_LANGUAGES:
        module = importlib.import_module(f".{name}", __name__)
        found = complete_compilation(name, module.COMPILATION)
        with _lock:
            found = _defined.setdefault(name, found)
    if found is None:
        known = ", ".join(sorted(set(BUILTIN_LANGUAGES) | set(_defined)))
        raise ValueError(f"unknown compiled language '{name}' (known: {known}; "
                         "add one with define_compiled_language)")
    return copy.deepcopy(found)


def is_compiled_language(name) -> bool:
    """Whether `name` is a built-in or defined compiled language."""
    return isinstance(name, str) and (name in BUILTIN_LANGUAGES or name in _defined)
