"""Event shapes: where an invocation's partner id, action and data come from.

- direct invoke: ``{"partnerId": "acme", "action": "getPayment", "data": {...}}``
- API Gateway REST (payload 1.0: ``httpMethod`` + ``requestContext``) and HTTP APIs / function
  URLs (payload 2.0: ``version == "2.0"`` + ``requestContext.http``): the ``X-Partner-Id``
  header (any case), else the ``partnerId`` path parameter; when both are present they must
  agree. The action is the ``action`` path parameter with the JSON body as data, else the body
  is an envelope ``{"action": ..., "data": ...}`` like a direct invoke.
- EventBridge (``detail-type`` + ``source`` + ``detail``): ``detail.partnerId``; the action and
  data are ``detail.action`` and ``detail.data``.
- SQS, Kinesis, DynamoDB Streams (``Records`` of one ``eventSource``): a partner per record,
  see `handler_sdk.batch`.
- Anything else with AWS's markers (``Records`` of another source, such as SNS or S3; a
  top-level ``eventSource`` of AWS's own, ``aws:...``, as Kafka, Amazon MQ and DocumentDB
  send; CloudWatch Logs' ``awslogs``, Firehose, S3 Batch Operations, Cognito, CloudFormation;
  a JSON array, as EventBridge Pipes sends) is `Shape.UNSUPPORTED`: its partner id is an
  `UnsupportedEvent` naming it, raised by default, so a source that retries only raised
  errors retries it.

Anything malformed raises `BadRequest` (400); ids are checked by `normalize_partner_id`.
"""

from __future__ import annotations

import base64
import json
from enum import StrEnum
from typing import Any

from handler_sdk.errors import ECHO_MAX, BadRequest, UnsupportedEvent
from partnerdb import normalize_partner_id

PARTNER_HEADER = "x-partner-id"
PARTNER_PATH_PARAMETER = "partnerId"
ACTION_PATH_PARAMETER = "action"


class Shape(StrEnum):
    """The kind of event; it decides the partner id's source and the response format."""

    DIRECT = "direct"
    APIGW_V1 = "apigw_v1"
    APIGW_V2 = "apigw_v2"
    EVENTBRIDGE = "eventbridge"
    SQS = "sqs"
    KINESIS = "kinesis"
    DYNAMODB_STREAMS = "dynamodb_streams"
    UNSUPPORTED = "unsupported"


#: Shapes answered with an API Gateway proxy response.
HTTP_SHAPES = frozenset({Shape.APIGW_V1, Shape.APIGW_V2})
#: Shapes whose records each get a handler call and a partner (`handler_sdk.batch`).
BATCH_SHAPES = frozenset({Shape.SQS, Shape.KINESIS, Shape.DYNAMODB_STREAMS})
#: A record's ``eventSource`` -> its batch shape.
RECORD_SOURCES = {
    "aws:sqs": Shape.SQS,
    "aws:kinesis": Shape.KINESIS,
    "aws:dynamodb": Shape.DYNAMODB_STREAMS,
}
_EVENTBRIDGE_KEYS = frozenset({"detail-type", "source", "detail"})
#: A top-level key that marks an event of another AWS source (read without ``partnerId``).
_SOURCE_MARKERS = {
    "awslogs": "a CloudWatch Logs subscription event",
    "deliveryStreamArn": "a Firehose transformation event",
    "invocationSchemaVersion": "an S3 Batch Operations event",
    "triggerSource": "a Cognito trigger event",
    "ResponseURL": "a CloudFormation custom resource event",
}


def detect_shape(event: object) -> Shape:
    """The event's shape; a direct invoke when nothing else matches (a non-dict too, but for
    a JSON array: no direct invoke sends one, EventBridge Pipes does)."""
    if isinstance(event, list):
        return Shape.UNSUPPORTED
    if isinstance(event, dict):
        if "Records" in event:
            return _records_shape(event["Records"])
        context = event.get("requestContext")
        if isinstance(context, dict):
            if event.get("version") == "2.0" and "http" in context:
                return Shape.APIGW_V2
            if "httpMethod" in event:
                return Shape.APIGW_V1
        if event.keys() >= _EVENTBRIDGE_KEYS:
            return Shape.EVENTBRIDGE
        if "partnerId" not in event and _other_source(event) is not None:
            return Shape.UNSUPPORTED
    return Shape.DIRECT


def _records_shape(records: object) -> Shape:
    if not isinstance(records, list) or not records:
        return Shape.UNSUPPORTED
    shapes = {RECORD_SOURCES.get(_record_source(r)) for r in records}
    if len(shapes) != 1:
        return Shape.UNSUPPORTED
    (shape,) = shapes
    return shape if shape is not None else Shape.UNSUPPORTED


def _record_source(record: object) -> str:
    """A record's ``eventSource`` (``EventSource`` for SNS), or ''."""
    if not isinstance(record, dict):
        return ""
    source = record.get("eventSource", record.get("EventSource"))
    return source if isinstance(source, str) else ""


def _other_source(event: dict[str, Any]) -> str | None:
    """What another AWS source's event is, by its top-level markers, else None."""
    source = event.get("eventSource")
    if isinstance(source, str) and source.startswith("aws:"):  # AWS's, not an app's field
        return f"an {source[:ECHO_MAX]} event"
    for key, named in _SOURCE_MARKERS.items():
        if key in event:
            return named
    return None


def describe(event: object) -> str:
    """What an unsupported event looks like, for its error message (no payload echoed)."""
    if isinstance(event, list):
        return "a JSON array (as EventBridge Pipes sends)"
    if not isinstance(event, dict):
        return "an event of unknown shape"
    if not isinstance(event.get("Records"), list):
        return _other_source(event) or "an event of unknown shape"
    sources = sorted({_record_source(r)[:ECHO_MAX] or "(no eventSource)" for r in event["Records"]})
    if not sources:
        return "an empty Records list"
    return "Records of " + ", ".join(sources[:5])


def partner_id_of(event: object, shape: Shape) -> str:
    """The invocation's partner id, normalized; `BadRequest`/`InvalidPartnerId` if unusable."""
    if shape is Shape.UNSUPPORTED:
        raise UnsupportedEvent(describe(event))
    if not isinstance(event, dict):
        raise BadRequest("event must be a JSON object")
    if shape is Shape.DIRECT:
        if "partnerId" not in event:
            raise BadRequest("partnerId is required")
        return normalize_partner_id(event["partnerId"])
    if shape is Shape.EVENTBRIDGE:
        detail = _mapping(event, "detail")
        if "partnerId" not in detail:
            raise BadRequest("detail.partnerId is required")
        return normalize_partner_id(detail["partnerId"])
    if shape not in HTTP_SHAPES:
        raise UnsupportedEvent(describe(event))
    header = _header(event)
    path = _mapping(event, "pathParameters").get(PARTNER_PATH_PARAMETER)
    if header is None and path is None:
        raise BadRequest("the X-Partner-Id header or the partnerId path parameter is required")
    if path is None:
        return normalize_partner_id(header)
    from_path = normalize_partner_id(path)
    if header is not None and normalize_partner_id(header) != from_path:
        raise BadRequest("the X-Partner-Id header and the partnerId path parameter disagree")
    return from_path


def route_of(event: object, shape: Shape) -> str | None:
    """A cheap label of what was asked, for logs: the action, else the API route. Never raises."""
    if not isinstance(event, dict):
        return None
    try:
        action = _named_action(event, shape)
    except BadRequest:
        action = None
    if isinstance(action, str):
        return action[:ECHO_MAX]
    if shape is Shape.EVENTBRIDGE:
        detail_type = event.get("detail-type")
        return detail_type[:ECHO_MAX] if isinstance(detail_type, str) else None
    if shape not in HTTP_SHAPES:
        return None
    if shape is Shape.APIGW_V2:
        route = event.get("routeKey")
        return route if isinstance(route, str) else None
    method, resource = event.get("httpMethod"), event.get("resource")
    return f"{method} {resource}" if isinstance(method, str) and isinstance(resource, str) else None


def action_and_data(event: object, shape: Shape) -> tuple[object, object]:
    """The (action, data) an `ActionRouter` dispatches on; either may be None when absent."""
    if not isinstance(event, dict):
        raise BadRequest("event must be a JSON object")
    action = _named_action(event, shape)
    if shape is Shape.DIRECT:
        return action, event.get("data")
    if shape is Shape.EVENTBRIDGE:
        return action, _mapping(event, "detail").get("data")
    if shape not in HTTP_SHAPES:
        raise UnsupportedEvent(describe(event))
    body = json_body(event)
    if action is not None:
        return action, body
    if isinstance(body, dict):
        return body.get("action"), body.get("data")
    return None, None


def json_body(event: dict[str, Any]) -> object:
    """An API Gateway event's body parsed as JSON (base64 undone); None when empty."""
    body = event.get("body")
    if body is None or body == "":
        return None
    if not isinstance(body, str):
        raise BadRequest("body must be a string")
    if event.get("isBase64Encoded") is True:
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except ValueError:  # binascii.Error, UnicodeDecodeError, and non-ASCII input
            raise BadRequest("body is not valid base64-encoded UTF-8") from None
    return parse_json(body, "body")


def parse_json(text: str | bytes, what: str) -> Any:
    """`text` parsed as JSON; invalid JSON is a `BadRequest` naming `what`.

    Deep nesting (a body of 1,500 `[`) makes the parser raise `RecursionError`, which is not a
    `ValueError`: it is a bad request too, not a 500.
    """
    try:
        return json.loads(text)
    except RecursionError:
        raise BadRequest(f"{what} is nested too deeply") from None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError of bytes
        raise BadRequest(f"{what} is not valid JSON") from None


def _named_action(event: dict[str, Any], shape: Shape) -> object:
    """The action named outside any body: a direct invoke's ``action``, EventBridge's
    ``detail.action``, or API Gateway's ``action`` path parameter; None when absent."""
    if shape is Shape.DIRECT:
        return event.get("action")
    if shape is Shape.EVENTBRIDGE:
        return _mapping(event, "detail").get("action")
    if shape not in HTTP_SHAPES:
        return None
    return _mapping(event, "pathParameters").get(ACTION_PATH_PARAMETER)


class ParsedEvent:
    """One invocation's event, parsed once: its shape now, the rest on first use.

    The partner id, the log label and the (action, data) an `ActionRouter` dispatches on are
    each computed at most once, so the decorator and the router read one parse. Errors of a
    part (`BadRequest`, `InvalidPartnerId`) are raised when that part is asked for, so a plain
    handler never fails on a body only a router would read.
    """

    __slots__ = ("_action_and_data", "raw", "shape")

    def __init__(self, raw: object) -> None:
        self.raw = raw
        self.shape = detect_shape(raw)
        self._action_and_data: tuple[object, object] | None = None

    def partner_id(self) -> str:
        return partner_id_of(self.raw, self.shape)

    def route(self) -> str | None:
        return route_of(self.raw, self.shape)

    def action_and_data(self) -> tuple[object, object]:
        if self._action_and_data is None:
            self._action_and_data = action_and_data(self.raw, self.shape)
        return self._action_and_data


def _mapping(event: dict[str, Any], key: str) -> dict[str, Any]:
    value = event.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{key} must be an object")
    return value


def _header(event: dict[str, Any]) -> str | None:
    """The X-Partner-Id value from `headers` and `multiValueHeaders`, in any case.

    Several different values are refused rather than one picked.
    """
    found: list[object] = []
    for name, value in _mapping(event, "headers").items():
        if isinstance(name, str) and name.lower() == PARTNER_HEADER:
            found.append(value)
    for name, value in _mapping(event, "multiValueHeaders").items():
        if isinstance(name, str) and name.lower() == PARTNER_HEADER:
            if not isinstance(value, list):
                raise BadRequest("multiValueHeaders values must be lists")
            found.extend(value)
    if not found:
        return None
    if not all(isinstance(value, str) for value in found):
        raise BadRequest("the X-Partner-Id header must be a string")
    if len({str(value).lower() for value in found}) > 1:  # ids are case-insensitive
        raise BadRequest("the X-Partner-Id header is given more than once with different values")
    return str(found[0])
