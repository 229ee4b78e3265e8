"""One structured log line per invocation, through the ``handler_sdk`` logger.

Keys follow Lambda's JSON log format where Lambda has the field and Powertools Logger where
only Powertools has it (the mapping is in the README):

    timestamp level message logger requestId          Lambda's JSON format
    errorType errorMessage stackTrace                  Lambda's JSON format (failures only)
    service function_name cold_start xray_trace_id     Powertools Logger
    partner_id action shape status duration_ms sts_calls   partnerdb's own
    records failed not_started                         partnerdb's own (batches only)

A batch also writes one line per record (message "record", `handler_sdk.batch`) by the same
route (`emit_fields`).

Where the line goes: the logger propagates to whatever the function configured (the Lambda
runtime's root handler, Powertools, `logging.basicConfig`, pytest). Under Lambda's JSON log
format (`AWS_LAMBDA_LOG_FORMAT=JSON`) the message is "invocation" and the fields ride along as
record attributes, so Lambda writes one flat JSON object; otherwise the message is the JSON
object itself. Only when no handler at all would see the record (a script, nothing configured)
is the line written to stdout by a handler of this module. When the runtime's own text handler
is the only thing a line would meet, the SDK writes that handler's text to its sink itself,
the same bytes for less work (`handler_sdk.runtime_log`).

Level of the ``handler_sdk`` logger: `AWS_LAMBDA_LOG_LEVEL`, else `POWERTOOLS_LOG_LEVEL`
(Powertools' precedence), else INFO; `logging.getLogger("handler_sdk").setLevel(...)` wins.
Lines of 5xx outcomes are ERROR, others INFO.
`service` is `POWERTOOLS_SERVICE_NAME` (Powertools' default `service_undefined` otherwise).

Error texts and tracebacks are scrubbed with partnerdb's redactor in every route: the
function's own keys, every ExternalId and every credential partnerdb issued.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import sys
import time
import traceback
from contextvars import ContextVar, Token
from typing import Any

from handler_sdk.runtime_log import RuntimeLog
from partnerdb import PRE_REDACTED, redact_secrets

LOGGER_NAME = "handler_sdk"
MESSAGE = "invocation"
DEFAULT_SERVICE = "service_undefined"
#: Keys Lambda's JSON formatter writes itself; passed as record attributes they would clash.
_FORMATTER_KEYS = frozenset({"timestamp", "level", "message", "logger"})
#: Keys whose values this package writes itself (or the runtime gives), never outside text.
_OWN_KEYS = frozenset({
    "timestamp", "level", "message", "logger", "requestId", "service", "function_name",
    "shape", "partner_id", "xray_trace_id", "outcome", "errorType",
})
_LEVEL_VARIABLES = ("AWS_LAMBDA_LOG_LEVEL", "POWERTOOLS_LOG_LEVEL")

logger = logging.getLogger(LOGGER_NAME)
#: the runtime's own text handler, written to directly when it is all a line would meet
RUNTIME_LOG = RuntimeLog(logger)
#: one encoder for every line (`json.dumps` with options builds a new one per call)
_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"))

ExcInfo = tuple[type[BaseException], BaseException, Any]


class InvocationRecord:
    """What the log line of one invocation says; `handler_sdk.invocation` fills it, the
    router adds the action."""

    __slots__ = (
        "action",
        "batch",
        "cold_start",
        "duration_ms",
        "error",
        "error_type",
        "exception",
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
        self.exception: BaseException | None = None
        self.sts_calls = 0
        self.trace_id: str | None = None
        self.batch: tuple[int, int, int] | None = None

    def count_batch(self, records: int, failed: int, not_started: int) -> None:
        """A batch invocation's counts, shown on its line."""
        self.batch = (records, failed, not_started)

    def fail(self, exc: BaseException, status: int) -> None:
        """Record a failed outcome; a 500 (an unexpected error) keeps its traceback."""
        self.status = status
        self.exception = exc
        self.error_type = type(exc).__name__
        self.error = str(exc)
        if status == 500:
            self.traceback = "".join(traceback.format_exception(exc))

    def line(self) -> dict[str, Any]:
        """The line's fields (`emit_fields` redacts them)."""
        fields: dict[str, Any] = {
            "timestamp": timestamp(),
            "level": "ERROR" if self.status >= 500 else "INFO",
            "message": MESSAGE,
            "logger": LOGGER_NAME,
            "requestId": self.request_id,
            "service": os.environ.get("POWERTOOLS_SERVICE_NAME") or DEFAULT_SERVICE,
            "function_name": self.function_name,
            "cold_start": self.cold_start,
            "partner_id": self.partner_id,
            "action": self.action,
            "shape": self.shape,
            "status": self.status,
            "duration_ms": round(self.duration_ms, 3),
            "sts_calls": self.sts_calls,
        }
        if self.error_type is not None:
            fields["errorType"] = self.error_type
        if self.error is not None:
            fields["errorMessage"] = self.error
        if self.traceback is not None:
            fields["stackTrace"] = self.traceback.splitlines()
        if self.trace_id is not None:
            fields["xray_trace_id"] = self.trace_id
        if self.batch is not None:
            fields["records"], fields["failed"], fields["not_started"] = self.batch
        return fields


#: the last whole second formatted, and its text (one tuple: threads swap it whole)
_second: tuple[int, str] = (-1, "")


def _timestamp(now: float) -> str:
    """`2026-11-30T09:30:01.123Z`; the seconds part is formatted once per second."""
    global _second
    second = int(now)
    cached_second, text = _second
    if cached_second != second:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second = (second, text)
    return f"{text}.{int(now % 1 * 1000):03d}Z"


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
    if logger.isEnabledFor(level):
        json_format = lambda_json_format()
        info = exc_info(record) if json_format else None
        emit_fields(level, record.line(), info, json_format=json_format)


def emit_fields(
    level: int,
    fields: dict[str, Any],
    info: ExcInfo | None = None,
    *,
    json_format: bool | None = None,
) -> None:
    """Write one line of `fields` (``message`` names the line) the way the invocation line
    goes: to the configured handlers, as Lambda's JSON format wants it.

    The fields' free text is redacted here, once, and the record is marked so (`PRE_REDACTED`):
    partnerdb's redacting filter then leaves it as it is instead of scanning the whole line
    again. The record is made and handed to the handlers directly, without the caller lookup
    `Logger.log` does (a stack walk per line). Under the Lambda runtime's default text setup
    no record is made at all: `RuntimeLog` writes the very text its handler would."""
    redact_free_text(fields)
    if json_format is None:
        json_format = lambda_json_format()
    if not json_format:
        text = to_json(fields)
        stamp = fields.get("timestamp")
        if isinstance(stamp, str) and RUNTIME_LOG.write(
            level, stamp, fields.get("requestId"), text
        ):
            return
    if not configured():
        write_stdout(to_json(fields) if json_format else text)
        return
    extra = {k: v for k, v in fields.items() if k not in _FORMATTER_KEYS}
    if json_format:
        message = str(fields.get("message", MESSAGE))
    else:
        message, info = text, None
    if info is None:  # an exception's traceback is still the filter's to scan
        extra[PRE_REDACTED] = True
    record = logger.makeRecord(
        logger.name, level, __file__, 0, message, (), info, "emit_fields", extra
    )
    logger.handle(record)


def redact_free_text(fields: dict[str, Any]) -> None:
    """Redact, in place, every value of `fields` that can carry outside text (an action, an
    item id, an error message, a stack trace); one scan of them all when none holds a secret."""
    texts: list[str] = []
    for key, value in fields.items():
        if key in _OWN_KEYS:
            continue
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, list):
            texts.extend(str(v) for v in value)
    joined = "\n".join(texts)
    if not joined or redact(joined) == joined:
        return
    for key, value in fields.items():
        if key in _OWN_KEYS:
            continue
        if isinstance(value, str):
            fields[key] = redact(value)
        elif isinstance(value, list):
            fields[key] = [redact(str(v)) for v in value]


def timestamp() -> str:
    """Now, as the lines' ``timestamp`` (UTC, milliseconds)."""
    return _timestamp(time.time())


def configured() -> bool:
    """Whether any handler (the function's, the runtime's, a test's) would see our records."""
    current: logging.Logger | None = logger
    while current is not None:
        if current.handlers:
            return True
        if not current.propagate:
            return False
        current = current.parent
    return False


def lambda_json_format() -> bool:
    """Whether the function runs with Lambda's JSON log format (LoggingConfig LogFormat)."""
    return os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"


def exc_info(record: InvocationRecord) -> ExcInfo | None:
    """The failure for a JSON formatter's errorType/errorMessage/stackTrace, made safe: the
    exception itself when its text holds no secret, else a copy carrying the redacted text
    (and no chained causes); the traceback for a 500 only."""
    exc = record.exception
    if exc is None:
        return None
    tb = exc.__traceback__ if record.status == 500 else None
    text = str(exc)
    clean = redact(text)
    if clean == text:
        return type(exc), exc, tb
    try:
        safe = copy.copy(exc)
        safe.args = (clean,)
    except Exception:
        return None
    return (type(exc), safe, tb) if str(safe) == clean else None


def to_json(fields: dict[str, Any]) -> str:
    return _ENCODER.encode(fields)


def redact(text: str) -> str:
    """`text` with the function's keys, the partners' ExternalIds and every credential
    partnerdb issued replaced."""
    return redact_secrets(text)


def write_stdout(line: str) -> None:
    """One line to the *current* ``sys.stdout`` (the runtime may replace it after import)."""
    stream = sys.stdout
    if stream is None:
        return
    stream.write(line + "\n")
    stream.flush()


def level_from_environment() -> int | None:
    """`AWS_LAMBDA_LOG_LEVEL`, else `POWERTOOLS_LOG_LEVEL`, as a logging level (TRACE is
    DEBUG, as in the Lambda runtime); None when neither names a level."""
    for variable in _LEVEL_VARIABLES:
        name = os.environ.get(variable, "").strip().upper()
        name = "DEBUG" if name == "TRACE" else name
        level = logging.getLevelName(name) if name else None
        if isinstance(level, int):
            return level
    return None


def _apply_level() -> None:
    """The environment's level, else INFO (as Powertools Logger): the root logger stays at
    WARNING on Lambda unless a level is set, which would drop every INFO line."""
    if logger.level == logging.NOTSET:
        logger.setLevel(level_from_environment() or logging.INFO)


_apply_level()
