"""Resolve a partner client's endpoint once per (operation, table), not on every request.

botocore runs the service's endpoint ruleset before every request: it gathers about ten
parameters (region, FIPS, dual-stack, endpoint override, account id, the table's ARN...) and
evaluates the rules on them, 20-25 µs of CPU of each DynamoDB call. For one partner client every
input but the request's own context parameters is fixed when the client is built (region,
configuration, endpoint override; the account is the partner's, whatever credentials a refresh
brings), so the answer only changes with the operation and the request members the ruleset
reads. This cache keys on exactly those: the operation and the values of its context
parameters (for DynamoDB's item operations, the table name). An operation whose ruleset reads
anything but plain top-level members (a JMESPath such as `keys(RequestItems)`), or a value that
cannot be a key, is resolved by botocore as usual.

The user-agent features botocore records in the request's context while resolving
(`RESOLVED_ACCOUNT_ID`, `ACCOUNT_ID_MODE_*`) are recorded again with every cached answer, so
the requests sent stay the same. A `before-endpoint-resolution` handler registered on a
partner client (these clients are partnerdb's own) runs on the first request of each key only.
"""

from __future__ import annotations

import threading
from typing import Any

from botocore.context import get_context

from partnerdb.private_access import wrap_endpoint_resolution

#: Distinct (operation, context values) answers kept per client; beyond it the cache restarts.
MAX_ENTRIES = 256


class EndpointCache:
    """Wraps one client's `construct_endpoint`: same answers, computed once per key."""

    def __init__(self, resolve: Any) -> None:
        #: botocore's own resolution, which a miss runs
        self.resolve = resolve
        self._fields: dict[str, tuple[str, ...] | None] = {}
        self._answers: dict[tuple[Any, ...], tuple[Any, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def __call__(self, operation_model: Any, call_args: Any, request_context: Any) -> Any:
        key = self._key(operation_model, call_args)
        if key is None:
            return self.resolve(operation_model, call_args, request_context)
        cached = self._answers.get(key)
        context = get_context()
        if cached is not None:
            answer, features = cached
            if features and context is not None:
                context.features.update(features)
            return answer
        before = set(context.features) if context is not None else set()
        answer = self.resolve(operation_model, call_args, request_context)
        features = frozenset(context.features) - before if context is not None else frozenset()
        with self._lock:
            if len(self._answers) >= MAX_ENTRIES:
                self._answers.clear()
            self._answers[key] = (answer, features)
        return answer

    def _key(self, operation_model: Any, call_args: Any) -> tuple[Any, ...] | None:
        name = operation_model.name
        if name not in self._fields:
            self._fields[name] = _context_members(operation_model)
        fields = self._fields[name]
        if fields is None:
            return None
        args = call_args or {}
        key = (name, *(args.get(field) for field in fields))
        try:
            hash(key)
        except TypeError:
            return None
        return key


def _context_members(operation_model: Any) -> tuple[str, ...] | None:
    """The request members the ruleset reads for this operation, or None when it reads more
    than plain top-level members."""
    members = [param.member_name for param in operation_model.context_parameters]
    operation_params = operation_model.operation_context_parameters  # {} or [] when none
    for spec in operation_params.values() if isinstance(operation_params, dict) else ():
        path = spec.get("path") if isinstance(spec, dict) else None
        if not isinstance(path, str) or not path.isidentifier():
            return None
        members.append(path)
    return tuple(members)


def cache_endpoints(client: Any) -> EndpointCache | None:
    """Put an `EndpointCache` in front of `client`'s endpoint resolution; None when this
    botocore resolves endpoints some other way (then nothing changes)."""
    cache: EndpointCache | None = wrap_endpoint_resolution(client, EndpointCache)
    return cache
