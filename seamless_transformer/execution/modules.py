"""Module and global pins, built for one execution in a private namespace.

A module pin's definition holds the source of a single-file module or `{relpath: source}` of a
package. For one execution, each pin becomes a real module (packages with `__path__`, so that
relative imports work) named `__seamless_pins__.x<N>.<pin name>`, N unique per execution:

    sys.modules  ──  __seamless_pins__            (one synthetic root, never removed)
                     └─ x17                       (this execution)
                        ├─ mypkg                  (__init__.py)
                        │  └─ mypkg.helper        (helper.py, imported on demand)
                        └─ single                 (a single-file module)

The transformation's code and the pinned modules run with their own `__builtins__`, whose
`__import__` maps an absolute import of a pin name (`import mypkg`, `from mypkg.helper import
double`) to the private module. The user's own `sys.modules` never holds a pin under its plain
name, two executions never share module state (two versions of one package run side by side),
and the private entries are removed when the execution ends. `importlib.resources.files()` of
a pinned package lists and reads its sources.
"""

import builtins
import importlib.abc
import importlib.machinery
import importlib.resources.abc
import io
import itertools
import linecache
import posixpath
import sys
import threading
from contextlib import contextmanager

ROOT = "__seamless_pins__"
_counter = itertools.count(1)
_lock = threading.Lock()
_sources: dict = {}  # private module name -> (source text or None, is_package, files, prefix, builtins)


class _Files(importlib.resources.abc.Traversable):
    """A read-only directory tree over {relpath: source} (importlib.resources.abc.Traversable)."""

    def __init__(self, files: dict, path: str = ""):
        self._files, self._path = files, path

    @property
    def name(self):
        return posixpath.basename(self._path)

    def _children(self):
        prefix = self._path + "/" if self._path else ""
        names = {rel[len(prefix):].split("/")[0] for rel in self._files if rel.startswith(prefix)}
        return sorted(names)

    def iterdir(self):
        return iter([_Files(self._files, posixpath.join(self._path, n)) for n in self._children()])

    def is_file(self):
        return self._path in self._files

    def is_dir(self):
        return not self.is_file() and (self._path == "" or bool(self._children()))

    def joinpath(self, *descendants):
        return _Files(self._files, posixpath.normpath(posixpath.join(self._path, *descendants)).lstrip("./"))

    __truediv__ = joinpath

    def open(self, mode="r", *args, **kwargs):
        if not self.is_file():
            raise FileNotFoundError(self._path)
        data = self._files[self._path].encode("utf-8")
        return io.BytesIO(data) if "b" in mode else io.TextIOWrapper(io.BytesIO(data), *args, **kwargs)


class _Reader(importlib.resources.abc.TraversableResources):
    def __init__(self, files: dict, path: str):
        self._root = _Files(files, path)

    def files(self):
        return self._root


class _PinFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds and executes the private modules registered in `_sources`."""

    def find_spec(self, fullname, path=None, target=None):
        entry = _sources.get(fullname)
        if entry is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=entry[1])

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        source, is_package, files, prefix, builtins_dict = _sources[module.__name__]
        module.__builtins__ = builtins_dict
        module.__file__ = prefix or None  # a name relative to the pinned package, not a path on disk
        if is_package:
            module.__path__ = []
        if source is None:
            return
        filename = f"{prefix}" if prefix else module.__name__
        linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
        exec(compile(source, filename, "exec"), module.__dict__)

    def get_resource_reader(self, fullname):
        entry = _sources.get(fullname)
        if entry is None or not entry[1] or entry[2] is None:
            return None
        prefix = entry[3]  # "<pin>/<subdir>/__init__.py"
        sub = posixpath.dirname(prefix.split("/", 1)[1]) if "/" in prefix else ""
        return _Reader(entry[2], sub)


_finder = _PinFinder()


def _install_finder():
    with _lock:
        if _finder not in sys.meta_path:
            sys.meta_path.insert(0, _finder)
        if ROOT not in sys.modules:
            root = type(sys)(ROOT)
            root.__path__ = []
            sys.modules[ROOT] = root


def _make_import(aliases: dict):
    """An __import__ that maps absolute imports of pin names to their private modules."""
    real = builtins.__import__

    def _import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0:
            top, _, rest = name.partition(".")
            private = aliases.get(top)
            if private is not None:
                module = real(private + ("." + rest if rest else ""), globals, locals, fromlist or ["__name__"], 0)
                return module if fromlist else sys.modules[private]
        return real(name, globals, locals, fromlist, level)

    return _import


def _register(base: str, pin: str, code, builtins_dict) -> list:
    """Register the private module names of one pin; return them."""
    if isinstance(code, str):
        _sources[f"{base}.{pin}"] = (code, False, None, f"{pin}.py", builtins_dict)
        return [f"{base}.{pin}"]
    names, packages = [], set()
    for rel in sorted(code):
        if not rel.endswith(".py"):
            continue
        parts = rel[:-3].split("/")
        is_package = parts[-1] == "__init__"
        dotted = ".".join([pin] + (parts[:-1] if is_package else parts))
        packages.update(".".join([pin] + parts[:i]) for i in range(len(parts)))
        _sources[f"{base}.{dotted}"] = (code[rel], is_package, code, f"{pin}/{rel}", builtins_dict)
        names.append(f"{base}.{dotted}")
    for dotted in packages - {n[len(base) + 1:] for n in names}:  # directories without __init__.py
        rel_dir = "/".join(dotted.split(".")[1:])
        prefix = f"{pin}/{rel_dir}/__init__.py" if rel_dir else f"{pin}/__init__.py"
        _sources[f"{base}.{dotted}"] = (None, True, code, prefix, builtins_dict)
        names.append(f"{base}.{dotted}")
    return names


def _global_object(definition: dict, builtins_dict):
    kind, code = definition["type"], definition["code"]
    if kind == "repr":
        return eval(code, {"__builtins__": builtins_dict})  # noqa: S307 - identity-checked code
    namespace = {"__builtins__": builtins_dict, "__name__": "transformer"}
    filename = f"<global {definition['name']}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    exec(compile(code, filename, "exec"), namespace)
    return namespace[definition["name"]]


@contextmanager
def pinned(modules: dict, global_definitions: dict):
    """Build module pins {global name: definition} and source/repr globals for one execution.

    Yields (globals to add to the namespace, the `__builtins__` dict to run the code with).
    Every private module is removed from sys.modules on exit.
    """
    if not modules and not global_definitions:
        yield {}, None
        return
    _install_finder()
    base = f"{ROOT}.x{next(_counter)}"
    builtins_dict = dict(builtins.__dict__)
    builtins_dict["__import__"] = _make_import({name: f"{base}.{name}" for name in modules})
    names = [base]
    _sources[base] = (None, True, None, "", builtins_dict)
    try:
        for name, definition in modules.items():
            names += _register(base, name, definition["code"], builtins_dict)
        extra = {}
        for name in modules:
            extra[name] = builtins_dict["__import__"](name, fromlist=["__name__"])
        for name, definition in global_definitions.items():
            extra[name] = _global_object(definition, builtins_dict)
        yield extra, builtins_dict
    finally:
        for key in names:
            _sources.pop(key, None)
        for key in [k for k in sys.modules if k == base or k.startswith(base + ".")]:
            del sys.modules[key]
