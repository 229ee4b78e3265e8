"""Responses: a handler's return value or error, in the format of the event's shape.

Direct invoke, EventBridge and every other non-HTTP shape:
``{"success": true, "status": 200, "data": ...}`` or
``{"success": false, "status": 404, "error": "...", "requestId": "..."}``.
API Gateway (payload 1.0 and 2.0): a proxy response ``{"statusCode", "headers", "body"}`` whose
JSON body is ``{"data": ...}`` or ``{"error": "...", "requestId": "..."}``; a dict the handler
returns with a ``statusCode`` is passed through untouched.

`classify` maps an exception to (status, public message). Public messages are fixed texts or
`HandlerError` messages: no partner list, role ARN, credential or ExternalId reaches a caller.
"""

from __future__ import annotations

import base64
import json
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from pynamodb.attributes import AttributeContainer
from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError

from handler_sdk.errors import HandlerError
from handler_sdk.events import HTTP_SHAPES, Shape
from handler_sdk.simple import simple_dict
from partnerdb import (
    DeadlineExceeded,
    InvalidPartnerId,
    PartnerCredentialsRejected,
    PartnerDBError,
    PartnerRoleError,
    PartnerRoleThrottled,
    RegistryEntryInvalid,
    RegistryUnavailable,
    UnknownPartner,
)

JSON_HEADERS = {"Content-Type": "application/json"}
INTERNAL_ERROR = "internal error"
_CONDITION_FAILED = "ConditionalCheckFailedException"
_CAUSE_DEPTH = 5


def to_json(value: object) -> str:
    """JSON text of `value`; Decimal, datetime, sets, bytes and PynamoDB models included."""
    return _ENCODER.encode(value)


def plain(value: object) -> Any:
    """`value` as plain JSON types, so the runtime's own encoder cannot fail on it: `value`
    itself when it is made of them already (dicts with string keys, lists, strings, numbers,
    booleans, None: what `json.loads(to_json(value))` would rebuild equal), else that round
    trip (Decimals, dates, sets, bytes, models, tuples, other keys)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, AttributeContainer):
        return simple_dict(value)
    if _is_plain(value, _PLAIN_DEPTH):
        return value
    return json.loads(to_json(value))


#: how deep `_is_plain` looks before leaving a value to the round trip (a cycle ends there)
_PLAIN_DEPTH = 64
_PLAIN_SCALARS = frozenset({str, int, float, bool, type(None)})


def _is_plain(value: Any, depth: int) -> bool:
    """Whether `value` is made only of JSON's own types (exactly: no subclasses); scalars are
    checked in the loop, containers by recursion, `depth` levels at most."""
    kind = type(value)
    if kind is dict:
        if depth == 0:
            return False
        for key, item in value.items():
            if type(key) is not str:
                return False
            if type(item) not in _PLAIN_SCALARS and not _is_plain(item, depth - 1):
                return False
        return True
    if kind is list:
        if depth == 0:
            return False
        for item in value:
            if type(item) not in _PLAIN_SCALARS and not _is_plain(item, depth - 1):
                return False
        return True
    return kind in _PLAIN_SCALARS


def success(result: object, shape: Shape) -> dict[str, Any]:
    """The response for a handler's return value (a proxy response for HTTP shapes only)."""
    if shape not in HTTP_SHAPES:
        return {"success": True, "status": 200, "data": plain(result)}
    if isinstance(result, dict) and "statusCode" in result:
        return result
    return proxy(200, {"data": result})


def failure(status: int, message: str, shape: Shape, request_id: str | None) -> dict[str, Any]:
    """The response for an error; `message` must already be safe to show."""
    if shape not in HTTP_SHAPES:
        return {
            "success": False,
            "status": status,
            "error": message,
            "requestId": request_id,
        }
    return proxy(status, {"error": message, "requestId": request_id})


def proxy(status: int, body: object) -> dict[str, Any]:
    """An API Gateway proxy response with a JSON body."""
    return {"statusCode": status, "headers": dict(JSON_HEADERS), "body": to_json(body)}


def classify(exc: BaseException) -> tuple[int, str]:
    """(status, public message) for an exception a handler let through."""
    if isinstance(exc, HandlerError):
        return exc.status, exc.message
    cause = partnerdb_cause(exc)
    if isinstance(cause, InvalidPartnerId):
        return 400, str(cause)
    if isinstance(cause, UnknownPartner):
        return 403, "unknown partner"
    if isinstance(cause, RegistryUnavailable):
        return 503, "partner registry unavailable: retry later"
    if isinstance(cause, RegistryEntryInvalid):
        return 502, "partner configuration is invalid"
    if isinstance(cause, PartnerRoleThrottled):
        return 502, "partner role throttled: retry later"
    if isinstance(cause, PartnerRoleError):
        return 502, "partner role could not be assumed"
    if isinstance(cause, PartnerCredentialsRejected):
        return 502, "partner credentials rejected: retry later"
    if isinstance(cause, DeadlineExceeded):
        return 504, "lambda timeout exceeded"
    if isinstance(exc, DoesNotExist):
        return 404, "not found"
    if _condition_failed(exc):
        return 409, "conflict: a condition of the write failed"
    return 500, INTERNAL_ERROR


def partnerdb_cause(exc: BaseException) -> BaseException | None:
    """`exc` or the first `PartnerDBError` it was raised from (e.g. wrapped by a handler)."""
    current: BaseException | None = exc
    for _ in range(_CAUSE_DEPTH):
        if current is None or isinstance(current, PartnerDBError):
            return current
        current = current.__cause__
    return None


def _condition_failed(exc: BaseException) -> bool:
    if isinstance(exc, TransactWriteError):
        return any(
            reason is not None and reason.code == "ConditionalCheckFailed"
            for reason in exc.cancellation_reasons
        )
    return isinstance(exc, PynamoDBException) and exc.cause_response_code == _CONDITION_FAILED


def _default(value: object) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        try:
            return sorted(value)
        except TypeError:
            return list(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, AttributeContainer):
        return value.to_simple_dict()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


#: one encoder for every response (`json.dumps` with options builds a new one per call)
_ENCODER = json.JSONEncoder(default=_default, separators=(",", ":"))
