"""JobserverBackend: the engine Backend that runs transformations on a seamless-jobserver
(the protocol is drawn in this package's docstring)."""

import json
import logging
import threading

from ..celltypes import DEEP_CELLTYPES, deserialize
from ..checksum import Checksum
from ..errors import CacheMissError, CanceledError, ConfigError, RemoteError, TransformationError
from ..execution.execute import Outcome, pins_of
from ..execution.record import Measurement
from ..identity import META_PREFIX, ORTHOGONAL_DUNDERS
from ..store.remote import request
from ..store.storage import get_storage

logger = logging.getLogger(__name__)

POLL_SECONDS = 2.0  # how often the status of a submitted transformation is asked
LOST_POLLS = 3  # this many answers in a row that it does not run (and no result): it is lost
CANCELED_TEXT = "Transformation was canceled"


class JobserverBackend:
    """Runs each submitted job on the jobserver at `url`, one waiting thread per job."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.target = f"jobserver:{self.url}"
        self._lock = threading.Lock()
        self._inflight = {}  # tf hex -> number of jobs of ours waiting for it

    def __repr__(self):
        return f"JobserverBackend({self.url!r})"

    def submit(self, job, done) -> None:
        name = f"seamless-jobserver-{job.tf.hex()[:8]}"
        threading.Thread(target=self._run, args=(job, done), name=name, daemon=True).start()

    def _run(self, job, done) -> None:
        tf = job.tf.hex()
        with self._lock:
            self._inflight[tf] = self._inflight.get(tf, 0) + 1
        try:
            outcome = self.run(job)
        except BaseException as exc:  # noqa: BLE001 - every failure goes to done
            done(None, exc)
            return
        finally:
            with self._lock:
                self._inflight[tf] -= 1
                if not self._inflight[tf]:
                    del self._inflight[tf]
        done(outcome, None)

    def run(self, job) -> Outcome:
        """Upload the inputs, submit, wait (polling the status), fetch the result buffer."""
        storage = get_storage()
        upload_inputs(job.tf_dict, storage)
        answer = self._submit_and_wait(job)
        result, runtime = self._interpret(job, *answer)
        try:
            buffer = storage.get_buffer(result)
        except CacheMissError:
            raise RemoteError(f"{self.url}: result {result} of transformation {job.tf.hex()} "
                              "is not on the hashserver the jobserver shares with us") from None
        language = job.tf_dict.get("__language__", "python")
        return Outcome(buffer, measurement=_measurement(runtime), execution_mode="remote",
                       remote_target=self.target, language_kind="bash" if language == "bash" else "python")

    def _submit_and_wait(self, job) -> tuple:
        """(status, text) of the /run-transformation answer; polls the status meanwhile."""
        answer, finished = {}, threading.Event()
        body = json.dumps(self._payload(job), default=_plain).encode()

        def send():
            try:
                response = request("GET", f"{self.url}/run-transformation", body=body, read_timeout=None,
                                   headers={"Content-Type": "application/json"}, retry_server_errors=False)
                answer["value"] = (response.status, response.data.decode("utf-8", "replace"))
            except BaseException as exc:  # noqa: BLE001 - reported to the waiting thread
                answer["error"] = exc
            finished.set()

        threading.Thread(target=send, name=f"seamless-jobserver-send-{job.tf.hex()[:8]}", daemon=True).start()
        absent = 0
        while not finished.wait(POLL_SECONDS):
            if job.cancel_event.is_set():
                raise CanceledError("Transformation was canceled", tf=job.tf.hex())
            status = self.status(job.tf)
            absent = absent + 1 if status in ("not-running", "failed") else 0
            if absent >= LOST_POLLS and not finished.is_set():
                raise RemoteError(f"{self.url}: the jobserver no longer runs transformation {job.tf.hex()} "
                                  f"(status {status!r}) and gave no result")
        if "error" in answer:
            raise answer["error"]
        return answer["value"]

    def _payload(self, job) -> dict:
        from ..config import get_settings

        tf_dict = job.tf_dict
        tf_dunder = {k: v for k, v in tf_dict.items() if k in ORTHOGONAL_DUNDERS or k.startswith(META_PREFIX)}
        # scratch=False: the jobserver keeps no scratch result, and its bytes are needed here
        return {"transformation_dict": tf_dict, "tf_checksum": job.tf.hex(), "tf_dunder": tf_dunder,
                "scratch": False, "strict_dunder": False, "record": bool(get_settings().record)}

    def _interpret(self, job, status: int, text: str) -> tuple:
        """(result Checksum, record_runtime dict) of a /run-transformation answer, or raise."""
        where = f"{self.url}/run-transformation"
        message = " ".join(text.split())
        if status == 200 and text.strip() == CANCELED_TEXT or status == 409 and CANCELED_TEXT in text:
            raise CanceledError("Transformation was canceled", tf=job.tf.hex())
        if status == 409:
            raise ConfigError(f"{where}: {message}")
        if status == 500:
            raise TransformationError(text.strip() or f"{where}: failed without a message", tf=job.tf.hex())
        if status != 200:
            raise RemoteError(f"{where}: unexpected answer (HTTP {status}: {message[:200]})")
        try:
            payload = json.loads(text)
        except ValueError:
            payload = text.strip()
        if isinstance(payload, dict) and isinstance(payload.get("result_checksum"), str):
            result, runtime = payload["result_checksum"], payload.get("record_runtime")
        elif isinstance(payload, str):
            result, runtime = payload, None
        else:
            raise RemoteError(f"{where}: unexpected answer {message[:200]!r}")
        try:
            return Checksum(result), runtime if isinstance(runtime, dict) else {}
        except (ValueError, TypeError):
            raise RemoteError(f"{where}: malformed result checksum {result[:80]!r}") from None

    def status(self, tf) -> str:
        """The jobserver's status of `tf`: running, canceled, failed, not-running (RemoteError
        when it cannot be reached)."""
        response = request("GET", f"{self.url}/transformation-status/{Checksum(tf).hex()}")
        try:
            return str(json.loads(response.data)["status"])
        except (ValueError, KeyError, TypeError):
            raise RemoteError(f"{self.url}/transformation-status: unexpected answer "
                              f"(HTTP {response.status})") from None

    def cancel_remote(self, tf) -> bool:
        """POST /cancel-transformation/{tf}; True when the jobserver canceled it."""
        response = request("POST", f"{self.url}/cancel-transformation/{Checksum(tf).hex()}")
        try:
            return bool(json.loads(response.data).get("canceled"))
        except (ValueError, AttributeError):
            return False

    def cancel(self, job) -> None:
        """Ask the jobserver to cancel `job` (best effort: an unreachable jobserver is logged)."""
        try:
            self.cancel_remote(job.tf)
        except RemoteError as exc:
            logger.warning("could not cancel %s on the jobserver: %s", job.tf.hex(), exc)

    def close(self, wait: bool = True) -> None:
        """Cancel on the jobserver every transformation this process still waits for."""
        with self._lock:
            waiting = list(self._inflight)
        for tf in waiting:
            try:
                self.cancel_remote(tf)
            except RemoteError as exc:
                logger.debug("%s", exc)


def needed_checksums(tf_dict: dict, storage) -> list:
    """The buffers the jobserver reads: every pin, the leaves of directory pins, the __env__."""
    needed = []
    for name, celltype, _sub, cs in pins_of(tf_dict):
        needed.append(Checksum(cs))
        if celltype in DEEP_CELLTYPES or _is_directory(tf_dict, name):
            needed += [Checksum(leaf) for leaf in deserialize(storage.get_buffer(cs), "plain").values()]
    if isinstance(tf_dict.get("__env__"), str):
        needed.append(Checksum(tf_dict["__env__"]))
    return list(dict.fromkeys(needed))


def _is_directory(tf_dict, name) -> bool:
    fmt = tf_dict.get("__format__", {}).get(name, {})
    return fmt.get("filesystem", {}).get("mode") == "directory"


def upload_inputs(tf_dict: dict, storage) -> None:
    """Put on the shared hashserver every input buffer it lacks (asked in batches), streamed
    from the local file when there is one. CacheMissError when an input is nowhere."""
    for cs in storage.missing_buffers(needed_checksums(tf_dict, storage)):
        path = storage.buffer_path(cs)
        if path is not None:
            storage.put_file(path, cs)
        else:
            storage.put_buffer(storage.get_buffer(cs), cs)


def _measurement(runtime: dict) -> Measurement:
    """The jobserver's figures (wall, CPU seconds, memory) as a Measurement."""
    m = Measurement(started_at=str(runtime.get("started_at") or ""), finished_at=str(runtime.get("finished_at") or ""),
                    hostname=str(runtime.get("hostname") or ""), pid=int(runtime.get("pid") or 0))
    m.wall = float(runtime.get("wall_time_seconds") or 0.0)
    m.cpu_user = float(runtime.get("cpu_user_seconds") or 0.0)
    m.cpu_system = float(runtime.get("cpu_system_seconds") or 0.0)
    peak = runtime.get("memory_peak_bytes")
    m.memory_peak = peak if isinstance(peak, int) else None
    return m


def _plain(obj):
    """JSON for the values of a transformation dict that json does not know (checksums)."""
    if isinstance(obj, Checksum):
        return obj.hex()
    if isinstance(obj, (bytes, bytearray)):
        return obj.hex()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")
