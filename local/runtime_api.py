"""A local AWS Lambda Runtime API (version 2018-06-01) on 127.0.0.1.

`sam local` needs Docker, which we do not have; the real runtime client (`awslambdaric`) needs
only an HTTP endpoint speaking the Runtime API, named by `AWS_LAMBDA_RUNTIME_API`. This module is
that endpoint, so handlers run for real: the same bootstrap, context object, error marshalling
and `_X_AMZN_TRACE_ID` handling as on Lambda.

Served, because awslambdaric 4.2.2 calls them (native client for the invocation loop, Python
`http.client` for the rest):

- ``GET  /2018-06-01/runtime/invocation/next``            blocks until an event is queued
- ``POST /2018-06-01/runtime/invocation/{id}/response``   202
- ``POST /2018-06-01/runtime/invocation/{id}/error``      202
- ``POST /2018-06-01/runtime/init/error``                 202 (expected exactly by awslambdaric)
- ``GET  /2018-06-01/runtime/restore/next``, ``POST .../restore/error``  (SnapStart only)

The deadline starts when ``/next`` hands the event out, as on Lambda. Sockets get TCP_NODELAY
(Nagle plus delayed ACK cost 85 ms per warm call) and connections stay alive (HTTP/1.1).
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import select
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, cast

API_PREFIX = "/2018-06-01/runtime"
DEFAULT_FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:local"
TIMEOUT_ERROR_TYPE = "Sandbox.Timedout"
EXIT_ERROR_TYPE = "Runtime.ExitError"
TOO_LARGE_ERROR_TYPE = "Function.ResponseSizeTooLarge"
MAX_RESPONSE_BYTES = 6 * 1024 * 1024  # Lambda's synchronous response limit
_MAX_REQUEST_BYTES = MAX_RESPONSE_BYTES + 1024 * 1024  # what we read before refusing
_ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"  # Python client sends it, native not
_XRAY_CAUSE_HEADER = "Lambda-Runtime-Function-XRay-Error-Cause"
_SLICE_S = 0.5  # longest single wait on a condition; every loop re-checks its own deadline

_log = logging.getLogger(__name__)


def make_trace_id(sampled: bool = False) -> str:
    """An X-Ray trace header as Lambda hands it to the runtime (`Lambda-Runtime-Trace-Id`)."""
    root = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    return f"Root={root};Parent={secrets.token_hex(8)};Sampled={1 if sampled else 0}"


@dataclass(frozen=True)
class InvocationResult:
    """What an invocation came back with, as the caller of `Invoke` would see it.

    `payload` is the parsed JSON body (the error document for errors; text when the body is
    not JSON; None when empty). Times are `time.monotonic()` seconds; the `*_ms` properties
    derive from them.
    """

    request_id: str
    payload: Any
    raw: bytes
    content_type: str | None
    is_error: bool
    error_type: str | None
    error_message: str | None
    timed_out: bool
    init_error: bool
    trace_id: str
    deadline_ms: int | None
    submitted_at: float
    handed_out_at: float | None
    completed_at: float
    xray_error_cause: str | None = None

    @property
    def queued_ms(self) -> float | None:
        """From submission to `/next` handing the event out (includes init on a cold start)."""
        if self.handed_out_at is None:
            return None
        return (self.handed_out_at - self.submitted_at) * 1000.0

    @property
    def duration_ms(self) -> float | None:
        """From hand-out to the response: what Lambda reports as Duration."""
        if self.handed_out_at is None:
            return None
        return (self.completed_at - self.handed_out_at) * 1000.0

    @property
    def total_ms(self) -> float:
        """From submission to the result."""
        return (self.completed_at - self.submitted_at) * 1000.0

    @classmethod
    def failure(
        cls,
        request_id: str,
        error_type: str,
        message: str,
        *,
        submitted_at: float,
        trace_id: str = "",
        handed_out_at: float | None = None,
        deadline_ms: int | None = None,
        timed_out: bool = False,
        init_error: bool = False,
        body: dict[str, Any] | None = None,
    ) -> InvocationResult:
        """A platform-made error result (timeout, runtime exit, init failure)."""
        document: dict[str, Any] = {"errorMessage": message, "errorType": error_type}
        if body:
            document = {**body, **document}
        raw = json.dumps(document).encode()
        return cls(
            request_id=request_id,
            payload=document,
            raw=raw,
            content_type="application/json",
            is_error=True,
            error_type=error_type,
            error_message=message,
            timed_out=timed_out,
            init_error=init_error,
            trace_id=trace_id,
            deadline_ms=deadline_ms,
            submitted_at=submitted_at,
            handed_out_at=handed_out_at,
            completed_at=time.monotonic(),
        )


def timeout_message(request_id: str, timeout_s: float) -> str:
    """Lambda's wording for an invocation cut at its deadline."""
    return f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds"


def exit_message(request_id: str, returncode: int) -> str:
    """Lambda's wording for a runtime process that died during an invocation."""
    status = f"signal: {-returncode}" if returncode < 0 else f"exit status {returncode}"
    return f"RequestId: {request_id} Error: Runtime exited with error: {status}"


@dataclass
class PendingInvocation:
    """A queued or running invocation. Mutated only by the server, under its lock."""

    request_id: str
    body: bytes
    timeout_s: float
    trace_id: str
    function_arn: str
    client_context: str | None
    cognito_identity: str | None
    submitted_at: float
    handed_out_at: float | None = None
    deadline_at: float | None = None  # monotonic
    deadline_ms: int | None = None  # epoch ms, the header value
    result: InvocationResult | None = None

    @property
    def done(self) -> bool:
        return self.result is not None


@dataclass(frozen=True)
class RuntimeReady:
    """How waiting for a fresh runtime process to finish its init ended."""

    state: Literal["ready", "init_error", "exited", "timeout"]
    at: float  # monotonic time the state was reached
    init_error: dict[str, Any] | None = None


class _HTTPServer(ThreadingHTTPServer):
    """Threading server that disables Nagle and tracks connections so stop() can close them."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: RuntimeAPIServer) -> None:
        self.api = api
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

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


class _Handler(BaseHTTPRequestHandler):
    """Routes Runtime API requests to the owning RuntimeAPIServer."""

    protocol_version = "HTTP/1.1"
    server_version = "LocalLambdaRuntimeAPI/1.0"

    @property
    def api(self) -> RuntimeAPIServer:
        return cast(_HTTPServer, self.server).api

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("runtime api: " + format, *args)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == f"{API_PREFIX}/invocation/next":
            self.api._serve_next(self)
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
            status, reply = self.api._complete(parts[1], parts[2] == "error", body, self)
            self.send_json(status, reply)
        elif parts in (["init", "error"], ["restore", "error"]):  # restore: a SnapStart copy's
            self.api._record_init_error(body, self.headers.get(_ERROR_TYPE_HEADER))  # init
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
                if total > _MAX_REQUEST_BYTES:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(16)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_REQUEST_BYTES:
            return None
        return self.rfile.read(length) if length else b""

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


def _parse_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


class RuntimeAPIServer:
    """The Runtime API for one execution environment: a queue of events and their results.

    Use `start()`, give `address` to the runtime as `AWS_LAMBDA_RUNTIME_API`, then `invoke()`
    (or `submit()` + `wait()`), and `stop()`. Also a context manager.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        function_arn: str = DEFAULT_FUNCTION_ARN,
        next_idle_timeout_s: float = 3600.0,
    ) -> None:
        self.host = host
        self.port = port
        self.function_arn = function_arn
        self.next_idle_timeout_s = next_idle_timeout_s
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[PendingInvocation] = deque()
        self._running: dict[str, PendingInvocation] = {}
        self._generation = 0
        self._ready_at: float | None = None
        self._init_error: dict[str, Any] | None = None
        self._init_error_at: float | None = None
        self._stopping = False
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> RuntimeAPIServer:
        """Bind (port 0 picks a free port) and serve on a daemon thread."""
        if self._httpd is not None:
            return self
        self._stopping = False
        self._httpd = _HTTPServer((self.host, self.port), self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"lambda-runtime-api:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    @property
    def address(self) -> str:
        """`host:port`, the value for `AWS_LAMBDA_RUNTIME_API`."""
        if self._httpd is None:
            raise RuntimeError("RuntimeAPIServer is not started")
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop serving; blocked `/next` calls are dropped and unfinished invocations fail."""
        with self._cond:
            self._stopping = True
            pending = [*self._queue, *self._running.values()]
            self._queue.clear()
            self._running.clear()
            for inv in pending:
                inv.result = InvocationResult.failure(
                    inv.request_id,
                    "Runtime.Stopped",
                    "the local Runtime API was stopped",
                    submitted_at=inv.submitted_at,
                    trace_id=inv.trace_id,
                    handed_out_at=inv.handed_out_at,
                    deadline_ms=inv.deadline_ms,
                )
            self._cond.notify_all()
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.close_connections()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def __enter__(self) -> RuntimeAPIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # runtime process bookkeeping

    def new_runtime(self) -> None:
        """Forget the current runtime process before starting a fresh one.

        Blocked `/next` calls of the old process are dropped (it was killed, it must not take
        the next event) and its init state is cleared.
        """
        with self._cond:
            self._generation += 1
            self._ready_at = None
            self._init_error = None
            self._init_error_at = None
            self._cond.notify_all()

    def wait_ready(
        self, timeout_s: float, *, exit_code: Callable[[], int | None] | None = None
    ) -> RuntimeReady:
        """Wait until the runtime finished init and polls `/next`, or failed, or exited."""
        give_up = time.monotonic() + timeout_s
        for _ in range(int(timeout_s / 0.05) + 2):
            with self._cond:
                if self._init_error is not None and self._init_error_at is not None:
                    return RuntimeReady("init_error", self._init_error_at, self._init_error)
                if self._ready_at is not None:
                    return RuntimeReady("ready", self._ready_at)
                remaining = give_up - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(min(0.05, remaining))
            if exit_code is not None and exit_code() is not None:
                with self._cond:  # it may have posted its init error just before exiting
                    if self._init_error is not None and self._init_error_at is not None:
                        return RuntimeReady("init_error", self._init_error_at, self._init_error)
                return RuntimeReady("exited", time.monotonic())
        return RuntimeReady("timeout", time.monotonic())

    @property
    def init_error(self) -> dict[str, Any] | None:
        """The init error the current runtime process posted, if any."""
        with self._cond:
            return self._init_error

    # invocations

    def submit(
        self,
        event: Any,
        *,
        timeout_s: float = 3.0,
        sampled: bool = False,
        trace_id: str | None = None,
        client_context: dict[str, Any] | None = None,
        cognito_identity: dict[str, Any] | None = None,
        request_id: str | None = None,
        function_arn: str | None = None,
    ) -> PendingInvocation:
        """Queue an event (JSON-encoded unless bytes) for the next `/next`; do not wait."""
        if self._httpd is None:
            raise RuntimeError("RuntimeAPIServer is not started")
        body = bytes(event) if isinstance(event, bytes | bytearray) else json.dumps(event).encode()
        pending = PendingInvocation(
            request_id=request_id or str(uuid.uuid4()),
            body=body,
            timeout_s=timeout_s,
            trace_id=trace_id or make_trace_id(sampled),
            function_arn=function_arn or self.function_arn,
            client_context=json.dumps(client_context) if client_context is not None else None,
            cognito_identity=(
                json.dumps(cognito_identity) if cognito_identity is not None else None
            ),
            submitted_at=time.monotonic(),
        )
        with self._cond:
            self._queue.append(pending)
            self._cond.notify_all()
        return pending

    def wait(
        self,
        pending: PendingInvocation,
        *,
        handout_timeout_s: float = 10.0,
        exit_code: Callable[[], int | None] | None = None,
        poll_s: float = 0.05,
    ) -> InvocationResult:
        """Wait for the result of `pending`, bounded by its deadline.

        Not handed out within `handout_timeout_s` (init too slow, no runtime), or no result by
        the deadline: a timeout result. `exit_code` (e.g. `Popen.poll`) lets a dead runtime
        fail the invocation at once instead of at its deadline.
        """
        limit_s = handout_timeout_s + pending.timeout_s + 1.0
        for _ in range(int(limit_s / min(poll_s, _SLICE_S)) * 4 + 10):
            with self._cond:
                if pending.result is not None:
                    return pending.result
                if pending.deadline_at is None and self._init_error is not None:
                    return self._fail_init(pending, self._init_error)
                now = time.monotonic()
                if pending.deadline_at is None:
                    if now - pending.submitted_at >= handout_timeout_s:
                        return self._expire(pending, handout_timeout_s, init=True)
                    wake = pending.submitted_at + handout_timeout_s
                else:
                    if now >= pending.deadline_at:
                        return self._expire(pending, pending.timeout_s, init=False)
                    wake = pending.deadline_at
                self._cond.wait(max(0.0, min(poll_s, wake - now)))
            if exit_code is not None:
                code = exit_code()
                if code is not None:
                    with self._cond:
                        if pending.result is not None:
                            return pending.result
                        return self._finish_failure(
                            pending, EXIT_ERROR_TYPE, exit_message(pending.request_id, code)
                        )
        with self._cond:
            if pending.result is not None:
                return pending.result
            return self._expire(pending, pending.timeout_s, init=pending.deadline_at is None)

    def invoke(
        self,
        event: Any,
        *,
        timeout_s: float = 3.0,
        sampled: bool = False,
        trace_id: str | None = None,
        client_context: dict[str, Any] | None = None,
        cognito_identity: dict[str, Any] | None = None,
        request_id: str | None = None,
        function_arn: str | None = None,
        handout_timeout_s: float = 10.0,
        exit_code: Callable[[], int | None] | None = None,
    ) -> InvocationResult:
        """Queue `event`, wait for the runtime's response or error, return it."""
        pending = self.submit(
            event,
            timeout_s=timeout_s,
            sampled=sampled,
            trace_id=trace_id,
            client_context=client_context,
            cognito_identity=cognito_identity,
            request_id=request_id,
            function_arn=function_arn,
        )
        return self.wait(pending, handout_timeout_s=handout_timeout_s, exit_code=exit_code)

    # internals (called with or from handler threads)

    def _expire(
        self, pending: PendingInvocation, after_s: float, *, init: bool
    ) -> InvocationResult:
        """Fail `pending` as timed out; a late response for it is then refused. Lock held."""
        message = timeout_message(pending.request_id, after_s)
        if init:
            message = message.replace("Task timed out", "Init timed out")
        return self._finish_failure(pending, TIMEOUT_ERROR_TYPE, message, timed_out=True)

    def _finish_failure(
        self,
        pending: PendingInvocation,
        error_type: str,
        message: str,
        *,
        timed_out: bool = False,
        init_error: bool = False,
        body: dict[str, Any] | None = None,
    ) -> InvocationResult:
        """Complete `pending` with a platform-made error. Lock held."""
        result = InvocationResult.failure(
            pending.request_id,
            error_type,
            message,
            submitted_at=pending.submitted_at,
            trace_id=pending.trace_id,
            handed_out_at=pending.handed_out_at,
            deadline_ms=pending.deadline_ms,
            timed_out=timed_out,
            init_error=init_error,
            body=body,
        )
        self._settle(pending, result)
        return result

    def _settle(self, pending: PendingInvocation, result: InvocationResult) -> None:
        """Record the result and take `pending` off the queue and the running set. Lock held."""
        pending.result = result
        self._running.pop(pending.request_id, None)
        with contextlib.suppress(ValueError):
            self._queue.remove(pending)
        self._cond.notify_all()

    def _serve_next(self, handler: _Handler) -> None:
        """`GET /next`: block until an event is queued, hand it out, start its deadline."""
        conn = cast(socket.socket, handler.connection)
        idle_until = time.monotonic() + self.next_idle_timeout_s
        pending: PendingInvocation | None = None
        with self._cond:
            generation = self._generation
            if self._ready_at is None:  # the first /next of a process ends its init
                self._ready_at = time.monotonic()
                self._cond.notify_all()
            for _ in range(int(self.next_idle_timeout_s / _SLICE_S) + 2):
                if self._stopping or generation != self._generation or _peer_closed(conn):
                    break
                if self._queue:
                    pending = self._queue.popleft()
                    now = time.monotonic()
                    pending.handed_out_at = now
                    pending.deadline_at = now + pending.timeout_s
                    pending.deadline_ms = int(time.time() * 1000 + pending.timeout_s * 1000)
                    self._running[pending.request_id] = pending
                    break
                remaining = idle_until - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(min(_SLICE_S, remaining))
        if pending is None:
            handler.close_connection = True  # the runtime is gone, stale or the server stops
            return
        headers = {
            "Lambda-Runtime-Aws-Request-Id": pending.request_id,
            "Lambda-Runtime-Deadline-Ms": str(pending.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": pending.function_arn,
            "Lambda-Runtime-Trace-Id": pending.trace_id,
        }
        if pending.client_context is not None:
            headers["Lambda-Runtime-Client-Context"] = pending.client_context
        if pending.cognito_identity is not None:
            headers["Lambda-Runtime-Cognito-Identity"] = pending.cognito_identity
        try:
            handler.send_body(200, pending.body, headers)
        except OSError:
            handler.close_connection = True
            with self._cond:  # never delivered: put it back for the next runtime
                if pending.result is None:
                    self._running.pop(pending.request_id, None)
                    pending.handed_out_at = pending.deadline_at = pending.deadline_ms = None
                    self._queue.appendleft(pending)
                    self._cond.notify_all()

    def _complete(
        self, request_id: str, is_error: bool, body: bytes, handler: _Handler
    ) -> tuple[int, dict[str, str]]:
        """`POST /invocation/{id}/response|error`: settle the invocation; status and reply."""
        completed_at = time.monotonic()
        with self._cond:
            pending = self._running.get(request_id)
            if pending is None:
                return 400, {
                    "errorType": "InvalidRequestID",
                    "errorMessage": f"no running invocation {request_id}",
                }
            if not is_error and len(body) > MAX_RESPONSE_BYTES:
                self._finish_failure(
                    pending,
                    TOO_LARGE_ERROR_TYPE,
                    f"Response payload size ({len(body)} bytes) exceeded maximum allowed "
                    f"payload size ({MAX_RESPONSE_BYTES} bytes).",
                )
                return 413, {"errorType": "RequestEntityTooLarge", "errorMessage": ""}
            payload = _parse_body(body)
            error_type: str | None = None
            error_message: str | None = None
            if is_error:
                document = payload if isinstance(payload, dict) else {}
                error_type = (
                    document.get("errorType")
                    or handler.headers.get(_ERROR_TYPE_HEADER)
                    or "Unhandled"
                )
                error_message = document.get("errorMessage")
            self._settle(
                pending,
                InvocationResult(
                    request_id=request_id,
                    payload=payload,
                    raw=body,
                    content_type=handler.headers.get("Content-Type"),
                    is_error=is_error,
                    error_type=error_type,
                    error_message=error_message,
                    timed_out=False,
                    init_error=False,
                    trace_id=pending.trace_id,
                    deadline_ms=pending.deadline_ms,
                    submitted_at=pending.submitted_at,
                    handed_out_at=pending.handed_out_at,
                    completed_at=completed_at,
                    xray_error_cause=handler.headers.get(_XRAY_CAUSE_HEADER) or None,
                ),
            )
        return 202, {"status": "OK"}

    def _record_init_error(self, body: bytes, header_type: str | None) -> None:
        """`POST /init/error`: remember it and fail every invocation still waiting for init."""
        parsed = _parse_body(body)
        document: dict[str, Any] = parsed if isinstance(parsed, dict) else {"errorMessage": parsed}
        error_type = str(document.get("errorType") or header_type or "Runtime.Unknown")
        message = str(document.get("errorMessage") or "")
        with self._cond:
            self._init_error = {**document, "errorType": error_type, "errorMessage": message}
            self._init_error_at = time.monotonic()
            for pending in list(self._queue):
                self._fail_init(pending, self._init_error)
            self._cond.notify_all()

    def _fail_init(self, pending: PendingInvocation, error: dict[str, Any]) -> InvocationResult:
        """Complete `pending` with the runtime's init error, as Lambda returns it. Lock held."""
        return self._finish_failure(
            pending,
            str(error["errorType"]),
            str(error["errorMessage"]),
            init_error=True,
            body={**error, "requestId": pending.request_id},
        )
