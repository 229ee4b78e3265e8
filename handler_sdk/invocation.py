"""One invocation of a decorated handler, as a pipeline a reader can step through.

    parse the event once -> the partner id -> the partner's DB scope (deadline, STS counter)
    -> call the handler -> the response -> the log line and the trace -> raise, if asked to

For SQS, Kinesis and DynamoDB Streams the middle steps run once per record
(`handler_sdk.batch`) and the response is ``batchItemFailures``. A Powertools data class is
read through its ``raw_event``; the handler still gets the object it was given.

`run` is the whole pipeline; each step is one small function below it. The decorator
(`handler_sdk.decorator`) prepares a `HandlerSpec` once per handler and calls `run` per event.
The parsed event is the invocation's (`parsed_event`), so an `ActionRouter` reads the same
parse instead of parsing the event again.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from handler_sdk import batch, compose, failures, logs, responses, tracing
from handler_sdk.errors import BadRequest, HandlerError
from handler_sdk.events import BATCH_SHAPES, HTTP_SHAPES, ParsedEvent, Shape
from handler_sdk.failures import Errors
from partnerdb import Deadline, Partners, normalize_partner_id

#: handler(event, context, db) -> a dict, list, PynamoDB model, None or a proxy response
Handler = Callable[..., Any]
PartnerFrom = Callable[[Any], object]

#: what handlers return most: answered without further checks (`plain_result`)
_PLAIN_TYPES = frozenset({dict, list, str, int, float, bool, type(None)})

_event: ContextVar[ParsedEvent | None] = ContextVar("handler_sdk_event", default=None)


@dataclass(frozen=True)
class HandlerSpec:
    """What is fixed per decorated handler: checked once, at import."""

    fn: Handler
    partners: Partners
    partner_from: PartnerFrom | None
    buffer_ms: int
    trace: bool
    #: the subsegment name, ``partnerdb ## <handler name>``
    trace_name: str
    #: pass the DB as ``db=`` (see `takes_db_keyword`)
    db_by_keyword: bool
    #: "return" or "raise" failures; None: the event's shape decides (`raises`)
    errors: Errors | None = None
    #: a failed SQS FIFO record stops only its message group (`handler_sdk.batch`)
    skip_group_on_error: bool = False

    @classmethod
    def of(
        cls,
        fn: Handler,
        *,
        partners: Partners,
        partner_from: PartnerFrom | None,
        buffer_ms: int,
        trace: bool,
        errors: Errors | None = None,
        skip_group_on_error: bool = False,
    ) -> HandlerSpec:
        name = getattr(fn, "__name__", None) or type(fn).__name__
        return cls(
            fn=fn,
            partners=partners,
            partner_from=partner_from,
            buffer_ms=buffer_ms,
            trace=trace,
            trace_name=f"partnerdb ## {name}",
            db_by_keyword=takes_db_keyword(fn),
            errors=errors,
            skip_group_on_error=skip_group_on_error,
        )


def run(spec: HandlerSpec, event: Any, context: Any, *, cold_start: bool) -> Any:
    """Handle one event: every step of an invocation, in order."""
    started = time.perf_counter()
    parsed = ParsedEvent(compose.raw_event(event))
    record = _record(parsed, context, cold_start)
    header = tracing.trace_header()
    record.trace_id = tracing.trace_root(header)
    subsegment = tracing.begin(spec.trace_name, header) if spec.trace else None
    failure: Exception | None = None
    log_token, event_token = logs.start(record), _event.set(parsed)
    try:
        if parsed.shape in BATCH_SHAPES:
            response = _batch(spec, parsed, event, context, record)
        else:
            record.partner_id = partner_id = _partner_id(spec, parsed, event)
            result = _call(spec, event, context, partner_id, record)
            response = responses.success(result, parsed.shape)
            record.status = _status_of(response, parsed.shape)
    except Exception as exc:
        failure = exc
        response = _failure(exc, parsed.shape, record)
    finally:
        _event.reset(event_token)
        logs.finish(log_token)
    if subsegment is not None:
        tracing.end(subsegment, _annotations(record), record.status, failure)
    record.duration_ms = (time.perf_counter() - started) * 1000
    logs.emit(record)
    if failure is not None and raises(spec, parsed.shape):
        raise failures.raised_for(failure, record.request_id) from None
    return response


def raises(spec: HandlerSpec, shape: Shape) -> bool:
    """Whether a failure is raised rather than answered: ``errors=`` when given, else for
    EventBridge and unknown shapes (their sources retry only raised errors); always for a
    batch that failed as a whole (an answer without ``batchItemFailures`` would delete every
    record) and under Powertools' ``@idempotent`` above us (so it stores no failure)."""
    if shape in BATCH_SHAPES or compose.under_idempotency():
        return True
    if spec.errors is not None:
        return spec.errors == "raise"
    return shape in (Shape.EVENTBRIDGE, Shape.UNSUPPORTED)


def parsed_event(event: Any) -> ParsedEvent:
    """The running invocation's parse of `event`, or a new parse for any other event."""
    raw = compose.raw_event(event)
    parsed = _event.get()
    return parsed if parsed is not None and parsed.raw is raw else ParsedEvent(raw)


def _record(parsed: ParsedEvent, context: Any, cold_start: bool) -> logs.InvocationRecord:
    record = logs.InvocationRecord(
        getattr(context, "function_name", None),
        getattr(context, "aws_request_id", None),
        parsed.shape.value,
    )
    record.cold_start = cold_start
    record.action = parsed.route()
    return record


def _partner_id(spec: HandlerSpec, parsed: ParsedEvent, event: Any) -> str:
    if spec.partner_from is None:
        return parsed.partner_id()
    return call_partner_from(spec.partner_from, event)


def _batch(
    spec: HandlerSpec,
    parsed: ParsedEvent,
    event: Any,
    context: Any,
    record: logs.InvocationRecord,
) -> dict[str, Any]:
    """A batch: the handler once per record, each with its partner; `batchItemFailures`."""
    assert isinstance(parsed.raw, dict)  # BATCH_SHAPES are dicts with Records
    records: list[dict[str, Any]] = parsed.raw["Records"]
    shape = parsed.shape

    def lookup(raw: dict[str, Any], given: Any) -> str:
        if spec.partner_from is None:
            return batch.partner_id_of(raw, shape)
        return call_partner_from(spec.partner_from, given)

    def handle(given: Any, db: Any) -> object:
        if spec.db_by_keyword:
            return plain_result(spec.fn(given, context, db=db))
        return plain_result(spec.fn(given, context, db))

    outcome = batch.run_batch(
        records,
        compose.record_objects(event, records),
        shape,
        handle,
        lookup,
        partners=spec.partners,
        deadline=deadline_of(context, spec.buffer_ms),
        request_id=record.request_id,
        skip_group_on_error=spec.skip_group_on_error,
    )
    record.count_batch(len(outcome.results), outcome.failed, outcome.not_started)
    record.sts_calls = outcome.sts_calls
    record.status = 207 if outcome.reported else 200
    return outcome.response()


def _call(
    spec: HandlerSpec,
    event: Any,
    context: Any,
    partner_id: str,
    record: logs.InvocationRecord,
) -> Any:
    """The handler, inside the partner's DB scope; the scope counts this invocation's STS calls."""
    db = spec.partners.db(partner_id, deadline=deadline_of(context, spec.buffer_ms))
    try:
        with db:
            if spec.db_by_keyword:
                return plain_result(spec.fn(event, context, db=db))
            return plain_result(spec.fn(event, context, db))
    finally:
        record.sts_calls = db.sts_calls


def _failure(exc: Exception, shape: Shape, record: logs.InvocationRecord) -> dict[str, Any]:
    status, message = responses.classify(exc)
    record.fail(exc, status)
    return responses.failure(record.status, message, shape, record.request_id)


def _annotations(record: logs.InvocationRecord) -> dict[str, str | int | bool | None]:
    return {
        "partner_id": record.partner_id,
        "action": record.action,
        "cold_start": record.cold_start,
        "status": record.status,
    }


def call_partner_from(partner_from: PartnerFrom, event: Any) -> str:
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


def deadline_of(context: Any, buffer_ms: int) -> Deadline:
    """The invocation's deadline from the Lambda context; none without a context."""
    if context is None or not hasattr(context, "get_remaining_time_in_millis"):
        return Deadline.never()
    return Deadline.from_context(context, buffer_ms=buffer_ms)


def _status_of(response: dict[str, Any], shape: Shape) -> int:
    status = response.get("statusCode" if shape in HTTP_SHAPES else "status")
    return status if isinstance(status, int) else 200


def check_plain_function(fn: object, what: str) -> None:
    """Refuse an ``async def`` or generator function: Lambda's Python runtime never awaits or
    iterates what a handler returns, so its body would never run (and a batch would be
    answered as a success). A plain function that runs async code itself is fine."""
    call = fn if inspect.isfunction(fn) or inspect.ismethod(fn) else type(fn).__call__
    if (
        inspect.iscoroutinefunction(call)
        or inspect.isasyncgenfunction(call)
        or inspect.isgeneratorfunction(call)
    ):
        kind = "a generator function" if inspect.isgeneratorfunction(call) else "async"
        raise TypeError(
            f"{what} must be a plain function, not {kind}: Lambda's Python runtime never runs "
            "its body (wrap async code in a plain function that calls asyncio.run)"
        )


def plain_result(value: Any) -> Any:
    """`value`, unless a handler returned a coroutine or generator (`check_plain_function`
    refuses those handlers when decorating; this catches one built at run time): then it is
    closed, so nothing is left pending, and the invocation or record fails."""
    if type(value) in _PLAIN_TYPES:
        return value
    if inspect.iscoroutine(value) or inspect.isgenerator(value):
        value.close()
    elif not (inspect.isawaitable(value) or inspect.isasyncgen(value)):
        return value
    raise TypeError(f"the handler returned {type(value).__name__}, whose body never ran")


def takes_db_keyword(fn: Handler) -> bool:
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
