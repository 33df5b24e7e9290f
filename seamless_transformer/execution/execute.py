"""Execute one transformation dict right here, whatever its language, and measure it.

Input buffers come from the `resolve(checksum, fingertip=...) -> bytes` callable the caller
hands in: the engine's `resolve_buffer`, which with `fingertip` recomputes a missing buffer from
the transformation that produced it. This layer never calls back into the engine itself.
"""

from dataclasses import dataclass, field

from ..celltypes import DEEP_CELLTYPES, deserialize, serialize
from ..checksum import Checksum
from ..config import get_settings
from ..errors import SeamlessError
from ..store.storage import get_storage
from ..identity import is_dunder
from .record import Measurement, build_record

@dataclass
class Outcome:
    """What an execution hands back to the engine (also shipped from workers and Dask)."""

    result_buffer: bytes | None
    extra_buffers: dict = field(default_factory=dict)
    logs: str | None = None
    measurement: Measurement | None = None
    language_kind: str = "python"
    execution_mode: str = "process"
    remote_target: str | None = None
    input_total_bytes: int | None = None
    retry_count: int = 0
    worker_execution_index: int | None = None
    result_checksum: str | None = None  # set: the result was stored where it ran (Dask, or a big
    output_total_bytes: int | None = None  # bash RESULT file), and result_buffer is None or a copy
    stored_for: dict | None = None  # Dask: the storage spec of the task that stored result_checksum


def pins_of(tf_dict: dict):
    """(name, celltype, subcelltype, checksum) of every pin, sorted by name."""
    for name in sorted(tf_dict):
        if is_dunder(name):
            continue
        celltype, subcelltype, cs = tf_dict[name]
        yield name, celltype, subcelltype, cs


def _is_deep(tf_dict, name, celltype) -> bool:
    fmt = tf_dict.get("__format__", {}).get(name, {})
    return celltype in DEEP_CELLTYPES or fmt.get("filesystem", {}).get("mode") == "directory"


def _python_namespace(tf_dict, *, resolve, fingertip):
    """(code text, input values, extra globals, pins, total input bytes) of a Python transformation.

    `pins` is ({name: module definition}, {name: source/repr global definition}).
    """
    renames = tf_dict.get("__as__", {})
    code, inputs, extra, total = None, {}, {}, 0
    modules, global_definitions = {}, {}
    for name, celltype, subcelltype, cs in pins_of(tf_dict):
        if name.startswith("META__"):
            continue
        buffer = resolve(cs, fingertip=fingertip)
        total += len(buffer)
        if name == "code":
            code = deserialize(buffer, "text")
        elif subcelltype == "module":
            modules[renames.get(name, name)] = deserialize(buffer, "plain")
        elif subcelltype == "global" and celltype == "plain":
            global_definitions[renames.get(name, name)] = deserialize(buffer, "plain")
        elif subcelltype == "global":
            extra[renames.get(name, name)] = deserialize(buffer, celltype)
        elif _is_deep(tf_dict, name, celltype):
            inputs[renames.get(name, name)] = deserialize(buffer, "plain")
        else:
            inputs[renames.get(name, name)] = deserialize(buffer, celltype)
    if code is None:
        raise SeamlessError("transformation has no code pin")
    return code, inputs, extra, (modules, global_definitions), total


def _execute_python(tf_dict, *, resolve, direct_print, fingertip) -> Outcome:
    from .python import run_python

    code, inputs, extra, pins, total = _python_namespace(tf_dict, resolve=resolve, fingertip=fingertip)
    celltype = tf_dict.get("__output__", ["result", "mixed", None])[1]
    measurement = Measurement.start()
    code_cs = tf_dict["code"][2]
    value, logs = run_python(code, inputs, extra_globals=extra, pins=pins, direct_print=direct_print,
                             label=f"transformer {code_cs[:12]}")
    measurement.stop()
    buffer = serialize(value, celltype)
    return Outcome(buffer, logs=logs, measurement=measurement, input_total_bytes=total)


def _execute_bash(tf_dict, *, resolve, cancel, fingertip, stdout=None, stderr=None) -> Outcome:
    from .bash import execute_bash

    storage = get_storage()
    if fingertip:  # recompute missing inputs now, so that the workspace can be materialized
        for name, celltype, _sub, cs in pins_of(tf_dict):
            if not storage.has_valid_buffer(cs):
                resolve(cs, fingertip=True)
            if _is_deep(tf_dict, name, celltype):  # and the leaves of a directory pin
                for leaf in deserialize(storage.get_buffer(cs), "plain").values():
                    if not storage.has_valid_buffer(leaf):
                        resolve(leaf, fingertip=True)
    measurement = Measurement.start()
    outcome = execute_bash(tf_dict, storage, cancel=cancel, stdout=stdout, stderr=stderr)
    measurement.stop(cpu=(outcome.utime, outcome.stime), memory_peak=outcome.maxrss_bytes)
    result, stored = outcome.result_buffer, None
    if isinstance(result, Checksum):  # a big bytes RESULT, stored from its file already
        result, stored = None, result
    return Outcome(result, dict(outcome.extra_buffers), logs=outcome.logs, measurement=measurement,
                   language_kind="bash", input_total_bytes=None,
                   result_checksum=None if stored is None else stored.hex(),
                   output_total_bytes=None if stored is None else _stored_size(stored))


def _execute_compiled(tf_dict, *, resolve, fingertip) -> Outcome:
    from .compiled.run import execute_compiled, result_buffers

    celltype = tf_dict.get("__output__", ["result", "mixed", None])[1]
    measurement = Measurement.start()
    value, compile_seconds, total = execute_compiled(tf_dict, resolve=resolve, fingertip=fingertip)
    measurement.stop()
    measurement.extra["compilation_time_seconds"] = round(compile_seconds, 6)
    buffer, leaves = result_buffers(value, celltype)
    return Outcome(buffer, leaves, measurement=measurement, language_kind="compiled", input_total_bytes=total)


def execute(tf_dict, tf, *, resolve, cancel=None, direct_print=False, fingertip=False,
            stdout=None, stderr=None) -> Outcome:
    """Run the transformation in this process and return its Outcome (raises on failure).

    `resolve(checksum, fingertip=bool) -> bytes` obtains input buffers (raises CacheMissError).
    """
    language = tf_dict.get("__language__", "python")
    if language == "python":
        return _execute_python(tf_dict, resolve=resolve, direct_print=direct_print, fingertip=fingertip)
    if language == "bash":
        return _execute_bash(tf_dict, resolve=resolve, cancel=cancel, fingertip=fingertip,
                             stdout=stdout, stderr=stderr)
    from .compiled.languages import is_compiled_language

    if "__schema__" in tf_dict or is_compiled_language(language):  # c, cpp, fortran, rust, defined
        return _execute_compiled(tf_dict, resolve=resolve, fingertip=fingertip)
    raise SeamlessError(f"language '{language}' is not supported")


def make_record(job, outcome: Outcome, result) -> dict:
    """The execution record of a finished job, minimal unless `record` is on."""
    settings = get_settings()
    env = job.tf_dict.get("__env__") if job.tf_dict else None
    return build_record(
        job.tf, result, outcome.measurement or Measurement.start().stop(),
        full=settings.record,
        execution_mode=outcome.execution_mode,
        remote_target=outcome.remote_target,
        language_kind=outcome.language_kind,
        scratch=job.scratch,
        allow_input_fingertip=job.fingertip,
        resolved_env_checksum=env if isinstance(env, str) else None,
        input_total_bytes=outcome.input_total_bytes,
        output_total_bytes=(len(outcome.result_buffer) if outcome.result_buffer is not None
                            else outcome.output_total_bytes),
        worker_execution_index=outcome.worker_execution_index,
        retry_count=outcome.retry_count,
    )


def _stored_size(cs: Checksum) -> int | None:
    """The size of a stored buffer's file, if it has one."""
    import os

    path = get_storage().buffer_path(cs)
    return os.path.getsize(path) if path is not None else None
