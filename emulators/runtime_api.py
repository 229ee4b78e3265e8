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

The deadline starts when ``/next`` hands the event out, as on Lambda. This module holds the
state (queue, running invocations, init); `emulators.runtime_http` is the HTTP server and
handler in front of it, and `emulators.runtime_invocations` the records it keeps and returns.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from .runtime_http import (
    MAX_RESPONSE_BYTES,
    NextRequest,
    RuntimeHTTPServer,
)
from .runtime_invocations import (
    InvocationResult,
    PendingInvocation,
    RuntimeReady,
    exit_message,
    make_trace_id,
    parse_body,
    timeout_message,
)

DEFAULT_FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:local"
TIMEOUT_ERROR_TYPE = "Sandbox.Timedout"
EXIT_ERROR_TYPE = "Runtime.ExitError"
TOO_LARGE_ERROR_TYPE = "Function.ResponseSizeTooLarge"
_SLICE_S = 0.5  # longest single wait on a condition; every loop re-checks its own deadline


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
        self._httpd: RuntimeHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> RuntimeAPIServer:
        """Bind (port 0 picks a free port) and serve on a daemon thread."""
        if self._httpd is not None:
            return self
        self._stopping = False
        self._httpd = RuntimeHTTPServer((self.host, self.port), self)
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

    # the routes (RuntimeBackend), called from handler threads

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

    def serve_next(self, request: NextRequest) -> None:
        """`GET /next`: block until an event is queued, hand it out, start its deadline."""
        idle_until = time.monotonic() + self.next_idle_timeout_s
        pending: PendingInvocation | None = None
        with self._cond:
            generation = self._generation
            if self._ready_at is None:  # the first /next of a process ends its init
                self._ready_at = time.monotonic()
                self._cond.notify_all()
            for _ in range(int(self.next_idle_timeout_s / _SLICE_S) + 2):
                if self._stopping or generation != self._generation or request.peer_closed():
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
            request.drop()  # the runtime is gone, stale or the server stops
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
            request.send(200, pending.body, headers)
        except OSError:
            request.drop()
            with self._cond:  # never delivered: put it back for the next runtime
                if pending.result is None:
                    self._running.pop(pending.request_id, None)
                    pending.handed_out_at = pending.deadline_at = pending.deadline_ms = None
                    self._queue.appendleft(pending)
                    self._cond.notify_all()

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
            payload = parse_body(body)
            error_type: str | None = None
            error_message: str | None = None
            if is_error:
                document = payload if isinstance(payload, dict) else {}
                error_type = document.get("errorType") or error_type_header or "Unhandled"
                error_message = document.get("errorMessage")
            self._settle(
                pending,
                InvocationResult(
                    request_id=request_id,
                    payload=payload,
                    raw=body,
                    content_type=content_type,
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
                    xray_error_cause=xray_cause or None,
                ),
            )
        return 202, {"status": "OK"}

    def record_init_error(self, body: bytes, header_type: str | None) -> None:
        """`POST /init/error`: remember it and fail every invocation still waiting for init."""
        parsed = parse_body(body)
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
