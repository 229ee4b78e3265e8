"""``errors="raise"``: a failed invocation re-raised as an exception with a stable class name.

Sources that retry only on a raised error (async invokes, EventBridge rules, Step Functions
tasks) need the failure raised, after the SDK has written its log line and trace. The class
names are the contract, usable in Step Functions ``Retry``/``Catch`` ``ErrorEquals`` and in
Lambda's ``errorType``: `InvalidPartnerId`, `UnknownPartner`, `PartnerRoleRefused`,
`PartnerRoleThrottled`, `DeadlineExceeded`, `InternalError`, and the SDK's own 4xx errors
(`BadRequest`, `UnsupportedEvent`, `UnknownAction`, `NotFound`, `Conflict`) raised as they are.

Messages are the public ones of the response: no role ARN, partner list, credential or
internal detail; the original exception is not chained (Lambda's error document would show it).
"""

from __future__ import annotations

from typing import Literal

import partnerdb
from handler_sdk.errors import Conflict, HandlerError, NotFound
from handler_sdk.responses import classify, partnerdb_cause

Errors = Literal["return", "raise"]
ERRORS_CHOICES: tuple[Errors, ...] = ("return", "raise")


class InvocationFailed(Exception):
    """Base of the exceptions ``errors="raise"`` raises for failures that are not a
    `HandlerError`; `status` is what the response would have carried."""

    status = 500

    def __init__(self, message: str, request_id: str | None = None) -> None:
        self.message = message
        self.request_id = request_id
        super().__init__(message)


class InvalidPartnerId(InvocationFailed):
    """The event's partner id is malformed (400)."""

    status = 400


class UnknownPartner(InvocationFailed):
    """No partner of that id is configured (403)."""

    status = 403


class PartnerRoleRefused(InvocationFailed):
    """The partner's role could not be assumed (502); retrying will not help until it is fixed."""

    status = 502


class PartnerRoleThrottled(InvocationFailed):
    """STS throttled AssumeRole past the retries the deadline allowed (502); retry later."""

    status = 502


class DeadlineExceeded(InvocationFailed):
    """The Lambda deadline left no time to finish (504); "lambda timeout exceeded"."""

    status = 504


class InternalError(InvocationFailed):
    """Anything else (500); the log line holds the detail, the exception does not."""

    status = 500


def raised_for(exc: BaseException, request_id: str | None) -> Exception:
    """The exception to raise for `exc` under ``errors="raise"``."""
    if isinstance(exc, HandlerError):
        return exc
    status, message = classify(exc)
    cause = partnerdb_cause(exc)
    kind: type[InvocationFailed] = InternalError
    if isinstance(cause, partnerdb.InvalidPartnerId):
        kind = InvalidPartnerId
    elif isinstance(cause, partnerdb.UnknownPartner):
        kind = UnknownPartner
    elif isinstance(cause, partnerdb.PartnerRoleThrottled):
        kind = PartnerRoleThrottled
    elif isinstance(cause, partnerdb.PartnerRoleRefused):
        kind = PartnerRoleRefused
    elif isinstance(cause, partnerdb.DeadlineExceeded):
        kind = DeadlineExceeded
    elif status == 404:
        return NotFound(message)
    elif status == 409:
        return Conflict(message)
    elif status == 502:
        kind = PartnerRoleRefused  # any other failure to assume the role
    return kind(message, request_id)


def check_errors_option(errors: object) -> Errors | None:
    """`errors` validated: None (the shape decides), "return" or "raise"."""
    if errors is None:
        return None
    if errors not in ERRORS_CHOICES:
        raise ValueError(f'errors must be "return" or "raise", not {errors!r}')
    return "raise" if errors == "raise" else "return"
