"""A partner client resolves its endpoint once per (operation, table), with the same answer.

The comparisons capture requests at `before-send`, after signing, so they never leave the
process; the last test runs against moto on 127.0.0.1.
"""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.credentials import Credentials

from partnerdb import ClientSettings, Partners
from partnerdb.clients import ClientFactory
from partnerdb.private_access import model_connection
from tests.core.models import Order

CREDENTIALS = Credentials("AKIATESTTESTTESTTEST", "s" * 40, account_id="111111111111")


class Captured(Exception):
    """Raised at before-send with what would have been sent."""

    def __init__(self, url: str, user_agent: str) -> None:
        super().__init__(url)
        self.url, self.user_agent = url, user_agent


def _capture(request: Any, **_: Any) -> None:
    raise Captured(request.url, request.headers["User-Agent"].decode())


def resolutions(client: Any) -> list[str]:
    """The operations botocore ran its endpoint ruleset for (a public event of each run)."""
    seen: list[str] = []
    client.meta.events.register(
        "before-endpoint-resolution.dynamodb", lambda model, **_: seen.append(model.name)
    )
    return seen


def send(client: Any, operation: str, **params: Any) -> tuple[str, str]:
    try:
        getattr(client, operation)(**params)
    except Captured as got:
        return got.url, got.user_agent.rsplit(" m/", 1)[-1]  # the feature ids botocore sent
    raise AssertionError("before-send did not run")


def get(table: str) -> dict[str, Any]:
    return {"TableName": table, "Key": {"id": {"S": "1"}}}


def batch(*tables: str) -> dict[str, Any]:
    return {"RequestItems": {t: {"Keys": [{"id": {"S": "1"}}]} for t in tables}}


@pytest.mark.usefixtures("no_endpoint_override")
@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1", "cn-north-1", "us-gov-west-1"])
def test_cached_answers_are_botocores_own(region: str) -> None:
    partner = ClientFactory(ClientSettings()).partner_client("dynamodb", region, CREDENTIALS)
    plain = botocore.session.get_session().create_client(
        "dynamodb", region, config=Config(retries={"mode": "standard"}, parameter_validation=False),
        aws_access_key_id=CREDENTIALS.access_key, aws_secret_access_key=CREDENTIALS.secret_key,
        aws_account_id=CREDENTIALS.account_id,
    )
    for client in (partner, plain):
        client.meta.events.register("before-send", _capture)
    runs = resolutions(partner)
    calls = [("get_item", get("orders")), ("get_item", get("orders")), ("get_item", get("ledger")),
             ("query", {"TableName": "orders"}), ("get_item", get("orders")),
             ("batch_get_item", batch("orders")), ("batch_get_item", batch("orders", "ledger"))]
    first_features: dict[str, str] = {}
    for operation, params in calls:
        url, features = send(partner, operation, **params)
        assert url == send(plain, operation, **params)[0], (region, operation, params)
        # the feature ids botocore records while resolving are sent on cached answers too
        assert features == first_features.setdefault(operation, features), operation
    assert "T" in first_features["get_item"]  # RESOLVED_ACCOUNT_ID, from the ruleset
    # GetItem twice per table once, Query once; BatchGetItem reads a JMESPath: every time
    assert runs == ["GetItem", "GetItem", "Query", "BatchGetItem", "BatchGetItem"]


def test_a_partner_resolves_once_per_table_against_moto(partners: Partners) -> None:
    with partners.db("acme") as db:
        model = db.model(Order)
        runs = resolutions(model_connection(model).client)
        for n in range(20):
            model(f"o-{n}", customer="c", amount=n).save()
            assert model.get(f"o-{n}").customer == "c"
    assert runs == ["PutItem", "GetItem"]
