"""What a model's `Meta` asks of its client, on a model bound to a partner.

A bound model talks through its partner's shared botocore client, not one PynamoDB builds from
`Meta`. PynamoDB sends `Meta.extra_headers` from a `before-send` hook on the client it builds;
here the partner client gets one hook that adds the headers of the model whose call is in
progress (a context variable set around that model's calls), so each bound model sends its own
headers and no other model's. The client settings a `Meta` may carry (host, timeouts, retries,
pool size) are replaced by partnerdb's: one warning at binding says so.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from pynamodb.settings import get_settings_value

from partnerdb.private_access import wrap_api_calls

_log = logging.getLogger("partnerdb")
_headers: ContextVar[Mapping[str, str] | None] = ContextVar("partnerdb_headers", default=None)
_HOOK_ID = "partnerdb-model-extra-headers"
_warned: weakref.WeakSet[type] = weakref.WeakSet()
#: Meta attributes PynamoDB turns into client settings, which partnerdb's settings replace.
REPLACED = ("host", "connect_timeout_seconds", "read_timeout_seconds", "max_retry_attempts",
            "max_pool_connections")


def _add_model_headers(request: Any, **_: Any) -> None:
    headers = _headers.get()
    if headers:
        request.headers.update(headers)


def send_model_headers(client: Any, connection: Any, extra_headers: Mapping[str, str] | None
                       ) -> None:
    """Make the calls of `connection` (a bound model's PynamoDB Connection on the partner's
    `client`) carry `extra_headers`, and only its calls."""
    client.meta.events.register_first(
        "before-send.dynamodb", _add_model_headers, unique_id=_HOOK_ID
    )
    if not extra_headers:
        return
    headers = dict(extra_headers)

    def with_headers(call: Callable[..., Any]) -> Callable[..., Any]:
        def make_api_call(operation_name: str, operation_kwargs: dict[str, Any]) -> Any:
            token = _headers.set(headers)
            try:
                return call(operation_name, operation_kwargs)
            finally:
                _headers.reset(token)

        return make_api_call

    wrap_api_calls(connection, with_headers)


def replaced_settings(meta: Any) -> list[str]:
    """The client settings `meta` sets to something other than PynamoDB's defaults."""
    return [
        name for name in REPLACED
        if getattr(meta, name, None) != get_settings_value(name)
    ]


def warn_replaced_settings(model: type, meta: Any) -> None:
    """One warning (per model, not per partner) naming the `Meta` client settings a bound
    model does not use."""
    names = replaced_settings(meta)
    if names and model not in _warned:
        _warned.add(model)
        _log.warning(
            "%s.Meta sets %s: models bound to a partner use partnerdb's client settings "
            "(PARTNERDB_* variables, ClientSettings) instead", model.__name__, ", ".join(names)
        )
