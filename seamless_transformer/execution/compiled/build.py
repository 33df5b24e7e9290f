"""Build a compiled transformer into a Python extension module, once per machine.

    objects ──compiler──▶ .o / .a ──CFFI (cdef = header without # lines)──▶ module .so

Each object (the transformer's code first, then `.objects`) is compiled in a private build
directory that also holds `transform.h`, with

    compiler [language_flag] [compile_flag] options [include_flag builddir] output_flag out src

run with cwd = the build directory. CFFI writes the C source of the extension module, which is
compiled and linked with the objects and the languages' link options.

Module cache: in this process (a dict), and on disk in
`${XDG_CACHE_HOME:-~/.cache}/seamless/compiled/<key>/`, where key = sha256 of the canonical JSON of
the completed objects, the header, the link options, the Python ABI, the platform and the CPU. A module
directory is built under a temporary name and renamed into place, so a reader never sees half of
one; a process that loses the race to build the same key uses the winner's. A module is loaded only
when its sha256 matches the one written at build time (else it is rebuilt) and its directory belongs
to this user and nobody else may write it (else TransformationError: it may have been planted).
"""

import functools
import hashlib
import json
import os
import platform
import shlex
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time

from ...config import cache_dir
from ...errors import TransformationError

_modules: dict = {}  # key -> loaded extension module
_locks: dict = {}
_locks_lock = threading.Lock()
DIGEST_FILE = "module.sha256"  # the sha256 of the built module, checked before it is loaded


def module_key(objects: list, header: str) -> str:
    """The cache key (64 hex) of a module built from these completed objects and header.

    `objects`: [{"name", "language", "code": str | {relpath: str}, "compilation": dict}].
    """
    document = {
        "objects": objects,
        "header": header,
        "link_options": link_options(objects),
        "python_abi": sysconfig.get_config_var("EXT_SUFFIX") or sys.implementation.cache_tag,
        "platform": sysconfig.get_platform() + "-" + platform.machine(),
        "cpu": _cpu_id(),  # -march=native code from another CPU may not run here
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


@functools.lru_cache(maxsize=1)
def _cpu_id() -> str:
    """The CPU model and its instruction-set flags (Linux), else platform.processor()."""
    try:
        with open("/proc/cpuinfo") as f:
            lines = f.read().split("\n\n")[0].splitlines()
    except OSError:
        return platform.processor()
    wanted = [line.split(":", 1)[1].strip() for line in lines
              if line.split(":", 1)[0].strip() in ("model name", "flags", "Features", "CPU part")]
    return hashlib.sha256("\n".join(wanted).encode()).hexdigest()


def link_options(objects: list) -> list:
    """The link options of every language used, in order of first use, each once."""
    result = []
    for obj in objects:
        for option in obj["compilation"]["link_options"]:
            if option not in result:
                result.append(option)
    return result


def get_module(objects: list, header: str):
    """(extension module with .ffi and .lib, seconds spent compiling: 0.0 when it was cached).

    Raises TransformationError when a compiler fails (with its command line and output) or
    cannot be found.
    """
    key = module_key(objects, header)
    module = _modules.get(key)
    if module is not None:
        return module, 0.0
    with _key_lock(key):
        module = _modules.get(key)
        if module is not None:
            return module, 0.0
        directory = cache_dir("compiled", key)
        elapsed = 0.0
        if not _intact(directory, key):
            started = time.perf_counter()
            if os.path.isdir(directory):
                shutil.rmtree(directory, ignore_errors=True)  # damaged, or not made by a rename
            _build_into_place(objects, header, key, directory)
            elapsed = time.perf_counter() - started
            if not _intact(directory, key):  # a directory that is not ours took the place
                raise TransformationError(f"the module in {directory} is not the one built: remove it to rebuild")
        module = _load(directory, key)
        _modules[key] = module
        return module, elapsed


def _key_lock(key):
    with _locks_lock:
        return _locks.setdefault(key, threading.Lock())


def _module_name(key: str) -> str:
    return f"_seamless_compiled_{key[:32]}"


def _module_file(directory: str, key: str) -> str:
    return os.path.join(directory, _module_name(key) + sysconfig.get_config_var("EXT_SUFFIX"))


def _digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _check_private(directory: str) -> None:
    """Refuse a module directory that is a link, another user's, or writable by others: the
    module in it may be planted."""
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise TransformationError(
            f"refusing the compiled module in {directory}: its directory must be owned by uid "
            f"{os.getuid()} and writable by nobody else (owner uid {info.st_uid}, mode {info.st_mode & 0o777:o}"
            f"{', a symbolic link' if stat.S_ISLNK(info.st_mode) else ''}); remove it to rebuild")


def _intact(directory: str, key: str) -> bool:
    """Whether the module of `key` is in the cache and is the bytes that were built (its sha256
    is written next to it at build time). TransformationError for a directory it must not trust."""
    module_file = _module_file(directory, key)
    if not os.path.exists(module_file):
        return False
    _check_private(directory)
    try:
        with open(os.path.join(directory, DIGEST_FILE)) as f:
            return f.read().strip() == _digest(module_file)
    except OSError:
        return False


def _load(directory: str, key: str):
    import importlib.machinery
    import importlib.util

    name = _module_name(key)
    loader = importlib.machinery.ExtensionFileLoader(name, _module_file(directory, key))
    spec = importlib.util.spec_from_loader(name, loader)
    try:
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
    except ImportError as exc:
        raise TransformationError(f"the built module does not load: {exc} "
                                  "(is a library missing from the language's link_options?)") from None
    return module


def _build_into_place(objects, header, key, directory):
    parent = os.path.dirname(directory)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".tmp-{key[:12]}-", dir=parent)
    try:
        with tempfile.TemporaryDirectory(prefix="seamless-build-") as builddir:
            built = build_module(objects, header, _module_name(key), builddir)
            shutil.copy2(built, _module_file(staging, key))
        with open(os.path.join(staging, DIGEST_FILE), "w") as f:
            f.write(_digest(_module_file(staging, key)) + "\n")
        try:
            os.rename(staging, directory)
        except OSError:
            if not os.path.isdir(directory):  # not a lost race: a real failure
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def build_module(objects, header, module_name, builddir) -> str:
    """Compile `objects` and link them into the extension `module_name` in `builddir`; its path."""
    with open(os.path.join(builddir, "transform.h"), "w") as f:
        f.write(header)
    built = [compile_object(obj, builddir) for obj in objects]
    source = _emit_cffi_source(header, module_name, builddir)
    output = os.path.join(builddir, module_name + sysconfig.get_config_var("EXT_SUFFIX"))
    from .languages import get_compilation

    compiler = get_compilation("c")["compiler"]  # the extension module is C
    command = [compiler, "-shared", "-fPIC", "-O2", "-I" + sysconfig.get_paths()["include"],
               "-I" + builddir, source, *built, *link_options(objects), "-o", output]
    _run(command, builddir, "the CFFI extension module")
    return output


def _emit_cffi_source(header, module_name, builddir) -> str:
    import cffi
    from cffi.recompiler import recompile

    ffi = cffi.FFI()
    cdef = "\n".join(line for line in header.splitlines() if not line.startswith("#"))
    # pycparser, under cffi, knows complex types only as "double _Complex"
    ffi.cdef(cdef.replace("_Complex float", "float _Complex").replace("_Complex double", "double _Complex"))
    ffi.set_source(module_name, '#include "transform.h"')
    path = os.path.join(builddir, module_name + ".c")
    # ffi.emit_c_code() with compiler_verbose=0: it would print "generating …" on stdout
    recompile(ffi, module_name, '#include "transform.h"', c_file=path, call_c_compiler=False,
              uses_ffiplatform=False, compiler_verbose=0)
    return path


def compile_object(obj: dict, builddir: str) -> str:
    """Compile one completed object in `builddir`; the path of the .o or .a it made."""
    comp, name = obj["compilation"], obj["name"]
    mode = comp["mode"]
    if mode == "package":
        source = name
        for relpath, text in sorted(obj["code"].items()):
            _check_relpath(relpath, obj["language"])
            path = os.path.join(builddir, name, relpath)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
    else:
        source = f"{name}.{comp['extension']}" if comp["extension"] else name
        with open(os.path.join(builddir, source), "w") as f:
            f.write(obj["code"])
    output = f"{name}.o" if mode == "object" else f"lib{name}.a"
    command = [comp["compiler"], *shlex.split(comp["language_flag"]), *shlex.split(comp["compile_flag"]),
               *comp["options"]]
    if comp["include_flag"]:
        command += [comp["include_flag"], builddir]
    command += [comp["output_flag"], output, source]
    _run(command, builddir, f"{name} ({obj['language']})")
    return os.path.join(builddir, output)


def _check_relpath(relpath, language):
    parts = relpath.split("/")
    if not relpath or relpath.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\0" in relpath:
        raise TransformationError(f"package of language '{language}': {relpath!r} is not a plain relative path")


def _run(command, cwd, what):
    try:
        proc = subprocess.run(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace")
    except FileNotFoundError:
        raise TransformationError(f"cannot compile {what}: compiler '{command[0]}' not found on PATH") from None
    if proc.returncode != 0:
        raise TransformationError(
            f"compilation of {what} failed (exit status {proc.returncode})\n"
            f"command: {shlex.join(command)}\n{proc.stdout.rstrip()}"
        )
