"""Isolation under load: 32 threads, 8 partners, 5,000 mixed operations through the handler.

Eight partners in eight accounts (distinct ExternalIds, four with table prefixes) share one
warm container: one `Partners`, one decorated payments handler, called from 32 threads at once
against moto. Every partner's customers carry its id, so anything read back shows where it
came from. During the run every item read is its own partner's and a payment id of another
partner is never found; afterwards each account holds exactly its own items, every payment is
whole, and STS AssumeRole was called exactly once per partner with that partner's ExternalId.
The run is capped in time and stops by itself.
"""

from __future__ import annotations

import random
import re
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest

from emulators.fault_server import FaultServer, Reply, forward_to
from emulators.moto_server import MotoServer
from handler_sdk import with_partner_db
from local.seed import PartnerAccount, list_tables, scan_items
from partnerdb import ClientSettings, Partners
from tests.reliability.support import (
    Collector,
    outcome_of,
)
from tests.support import FakeContext, create_tables, moto_process

THREADS = 32
OPERATIONS = 5_000
#: Wall-clock cap of the run; threads stop starting operations after it.
CAP_SECONDS = 150.0
TABLES = ("payments", "transactions", "customers")

PARTNERS = (
    PartnerAccount("acme", "411111111111", "load-acme-ext-1f9c2a"),
    PartnerAccount("globex", "422222222222", "load-globex-ext-7d3e1b", table_prefix="gx_"),
    PartnerAccount("initech", "433333333333", "load-initech-ext-c55a90"),
    PartnerAccount("umbrella", "444444444444", "load-umbrella-ext-0b2d4f", table_prefix="umb."),
    PartnerAccount("hooli", "455555555555", "load-hooli-ext-9e8f7a"),
    PartnerAccount("stark", "466666666666", "St4rk-x", table_prefix="stark-"),
    PartnerAccount("wayne", "477777777777", "load-wayne-ext-4c4c4c"),
    PartnerAccount("wonka", "488888888888", "load-wonka-ext-b0b0b0", table_prefix="WONKA_"),
)
BY_ID = {p.partner_id: p for p in PARTNERS}


def owner_of(customer_id: str) -> str:
    """The partner a customer id was made for (`<partner>-cust-<n>`)."""
    return customer_id.split("-cust-", 1)[0]


@dataclass
class Ledger:
    """What the threads did and saw, shared under one lock."""

    payments: dict[str, list[str]] = field(default_factory=lambda: {p: [] for p in BY_ID})
    refunds: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    done: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def problem(self, text: str) -> None:
        with self.lock:
            if len(self.problems) < 50:
                self.problems.append(text)


class Load:
    """One thread's share of the operations, each checked as it returns."""

    def __init__(self, handler: Any, ledger: Ledger, collector: Collector, where: str) -> None:
        self.handler = handler
        self.ledger = ledger
        self.collector = collector
        self.where = where

    def call(self, partner: str, action: str, data: dict[str, Any]) -> Any:
        event = {"partnerId": partner, "action": action, "data": data}
        response = self.handler(event, FakeContext(remaining_ms=60_000))
        if not response.get("success"):
            self.collector.add_body(self.where, response)
        out = outcome_of(response)
        with self.ledger.lock:
            self.ledger.statuses[f"{action}:{out.status}"] += 1
        return out

    def run(self, worker: int, count: int, stop_at: float) -> None:
        """`count` operations on random partners, or fewer if `stop_at` passes first."""
        rng = random.Random(worker)
        own: dict[str, list[str]] = {p: [] for p in BY_ID}
        for n in range(count):
            if time.monotonic() > stop_at:
                return
            partner = rng.choice(PARTNERS).partner_id
            self.one(rng, worker, n, partner, own[partner])
            with self.ledger.lock:
                self.ledger.done += 1

    def one(self, rng: random.Random, worker: int, n: int, partner: str, own: list[str]) -> None:
        """One operation. Customers are per (partner, thread) and a thread refunds only its
        own payments: moto applies concurrent transactions on one item without isolation,
        which would count against partnerdb what is moto's doing."""
        with self.ledger.lock:
            everyone = list(self.ledger.payments[partner])
            others = [pid for p, ids in self.ledger.payments.items() if p != partner for pid in ids]
        customer = f"{partner}-cust-{worker}-{rng.randrange(3)}"
        roll = rng.random()
        if roll < 0.2 or not own:
            payment_id = self.create(partner, customer, f"{partner}-{worker}-{n}")
            if payment_id is not None:
                own.append(payment_id)
        elif roll < 0.5:
            self.get(partner, rng.choice(everyone))
        elif roll < 0.6 and others:
            self.foreign_get(partner, rng.choice(others))
        elif roll < 0.85:
            self.list(partner, customer)
        else:
            self.refund(partner, rng.choice(own), f"{partner}-r-{worker}-{n}")

    def create(self, partner: str, customer: str, key: str) -> str | None:
        data = {"customerId": customer, "amount": 5000, "currency": "EUR", "idempotencyKey": key}
        out = self.call(partner, "createPayment", data)
        if out.status != 200 or out.data["created"] is not True:
            self.ledger.problem(f"create for {partner}: {out.raw}")
            return None
        if owner_of(out.data["payment"]["customerId"]) != partner:
            self.ledger.problem(f"create for {partner} answered {out.data}")
        payment_id = str(out.data["payment"]["id"])
        with self.ledger.lock:
            self.ledger.payments[partner].append(payment_id)
        return payment_id

    def get(self, partner: str, payment_id: str) -> None:
        out = self.call(partner, "getPayment", {"id": payment_id})
        if out.status != 200 or owner_of(out.data["payment"]["customerId"]) != partner:
            self.ledger.problem(f"get {payment_id} for {partner}: {out.raw}")

    def foreign_get(self, partner: str, payment_id: str) -> None:
        out = self.call(partner, "getPayment", {"id": payment_id})
        if out.status != 404:
            self.ledger.problem(f"{partner} read another partner's {payment_id}: {out.raw}")

    def list(self, partner: str, customer: str) -> None:
        out = self.call(partner, "listPayments", {"customerId": customer, "limit": 10})
        if out.status != 200:
            self.ledger.problem(f"list for {partner}: {out.raw}")
            return
        for payment in out.data["payments"]:
            if payment["customerId"] != customer:
                self.ledger.problem(f"list of {customer} for {partner} returned {payment}")

    def refund(self, partner: str, payment_id: str, key: str) -> None:
        data = {"id": payment_id, "amount": 1, "idempotencyKey": key}
        out = self.call(partner, "refundPayment", data)
        if out.status != 200 or owner_of(out.data["payment"]["customerId"]) != partner:
            self.ledger.problem(f"refund of {payment_id} for {partner}: {out.raw}")
            return
        with self.ledger.lock:
            self.ledger.refunds[partner] += 1


class AssumeRoleLedger:
    """An STS fault-server behaviour that forwards to moto and records each AssumeRole: who
    asked for which role with which ExternalId, and the credentials moto issued."""

    def __init__(self, moto_url: str, collector: Collector) -> None:
        self._forward = forward_to(moto_url)
        self._collector = collector
        self._lock = threading.Lock()
        self.calls: list[dict[str, str]] = []

    def __call__(self, path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        reply = self._forward(path, headers, body)
        params = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
        if params.get("Action") == "AssumeRole" and reply is not None:
            issued = {
                name: match.group(1)
                for name in ("AccessKeyId", "SecretAccessKey", "SessionToken")
                if (match := re.search(f"<{name}>([^<]+)</{name}>", reply[2].decode()))
            }
            where = f"load AssumeRole of {params.get('RoleArn')}"
            self._collector.add_access_key_id(where, issued.get("AccessKeyId"))
            self._collector.add_secret(where, issued.get("SecretAccessKey"))
            self._collector.add_secret(where, issued.get("SessionToken"))
            with self._lock:
                self.calls.append(params)
        return reply


@pytest.fixture
def load_moto(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto of its own, in another process (the other core), for this test's environment.

    The in-process moto shares this process's GIL with 32 client threads; out of process the
    server's work runs in parallel with the clients' and the test takes about half as long.
    """
    with moto_process() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        yield url


@pytest.fixture
def sts_ledger(load_moto: str, collector: Collector) -> Iterator[AssumeRoleLedger]:
    """STS for partnerdb goes through a recording server in front of the moto process."""
    ledger = AssumeRoleLedger(load_moto, collector)
    with FaultServer(ledger) as server, pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL_STS", server.url)
        yield ledger


@pytest.fixture
def load_partners(
    load_moto: str,
    sts_ledger: AssumeRoleLedger,
    monkeypatch: pytest.MonkeyPatch,
    payments_app: ModuleType,
    collector: Collector,
) -> Partners:
    """The eight partners configured, their tables created, a `Partners` with no role assumed."""
    for partner in PARTNERS:
        collector.add_partner(partner)
        for key, value in partner.env().items():
            monkeypatch.setenv(key, value)
        create_tables(payments_app.MODELS, partner, load_moto)
    return Partners.from_env(settings=ClientSettings.from_env(max_pool_connections=THREADS))


def test_eight_partners_under_32_threads_stay_isolated(
    load_partners: Partners,
    payments_app: ModuleType,
    load_moto: str,
    sts_ledger: AssumeRoleLedger,
    collector: Collector,
    request: pytest.FixtureRequest,
) -> None:
    """5,000 mixed operations: no cross-partner read or write, one AssumeRole per partner."""
    handler = with_partner_db(models=list(payments_app.MODELS), partners=load_partners)(
        payments_app.router
    )
    ledger = Ledger()
    load = Load(handler, ledger, collector, request.node.nodeid)
    shares = [OPERATIONS // THREADS + (w < OPERATIONS % THREADS) for w in range(THREADS)]
    started = time.monotonic()
    stop_at = started + CAP_SECONDS
    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(load.run, w, shares[w], stop_at) for w in range(THREADS)]
        for future in futures:
            future.result(timeout=CAP_SECONDS + 60)
    elapsed = time.monotonic() - started
    print(f"{ledger.done} operations in {elapsed:.1f} s ({ledger.done / elapsed:.0f}/s): "
          f"{dict(sorted(ledger.statuses.items()))}")

    assert ledger.done == OPERATIONS, f"only {ledger.done} operations in {CAP_SECONDS} s"
    assert ledger.problems == []
    for kind in ("createPayment:200", "getPayment:200", "getPayment:404", "listPayments:200",
                 "refundPayment:200"):
        assert ledger.statuses[kind] >= OPERATIONS // 20, f"too few {kind}: the mix is off"

    # One AssumeRole per partner, with its own ExternalId, however many threads raced.
    assert load_partners.stats.sts_calls == len(PARTNERS)
    calls = sts_ledger.calls
    assert sorted(c["RoleArn"] for c in calls) == sorted(p.role_arn for p in PARTNERS)
    for call in calls:
        partner = next(p for p in PARTNERS if p.role_arn == call["RoleArn"])
        assert call["ExternalId"] == partner.external_id
        assert call["RoleSessionName"].endswith(partner.partner_id)

    # Each account holds its own tables and items only, every payment whole.
    for partner in PARTNERS:
        pid, account = partner.partner_id, partner.account_id
        assert sorted(list_tables(account, load_moto)) == sorted(
            partner.table_prefix + t for t in TABLES
        )
        payments, transactions, customers = (
            scan_items(partner.table_prefix + t, account, load_moto) for t in TABLES
        )
        assert {p["id"]["S"] for p in payments} == set(ledger.payments[pid])
        assert {owner_of(p["customer_id"]["S"]) for p in payments} <= {pid}
        assert {owner_of(c["id"]["S"]) for c in customers} <= {pid}
        assert sum(int(c["payments"]["N"]) for c in customers) == len(payments)
        kinds = Counter(t["kind"]["S"] for t in transactions)
        assert kinds["charge"] == len(payments)
        assert kinds["refund"] == ledger.refunds[pid]
        assert {t["payment_id"]["S"] for t in transactions} <= {p["id"]["S"] for p in payments}
        refunded = sum(int(p["refunded"]["N"]) for p in payments)
        assert refunded == ledger.refunds[pid]
