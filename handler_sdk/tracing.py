"""X-Ray, loaded only when an invocation is traced.

Tracing is on in Lambda (``AWS_LAMBDA_FUNCTION_NAME`` set) unless ``PARTNERDB_TRACING=false``
or ``POWERTOOLS_TRACE_DISABLED=true``; ``PARTNERDB_TRACING=true`` forces it on elsewhere. When
on and the invocation's trace header (``_X_AMZN_TRACE_ID``) says ``Sampled=1``, the first such
invocation imports ``aws_xray_sdk`` and patches botocore (not PynamoDB, which would double every
subsegment); each sampled invocation gets a subsegment ``partnerdb ## <handler>`` annotated with
partner_id, action, cold_start and status. Unsampled or off: ``aws_xray_sdk`` is never imported.
Tracing never fails an invocation: X-Ray errors are logged and ignored.
"""

from __future__ import annotations

import logging
import os
import threading
import traceback
from collections.abc import Mapping
from typing import Any

from handler_sdk.constants import (
    FALSE_WORDS,
    LAMBDA_ENV,
    POWERTOOLS_TRACE_DISABLED_ENV,
    TRACE_HEADER_ENV,
    TRACING_ENV,
    TRUE_WORDS,
)
from handler_sdk.errors import SdkConfigError
from partnerdb import redact_secrets

_log = logging.getLogger("handler_sdk.tracing")
_lock = threading.Lock()
_recorder: Any = None


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether to trace at all (read once, when a handler is decorated)."""
    env = os.environ if environ is None else environ
    flag = env.get(TRACING_ENV, "").strip().lower()
    if flag and flag not in TRUE_WORDS | FALSE_WORDS:
        raise SdkConfigError(TRACING_ENV, "must be true or false")
    if flag in FALSE_WORDS:
        return False
    if env.get(POWERTOOLS_TRACE_DISABLED_ENV, "").strip().lower() in TRUE_WORDS:
        return False
    return flag in TRUE_WORDS or bool(env.get(LAMBDA_ENV))


def trace_header() -> str | None:
    """This invocation's trace header (awslambdaric sets it before each invocation)."""
    return os.environ.get(TRACE_HEADER_ENV) or None


def is_sampled(header: str | None) -> bool:
    return header is not None and "Sampled=1" in header.split(";")


def trace_root(header: str | None) -> str | None:
    """The ``Root=`` trace id of a header, for the log line."""
    if header:
        for part in header.split(";"):
            if part.startswith("Root="):
                return part[5:]
    return None


def begin(name: str, header: str | None) -> Any:
    """Open this invocation's subsegment if it is sampled; None otherwise or with no segment
    open (X-Ray's Lambda mode opens the facade segment from the trace header)."""
    if not is_sampled(header):
        return None
    try:
        return _xray().begin_subsegment(name)
    except Exception:
        _log.warning("X-Ray subsegment %r not started", name, exc_info=True)
        return None


def end(subsegment: Any, annotations: Mapping[str, str | int | bool | None],
        status: int, exc: BaseException | None) -> None:
    """Annotate and close a subsegment `begin` returned."""
    recorder = _xray()
    try:
        for key, value in annotations.items():
            if value is not None:
                subsegment.put_annotation(key, value)
        if status >= 500:
            if exc is not None:
                subsegment.add_exception(exc, traceback.extract_tb(exc.__traceback__))
                _redact_cause(subsegment)
            subsegment.add_fault_flag()
        elif status >= 400:
            subsegment.add_error_flag()
    except Exception:
        _log.warning("X-Ray subsegment not annotated", exc_info=True)
    finally:
        try:
            recorder.end_subsegment()
        except Exception:
            _log.warning("X-Ray subsegment not closed", exc_info=True)


def _redact_cause(subsegment: Any) -> None:
    """The exception messages X-Ray recorded, redacted as the log line is (X-Ray keeps
    `str(exc)`, which may quote an ExternalId or an issued credential)."""
    cause = getattr(subsegment, "cause", None)
    if not isinstance(cause, dict):
        return
    for throwable in cause.get("exceptions", ()):
        message = getattr(throwable, "message", None)
        if isinstance(message, str):
            throwable.message = redact_secrets(message)


def _xray() -> Any:
    """The X-Ray recorder, imported and botocore patched on first use only."""
    global _recorder
    if _recorder is None:
        with _lock:
            if _recorder is None:
                from aws_xray_sdk.core import patch, xray_recorder

                patch(["botocore"])
                _recorder = xray_recorder
    return _recorder
