"""PartnerConnection: the same requests as PynamoDB's own dispatch, without its per-call uuid4
and signal sends when nothing receives them; PynamoDB's path whenever something could."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from pynamodb.connection import base as pynamodb_base
from pynamodb.signals import pre_dynamodb_send

from partnerdb import PartnerDB, Partners
from partnerdb.partner_connection import PartnerConnection, pynamodb_calls_observed
from partnerdb.private_access import model_connection
from tests.core.models import Ledger, Order

Sent = list[tuple[str, dict[str, Any]]]


def _workload(db: PartnerDB) -> None:
    """Every kind of call a bound model and a transaction make."""
    orders, ledger = db.model(Order), db.model(Ledger)
    orders("o-1", customer="c-1", amount=5).save()
    orders.get("o-1").update(actions=[Order.amount.add(1)])
    list(orders.query("o-1"))
    list(orders.by_customer.query("c-1"))
    list(orders.scan(limit=5))
    orders.count("o-1")
    list(orders.batch_get(["o-1", "o-2"]))
    with orders.batch_write() as batch:
        batch.save(orders("o-2", customer="c-2", amount=2))
    ledger("acct", 1, note="n").save()
    with db.transact_write() as tx:
        tx.update(orders("o-2"), actions=[Order.amount.add(1)])
    with db.transact_get() as tg:
        future = tg.get(ledger, "acct", 1)
    assert future.get().note == "n"
    orders.get("o-1").delete()
    orders.describe_table()


def _capture(db: PartnerDB) -> Sent:
    """The (operation, parameters) the partner client is asked for, in order."""
    sent: Sent = []
    client = model_connection(db.model(Order)).client

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        sent.append((model.name, {k: v for k, v in params.items()}))

    client.meta.events.register("before-parameter-build.dynamodb", record)
    try:
        _workload(db)
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb", record)
    return sent


@contextmanager
def _uuid4_calls() -> Iterator[list[int]]:
    """Count the uuid4 PynamoDB's dispatch makes (its module's `uuid`, only)."""
    calls = [0]

    class CountingUuid:
        def uuid4(self) -> uuid.UUID:
            calls[0] += 1
            return uuid.uuid4()

    saved = pynamodb_base.uuid
    pynamodb_base.uuid = CountingUuid()  # type: ignore[assignment]
    try:
        yield calls
    finally:
        pynamodb_base.uuid = saved


def _receiver() -> tuple[Callable[..., None], list[str]]:
    seen: list[str] = []

    def receive(sender: Any, operation_name: str, **_: Any) -> None:
        seen.append(operation_name)

    return receive, seen


def test_bound_models_use_it(partners: Partners) -> None:
    """(Transactions too: the uuid4 count below would see theirs otherwise.)"""
    with partners.db("acme") as db:
        assert isinstance(model_connection(db.model(Order)), PartnerConnection)


def test_the_same_requests_as_pynamodbs_dispatch_without_its_uuid(partners: Partners) -> None:
    assert not pynamodb_calls_observed()
    with _uuid4_calls() as quiet_uuids, partners.db("acme") as db:
        quiet = _capture(db)
    receive, seen = _receiver()
    pre_dynamodb_send.connect(receive)
    try:
        assert pynamodb_calls_observed()
        with _uuid4_calls() as observed_uuids, partners.db("globex") as db:
            observed = _capture(db)
    finally:
        pre_dynamodb_send.disconnect(receive)

    def same_tables(sent: Sent) -> Sent:  # globex's tables carry its prefix
        return [(op, _unprefixed(params)) for op, params in sent]

    assert same_tables(quiet) == same_tables(observed)
    assert quiet_uuids == [0]
    assert observed_uuids[0] == len(observed) == len(seen)  # one per call, each signalled
    operations = {op for op, _ in quiet}
    assert {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan",
            "BatchGetItem", "BatchWriteItem", "TransactWriteItems", "TransactGetItems",
            "DescribeTable"} <= operations
    for op, params in quiet:
        assert ("ReturnConsumedCapacity" in params) == (op != "DescribeTable"), (op, params)


def _unprefixed(value: Any) -> Any:
    if isinstance(value, str):
        return value.removeprefix("gx_")
    if isinstance(value, dict):
        return {_unprefixed(k): _unprefixed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unprefixed(v) for v in value]
    return value


def test_pynamodb_debug_lines_still_come_at_debug(
    partners: Partners, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="pynamodb.connection.base"):
        assert pynamodb_calls_observed()
        with partners.db("acme") as db:
            db.model(Order)("o-9", customer="c", amount=1).save()
    assert any("Calling PutItem" in r.getMessage() for r in caplog.records)
