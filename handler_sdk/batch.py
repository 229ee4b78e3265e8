"""Batches from SQS (standard and FIFO), Kinesis and DynamoDB Streams: one handler call per record.

Each record gets its own partner and DB: the partner id is the SQS message attribute
``partnerId``, else ``partnerId`` in the JSON body; for Kinesis ``partnerId`` in the base64 JSON
data; for DynamoDB Streams ``partnerId`` in the new image, else the old image (a REMOVE) or the
keys (a KEYS_ONLY stream); a ``partner_from`` callable receives the record instead.

The answer is Lambda's ReportBatchItemFailures response,
``{"batchItemFailures": [{"itemIdentifier": id}]}``, naming every record that failed, was
malformed, had an unknown partner, or was not started because the deadline would not fit it:
those are delivered again, never dropped. FIFO queues and streams keep order, so the first
failure stops the batch and it and every record after it are reported. With
``skip_group_on_error`` a failure in an SQS FIFO batch stops only its message group: SQS keeps
order within a group, so the other groups' records go on (a record without a group still stops
the whole batch).
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from handler_sdk import compose, logs
from handler_sdk.errors import BadRequest
from handler_sdk.events import BATCH_SHAPES, RECORD_SOURCES, Shape, detect_shape, parse_json
from handler_sdk.responses import classify
from partnerdb import Deadline, PartnerDB, Partners, normalize_partner_id

PARTNER_FIELD = "partnerId"

#: handle(record, db): the decorated handler for one record (what it is given: a raw record
#: or a Powertools record object)
RecordHandler = Callable[[Any, PartnerDB], object]
#: lookup(raw record, record as given) -> the record's partner id
PartnerLookup = Callable[[dict[str, Any], Any], str]


def source_of(event: object) -> Shape | None:
    """The batch shape of `event` (every record's ``eventSource`` agrees), else None."""
    shape = detect_shape(compose.raw_event(event))
    return shape if shape in BATCH_SHAPES else None


def item_id(record: Mapping[str, Any], source: Shape) -> str | None:
    """What ReportBatchItemFailures names a record by: message id or sequence number."""
    if source is Shape.SQS:
        found = record.get("messageId")
    elif source is Shape.KINESIS:
        found = _mapping(record, "kinesis").get("sequenceNumber")
    else:
        found = _mapping(record, "dynamodb").get("SequenceNumber")
    return found if isinstance(found, str) and found else None


def is_ordered(records: list[dict[str, Any]], source: Shape) -> bool:
    """Streams always keep order; an SQS batch does when it comes from a FIFO queue."""
    if source is not Shape.SQS:
        return True
    arn = records[0].get("eventSourceARN")
    return isinstance(arn, str) and arn.endswith(".fifo")


#: the stop scope of a record that a failure stops the whole batch for
WHOLE_BATCH = ""


def stop_scope(record: object, source: Shape, *, ordered: bool, by_group: bool) -> str | None:
    """What a failure of `record` stops: None (nothing, an unordered batch), its SQS message
    group (``by_group`` on a FIFO batch), or `WHOLE_BATCH`."""
    if not ordered:
        return None
    if by_group and source is Shape.SQS and isinstance(record, dict):
        group = _mapping(record, "attributes").get("MessageGroupId")
        if isinstance(group, str) and group:
            return group
    return WHOLE_BATCH


def record_data(record: Any) -> Any:
    """A record's payload as plain data: the SQS body as JSON, the Kinesis data decoded from
    base64 JSON, the DynamoDB Streams new image as a dict. `BadRequest` when malformed."""
    record = compose.raw_event(record)
    source = RECORD_SOURCES.get(str(record.get("eventSource")))
    if source == Shape.SQS:
        return _json(record.get("body"), "the message body")
    if source == Shape.KINESIS:
        data = _mapping(record, "kinesis").get("data")
        if not isinstance(data, str):
            raise BadRequest("the Kinesis record has no data")
        try:
            text = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise BadRequest("the Kinesis data is not base64-encoded UTF-8") from None
        return _json(text, "the Kinesis data")
    if source == Shape.DYNAMODB_STREAMS:
        image = _mapping(record, "dynamodb").get("NewImage")
        if not isinstance(image, dict):
            event = record.get("eventName")
            if event == "REMOVE":
                raise BadRequest("the stream record is a REMOVE: read its dynamodb.OldImage")
            raise BadRequest("the stream record has no NewImage")
        from boto3.dynamodb.types import TypeDeserializer  # only streams pay for importing it

        try:
            deserialize = TypeDeserializer().deserialize
            return {k: deserialize(v) for k, v in image.items()}
        except (TypeError, ValueError, KeyError, AttributeError):
            raise BadRequest("the stream record's NewImage is not DynamoDB JSON") from None
    raise BadRequest("not a record of SQS, Kinesis or DynamoDB Streams")


def partner_id_of(record: Mapping[str, Any], source: Shape) -> str:
    """The record's partner id by the default lookup, normalized; `BadRequest` when absent."""
    if source is Shape.SQS:
        attribute = _mapping(record, "messageAttributes").get(PARTNER_FIELD)
        if isinstance(attribute, dict) and attribute.get("stringValue") is not None:
            return normalize_partner_id(attribute["stringValue"])
    if source is Shape.DYNAMODB_STREAMS:
        stream = _mapping(record, "dynamodb")
        for image in ("NewImage", "OldImage", "Keys"):
            value = _mapping(stream, image).get(PARTNER_FIELD)
            if isinstance(value, dict) and isinstance(value.get("S"), str):
                return normalize_partner_id(value["S"])
        raise BadRequest(
            f"no {PARTNER_FIELD} string in the stream record's NewImage, OldImage or Keys"
        )
    data = record_data(record)
    if not isinstance(data, dict) or PARTNER_FIELD not in data:
        raise BadRequest(f"no {PARTNER_FIELD} in the record")
    return normalize_partner_id(data[PARTNER_FIELD])


@dataclass
class RecordResult:
    """What happened to one record: ``ok``, ``failed`` or ``not_started``."""

    item_id: str | None
    outcome: str
    partner_id: str | None = None
    status: int = 200
    error_type: str | None = None
    error: str | None = None
    duration_ms: float = 0.0
    sts_calls: int = 0


@dataclass
class BatchResult:
    """Every record's result, in order; `response` is what the function returns."""

    shape: Shape
    results: list[RecordResult] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if r.outcome == "failed")

    @property
    def not_started(self) -> int:
        return sum(1 for r in self.results if r.outcome == "not_started")

    @property
    def sts_calls(self) -> int:
        return sum(r.sts_calls for r in self.results)

    @property
    def reported(self) -> list[str]:
        return [r.item_id or "" for r in self.results if r.outcome != "ok"]

    def response(self) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": i} for i in self.reported]}


def run_batch(
    records: list[dict[str, Any]],
    given: list[Any],
    shape: Shape,
    handle: RecordHandler,
    lookup: PartnerLookup,
    *,
    partners: Partners,
    deadline: Deadline,
    request_id: str | None = None,
    skip_group_on_error: bool = False,
) -> BatchResult:
    """Call `handle(record, db)` once per record, each with its own partner's DB.

    `records` are the raw records, `given` what the handler gets for each (the same dicts, or
    a Powertools data class's record objects). A record is not started when the deadline has
    passed or is nearer than the longest record that succeeded so far. In an ordered batch,
    the first record that fails or is not started stops the batch (with
    `skip_group_on_error`, an SQS FIFO record's message group only); every later record it
    stops is reported as not started.
    """
    ordered = is_ordered(records, shape)
    batch = BatchResult(shape)
    longest_ms = 0.0
    stopped: set[str] = set()
    for record, obj in zip(records, given, strict=True):
        rid = item_id(record, shape) if isinstance(record, dict) else None
        scope = stop_scope(record, shape, ordered=ordered, by_group=skip_group_on_error)
        halted = WHOLE_BATCH in stopped or scope in stopped
        if halted or deadline.remaining_ms() <= longest_ms:
            result = RecordResult(rid, "not_started", status=504)
            result.error_type = None if halted else "DeadlineExceeded"
        else:
            result = _run_one(record, obj, rid, handle, lookup, partners, deadline)
            if result.outcome == "ok":
                longest_ms = max(longest_ms, result.duration_ms)
        if result.outcome != "ok" and scope is not None:
            stopped.add(scope)
        batch.results.append(result)
        _log_record(result, shape, request_id)
    return batch


def _run_one(
    record: dict[str, Any],
    obj: Any,
    rid: str | None,
    handle: RecordHandler,
    lookup: PartnerLookup,
    partners: Partners,
    deadline: Deadline,
) -> RecordResult:
    started = time.perf_counter()
    result = RecordResult(rid, "ok")
    try:
        if rid is None:
            raise BadRequest("the record has no message id or sequence number")
        result.partner_id = lookup(record, obj)
        db = partners.db(result.partner_id, deadline=deadline)
        try:
            with db:
                handle(obj, db)
        finally:
            result.sts_calls = db.sts_calls
    except Exception as exc:
        result.outcome = "failed"
        result.status, _ = classify(exc)
        result.error_type = type(exc).__name__
        result.error = str(exc)
    result.duration_ms = (time.perf_counter() - started) * 1000
    return result


def _log_record(result: RecordResult, shape: Shape, request_id: str | None) -> None:
    """One line per record: its id, partner and outcome (`logs.emit_fields` redacts the error
    text), keyed like the invocation line (`handler_sdk.logs`)."""
    level = logging.INFO
    if result.outcome == "failed":  # a 4xx record fails again on every delivery: warn
        level = logging.ERROR if result.status >= 500 else logging.WARNING
    if not logs.logger.isEnabledFor(level):
        return
    fields: dict[str, Any] = {
        "timestamp": logs.timestamp(),
        "level": logging.getLevelName(level),
        "message": "record",
        "logger": logs.LOGGER_NAME,
        "requestId": request_id,
        "shape": shape.value,
        "item_id": result.item_id,
        "partner_id": result.partner_id,
        "outcome": result.outcome,
        "status": result.status,
        "duration_ms": round(result.duration_ms, 3),
    }
    if result.error_type is not None:
        fields["errorType"] = result.error_type
    if result.error is not None:
        fields["errorMessage"] = result.error
    logs.emit_fields(level, fields)


def _json(text: object, what: str) -> Any:
    if not isinstance(text, str):
        raise BadRequest(f"{what} must be a string")
    return parse_json(text, what)


def _mapping(record: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = record.get(key)
    return value if isinstance(value, dict) else {}
