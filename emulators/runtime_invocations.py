"""What the local Runtime API keeps per invocation, and the results it hands back.

`PendingInvocation` is a queued or running event; `InvocationResult` is what the caller of
`Invoke` sees; `RuntimeReady` is how a fresh runtime's init ended. The messages are Lambda's own
wording for timeouts and runtime exits.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal


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


def parse_body(raw: bytes) -> Any:
    """A request body as JSON, else text; None when empty."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")
