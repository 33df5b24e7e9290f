"""Transformers: `delayed` / `direct` wrappers of Python functions and code strings.

A Transformer holds the code and its settings; calling it binds arguments and returns a lazy
`Transformation` (delayed) or that transformation's value (direct).
"""

import copy
import inspect
import types

from ..errors import TransformationError

_PYTYPE_CELLTYPES = {int: "int", float: "float", str: "str", bool: "bool", bytes: "bytes",
                     dict: "plain", list: "plain"}


def _celltype_name(value) -> str:
    if isinstance(value, type):
        if value not in _PYTYPE_CELLTYPES:
            raise TypeError(f"No celltype for Python type {value.__name__}")
        return _PYTYPE_CELLTYPES[value]
    if not isinstance(value, str):
        raise TypeError(f"A celltype is a str or a type, not {type(value).__name__}")
    from ..celltypes import CELLTYPES

    if value not in CELLTYPES:
        raise ValueError(f"Unknown celltype: {value!r}")
    return value


class _Namespace:
    """Attribute bag (`.args`, `.modules`, `.globals`) with an optional name check."""

    def __init__(self, check=None):
        object.__setattr__(self, "_data", {})
        object.__setattr__(self, "_check", check)

    def __setattr__(self, name, value):
        if self._check is not None:
            value = self._check(name, value)
        self._data[name] = value

    def __getattr__(self, name):
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(name) from None

    def __delattr__(self, name):
        self._data.pop(name, None)

    def __dir__(self):
        return sorted(self._data)

    def __copy__(self):
        new = _Namespace(self._check)
        new._data.update(self._data)
        return new


class Environment:
    """Execution environment of a transformer (orthogonal: never part of identity)."""

    def __init__(self):
        self._conda_env = None
        self._docker = None
        self._conda = None
        self._which = None

    def set_conda_env(self, name: str):
        self._conda_env = name

    def set_docker(self, docker: dict):
        if not isinstance(docker, dict) or "name" not in docker:
            raise TypeError('set_docker expects a dict like {"name": "image"}')
        self._docker = dict(docker)

    def set_conda(self, conda_yaml: str):
        self._conda = conda_yaml

    def set_which(self, which: list):
        self._which = list(which)

    def to_dict(self) -> dict:
        env = {}
        if self._conda_env:
            env["conda_environment"] = self._conda_env
        if self._docker:
            env["docker"] = self._docker
        if self._conda:
            env["conda"] = self._conda
        if self._which:
            env["which"] = self._which
        return env


class Transformer:
    """A function or code string that becomes a Transformation when called."""

    def __init__(self, code, language="python", *, direct=False):
        from ..identity import python_code_text

        if isinstance(code, Transformer):
            self.__dict__.update(copy.deepcopy(code.__dict__))
            self._direct = direct
            return
        self._direct = direct
        self.language = language
        self._signature = None
        if callable(code):
            if not isinstance(code, types.FunctionType):
                raise TypeError(f"A transformer must be a plain function, not {type(code).__name__}")
            if language != "python":
                raise TypeError("A function transformer must be in Python")
            self.code_text = python_code_text(code)
            self._signature = inspect.signature(code)
            self._name = code.__name__
        elif isinstance(code, str):
            self.code_text = code
            self._name = "transformer"
        else:
            raise TypeError(f"Transformer code must be a function or a str, not {type(code).__name__}")
        self.celltypes = _Namespace(self._check_celltype)
        self.args = _Namespace()
        self.modules = _Namespace(self._check_module)
        self.globals = _Namespace(self._check_global)
        self.environment = Environment()
        self._meta = {}
        self.scratch = False
        self.allow_input_fingertip = False
        self.direct_print = False
        self.local = False

    def _check_celltype(self, name, value):
        celltype = _celltype_name(value)
        if name == "result":
            if celltype in ("deepfolder", "module"):
                raise ValueError(f"The result celltype cannot be '{celltype}'")
            return celltype
        if self._signature is not None and name not in self._signature.parameters:
            raise AttributeError(f"'{self._name}' has no parameter '{name}'")
        return celltype

    @staticmethod
    def _check_module(name, value):
        from ..identity import module_definition

        if not isinstance(value, (types.ModuleType, dict)):
            raise TypeError(f"modules.{name} must be a module or a module definition dict")
        module_definition(value, name)  # refuses what cannot be shipped, at once
        return value

    @staticmethod
    def _check_global(name, value):
        from ..identity import global_pin

        global_pin(name, value)  # refuses what cannot be shipped, at once
        return value

    @property
    def meta(self) -> dict:
        return dict(self._meta)

    @meta.setter
    def meta(self, value: dict):
        self._meta.update(value)

    def _bind(self, args, kwargs) -> dict:
        bound = dict(self.args._data)
        if self._signature is None:
            if args:
                raise TypeError("Arguments of a code-string transformer are keyword-only")
            bound.update(kwargs)
            return bound
        params = self._signature.bind_partial(*args, **kwargs).arguments
        bound.update(params)
        missing = [
            n for n, p in self._signature.parameters.items()
            if p.default is inspect.Parameter.empty and n not in bound
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        if missing:
            raise TypeError(f"{self._name}() missing required argument: {missing[0]!r}")
        return bound

    def __call__(self, *args, **kwargs):
        from .transformation import Transformation

        tf = Transformation(self, self._bind(args, kwargs))
        return tf.run() if self._direct else tf


def delayed(code, language="python"):
    """A transformer whose calls return lazy Transformations."""
    return Transformer(code, language, direct=False)


def direct(code, language="python"):
    """A transformer whose calls return the value (or raise TransformationError)."""
    return Transformer(code, language, direct=True)


__all__ = ["Transformer", "delayed", "direct", "Environment", "TransformationError"]
