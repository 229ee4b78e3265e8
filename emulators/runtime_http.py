"""The HTTP side of the local Runtime API: the server, and the handler that routes requests.

The handler parses paths and bodies and answers; what each route means is the backend's job
(`RuntimeBackend`, implemented by `emulators.runtime_api.RuntimeAPIServer`). `/next` is handed
over as a `NextRequest`, so the backend can block on it, see the runtime go away, and answer.
Sockets get TCP_NODELAY (Nagle plus delayed ACK cost 85 ms per warm call) and connections stay
alive (HTTP/1.1).
"""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, cast

API_PREFIX = "/2018-06-01/runtime"
MAX_RESPONSE_BYTES = 6 * 1024 * 1024  # Lambda's synchronous response limit
MAX_REQUEST_BYTES = MAX_RESPONSE_BYTES + 1024 * 1024  # what we read before refusing
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"  # Python client sends it, native not
XRAY_CAUSE_HEADER = "Lambda-Runtime-Function-XRay-Error-Cause"

_log = logging.getLogger(__name__)


class NextRequest(Protocol):
    """A waiting `GET /next`, as the backend sees it."""

    def peer_closed(self) -> bool:
        """True when the runtime on the other end has gone away."""
        ...

    def send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        """Answer with `body` (JSON) and extra headers; OSError when the runtime is gone."""
        ...

    def drop(self) -> None:
        """Close the connection without an answer (runtime gone, stale, or stopping)."""
        ...


class RuntimeBackend(Protocol):
    """What the routes call: the Runtime API's state (one execution environment)."""

    def serve_next(self, request: NextRequest) -> None:
        """`GET /invocation/next`: block until an event is queued, then answer with it."""
        ...

    def complete(
        self,
        request_id: str,
        is_error: bool,
        body: bytes,
        *,
        content_type: str | None,
        error_type_header: str | None,
        xray_cause: str | None,
    ) -> tuple[int, dict[str, str]]:
        """`POST /invocation/{id}/response|error`: the status and JSON reply to send."""
        ...

    def record_init_error(self, body: bytes, header_type: str | None) -> None:
        """`POST /init/error`."""
        ...


class RuntimeHTTPServer(ThreadingHTTPServer):
    """Threading server that disables Nagle and tracks connections so stop() can close them."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: RuntimeBackend) -> None:
        self.api = api
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, RuntimeRequestHandler)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.connections_lock:
            self.connections.add(conn)
        return conn, addr

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class RuntimeRequestHandler(BaseHTTPRequestHandler):
    """Routes Runtime API requests to the server's backend; it is the `NextRequest` too."""

    protocol_version = "HTTP/1.1"
    server_version = "LocalLambdaRuntimeAPI/1.0"

    @property
    def api(self) -> RuntimeBackend:
        return cast(RuntimeHTTPServer, self.server).api

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("runtime api: " + format, *args)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == f"{API_PREFIX}/invocation/next":
            self.api.serve_next(self)
        elif path == f"{API_PREFIX}/restore/next":
            self.send_json(200, {})
        else:
            self.send_json(404, {"errorType": "NotFound", "errorMessage": path})

    def do_POST(self) -> None:
        body = self.read_body()
        if body is None:
            self.send_json(413, {"errorType": "RequestEntityTooLarge", "errorMessage": ""})
            self.close_connection = True
            return
        path = self.path.split("?", 1)[0]
        parts = path[len(API_PREFIX) + 1 :].split("/") if path.startswith(API_PREFIX) else []
        if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            status, reply = self.api.complete(
                parts[1],
                parts[2] == "error",
                body,
                content_type=self.headers.get("Content-Type"),
                error_type_header=self.headers.get(ERROR_TYPE_HEADER),
                xray_cause=self.headers.get(XRAY_CAUSE_HEADER),
            )
            self.send_json(status, reply)
        elif parts in (["init", "error"], ["restore", "error"]):  # restore: a SnapStart copy's
            self.api.record_init_error(body, self.headers.get(ERROR_TYPE_HEADER))  # init
            self.send_json(202, {"status": "OK"})
        else:
            self.send_json(404, {"errorType": "NotFound", "errorMessage": path})

    def read_body(self) -> bytes | None:
        """The request body (Content-Length or chunked); None when it is over the limit."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            for _ in range(100_000):
                size = int(self.rfile.readline(1024).split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    for _ in range(100):  # trailers end with an empty line
                        if self.rfile.readline(65536) in (b"\r\n", b"\n", b""):
                            break
                    break
                total += size
                if total > MAX_REQUEST_BYTES:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(16)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            return None
        return self.rfile.read(length) if length else b""

    # NextRequest

    def peer_closed(self) -> bool:
        return _peer_closed(cast(socket.socket, self.connection))

    def send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_body(status, body, headers)

    def drop(self) -> None:
        self.close_connection = True

    def send_json(self, status: int, document: Any) -> None:
        self.send_body(status, json.dumps(document).encode(), {})

    def send_body(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _peer_closed(conn: socket.socket) -> bool:
    """True when the runtime on the other end of a waiting `/next` has gone away."""
    try:
        readable, _, _ = select.select([conn], [], [], 0)
        if not readable:
            return False
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except (OSError, ValueError):
        return True
