"""Clients for the shared servers: hashserver 1.1.0 (buffers) and seamless-database 2.1.0 (results).

    BufferServer(url, writable)                      DatabaseServer(url, writable)
    GET  {url}/{cs}          -> bytes | 404          GET/PUT {url} with a JSON body (protocol 2.2)
    PUT  {url}/{cs}          <- bytes (streamed)     {"type":"transformation","checksum":tf}  -> res | 404
    GET  {url}/has|has-now   [cs…] -> [bool…]        {"type":"rev_transformations",…}          -> [tf…] | 404
    GET  {url}/buffer-length [cs…] -> [int…]         {"type":"metadata",…}                     -> record | 404
                                                     PUT transformation / metadata / irreproducible

The HTTP library (urllib3) is imported on the first request, never when no server is configured.
One connection pool per process (rebuilt after fork) is shared by every request, so batch calls
reuse their connections. Timeouts: connect 10 s, read 60 s. A connection error or a 5xx answer
is retried 3 times with backoff (0.25, 0.5, 1 s); then RemoteError "<url>: …" (exit 3). A timeout
(no connection within 10 s, or no answer within 60 s) fails at once: no retry, never a long hang.
Every downloaded buffer is sha256-verified while it streams; a mismatch raises
ChecksumMismatchError "checksum mismatch from <url>/<cs>". Batches hold at most 1000 checksums.
Database answers: 409 (already recorded, or conflicting) is not an error; 405 (read-only server)
logs one warning and every later write to that server is skipped.
"""

import hashlib
import json
import logging
import os
import threading
import time

from ..checksum import Checksum
from ..errors import ChecksumMismatchError, RemoteError

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
RETRIES = 3
BACKOFF = 0.25
BATCH = 1000
CHUNK = 1 << 20
POOL_SIZE = 32

_pool_lock = threading.Lock()
_pool = {"pid": None, "manager": None}


def _manager():
    """The process-wide urllib3.PoolManager (imported and built on first use, rebuilt after fork)."""
    with _pool_lock:
        if _pool["manager"] is None or _pool["pid"] != os.getpid():
            try:
                import urllib3
            except ImportError:
                raise RemoteError("remote storage needs urllib3: pip install 'seamless-transformer[remote]'") from None
            timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)
            # as many kept connections per server as transfers run at once (materialize.TRANSFER_THREADS)
            _pool["manager"] = urllib3.PoolManager(num_pools=16, maxsize=POOL_SIZE, timeout=timeout, retries=False)
            _pool["pid"] = os.getpid()
        return _pool["manager"]


def _accept_encoding() -> str:
    try:
        import zstandard  # noqa: F401 (urllib3 decodes zstd only when it is installed)
    except ImportError:
        return "gzip"
    return "zstd, gzip"


def request(method, url, *, body=None, json_body=None, headers=None, stream=False, read_timeout=READ_TIMEOUT,
            retry_server_errors=True):
    """One HTTP request with retries; returns the urllib3 response (status any 2xx-4xx).

    `body` may be bytes or a callable returning a fresh file object (so a retry re-sends it).
    Raises RemoteError after RETRIES retries of connection errors and 5xx answers.
    With stream=True the body is left unread: the caller reads and releases it.
    `read_timeout` (seconds, None: wait as long as it takes) bounds the wait for each read.
    With retry_server_errors=False a 5xx answer is returned as it is (its text is the message).
    """
    manager = _manager()
    import urllib3

    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=read_timeout)
    headers = dict(headers or {})
    if json_body is not None:
        body = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    failure = None
    for attempt in range(RETRIES + 1):
        if attempt:
            time.sleep(BACKOFF * 2 ** (attempt - 1))
        payload = body() if callable(body) else body
        try:
            response = manager.request(method, url, body=payload, headers=headers, timeout=timeout,
                                          preload_content=not stream, decode_content=True)
        except urllib3.exceptions.NewConnectionError as exc:  # refused, reset: worth a retry
            failure = f"unreachable ({_reason(exc)})"
            continue
        except urllib3.exceptions.ConnectTimeoutError:  # (the base class of NewConnectionError)
            raise RemoteError(f"{_base(url)}: unreachable (no connection within {CONNECT_TIMEOUT:.0f} s)") from None
        except urllib3.exceptions.ReadTimeoutError:
            raise RemoteError(f"{_base(url)}: no answer within {READ_TIMEOUT:.0f} s") from None
        except urllib3.exceptions.HTTPError as exc:
            failure = f"unreachable ({_reason(exc)})"
            continue
        finally:
            if callable(body) and hasattr(payload, "close"):
                payload.close()
        if response.status < 500 or not retry_server_errors:
            return response
        failure = f"server error {response.status} ({_text(response)})"
        response.release_conn()
    raise RemoteError(f"{_base(url)}: {failure}")


def _reason(exc) -> str:
    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    if "Connection refused" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "timed out"
    return text.split(": ", 1)[-1][:200]


def _text(response) -> str:
    try:
        data = response.data if response.data is not None else b""
    except Exception:  # a broken body while reporting another error
        data = b""
    return " ".join(data[:200].decode("utf-8", "replace").split()) or "no message"


def _base(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _batches(items):
    items = list(items)
    for start in range(0, len(items), BATCH):
        yield items[start:start + BATCH]


# ---------------------------------------------------------------- hashserver


class BufferServer:
    """A hashserver at `url`; writable=False never writes."""

    def __init__(self, url: str, *, writable=True):
        self.url = url.rstrip("/")
        self.writable = writable
        self._present = set()  # hex checksums this server accepted or reported: never asked again

    def __repr__(self):
        return f"BufferServer({self.url!r}, writable={self.writable})"

    @property
    def path(self) -> str:  # the name Storage uses in its warnings
        return self.url

    def _checksum_list(self, endpoint, checksums) -> list:
        answers = []
        for batch in _batches(Checksum(cs).hex() for cs in checksums):
            response = request("GET", f"{self.url}/{endpoint}", json_body=batch)
            try:
                got = json.loads(response.data)
            except ValueError:
                got = None
            if response.status != 200 or not isinstance(got, list) or len(got) != len(batch):
                raise RemoteError(f"{self.url}/{endpoint}: unexpected answer (HTTP {response.status})")
            answers += got
        return answers

    def has(self, checksums, *, now=False) -> list:
        """[bool] per checksum (`/has-now` with now=True: promised buffers count as absent).
        A buffer that this server has accepted or reported before is not asked about again
        (a hashserver never deletes), so that verifying an upload costs no second round."""
        checksums = [Checksum(cs).hex() for cs in checksums]
        if now:
            return [x is True for x in self._checksum_list("has-now", checksums)]
        unknown = [cs for cs in dict.fromkeys(checksums) if cs not in self._present]
        if unknown:
            answers = self._checksum_list("has", unknown)
            self._present.update(cs for cs, x in zip(unknown, answers) if x is True)
        return [cs in self._present for cs in checksums]

    def buffer_lengths(self, checksums) -> list:
        """[int | None] per checksum: the length, 0 when absent, None when the server does not know."""
        return [x if isinstance(x, int) and not isinstance(x, bool) else None
                for x in self._checksum_list("buffer-length", checksums)]

    def get(self, cs) -> bytes | None:
        """The verified buffer, or None when the server does not have it."""
        parts = []
        found = self.download(cs, parts.append)
        return b"".join(parts) if found else None

    def download(self, cs, write) -> bool:
        """Stream the buffer into write(chunk); False on 404. The bytes are verified as they
        arrive; on a mismatch ChecksumMismatchError is raised after the last chunk (the caller
        discards what it wrote)."""
        cs = Checksum(cs).hex()
        url = f"{self.url}/{cs}"
        response = request("GET", url, headers={"Accept-Encoding": _accept_encoding()}, stream=True)
        try:
            if response.status == 404:
                return False
            if response.status == 400 and b"corruption" in (response.data or b""):
                raise ChecksumMismatchError(f"checksum mismatch from {url}")  # the server checked it
            if response.status != 200:
                raise RemoteError(f"{url}: unexpected answer (HTTP {response.status}: {_text(response)})")
            hasher = hashlib.sha256()
            try:
                for chunk in response.stream(CHUNK, decode_content=True):
                    hasher.update(chunk)
                    write(chunk)
            except Exception as exc:
                import urllib3

                if not isinstance(exc, urllib3.exceptions.HTTPError):
                    raise
                raise RemoteError(f"{url}: download interrupted ({_reason(exc)})") from None
            if hasher.hexdigest() != cs:
                raise ChecksumMismatchError(f"checksum mismatch from {url}")
            return True
        finally:
            response.release_conn()

    def put(self, cs, data, *, length=None) -> None:
        """Upload bytes, or a callable returning a fresh readable file of `length` bytes (streamed)."""
        cs = Checksum(cs).hex()
        url = f"{self.url}/{cs}"
        headers = {"Content-Type": "application/octet-stream"}
        if length is not None:
            headers["Content-Length"] = str(length)
        response = request("PUT", url, body=data, headers=headers)
        if response.status not in (200, 201, 202):
            raise RemoteError(f"{url}: upload refused (HTTP {response.status}: {_text(response)})")
        if response.status != 202:  # 202: still in progress
            self._present.add(cs)

    def put_file(self, cs, path) -> None:
        """Upload a file's content, streamed from disk."""
        self.put(cs, lambda: open(path, "rb"), length=os.path.getsize(path))


# ---------------------------------------------------------------- seamless-database


class DatabaseServer:
    """A seamless-database at `url`, with the methods of ResultDB; writable=False never writes."""

    def __init__(self, url: str, *, writable=True):
        self.url = url.rstrip("/")
        self.writable = writable
        self._warned = False

    def __repr__(self):
        return f"DatabaseServer({self.url!r}, writable={self.writable})"

    @property
    def path(self) -> str:
        return self.url

    def _get(self, type_, checksum):
        """The answer body for a GET, or None on 404."""
        response = request("GET", self.url, json_body={"type": type_, "checksum": Checksum(checksum).hex()})
        if response.status == 404:
            return None
        if response.status != 200:
            raise RemoteError(f"{self.url}: {type_} lookup failed (HTTP {response.status}: {_text(response)})")
        return response.data

    def _put(self, body: dict) -> bool:
        """PUT a request; True when written (or already recorded), False when skipped or refused."""
        if not self.writable:
            return False
        response = request("PUT", self.url, json_body=body)
        if response.status == 200:
            return True
        if response.status == 409:
            logger.info("%s: %s", self.url, _text(response))
            return False
        if response.status == 405:
            self.writable = False
            if not self._warned:
                self._warned = True
                logger.warning("%s: database server is read-only; results are not written there", self.url)
            return False
        raise RemoteError(f"{self.url}: {body['type']} write refused (HTTP {response.status}: {_text(response)})")

    def get_transformation(self, tf) -> str | None:
        data = self._get("transformation", tf)
        if data is None:
            return None
        text = data.decode("ascii", "replace").strip().strip('"')
        try:
            return Checksum(text).hex()
        except (ValueError, TypeError):
            raise RemoteError(f"{self.url}: malformed transformation answer {text[:80]!r}") from None

    def get_rev_transformations(self, res) -> list:
        data = self._get("rev_transformations", res)
        found = _json(data, self.url) if data is not None else []
        if not isinstance(found, list):
            raise RemoteError(f"{self.url}: malformed rev_transformations answer")
        return [Checksum(tf).hex() for tf in found]

    def get_metadata(self, tf) -> dict | None:
        data = self._get("metadata", tf)
        record = _json(data, self.url) if data is not None else None
        if isinstance(record, str):
            record = _json(record.encode(), self.url)
        return record if isinstance(record, dict) else None

    def put_transformation(self, tf, res) -> None:
        self._put({"type": "transformation", "checksum": Checksum(tf).hex(), "value": Checksum(res).hex()})

    def put_metadata(self, tf, res, record: dict) -> bool:
        return self._put({"type": "metadata", "checksum": Checksum(tf).hex(),
                          "result": Checksum(res).hex(), "value": record})

    def put_leaves(self, res, leaves) -> None:
        """Nothing: the protocol has no leaf index (the local databases keep it)."""

    def get_leaf_parents(self, leaf) -> list:
        return []

    def declare_irreproducible(self, tf, res) -> bool:
        """Forget (tf, res) on the server. True if the server had it."""
        if not self.writable or self.get_transformation(tf) != Checksum(res).hex():
            return False
        return self._put({"type": "irreproducible", "checksum": Checksum(tf).hex(), "result": Checksum(res).hex()})


def _json(data: bytes, url: str):
    try:
        return json.loads(data)
    except ValueError:
        raise RemoteError(f"{url}: malformed answer {data[:80]!r}") from None


# ---------------------------------------------------------------- the servers of one Storage


SMALL = 64 << 10  # below this, a PUT is cheaper than asking /has first


class RemoteBuffers:
    """The hashservers of one Storage, in read order. Storage calls these after its local stores."""

    def __init__(self, settings):
        self.servers = [BufferServer(u) for u in settings.hashserver_urls]
        self.servers += [BufferServer(u, writable=False) for u in settings.readonly_hashserver_urls]

    def __bool__(self):
        return bool(self.servers)

    def has(self, cs) -> bool:
        return any(server.has([cs])[0] for server in self.servers)

    def missing(self, checksums) -> set:
        """The checksums that some writable server lacks (batched /has)."""
        missing = set()
        for server in self.servers:
            if server.writable:
                missing.update(cs for cs, present in zip(checksums, server.has(checksums)) if not present)
        return missing

    def get(self, cs, cache_dirs) -> bytes | None:
        """The verified buffer from the first server that has it (None: no server has it).
        It is kept in the first writable directory of cache_dirs (streamed to disk, then linked).
        Raises RemoteError "checksum mismatch from <url>" when only wrong bytes were found."""
        return self._from_first(lambda server: _download(server, cs, cache_dirs))

    def fetch_into(self, cs, store) -> bool:
        """Stream the verified buffer from the first server that has it into BufferDir `store`
        (it is never held in memory); False when no server has it. Raises RemoteError
        "checksum mismatch from <url>" when only wrong bytes were found."""
        return self._from_first(lambda server: _download_into(server, cs, store) or None) is not None

    def _from_first(self, fetch):
        """fetch(server) on each server in turn until one answers (not None). A server that sent
        wrong bytes is passed over, with a warning once another one served."""
        mismatches = []
        for server in self.servers:
            try:
                found = fetch(server)
            except ChecksumMismatchError as exc:
                mismatches.append(exc)
                continue
            if found is not None:
                for exc in mismatches:
                    logger.warning("%s; discarded", exc)
                return found
        if mismatches:
            raise RemoteError(str(mismatches[0]))
        return None

    def put(self, cs, data=None, path=None) -> None:
        """Upload bytes, or a file streamed from `path`, to every writable server lacking it."""
        size = len(data) if data is not None else os.path.getsize(path)
        for server in self.servers:
            if not server.writable or (size >= SMALL and server.has([cs])[0]):
                continue
            if data is not None:
                server.put(cs, data)
            else:
                server.put_file(cs, path)


def _download(server, cs, cache_dirs) -> bytes | None:
    for store in cache_dirs:
        if store.writable:
            try:
                path = _download_into(server, cs, store)
            except OSError as exc:  # this directory cannot take it: try the next, else memory
                logger.debug("%s: %s", store.path, exc)
                continue
            return store.get(cs) if path else None
    return server.get(cs)


def _download_into(server, cs, store) -> bool:
    """Stream the buffer into a temp file inside store's directory, then store it (linked).
    False when the server does not have it; nothing is left behind on any failure."""
    import tempfile

    os.makedirs(store.path, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=store.path, prefix="incoming-")
    try:
        with os.fdopen(fd, "wb") as f:
            if not server.download(cs, f.write):
                return False
        os.chmod(tmp, 0o444)
        store.put_file(tmp, Checksum(cs), link=True)
        return True
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def remote_databases(settings) -> list:
    """The database servers of `settings`, writable ones first (they follow the local databases)."""
    return ([DatabaseServer(u) for u in settings.database_urls]
            + [DatabaseServer(u, writable=False) for u in settings.readonly_database_urls])
