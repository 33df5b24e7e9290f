"""A tiny HTTP server on 127.0.0.1 that misbehaves on purpose, in a thread of the test process.

    GarbageServer(mode) modes:
    "wrong-bytes"   GET /<cs> -> 200 with bytes that do not hash to cs; /has -> all true
    "500"           every request -> 500
    "truncated"     GET /<cs> -> 200, Content-Length 1 MiB, half of it sent, connection closed
    "read-only-db"  database protocol: GET -> 404, PUT -> 405 "ERROR: Database server is read-only"
`.requests` counts the requests received; `.url` is the base URL. Use as a context manager.
"""

import http.server
import json
import threading


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self, status, body=b"", length=None):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def _drain(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):
        self.server.requests += 1
        body = self._drain()
        mode = self.server.mode
        if mode == "500":
            return self._answer(500, b"Internal Server Error")
        if mode == "read-only-db":
            return self._answer(404, b"ERROR: Unknown key")
        if self.path in ("/has", "/has-now"):
            return self._answer(200, json.dumps([True] * len(json.loads(body))).encode())
        if mode == "truncated":
            self._answer(200, b"x" * (1 << 19), length=1 << 20)
            self.close_connection = True
            return None
        return self._answer(200, b"these are not the bytes you asked for\n")

    def do_PUT(self):
        self.server.requests += 1
        self._drain()
        if self.server.mode == "read-only-db":
            return self._answer(405, b"ERROR: Database server is read-only")
        return self._answer(500, b"Internal Server Error")


class GarbageServer:
    def __init__(self, mode: str):
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.mode = mode
        self._httpd.requests = 0
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def requests(self) -> int:
        return self._httpd.requests

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(10)
