"""A bound model keeps what PynamoDB promises of `Meta.extra_headers` (each model sends its
own, and no other model's, through the partner's shared client), and says once, at binding,
which of its `Meta` client settings partnerdb's settings replace."""

from __future__ import annotations

import logging

import pytest
from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from emulators.fault_server import FaultServer, HeaderLog, forward_to
from emulators.moto_server import MotoServer
from partnerdb import Partners
from tests.core.models import Order

HEADER = "X-Partnerdb-Test-Tag"


class TaggedOrder(Model):
    class Meta:
        table_name = "orders"
        extra_headers = {HEADER: "orders"}

    id = UnicodeAttribute(hash_key=True)
    customer = UnicodeAttribute()
    amount = NumberAttribute()


class TaggedLedger(Model):
    class Meta:
        table_name = "ledger"
        extra_headers = {HEADER: "ledger", "X-Partnerdb-Test-Only-Ledger": "1"}

    account = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)


class TunedOrder(Model):
    class Meta:
        table_name = "orders"
        host = "http://127.0.0.1:9"  # nothing listens: a bound model must not go there
        read_timeout_seconds = 99
        max_pool_connections = 3

    id = UnicodeAttribute(hash_key=True)
    customer = UnicodeAttribute()
    amount = NumberAttribute()


def test_each_bound_model_sends_its_own_extra_headers_only(
    accounts: object, moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = HeaderLog(forward_to(moto.url))
    with FaultServer(log) as dynamodb:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url)
        partners = Partners.from_env()
        partners.register_models(TaggedOrder, TaggedLedger, Order)
        for pid in ("acme", "globex"):
            db = partners.db(pid)
            db.model(TaggedOrder)(id="o-1", customer="c", amount=1).save()
            db.model(TaggedLedger)(account="a", seq=1).save()
            db.model(Order).get("o-1")
            list(db.model(TaggedLedger).query("a"))
    seen = [
        (target.split(".")[-1], headers.get(HEADER), "X-Partnerdb-Test-Only-Ledger" in headers)
        for target, headers in log.requests
    ]
    expected = [
        ("PutItem", "orders", False),
        ("PutItem", "ledger", True),
        ("GetItem", None, False),
        ("Query", "ledger", True),
    ]
    assert seen == expected * 2


def test_meta_client_settings_are_replaced_with_one_warning(
    accounts: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="partnerdb")
    partners = Partners.from_env()
    partners.register_models(TunedOrder, Order)
    for pid in ("acme", "globex"):
        db = partners.db(pid)
        db.model(TunedOrder)(id="o-2", customer="c", amount=2).save()  # reaches moto, not :9
        assert db.model(Order).get("o-2").amount == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "TunedOrder.Meta sets host, read_timeout_seconds, max_pool_connections: models bound "
        "to a partner use partnerdb's client settings (PARTNERDB_* variables, ClientSettings) "
        "instead"
    ]
