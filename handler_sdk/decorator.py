"""`with_partner_db`: partner id, DB, deadline, response, log line and trace around a handler.

    @with_partner_db(models=[Payment])
    def handler(event, context, db):
        return db.model(Payment).get(event["data"]["id"])

Everything that can be checked at import is: options, models (bound now), the partners'
configuration (`Partners.from_env()`, built once per process) and the tracing switch. A bad
value is an init error of the function, never a failed first request.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any, overload

from pynamodb.models import Model

from handler_sdk import events, logs, responses, tracing
from handler_sdk.errors import BadRequest, HandlerError
from partnerdb import Deadline, Partners, normalize_partner_id, register_snapstart

#: handler(event, context, db) -> a dict, list, PynamoDB model, None or a proxy response
Handler = Callable[..., Any]
#: what Lambda calls: handler(event, context)
LambdaHandler = Callable[[Any, Any], Any]
PartnerFrom = Callable[[Any], object]

_cold_start = True
_cold_lock = threading.Lock()


def _take_cold_start() -> bool:
    """True for the first invocation of the process, whichever handler it reaches."""
    global _cold_start
    if not _cold_start:
        return False
    with _cold_lock:
        cold, _cold_start = _cold_start, False
    return cold


def _reset_cold_start() -> None:
    """After a SnapStart restore: the copy's first invocation is its cold start."""
    global _cold_start
    with _cold_lock:
        _cold_start = True


class _DefaultPartners:
    """`Partners.from_env()`, built once per process on first need (thread-safe)."""

    def __init__(self) -> None:
        self._partners: Partners | None = None
        self._lock = threading.Lock()

    def get(self) -> Partners:
        if self._partners is None:
            with self._lock:
                if self._partners is None:
                    self._partners = Partners.from_env()
        return self._partners


_default_partners = _DefaultPartners()


@overload
def with_partner_db(handler: Handler, /) -> LambdaHandler: ...


@overload
def with_partner_db(
    *,
    models: Iterable[type[Model]] = (),
    partner_from: PartnerFrom | None = None,
    buffer_ms: int = 1000,
    partners: Partners | None = None,
) -> Callable[[Handler], LambdaHandler]: ...


def with_partner_db(
    handler: Handler | None = None,
    /,
    *args: Any,
    models: Iterable[type[Model]] = (),
    partner_from: PartnerFrom | None = None,
    buffer_ms: int = 1000,
    partners: Partners | None = None,
) -> LambdaHandler | Callable[[Handler], LambdaHandler]:
    """Decorate a handler ``(event, context, db)`` into a Lambda handler ``(event, context)``.

    Bare (``@with_partner_db``) or with keyword-only options:

    - ``models``: PynamoDB models to bind now, at import, for every configured partner;
    - ``partner_from``: ``callable(event) -> partner id`` replacing the event-shape lookup;
    - ``buffer_ms``: stop starting DB work this long before the Lambda deadline;
    - ``partners``: a `Partners` to use instead of the process-wide ``Partners.from_env()``.
    """
    if args or (handler is not None and (isinstance(handler, type) or not callable(handler))):
        raise TypeError(
            "with_partner_db options are keyword-only: use @with_partner_db or "
            "@with_partner_db(models=[...], partner_from=..., buffer_ms=..., partners=...)"
        )
    if isinstance(models, type) or not isinstance(models, Iterable):
        raise TypeError("models must be a list of PynamoDB model classes")
    if partner_from is not None and not callable(partner_from):
        raise TypeError("partner_from must be a callable(event) -> partner id")
    if isinstance(buffer_ms, bool) or not isinstance(buffer_ms, int) or buffer_ms < 0:
        raise ValueError("buffer_ms must be an int >= 0")
    if partners is not None and not isinstance(partners, Partners):
        raise TypeError("partners must be a partnerdb.Partners")
    chosen = partners if partners is not None else _default_partners.get()
    chosen.register_models(*models)
    register_snapstart(chosen, on_restore=[_reset_cold_start])
    trace = tracing.enabled()

    def decorate(fn: Handler) -> LambdaHandler:
        if isinstance(fn, type) or not callable(fn):
            raise TypeError("with_partner_db decorates a callable(event, context, db)")
        return _wrap(fn, chosen, partner_from, buffer_ms, trace)

    return decorate if handler is None else decorate(handler)


def _wrap(
    fn: Handler,
    partners: Partners,
    partner_from: PartnerFrom | None,
    buffer_ms: int,
    trace: bool,
) -> LambdaHandler:
    name = getattr(fn, "__name__", None) or type(fn).__name__
    trace_name = f"partnerdb ## {name}"
    db_by_keyword = _takes_db_keyword(fn)

    @functools.wraps(fn)
    def lambda_handler(event: Any, context: Any) -> Any:
        started = time.perf_counter()
        stats = partners.stats
        sts_before = stats.sts_calls
        shape = events.detect_shape(event)
        record = logs.InvocationRecord(
            getattr(context, "function_name", None),
            getattr(context, "aws_request_id", None),
            shape.value,
        )
        record.cold_start = _take_cold_start()
        record.action = events.route_of(event, shape)
        header = tracing.trace_header()
        record.trace_id = tracing.trace_root(header)
        subsegment = tracing.begin(trace_name, header) if trace else None
        failure: Exception | None = None
        token = logs.start(record)
        try:
            if partner_from is None:
                partner_id = events.partner_id_of(event, shape)
            else:
                partner_id = _call_partner_from(partner_from, event)
            record.partner_id = partner_id
            with partners.db(partner_id, deadline=_deadline(context, buffer_ms)) as db:
                result = fn(event, context, db=db) if db_by_keyword else fn(event, context, db)
            response = responses.success(result, shape)
            record.status = _status_of(response, shape)
        except Exception as exc:
            failure = exc
            record.status, message = responses.classify(exc)
            record.error_type = type(exc).__name__
            record.error = str(exc)
            if record.status == 500:
                record.traceback = "".join(traceback.format_exception(exc))
            response = responses.failure(record.status, message, shape, record.request_id)
        finally:
            logs.finish(token)
        record.sts_calls = stats.sts_calls - sts_before
        if subsegment is not None:
            tracing.end(
                subsegment,
                {
                    "partner_id": record.partner_id,
                    "action": record.action,
                    "cold_start": record.cold_start,
                    "status": record.status,
                },
                record.status,
                failure,
            )
        record.duration_ms = (time.perf_counter() - started) * 1000
        logs.emit(record)
        return response

    return lambda_handler


def _call_partner_from(partner_from: PartnerFrom, event: Any) -> str:
    """The partner id `partner_from` finds; a lookup or type error in it means a bad event."""
    try:
        raw = partner_from(event)
    except HandlerError:
        raise
    except (LookupError, TypeError, ValueError, AttributeError) as err:
        raise BadRequest(f"no partner id in the event ({type(err).__name__})") from err
    if raw is None:
        raise BadRequest("no partner id in the event")
    return normalize_partner_id(raw)


def _deadline(context: Any, buffer_ms: int) -> Deadline:
    if context is None or not hasattr(context, "get_remaining_time_in_millis"):
        return Deadline.never()
    return Deadline.from_context(context, buffer_ms=buffer_ms)


def _status_of(response: dict[str, Any], shape: events.Shape) -> int:
    status = response.get("status" if shape is events.Shape.DIRECT else "statusCode")
    return status if isinstance(status, int) else 200


def _takes_db_keyword(fn: Handler) -> bool:
    """Pass ``db=`` by keyword when the handler names it ``db`` (or takes ``**kwargs``).

    Keyword passing survives wrappers that forward only ``**kwargs``, such as Powertools'
    ``Tracer.capture_lambda_handler``; otherwise the DB goes third, positionally.
    """
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    db = params.get("db")
    if db is not None:
        return db.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
