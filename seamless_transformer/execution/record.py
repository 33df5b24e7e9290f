"""Execution records: what one successful execution cost, captured where it ran.

A `Measurement` is taken around the execution (in the thread, worker or job that ran it) and
shipped back with the result; `build_record` turns it into the minimal or full record dict,
keys in upstream's exact order, which the process owning the lookup writes to meta_data.
"""

import datetime
import os
import platform
import socket
import sys
import time
from dataclasses import dataclass, field

try:
    import resource
except ImportError:  # pragma: no cover - not on Linux/macOS
    resource = None

SCHEMA_VERSION = 1
_version = None


def seamless_version() -> str:
    global _version
    if _version is None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            _version = version("seamless-transformer")
        except PackageNotFoundError:
            _version = "unknown"
    return _version


def _utcnow() -> str:
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _thread_cpu():
    """(user, system) CPU seconds of the calling thread."""
    if resource is not None and hasattr(resource, "RUSAGE_THREAD"):
        usage = resource.getrusage(resource.RUSAGE_THREAD)
        return usage.ru_utime, usage.ru_stime
    return time.thread_time(), 0.0


def process_maxrss_bytes():
    if resource is None:
        return None
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024


@dataclass
class Measurement:
    """Figures of one execution. Start with `Measurement.start()`, end with `.stop()`."""

    started_at: str = ""
    finished_at: str = ""
    wall: float = 0.0
    cpu_user: float = 0.0
    cpu_system: float = 0.0
    memory_peak: int | None = None
    hostname: str = ""
    pid: int = 0
    extra: dict = field(default_factory=dict)
    _t0: float = 0.0
    _cpu0: tuple = (0.0, 0.0)

    @classmethod
    def start(cls) -> "Measurement":
        m = cls(started_at=_utcnow(), hostname=socket.gethostname(), pid=os.getpid())
        m._t0 = time.perf_counter()
        m._cpu0 = _thread_cpu()
        return m

    def stop(self, *, cpu=None, memory_peak=None) -> "Measurement":
        """End the measurement. `cpu`/`memory_peak` override thread figures (bash jobs: wait4)."""
        self.wall = time.perf_counter() - self._t0
        self.finished_at = _utcnow()
        if cpu is None:
            user, system = _thread_cpu()
            cpu = (user - self._cpu0[0], system - self._cpu0[1])
        self.cpu_user, self.cpu_system = cpu
        self.memory_peak = memory_peak if memory_peak is not None else process_maxrss_bytes()
        return self


def build_record(tf, result, m: Measurement, *, full=False, execution_mode="process",
                 remote_target=None, language_kind="python", scratch=False,
                 allow_input_fingertip=False, resolved_env_checksum=None,
                 input_total_bytes=None, output_total_bytes=None,
                 worker_execution_index=None, retry_count=0) -> dict:
    record = {
        "schema_version": SCHEMA_VERSION,
        "tf_checksum": str(tf),
        "result_checksum": str(result),
        "seamless_version": seamless_version(),
        "execution_mode": execution_mode,
        "remote_target": remote_target,
        "wall_time_seconds": round(m.wall, 6),
        "cpu_time_user_seconds": round(m.cpu_user, 6),
        "cpu_time_system_seconds": round(m.cpu_system, 6),
        "memory_peak_bytes": m.memory_peak,
        "gpu_memory_peak_bytes": None,
    }
    if not full:
        return record
    record.update(
        {
            "started_at": m.started_at,
            "finished_at": m.finished_at,
            "hostname": m.hostname,
            "pid": m.pid,
            "python_version": platform.python_version(),
            "platform": platform.platform(),
            "language_kind": language_kind,
            "scratch": scratch,
            "allow_input_fingertip": allow_input_fingertip,
            "resolved_env_checksum": resolved_env_checksum,
            "input_total_bytes": input_total_bytes,
            "output_total_bytes": output_total_bytes,
        }
    )
    if language_kind == "compiled":
        record["compilation_time_seconds"] = m.extra.get("compilation_time_seconds")
    record["worker_execution_index"] = worker_execution_index
    record["retry_count"] = retry_count
    return record
