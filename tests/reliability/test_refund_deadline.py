"""The deadline reached between the two halves of a refund.

refundPayment reads the payment and its refund record with TransactGetItems, then writes the
new refunded amount and the refund record with one TransactWriteItems. If the deadline passes
after the read, the call is a 504 "lambda timeout exceeded" and the payment and its
transactions are as they were; if the write was already on its way, it lands whole or not at
all, and repeating the refund with its idempotency key never refunds twice.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from emulators.fault_server import Behaviour, Reply, forward_to
from handler_sdk import with_partner_db
from partnerdb import Deadline, PartnerDB
from tests.reliability.conftest import RigFactory
from tests.reliability.support import (
    DEADLINE_MESSAGE,
    SLACK_S,
    PaymentsRig,
    outcome_of,
    payment_data,
    target_of,
    timed,
)
from tests.support import FakeContext

DEADLINE_S = 1.0
REFUND = 300


def _paid(rig: PaymentsRig) -> tuple[str, dict[str, Any]]:
    """A captured payment of 1000 and the state of the partner's tables with it."""
    out = rig.invoke("createPayment", payment_data(1, amount=1000))
    assert out.status == 200
    return str(out.data["payment"]["id"]), rig.payment_state()


def _refund(payment_id: str) -> dict[str, Any]:
    return {"id": payment_id, "amount": REFUND, "idempotencyKey": "refund-1"}


def test_deadline_passing_during_the_read_stops_the_write_half(make_rig: RigFactory) -> None:
    """The read half returns with no time left: the write half is never sent; 504."""
    rig = make_rig()
    payment_id, before = _paid(rig)
    deadlines: list[Deadline] = []

    def probe(event: Any, context: Any, db: PartnerDB) -> Any:
        deadlines.append(db.deadline)  # the invocation's deadline, to spend it in the read
        return rig.app.router(event, context, db)

    handler = with_partner_db(partners=rig.partners)(probe)
    forward = forward_to(rig.moto_url)

    def read_uses_up_the_time(path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        reply = forward(path, headers, body)
        if target_of(headers) == "TransactGetItems":
            deadlines[-1].expires_at = time.monotonic()  # as if the read took all time left
        return reply

    rig.dynamodb_calls.behaviour = read_uses_up_the_time
    reads = rig.dynamodb_calls.count("TransactGetItems")
    writes = rig.dynamodb_calls.count("TransactWriteItems")
    event = {"partnerId": "acme", "action": "refundPayment", "data": _refund(payment_id)}
    response = handler(event, FakeContext(remaining_ms=30_000))
    rig.collector.add_body(rig.where, response)
    out = outcome_of(response)
    assert (out.status, out.error) == (504, DEADLINE_MESSAGE)
    assert rig.dynamodb_calls.count("TransactGetItems") == reads + 1  # the read half ran
    assert rig.dynamodb_calls.count("TransactWriteItems") == writes  # the write half did not
    assert rig.payment_state() == before


class HoldWrites:
    """Hold every TransactWriteItems until released; then deliver it to moto late (after the
    caller gave up) or drop it, and never answer."""

    def __init__(self, forward: Behaviour) -> None:
        self._forward = forward
        self.release = threading.Event()
        self.landed = threading.Event()
        self.deliver = False

    def __call__(self, path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        if target_of(headers) != "TransactWriteItems":
            return self._forward(path, headers, body)
        if self.release.wait(timeout=15) and self.deliver:
            self._forward(path, headers, body)
            self.landed.set()
        return None


@pytest.mark.parametrize("late_write", ["lands", "is-lost"])
def test_write_half_held_past_the_deadline_is_504_and_never_refunds_twice(
    make_rig: RigFactory, late_write: str
) -> None:
    """The write is held by the server: 504 at the deadline with nothing changed; whether the
    held write later lands (whole) or is lost, the retried refund leaves exactly one refund."""
    rig = make_rig()
    payment_id, before = _paid(rig)
    forward = forward_to(rig.moto_url)
    hold = HoldWrites(forward)
    rig.dynamodb_calls.behaviour = hold
    with timed() as elapsed:
        out = rig.invoke(
            "refundPayment", _refund(payment_id), remaining_ms=int(DEADLINE_S * 1000) + 1000
        )
    assert (out.status, out.error) == (504, DEADLINE_MESSAGE)
    assert DEADLINE_S - 0.05 <= elapsed[0] <= DEADLINE_S + SLACK_S
    assert rig.payment_state() == before

    hold.deliver = late_write == "lands"
    hold.release.set()
    if hold.deliver:
        assert hold.landed.wait(timeout=10)
        landed = rig.payment_state()[payment_id]
        assert landed["payment"]["refunded"]["N"] == str(REFUND)  # all of the write...
        assert len(landed["transactions"]) == 2  # ...and its refund record with it
    else:
        assert rig.payment_state() == before

    rig.dynamodb_calls.behaviour = forward
    retry = rig.invoke("refundPayment", _refund(payment_id))
    assert retry.status == 200
    assert retry.data["created"] is (late_write == "is-lost")
    assert retry.data["payment"]["refunded"] == REFUND
    entry = rig.payment_state()[payment_id]
    assert entry["payment"]["refunded"]["N"] == str(REFUND)
    assert entry["payment"]["status"]["S"] == "partially_refunded"
    kinds = sorted(t["kind"]["S"] for t in entry["transactions"].values())
    assert kinds == ["charge", "refund"]
