"""One JSON log line per invocation, on stdout, through the ``handler_sdk`` logger.

The logger has its own stdout handler and does not propagate, so the root handler that
awslambdaric (or Powertools) installs does not print the line a second time. Silence it with
``logging.getLogger("handler_sdk").setLevel(logging.WARNING)`` (5xx lines are ERROR).

The line holds ids, timings and outcome only. Error texts and tracebacks are scrubbed with
partnerdb's redactor: the function's own keys, every ExternalId and every issued credential.

While the logger is as this module sets it up (its one stdout handler, no filter), the line is
written straight to that handler's stream: the same text, without building a `LogRecord`
(caller lookup, thread and process names) for a handler that reads only its message. Add a
handler or a filter, or change a level, and the line goes through `logging` as usual.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar, Token
from typing import Any

from partnerdb import redact_secrets

LOGGER_NAME = "handler_sdk"

logger = logging.getLogger(LOGGER_NAME)
#: one encoder for every line (`json.dumps` with options builds a new one per call)
_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"))


class InvocationRecord:
    """What the log line of one invocation says; `handler_sdk.invocation` fills it, the
    router adds the action."""

    __slots__ = (
        "action",
        "cold_start",
        "duration_ms",
        "error",
        "error_type",
        "function_name",
        "partner_id",
        "request_id",
        "shape",
        "status",
        "sts_calls",
        "trace_id",
        "traceback",
    )

    def __init__(self, function_name: str | None, request_id: str | None, shape: str) -> None:
        self.function_name = function_name
        self.request_id = request_id
        self.shape = shape
        self.partner_id: str | None = None
        self.action: str | None = None
        self.cold_start = False
        self.duration_ms = 0.0
        self.status = 0
        self.error_type: str | None = None
        self.error: str | None = None
        self.traceback: str | None = None
        self.sts_calls = 0
        self.trace_id: str | None = None

    def line(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "timestamp": _timestamp(time.time()),
            "level": "ERROR" if self.status >= 500 else "INFO",
            "logger": LOGGER_NAME,
            "message": "invocation",
            "function_name": self.function_name,
            "request_id": self.request_id,
            "partner_id": self.partner_id,
            "action": self.action,
            "shape": self.shape,
            "cold_start": self.cold_start,
            "duration_ms": round(self.duration_ms, 3),
            "status": self.status,
            "error_type": self.error_type,
            "sts_calls": self.sts_calls,
        }
        if self.error is not None:
            fields["error"] = redact(self.error)
        if self.traceback is not None:
            fields["traceback"] = redact(self.traceback)
        if self.trace_id is not None:
            fields["xray_trace_id"] = self.trace_id
        return fields


_second: list[Any] = [None, ""]  # the last whole second formatted, and its text


def _timestamp(now: float) -> str:
    """`2026-11-30T09:30:01.123Z`; the seconds part is formatted once per second."""
    second = int(now)
    cached = _second
    if cached[0] != second:
        cached[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        cached[0] = second
    return f"{cached[1]}.{int(now % 1 * 1000):03d}Z"


_current: ContextVar[InvocationRecord | None] = ContextVar("handler_sdk_invocation", default=None)


def start(record: InvocationRecord) -> Token[InvocationRecord | None]:
    """Make `record` the current invocation's (returns the token for `finish`)."""
    return _current.set(record)


def finish(token: Token[InvocationRecord | None]) -> None:
    _current.reset(token)


def note_action(action: str) -> None:
    """Record the action being dispatched (the router calls this)."""
    record = _current.get()
    if record is not None:
        record.action = action


def emit(record: InvocationRecord) -> None:
    """Write the invocation's line (ERROR level for 5xx, INFO otherwise)."""
    level = logging.ERROR if record.status >= 500 else logging.INFO
    if not logger.isEnabledFor(level):
        return
    text = _ENCODER.encode(record.line())
    handlers = logger.handlers
    if len(handlers) == 1 and not logger.filters:
        handler = handlers[0]
        if type(handler) is StdoutHandler and not handler.filters and handler.level <= level:
            try:
                handler.write_line(text)
                return
            except Exception:
                pass  # logging reports it (handleError) and never fails the invocation
    logger.log(level, text)


def redact(text: str) -> str:
    """`text` with the function's keys, the partners' ExternalIds and every credential
    partnerdb issued replaced (this logger does not pass through partnerdb's log filter)."""
    return redact_secrets(text)


class StdoutHandler(logging.Handler):
    """Writes each message as one line to the *current* ``sys.stdout`` (awslambdaric and
    pytest's capsys replace it after import)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write_line(record.getMessage())
        except Exception:
            self.handleError(record)

    def write_line(self, text: str) -> None:
        """`text` and a newline on the current stdout, flushed."""
        stream = sys.stdout
        if stream is None:
            return
        stream.write(text + "\n")
        stream.flush()


def _install() -> None:
    if not any(isinstance(h, StdoutHandler) for h in logger.handlers):
        logger.addHandler(StdoutHandler())
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    logger.propagate = False


_install()
