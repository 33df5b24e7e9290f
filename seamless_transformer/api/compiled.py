"""Compiled transformers: a schema, code in C, C++, Fortran, Rust (or a defined language).

    tf = CompiledTransformer("c")
    tf.schema = "inputs: ..."            # YAML text or a Path
    tf.code = "int transform(...) {...}" # text or a Path; #include "transform.h" is available
    tf(a=19, b=23).run()                 # → 42

`DirectCompiledTransformer` returns the value at once. Identity: the language, the schema text,
the code, the objects and the arguments; never the compiler flags (`.compilation`), the
environment or the metavars.
"""

import copy
import pathlib
import types

from .transformation import Transformation
from .transformer import Environment, Transformer, _celltype_name, _Namespace

RESULT_CELLTYPES = ("mixed", "deepcell")


def _text(value, what: str) -> str:
    if isinstance(value, pathlib.Path):
        return value.read_text()
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str or a pathlib.Path, not {type(value).__name__}")
    return value


class CompiledObject:
    """An extra source to compile and link with the transformer (as obj0, obj1, … in order).

    `code` is text or a Path, or {relative path: text} for a language in package mode;
    `language` any compiled language (ValueError if unknown).
    """

    def __init__(self, language: str, code):
        from ..execution.compiled.languages import get_compilation

        mode = get_compilation(language)["mode"]  # refuses an unknown language now
        self.language = language
        if mode == "package":
            if not isinstance(code, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                     for k, v in code.items()):
                raise TypeError(f"language '{language}' is in package mode: code must be {{relative path: text}}")
            self.code = dict(code)
        else:
            self.code = _text(code, "CompiledObject code")

    def to_dict(self) -> dict:
        return {"language": self.language, "code": self.code}

    def __repr__(self):
        return f"CompiledObject(language={self.language!r}, code=<{len(self.code)} chars>)"


class CompiledTransformer:
    """A compiled transformer whose calls return lazy Transformations (`.run()` → value).

    Attributes: `.schema` (YAML text or Path), `.code` (text or Path), `.header` (read-only,
    generated from the schema), `.metavars.max<W>` (buffer size of output-only wildcard W),
    `.objects` (list of CompiledObject), `.compilation` (editable dict; not identity),
    `.environment`, `.celltypes.result` ("mixed" | "deepcell"), `.args` (default arguments).
    `.modules` and `.globals` raise NotImplementedError. Raises ValueError for an unknown language.
    """

    _direct = False

    def __init__(self, language: str):
        from ..execution.compiled.languages import get_compilation

        self.language = language
        self._compilation = get_compilation(language)
        self._schema = None
        self._code = None
        self.objects = []
        self.metavars = _Namespace(self._check_metavar)
        self.celltypes = _Namespace(self._check_celltype)
        self.args = _Namespace()
        self.environment = Environment()
        self._meta = {}
        self.scratch = False
        self.allow_input_fingertip = False
        self.direct_print = False
        self.local = False

    # -- attributes ----------------------------------------------------------------------
    @property
    def schema(self) -> str | None:
        return self._schema

    @schema.setter
    def schema(self, value):
        from ..execution.compiled.schema import load_signature

        text = _text(value, "schema")
        load_signature(text)  # SchemaError (a ValueError) now, not at run time
        self._schema = text

    @property
    def code(self) -> str | None:
        return self._code

    @code.setter
    def code(self, value):
        self._code = _text(value, "code")

    @property
    def header(self) -> str:
        """The C header declaring transform() (ValueError while no schema is set)."""
        from ..execution.compiled.schema import header_of

        if self._schema is None:
            raise ValueError("the header is generated from the schema: set .schema first")
        return header_of(self._schema)

    @property
    def compilation(self) -> dict:
        return self._compilation

    @compilation.setter
    def compilation(self, value: dict):
        from ..execution.compiled.languages import complete_compilation

        self._compilation = complete_compilation(self.language, value)

    @property
    def modules(self):
        raise NotImplementedError("compiled transformers have no .modules")

    @property
    def globals(self):
        raise NotImplementedError("compiled transformers have no .globals")

    meta = Transformer.meta  # the same property: a copy out, an update in

    @staticmethod
    def _check_metavar(name, value):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
            raise TypeError(f"metavars.{name} must be an int from 0 to 4294967295 (an unsigned int), not {value!r}")
        return value

    @staticmethod
    def _check_celltype(name, value):
        if name != "result":
            raise AttributeError(f"compiled transformers take their input types from the schema, not celltypes.{name}")
        celltype = _celltype_name(value)
        if celltype not in RESULT_CELLTYPES:
            raise ValueError(f"the result celltype of a compiled transformer is mixed or deepcell, not '{celltype}'")
        return celltype

    # -- calls ---------------------------------------------------------------------------
    def _bind(self, args, kwargs) -> dict:
        from ..execution.compiled.schema import load_signature

        if self._schema is None or self._code is None:
            raise TypeError("a compiled transformer needs .schema and .code before it is called")
        names = [p.name for p in load_signature(self._schema).inputs]
        if len(args) > len(names):
            raise TypeError(f"transform() takes {len(names)} inputs, {len(args)} were given")
        bound = dict(self.args._data)
        bound.update(zip(names, args))
        for name, value in kwargs.items():
            if name not in names:
                raise TypeError(f"the schema has no input '{name}' (inputs: {', '.join(names) or 'none'})")
            bound[name] = value
        missing = [n for n in names if n not in bound]
        if missing:
            raise TypeError(f"transform() missing input: '{missing[0]}'")
        return {n: bound[n] for n in names}

    def __call__(self, /, *args, **kwargs):  # positional-only: an input may be called "self"
        tf = CompiledTransformation(self, self._bind(args, kwargs))
        return tf.run() if self._direct else tf


class DirectCompiledTransformer(CompiledTransformer):
    """A CompiledTransformer whose calls return the value (or raise TransformationError)."""

    _direct = True


class CompiledTransformation(Transformation):
    """One call of a compiled transformer (see Transformation)."""

    def __init__(self, transformer: CompiledTransformer, arguments: dict):
        meta = transformer.meta
        if transformer.metavars._data:
            meta["metavars"] = dict(transformer.metavars._data)
        view = types.SimpleNamespace(
            language=transformer.language, code_text=transformer.code,
            celltypes=transformer.celltypes, modules=_Namespace(), globals=_Namespace(),
            environment=transformer.environment, meta=meta, direct_print=transformer.direct_print,
            local=transformer.local, scratch=transformer.scratch,
            allow_input_fingertip=transformer.allow_input_fingertip,
        )
        super().__init__(view, arguments)
        self._schema_text = transformer.schema
        if not all(isinstance(obj, CompiledObject) for obj in transformer.objects):
            raise TypeError("tf.objects must be a list of CompiledObject(language, code)")
        self._objects = [obj.to_dict() for obj in transformer.objects]
        self._compilation = copy.deepcopy(transformer.compilation)

    def _compiled_languages(self) -> dict:
        from ..execution.compiled.languages import get_compilation

        languages = {}
        for obj in self._objects:
            if obj["language"] != self._language:
                languages.setdefault(obj["language"], get_compilation(obj["language"]))
        return languages

    def _build(self, *, compute_dependencies=True):
        from ..identity import build_compiled_dict

        arguments = self._bound_arguments(compute_dependencies)
        if arguments is None:
            return None
        return build_compiled_dict(
            language=self._language, schema_text=self._schema_text, code_text=self._code_text,
            objects=self._objects, arguments=arguments, result_celltype=self._celltypes.get("result", "mixed"),
            compilation=self._compilation, languages=self._compiled_languages(), env=self._env,
            meta=self._meta,
        )


def define_compiled_language(name: str, compilation: dict) -> None:
    """Register the compiled language `name`; see seamless_transformer.execution.compiled.languages
    for the keys of `compilation`. Raises ValueError / TypeError for a bad definition."""
    from ..execution.compiled.languages import define_compiled_language as define

    define(name, compilation)


__all__ = ["CompiledObject", "CompiledTransformer", "DirectCompiledTransformer", "define_compiled_language"]
