"""Errors a handler raises to answer with a 4xx status, and the SDK's configuration error.

`partnerdb` owns the errors of the data layer (`partnerdb.PartnerDBError` and its subclasses);
these are the SDK's own, for handler code: `raise NotFound("payment p-1")` answers 404 with
that message. The message is shown to the caller, so never put a secret in it.
"""

from __future__ import annotations

from partnerdb import ConfigError

#: Longest caller-supplied text echoed back in an error message.
ECHO_MAX = 100


class HandlerError(Exception):
    """Base of the SDK's errors; `status` is the HTTP status the response carries."""

    status = 400

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class BadRequest(HandlerError):
    """The event or its data is malformed (400)."""

    status = 400


class NotFound(HandlerError):
    """The requested item does not exist (404)."""

    status = 404


class Conflict(HandlerError):
    """The request conflicts with the current state, e.g. a failed condition (409)."""

    status = 409


class UnknownAction(BadRequest):
    """The event names no action, or one the router does not know (400)."""

    def __init__(self, action: object) -> None:
        self.action = action
        shown = "(none)" if action is None else str(action)[:ECHO_MAX]
        super().__init__(f"unknown action: {shown}")


class SdkConfigError(ConfigError):
    """A bad value of one of the SDK's own settings (see `handler_sdk.constants`).

    A subclass of partnerdb's `ConfigError`, so one ``except ConfigError`` (or a test's
    ``pytest.raises(ConfigError)``) covers every init-time configuration error of a function,
    while the type still says which package owns the setting.
    """
