"""PynamoDB's `Connection` on a partner's botocore client, without per-call work nobody sees.

PynamoDB's `dispatch` makes a uuid4 per call (a `getrandom` system call; with it, 6 to 17 µs
of a GetItem's CPU in our measurements, bench/README.md) only to hand it to its
`pre_dynamodb_send` / `post_dynamodb_send` signals, and writes two DEBUG lines. When no signal
has a receiver (always so without blinker, as in the layer) and the `pynamodb` logger is not at
DEBUG, none of that can be observed, and `PartnerConnection.dispatch` sends the very same
request without it. Otherwise PynamoDB's own `dispatch` runs, unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

from pynamodb.connection import Connection
from pynamodb.connection.base import MetaTable
from pynamodb.constants import (
    CREATE_TABLE,
    DELETE_TABLE,
    DESCRIBE_TABLE,
    LIST_TABLES,
    RETURN_CONSUMED_CAPACITY,
    TOTAL,
    UPDATE_TABLE,
    UPDATE_TIME_TO_LIVE,
)
from pynamodb.signals import post_dynamodb_send, pre_dynamodb_send

from partnerdb.private_access import use_client

#: the logger PynamoDB's dispatch writes its per-call DEBUG lines to
_PYNAMODB_LOG = logging.getLogger("pynamodb.connection.base")
#: operations PynamoDB sends without asking for the consumed capacity (its dispatch's list)
_TABLE_OPERATIONS = frozenset({
    DESCRIBE_TABLE, LIST_TABLES, UPDATE_TABLE, UPDATE_TIME_TO_LIVE, DELETE_TABLE, CREATE_TABLE,
})


def pynamodb_calls_observed() -> bool:
    """Whether anything could see what PynamoDB's dispatch adds to a call: a receiver of its
    send signals (only with blinker installed) or its DEBUG lines."""
    if _PYNAMODB_LOG.isEnabledFor(logging.DEBUG):
        return True
    return any(getattr(signal, "receivers", None) for signal in (pre_dynamodb_send,
                                                                   post_dynamodb_send))


class PartnerConnection(Connection):
    """A PynamoDB `Connection` that sends through a partner's client (no network call to
    build), knowing the schema of `table` when given."""

    def __init__(self, *, region: str, client: Any, table: MetaTable | None = None) -> None:
        super().__init__(region=region)
        use_client(self, client)
        if table is not None:
            self.add_meta_table(table)

    def dispatch(self, operation_name: str, operation_kwargs: dict[str, Any]) -> dict[str, Any]:
        if pynamodb_calls_observed():
            return super().dispatch(operation_name, operation_kwargs)
        if (
            operation_name not in _TABLE_OPERATIONS
            and RETURN_CONSUMED_CAPACITY not in operation_kwargs
        ):
            operation_kwargs[RETURN_CONSUMED_CAPACITY] = TOTAL
        return self._make_api_call(operation_name, operation_kwargs)
