"""The Lambda runtime's own text log handler, written to directly when it is all a line meets.

A line through `logging` costs a `LogRecord`, the filter and handler chain and a %-format:
about half of the invocation line's cost, and more in the runtime process, where each
invocation runs with cold caches. In the runtime's default setup (Lambda's text log format,
no log level configured) every handler_sdk line meets exactly one handler: awslambdaric's on the
root logger, with its own formatter and filter (and partnerdb's redactor, which passes our
pre-redacted lines untouched). What that handler writes is then known to the byte:

    [INFO]\\t2026-11-30T09:30:01.123Z\\t<request id>\\t<message>\\n

so `RuntimeLog.write` hands that same text to the handler's sink, under the handler's lock.
The request id there is the line's own (the context's), which is the one the runtime's filter
stamps; they would differ only for a handler called with another context from inside an
invocation.

Anything else on the way (a handler, filter or level of the function's or of Powertools, a
changed formatter, the JSON log format, another runtime version's handler) and `write`
declines: the line goes through `logging` as before (the caller has checked the logger's level
and `logging.disable`). The setup is checked on every line: identity and equality tests on a
few objects, the types and the sink again only when the handler or a filter list changed.
"""

from __future__ import annotations

import logging
import time
from typing import Any

#: What awslambdaric's text handler is made of (bootstrap.py, `_setup_logging`).
RUNTIME_MODULE = "awslambdaric.bootstrap"
RUNTIME_HANDLER = "LambdaLoggerHandler"
RUNTIME_FILTER = "LambdaLoggerFilter"
RUNTIME_TEXT_FORMAT = (
    "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
)
RUNTIME_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
#: partnerdb's redacting filter: it passes records marked `PRE_REDACTED` as they are.
_REDACTOR = ("partnerdb.redact", "SecretRedactor")


def _is(obj: object, module: str, name: str) -> bool:
    kind = type(obj)
    return kind.__name__ == name and kind.__module__ == module


def _passes_our_lines(filters: list[Any]) -> bool:
    """Whether every filter in `filters` would let our line through unchanged (apart from
    setting the request id the runtime's filter sets)."""
    return all(
        _is(f, *_REDACTOR) or _is(f, RUNTIME_MODULE, RUNTIME_FILTER) for f in filters
    )


def _runtime_formatter(formatter: Any) -> bool:
    """Whether `formatter` is the runtime's text formatter, unchanged."""
    if type(formatter) is not logging.Formatter:
        return False
    # Formatter has no public accessor for its format string; `_fmt` is where it keeps it.
    return (
        getattr(formatter, "_fmt", None) == RUNTIME_TEXT_FORMAT
        and formatter.datefmt == RUNTIME_DATE_FORMAT
        and formatter.converter is time.gmtime
        and type(formatter).formatTime is logging.Formatter.formatTime
    )


class RuntimeLog:
    """Writes the text awslambdaric's default text handler would write, straight to its sink."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        #: the setup last recognised: the handler, its filters, our logger's filters, the sink
        self._known: tuple[logging.Handler, list[Any], list[Any], Any] | None = None

    def sink(self, level: int) -> tuple[logging.Handler, Any] | None:
        """The runtime's handler and its sink's `log`, when a `level` line of our logger would
        meet that handler and nothing else; None otherwise."""
        logger = self._logger
        root = logging.getLogger()
        if (
            logger.handlers
            or not logger.propagate
            or logger.disabled
            or logger.parent is not root
            or len(root.handlers) != 1
        ):
            return None
        handler = root.handlers[0]
        if level < handler.level or not _runtime_formatter(handler.formatter):
            return None
        known = self._known
        if (
            known is None
            or known[0] is not handler
            or known[1] != handler.filters
            or known[2] != logger.filters
        ):
            known = self._recognise(handler)
            if known is None:
                return None
        return handler, known[3]

    def _recognise(
        self, handler: logging.Handler
    ) -> tuple[logging.Handler, list[Any], list[Any], Any] | None:
        """Check what the cached setup does not vouch for: the handler's type and sink, and
        every filter on the way (remembered when they are the runtime's default)."""
        self._known = None
        if not _is(handler, RUNTIME_MODULE, RUNTIME_HANDLER) or not (
            _passes_our_lines(handler.filters) and _passes_our_lines(self._logger.filters)
        ):
            return None
        # The handler's sink is only reachable through its attribute (awslambdaric has no
        # public accessor); a handler without one is not the one this module knows.
        log = getattr(getattr(handler, "log_sink", None), "log", None)
        if not callable(log):
            return None
        self._known = (handler, list(handler.filters), list(self._logger.filters), log)
        return self._known

    def write(self, level: int, stamp: str, request_id: object, message: str) -> bool:
        """Write `message` as the runtime's text handler would, `stamp` (UTC, milliseconds,
        as the line's ``timestamp``) as its time; False (nothing written) when the setup is
        not the runtime's default or `request_id` is not a string."""
        if not isinstance(request_id, str):
            return False
        found = self.sink(level)
        if found is None:
            return False
        handler, log = found
        text = f"[{logging.getLevelName(level)}]\t{stamp}\t{request_id}\t{message}\n"
        handler.acquire()
        try:
            log(text)
        finally:
            handler.release()
        return True
