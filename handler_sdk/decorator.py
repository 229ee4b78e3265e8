"""`with_partner_db`: checks the options, binds the models, wraps the handler.

The work of each invocation (partner id, DB, deadline, response, log line, trace) is the
pipeline in `handler_sdk.invocation`; this module keeps the process-wide state: the default
`Partners` and the cold-start flag (set again after a SnapStart restore, see
`partnerdb.snapstart`, so a restored copy's first invocation is logged as its cold start).

    @with_partner_db(models=[Payment])
    def handler(event, context, db):
        return db.model(Payment).get(event["data"]["id"])

Everything that can be checked at import is: options, models (bound now), the partners'
configuration (`Partners.from_env()`, built once per process) and the tracing switch. A bad
value is an init error of the function, never a failed first request.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any, overload

from pynamodb.models import Model

from handler_sdk import compose, invocation, tracing
from handler_sdk.constants import DEFAULT_BUFFER_MS
from handler_sdk.failures import Errors, check_errors_option
from handler_sdk.invocation import Handler, HandlerSpec, PartnerFrom
from partnerdb import Partners, register_snapstart

#: what Lambda calls: handler(event, context)
LambdaHandler = Callable[[Any, Any], Any]

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


#: Variables `Partners.from_env()` reads (partners, settings, endpoints, region).
_CONFIG_PREFIXES = ("PARTNER_", "PARTNERDB_", "AWS_")


def _config_environment() -> frozenset[tuple[str, str]]:
    return frozenset((k, v) for k, v in os.environ.items() if k.startswith(_CONFIG_PREFIXES))


class _DefaultPartners:
    """`Partners.from_env()`, built once per process on first need (thread-safe).

    Built again when the configuration variables differ from those it was built from: never
    on Lambda (the environment is fixed), but a test that imports a handler afresh under a new
    environment (partnerdb.testing) gets partners of that environment, not of the last test.
    """

    def __init__(self) -> None:
        self._partners: Partners | None = None
        self._built_from: frozenset[tuple[str, str]] = frozenset()
        self._lock = threading.Lock()

    def get(self) -> Partners:
        current = _config_environment()
        with self._lock:
            if self._partners is None or current != self._built_from:
                self._partners = Partners.from_env()
                self._built_from = current
            return self._partners


_default_partners = _DefaultPartners()


@overload
def with_partner_db(handler: Handler, /) -> LambdaHandler: ...


@overload
def with_partner_db(
    *,
    models: Iterable[type[Model]] = (),
    partner_from: PartnerFrom | None = None,
    buffer_ms: int = DEFAULT_BUFFER_MS,
    partners: Partners | None = None,
    errors: Errors | None = None,
    skip_group_on_error: bool = False,
) -> Callable[[Handler], LambdaHandler]: ...


def with_partner_db(
    handler: Handler | None = None,
    /,
    *args: Any,
    models: Iterable[type[Model]] = (),
    partner_from: PartnerFrom | None = None,
    buffer_ms: int = DEFAULT_BUFFER_MS,
    partners: Partners | None = None,
    errors: Errors | None = None,
    skip_group_on_error: bool = False,
) -> LambdaHandler | Callable[[Handler], LambdaHandler]:
    """Decorate a handler ``(event, context, db)`` into a Lambda handler ``(event, context)``.

    Bare (``@with_partner_db``) or with keyword-only options:

    - ``models``: PynamoDB models to bind now, at import, for every configured partner;
    - ``partner_from``: ``callable(event) -> partner id`` replacing the event-shape lookup;
    - ``buffer_ms``: stop starting DB work this long before the Lambda deadline;
    - ``partners``: a `Partners` to use instead of the process-wide ``Partners.from_env()``;
    - ``errors``: ``"return"`` answers a failure as a payload, ``"raise"`` raises it as a typed
      exception (`handler_sdk.failures`) after the log line; by default the event's shape
      decides (raise for EventBridge and unknown shapes, return otherwise);
    - ``skip_group_on_error``: in an SQS FIFO batch, a failed record stops only the records of
      its message group, not the whole batch (the other groups' order is not at stake).
    """
    if args or (handler is not None and (isinstance(handler, type) or not callable(handler))):
        raise TypeError(
            "with_partner_db options are keyword-only: use @with_partner_db or "
            "@with_partner_db(models=[...], partner_from=..., buffer_ms=..., partners=..., "
            "errors=..., skip_group_on_error=...)"
        )
    if isinstance(models, type) or not isinstance(models, Iterable):
        raise TypeError("models must be a list of PynamoDB model classes")
    if partner_from is not None and not callable(partner_from):
        raise TypeError("partner_from must be a callable(event) -> partner id")
    if isinstance(buffer_ms, bool) or not isinstance(buffer_ms, int) or buffer_ms < 0:
        raise ValueError("buffer_ms must be an int >= 0")
    if partners is not None and not isinstance(partners, Partners):
        raise TypeError("partners must be a partnerdb.Partners")
    if not isinstance(skip_group_on_error, bool):
        raise TypeError("skip_group_on_error must be True or False")
    chosen_errors = check_errors_option(errors)
    chosen = partners if partners is not None else _default_partners.get()
    chosen.register_models(*models)
    register_snapstart(chosen, on_restore=[_reset_cold_start])
    trace = tracing.enabled()

    def decorate(fn: Handler) -> LambdaHandler:
        if isinstance(fn, type) or not callable(fn):
            raise TypeError("with_partner_db decorates a callable(event, context, db)")
        compose.check_inner(fn)
        invocation.check_plain_function(fn, "a with_partner_db handler")
        return _wrap(
            HandlerSpec.of(
                fn,
                partners=chosen,
                partner_from=partner_from,
                buffer_ms=buffer_ms,
                trace=trace,
                errors=chosen_errors,
                skip_group_on_error=skip_group_on_error,
            )
        )

    return decorate if handler is None else decorate(handler)


def _wrap(spec: HandlerSpec) -> LambdaHandler:
    @functools.wraps(spec.fn)
    def lambda_handler(event: Any, context: Any) -> Any:
        return invocation.run(spec, event, context, cold_start=_take_cold_start())

    return lambda_handler
