"""Partner isolation: every read and write lands in its partner's account and nowhere else."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from pynamodb.exceptions import DoesNotExist

from emulators.fault_server import FaultServer, forward_to
from emulators.moto_server import MotoServer
from local.seed import PartnerAccount, list_tables, scan_items
from partnerdb import Deadline, ModelNotBindable, Partners
from tests.core.conftest import ACME, GLOBEX, HOME_ACCOUNT
from tests.core.models import Ledger, Order


def test_writes_land_in_each_partners_account_only(
    partners: Partners, moto: MotoServer
) -> None:
    for partner in (ACME, GLOBEX):
        db = partners.db(partner.partner_id, deadline=Deadline.after(10))
        db.model(Order)(id="o-1", customer="c-1", amount=100, owner=partner.partner_id).save()

    for partner in (ACME, GLOBEX):
        items = scan_items(partner.table_prefix + "orders", partner.account_id, moto.url)
        assert [(i["id"]["S"], i["owner"]["S"]) for i in items] == [("o-1", partner.partner_id)]
    # GLOBEX's prefix is applied, ACME's account has no prefixed table and vice versa
    assert "gx_orders" not in list_tables(ACME.account_id, moto.url)
    assert "orders" not in list_tables(GLOBEX.account_id, moto.url)
    assert list_tables(HOME_ACCOUNT, moto.url) == []


@pytest.mark.ddblocal
def test_reads_see_only_own_partner(partners: Partners) -> None:
    acme = partners.db("acme").model(Order)
    globex = partners.db("globex").model(Order)
    acme(id="shared-id", customer="c", amount=1, owner="acme").save()
    assert acme.get("shared-id").owner == "acme"
    with pytest.raises(Order.DoesNotExist):
        globex.get("shared-id")
    with pytest.raises(DoesNotExist):
        globex.get("shared-id")


@pytest.mark.ddblocal
def test_whole_pynamodb_api_on_bound_models(partners: Partners) -> None:
    db = partners.db("globex", deadline=Deadline.after(10))
    orders = db.model(Order)
    with orders.batch_write() as batch:
        for n in range(30):
            batch.save(orders(id=f"o-{n}", customer=f"c-{n % 3}", amount=n))
    assert orders.count() == 30
    assert len(list(orders.scan())) == 30
    by_c1 = list(orders.by_customer.query("c-1"))
    assert sorted(o.amount for o in by_c1) == list(range(1, 30, 3))
    got = list(orders.batch_get(["o-1", "o-2", "missing"]))
    assert sorted(o.id for o in got) == ["o-1", "o-2"]
    item = orders.get("o-5")
    item.update(actions=[orders.amount.add(10)], condition=orders.amount == 5)
    assert orders.get("o-5").amount == 15
    item.refresh()
    item.delete()
    assert orders.count() == 29
    ledger = db.model(Ledger)
    for seq in range(5):
        ledger(account="a", seq=seq).save()
    assert [e.seq for e in ledger.query("a", ledger.seq >= 3)] == [3, 4]


def test_global_model_is_never_mutated(partners: Partners) -> None:
    bound = partners.db("globex").model(Order)
    assert bound is not Order and issubclass(bound, Order)
    assert bound.Meta.table_name == "gx_orders"
    assert Order.Meta.table_name == "orders"
    assert Order._connection is None
    assert bound.DoesNotExist is Order.DoesNotExist
    assert partners.db("globex").model(Order) is bound  # cached per (model, partner)
    assert partners.db("acme").model(Order) is not bound


@pytest.mark.ddblocal
def test_transactions_run_on_the_partners_connection(
    partners: Partners, moto: MotoServer
) -> None:
    db = partners.db("globex", deadline=Deadline.after(10))
    orders, ledger = db.model(Order), db.model(Ledger)
    with db.transact_write() as tx:
        tx.save(orders(id="t-1", customer="c", amount=7))
        tx.save(ledger(account="t-1", seq=1, note="charge"))
    with db.transact_get() as tg:
        order_future = tg.get(orders, "t-1")
        entry_future = tg.get(ledger, "t-1", 1)
    assert order_future.get().amount == 7
    assert entry_future.get().note == "charge"
    assert len(scan_items("gx_ledger", GLOBEX.account_id, moto.url)) == 1
    assert scan_items("ledger", ACME.account_id, moto.url) == []


def test_transactions_refuse_models_of_another_partner(partners: Partners) -> None:
    acme_orders = partners.db("acme").model(Order)
    db = partners.db("globex")
    with pytest.raises(ModelNotBindable, match="bound to partner 'acme'"):
        db.transact_write().save(acme_orders(id="x", customer="c", amount=1))
    with pytest.raises(ModelNotBindable, match="no partner"):
        db.transact_get().get(Order, "x")


def test_bind_rejects_what_it_cannot_bind(partners: Partners) -> None:
    class Tiny(Order):
        class Meta:
            table_name = "t"

    with pytest.raises(ModelNotBindable, match="not a DynamoDB table name"):
        partners.db("acme").model(Tiny)
    db = partners.db("acme")
    with pytest.raises(ModelNotBindable):
        db.model(dict)  # type: ignore[type-var]
    with pytest.raises(ModelNotBindable, match="already bound"):
        db.model(db.model(Order))


def test_threads_never_cross_accounts_and_assume_each_role_once(
    partners: Partners, moto: MotoServer
) -> None:
    fresh = Partners.from_env()  # nothing assumed yet: first uses race
    start = threading.Barrier(16)
    accounts = {"acme": ACME, "globex": GLOBEX}

    def work(n: int) -> list[str]:
        partner: PartnerAccount = (ACME, GLOBEX)[n % 2]
        start.wait(timeout=10)
        seen = []
        for k in range(10):
            db = fresh.db(partner.partner_id, deadline=Deadline.after(20))
            orders = db.model(Order)
            orders(id=f"{n}-{k}", customer="c", amount=k, owner=partner.partner_id).save()
            seen.append(orders.get(f"{n}-{k}").owner or "")
            for item in orders.scan(limit=5):
                seen.append(item.owner or "")
        return [f"{partner.partner_id}:{owner}" for owner in seen]

    with ThreadPoolExecutor(16) as pool:
        results = [r for rs in pool.map(work, range(16)) for r in rs]
    assert results and all(r.split(":")[0] == r.split(":")[1] for r in results)
    assert fresh.stats.sts_calls == 2
    roles = [
        call["role_arn"]
        for call in moto.sts_assume_role_calls()
        if call["role_arn"].endswith("/partnerdb-access")
    ]
    assert sorted(roles) == sorted(p.role_arn for p in accounts.values())
    for partner in accounts.values():
        owners = {i["owner"]["S"] for i in scan_items(
            partner.table_prefix + "orders", partner.account_id, moto.url)}
        assert owners == {partner.partner_id}


def test_partner_clients_share_one_connection_pool(
    accounts: object, moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Partners in one region reuse connections (one TLS context, not one per partner)."""
    real_dynamodb = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB", moto.url)
    with FaultServer(forward_to(real_dynamodb)) as dynamodb:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url)
        fresh = Partners.from_env()
        for _ in range(3):
            for partner in (ACME, GLOBEX):
                with fresh.db(partner.partner_id) as db:
                    db.model(Order).count()
        assert dynamodb.requests == 6
        assert dynamodb.connections == 1
