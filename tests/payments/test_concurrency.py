"""Racing requests, each in its own execution environment (its own runtime process).

Lambda runs concurrent requests in separate environments, so a race between two requests is a
race between two processes that share nothing but DynamoDB: that is what these tests build.

DynamoDB goes through `AtomicDynamoDB`, a loopback forwarder to moto, for two reasons:

- moto applies a TransactWriteItems without isolation: two concurrent transactions can both
  pass their conditions before either writes (seen here without the forwarder: two refunds of
  60 on a payment of 100 both succeeding, on a loaded machine). DynamoDB serializes conflicting
  transactions, and the payments function relies on that. The forwarder hands moto one request
  at a time, which gives moto DynamoDB's isolation without changing what the racers send.
- it holds every request of the raced operation until all racers have sent theirs, so the
  worst interleaving (everyone in flight before anyone is applied) is certain, not likely.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from emulators.fault_server import FaultServer, Reply, forward_to
from emulators.lambda_runner import FunctionResult
from local.stack import Stack
from tests.payments.helpers import ACME, Payments, items

RACERS = 6
BARRIER_TIMEOUT_S = 10.0
INVOKE_TIMEOUT_S = 30.0
REFUND_RACERS = 3


class AtomicDynamoDB:
    """A DynamoDB forwarder to moto: one request at a time, and the first `parties` requests of
    operation `hold` (e.g. ``TransactWriteItems``) held until all of them have arrived."""

    def __init__(self, moto_url: str, hold: str, parties: int) -> None:
        self._forward = forward_to(moto_url)
        self._serial = threading.Lock()
        self._count = threading.Lock()
        self._hold = f".{hold}"
        self._parties = parties
        self._held = 0
        self.barrier = threading.Barrier(parties, timeout=BARRIER_TIMEOUT_S)

    def __call__(self, path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        if headers.get("X-Amz-Target", "").endswith(self._hold):
            with self._count:
                self._held += 1
                wait = self._held <= self._parties
            if wait:
                self.barrier.wait()
        with self._serial:
            return self._forward(path, headers, body)


def _atomic(stack: Stack, hold: str, parties: int) -> tuple[FaultServer, AtomicDynamoDB]:
    """A started forwarder server (stop it) and its gate."""
    gate = AtomicDynamoDB(stack.moto.url, hold, parties)
    return FaultServer(gate).start(), gate


def _warm(racers: list[Payments], data: dict[str, Any]) -> list[int]:
    """Invoke getPayment in every environment at once (cold starts, roles assumed)."""
    with ThreadPoolExecutor(max_workers=len(racers)) as pool:
        answers = pool.map(lambda p: p.call("getPayment", data), racers, timeout=INVOKE_TIMEOUT_S)
        return [a["status"] for a in answers]


@pytest.fixture
def refund_racers(stack: Stack) -> Iterator[tuple[list[Payments], AtomicDynamoDB, str]]:
    """Warm environments that all read a payment of 100 before any of them refunds it."""
    server, gate = _atomic(stack, "TransactGetItems", REFUND_RACERS)
    try:
        env = {"AWS_ENDPOINT_URL_DYNAMODB": server.url}
        racers = [Payments(stack.function(env=env)) for _ in range(REFUND_RACERS)]
        payment_id = racers[0].create("order-1", amount=100)["payment"]["id"]
        assert _warm(racers, {"id": payment_id}) == [200] * REFUND_RACERS
        yield racers, gate, payment_id
    finally:
        stack.stop_functions()
        server.stop()


def _race_refunds(racers: list[Payments], requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send each racer its refund request at once (the `AtomicDynamoDB` gate lines them up)."""
    with ThreadPoolExecutor(max_workers=len(racers)) as pool:
        futures = [
            pool.submit(r.call, "refundPayment", q) for r, q in zip(racers, requests, strict=True)
        ]
        return [f.result(timeout=INVOKE_TIMEOUT_S) for f in futures]


def _refunds(payment_id: str) -> list[tuple[str, str]]:
    """The stored refunds of a payment: (refund id, amount)."""
    return sorted(
        (t["id"]["S"], t["amount"]["N"])
        for t in items(ACME, "transactions")
        if t["payment_id"]["S"] == payment_id and t["kind"]["S"] == "refund"
    )


def _refunded(payment_id: str) -> tuple[str, str]:
    """The stored payment's (refunded, status)."""
    [payment] = [p for p in items(ACME, "payments") if p["id"]["S"] == payment_id]
    return payment["refunded"]["N"], payment["status"]["S"]


def test_racing_creates_with_one_key_make_one_payment(stack: Stack) -> None:
    """Six warm environments create with one idempotency key at once: one payment, one charge,
    one `created: true`, and every caller gets that payment."""
    server, gate = _atomic(stack, "TransactWriteItems", RACERS)
    try:
        env = {"AWS_ENDPOINT_URL_DYNAMODB": server.url}
        racers = [Payments(stack.function(env=env)) for _ in range(RACERS)]
        assert _warm(racers, {"id": "warm-up"}) == [404] * RACERS

        start = threading.Barrier(RACERS, timeout=BARRIER_TIMEOUT_S)
        data = {
            "customerId": "cust-race",
            "amount": 4242,
            "currency": "GBP",
            "idempotencyKey": "race-key",
        }

        def race(racer: Payments) -> FunctionResult:
            start.wait()
            return racer.invoke({"partnerId": "acme", "action": "createPayment", "data": data})

        with ThreadPoolExecutor(max_workers=RACERS) as pool:
            results = list(pool.map(race, racers, timeout=INVOKE_TIMEOUT_S))
    finally:
        stack.stop_functions()
        server.stop()

    assert not gate.barrier.broken  # all six transactions were in flight together
    assert not any(r.cold_start for r in results)
    assert len({r.pid for r in results}) == RACERS  # six environments, six processes
    responses = [r.payload for r in results]
    assert all(r["success"] is True and r["status"] == 200 for r in responses), responses
    assert len({r["data"]["payment"]["id"] for r in responses}) == 1
    assert sorted(r["data"]["created"] for r in responses) == [False] * (RACERS - 1) + [True]
    assert len({repr(r["data"]["payment"]) for r in responses}) == 1  # all the same payment

    payment_id = responses[0]["data"]["payment"]["id"]
    stored = items(ACME, "payments")
    assert [p["id"]["S"] for p in stored] == [payment_id]
    assert [(t["payment_id"]["S"], t["id"]["S"]) for t in items(ACME, "transactions")] == [
        (payment_id, "charge")
    ]
    customers = items(ACME, "customers")
    assert [(c["id"]["S"], c["payments"]["N"]) for c in customers] == [("cust-race", "1")]


def test_racing_refunds_never_refund_more_than_the_payment(
    refund_racers: tuple[list[Payments], AtomicDynamoDB, str],
) -> None:
    """Three refunds of 60 on a payment of 100, each with its own key, all having read the
    payment as unrefunded: exactly one goes through, the others are conflicts."""
    racers, gate, payment_id = refund_racers
    requests = [
        {"id": payment_id, "amount": 60, "idempotencyKey": f"refund-{i}"}
        for i in range(REFUND_RACERS)
    ]
    responses = _race_refunds(racers, requests)
    assert not gate.barrier.broken
    assert sorted(r["status"] for r in responses) == [200] + [409] * (REFUND_RACERS - 1)
    [won] = [r["data"] for r in responses if r["status"] == 200]
    assert won["created"] is True and won["payment"]["refunded"] == 60
    assert _refunds(payment_id) == [(won["refundId"], "60")]
    assert _refunded(payment_id) == ("60", "partially_refunded")


def test_racing_refunds_with_one_key_all_get_the_one_refund(
    refund_racers: tuple[list[Payments], AtomicDynamoDB, str],
) -> None:
    """A client retrying a refund while the first attempt is still running (a client-side
    timeout, a redelivered message) must get that refund back, as a sequential retry does."""
    racers, gate, payment_id = refund_racers
    request = {"id": payment_id, "amount": 60, "idempotencyKey": "refund-once"}
    responses = _race_refunds(racers, [request] * REFUND_RACERS)
    assert not gate.barrier.broken
    # What is stored is right either way: one refund, refunded once.
    assert len(_refunds(payment_id)) == 1
    assert _refunded(payment_id) == ("60", "partially_refunded")
    # The answers are not: every racer but the winner gets a 409.
    assert [r["status"] for r in responses] == [200] * REFUND_RACERS, responses
    assert sorted(r["data"]["created"] for r in responses) == [False] * (REFUND_RACERS - 1) + [True]
    assert len({r["data"]["refundId"] for r in responses}) == 1
