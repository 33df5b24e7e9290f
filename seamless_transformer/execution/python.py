"""Execute the code of a Python transformation.

The code runs in a fresh namespace whose globals are the input pins. What it prints goes to
a buffer of its own: sys.stdout/sys.stderr are replaced (once, and again whenever someone else
replaced them) by a proxy that routes each write to the capture buffer of the *current thread*,
so transformations running side by side in one process never see each other's output.
"""

import ast
import functools
import io
import linecache
import sys
import threading
import traceback

from ..errors import TransformationError
from .modules import pinned

_capture = threading.local()
_install_lock = threading.Lock()


class _ThreadRoutedStream(io.TextIOBase):
    """A text stream that writes to the calling thread's capture buffer, if it has one."""

    def __init__(self, original):
        self._original = original

    def write(self, text):
        target = getattr(_capture, "buffer", None)
        if target is None:
            return self._original.write(text)
        target.write(text)
        if getattr(_capture, "forward", False):
            self._original.write(text)
            self._original.flush()
        return len(text)

    def flush(self):
        if getattr(_capture, "buffer", None) is None:
            self._original.flush()

    def writable(self):
        return True

    def __getattr__(self, name):
        return getattr(self._original, name)


def _install_proxies():
    with _install_lock:
        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if not isinstance(current, _ThreadRoutedStream):
                setattr(sys, name, _ThreadRoutedStream(current))


class captured_output:
    """Context manager: route this thread's prints into a string buffer (`.text`)."""

    def __init__(self, forward=False):
        self.forward = forward
        self.text = ""

    def __enter__(self):
        _install_proxies()
        self._saved = (getattr(_capture, "buffer", None), getattr(_capture, "forward", False))
        self._buffer = io.StringIO()
        _capture.buffer = self._buffer
        _capture.forward = self.forward
        return self

    def __exit__(self, *exc):
        _capture.buffer, _capture.forward = self._saved
        self.text = self._buffer.getvalue()
        return False


def _user_traceback(exc: BaseException, filename: str) -> str:
    """The traceback of `exc`, starting at the first frame of the user's code."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    if tb is None:
        return "".join(traceback.format_exception_only(type(exc), exc))
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _register_source(code_text: str, filename: str):
    lines = code_text.splitlines(keepends=True)
    linecache.cache[filename] = (len(code_text), None, lines, filename)


def _call_kwargs(inputs: dict) -> dict:
    return {k: inputs[k] for k in sorted(inputs) if not k.endswith("_SCHEMA")}


@functools.lru_cache(maxsize=256)
def _compiled(code_text: str, filename: str):
    """(mode, code object, function name) of transformation code; compiled once per text."""
    tree = ast.parse(code_text, filename=filename)
    body = tree.body
    if len(body) == 1 and isinstance(body[0], (ast.FunctionDef, ast.AsyncFunctionDef)):
        return "def", compile(tree, filename, "exec"), body[0].name
    if len(body) == 1 and isinstance(body[0], ast.Expr):
        mode = "lambda" if isinstance(body[0].value, ast.Lambda) else "expr"
        return mode, compile(ast.Expression(body[0].value), filename, "eval"), None
    return "block", compile(tree, filename, "exec"), None


def _execute(code_text: str, filename: str, namespace: dict, inputs: dict):
    mode, code, name = _compiled(code_text, filename)
    if mode == "def":
        exec(code, namespace)
        return namespace[name](**_call_kwargs(inputs))
    if mode == "lambda":
        return eval(code, namespace)(**_call_kwargs(inputs))
    if mode == "expr":
        return eval(code, namespace)
    exec(code, namespace)
    if "result" not in namespace:
        raise _ResultUndefined()
    return namespace["result"]


class _ResultUndefined(Exception):
    pass


def run_python(code_text: str, inputs: dict, *, extra_globals=None, pins=None, direct_print=False,
               label="transformer"):
    """Run Python transformation code; return (value, logs).

    `inputs` are the pin values (passed as kwargs to a def/lambda); `extra_globals` are the
    value globals, and `pins` the (module definitions, source/repr global definitions) that
    execution.modules builds for this run (visible, never passed). Failures raise TransformationError whose
    text is the user's traceback only; `logs` is attached to it as `.logs`.
    """
    filename = f"<{label}>"
    _register_source(code_text, filename)
    namespace = {"__name__": "transformer"}
    namespace.update(extra_globals or {})
    capture = captured_output(forward=direct_print)
    error = None
    with capture:
        try:
            with pinned(*(pins or ({}, {}))) as (pin_globals, builtins_dict):
                namespace.update(pin_globals)
                namespace.update(inputs)
                if builtins_dict is not None:
                    namespace["__builtins__"] = builtins_dict
                value = _execute(code_text, filename, namespace, inputs)
        except _ResultUndefined:
            error = "Output variable name 'result' undefined\n"
        except SyntaxError as exc:
            error = "".join(traceback.format_exception_only(type(exc), exc))
        except BaseException as exc:  # the user's code may raise anything, SystemExit included
            if isinstance(exc, KeyboardInterrupt):
                raise
            error = _user_traceback(exc, filename)
    if error is None and value is None:
        error = "RuntimeError: Result is empty\n"
    if error is not None:
        raise TransformationError(error, logs=capture.text)
    return value, capture.text
