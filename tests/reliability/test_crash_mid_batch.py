"""The DynamoDB server dies in the middle of a batch of creates, then comes back.

The server (a FaultServer forwarding to moto) commits the CRASH_AT-th TransactWriteItems and
dies before answering it: that connection is dropped unanswered, the listening socket closes,
and every later request is refused. Afterwards, for every create, either the call succeeded and
the payment fully exists (payment + charge), or the call returned a documented error and the
payment is all there or not there at all: never lost after a success, never half-written. When
the server is back at the same address, repeating every create with its idempotency key gives
exactly one payment each, and the customer's counter counts each payment once.
"""

from __future__ import annotations

import threading
from typing import Any

from emulators.fault_server import Behaviour, Reply, forward_to
from tests.reliability.conftest import RigFactory
from tests.reliability.support import (
    DEADLINE_MESSAGE,
    INTERNAL_ERROR,
    Outcome,
    restart_on_same_port,
    target_of,
)

BATCH = 10
CRASH_AT = 6  # the 6th create is committed, then the server dies without answering
CUSTOMER = "cust-crash"


class DiesAfterCommitting:
    """Forward to moto; on the `at`-th TransactWriteItems forward it (it commits), then die:
    drop the reply and have `kill` stop the server. Once dead, nothing is answered."""

    def __init__(self, forward: Behaviour, at: int, kill: Any) -> None:
        self._forward = forward
        self._at = at
        self._kill = kill
        self._writes = 0
        self._lock = threading.Lock()
        self.dead = threading.Event()
        self.killer: threading.Thread | None = None

    def __call__(self, path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        if self.dead.is_set():
            return None
        if target_of(headers) == "TransactWriteItems":
            with self._lock:
                self._writes += 1
                crash = self._writes == self._at
            if crash:
                self._forward(path, headers, body)  # committed in moto, reply never sent
                self.dead.set()
                self.killer = threading.Thread(target=self._kill, daemon=True)
                self.killer.start()
                return None
        return self._forward(path, headers, body)


def _data(n: int) -> dict[str, Any]:
    return {
        "customerId": CUSTOMER,
        "amount": 100 + n,
        "currency": "EUR",
        "idempotencyKey": f"crash-{n}",
    }


def test_server_killed_mid_batch_loses_nothing_and_halves_nothing(make_rig: RigFactory) -> None:
    """Every create is whole or absent after the crash; retries give exactly one each."""
    rig = make_rig(max_attempts=2)
    forward = forward_to(rig.moto_url)
    assert rig.invoke("getPayment", {"id": "pay_none"}).status == 404  # role assumed, warm
    crash = DiesAfterCommitting(forward, CRASH_AT, rig.dynamodb.stop)
    rig.dynamodb_calls.behaviour = crash

    outcomes: list[Outcome] = []
    for n in range(BATCH):
        outcomes.append(rig.invoke("createPayment", _data(n), remaining_ms=4000))
    assert crash.killer is not None
    crash.killer.join(timeout=10)
    assert not crash.killer.is_alive()

    state = rig.payment_state()
    ids: list[str | None] = []
    for n, out in enumerate(outcomes):
        if out.status == 200:
            assert out.data["created"] is True
            payment_id = out.data["payment"]["id"]
            entry = state.get(payment_id)
            assert entry is not None and entry["payment"] is not None, f"create {n} lost"
            assert set(entry["transactions"]) == {"charge"}, f"create {n} half-written"
            assert entry["payment"]["amount"]["N"] == str(100 + n)
        else:
            assert (out.status, out.error) in {(500, INTERNAL_ERROR), (504, DEADLINE_MESSAGE)}
        ids.append(out.data["payment"]["id"] if out.status == 200 else None)
    assert [o.status == 200 for o in outcomes] == [n < CRASH_AT - 1 for n in range(BATCH)]
    # Whatever exists is whole: a payment always with its charge, a charge always with it.
    for payment_id, entry in state.items():
        assert entry["payment"] is not None and set(entry["transactions"]) == {"charge"}, (
            f"{payment_id} is half-written"
        )
    # The crashed create errored although it committed (its reply was lost): the one case a
    # caller must resolve by retrying with the same idempotency key.
    assert len(state) == CRASH_AT
    (customer,) = rig.items("acme", "customers")
    assert customer["payments"]["N"] == str(CRASH_AT)

    # The server comes back at the same address; every create is repeated with its key.
    back = restart_on_same_port(rig.dynamodb, rig.dynamodb_calls)
    rig.servers.append(back)
    rig.dynamodb_calls.behaviour = forward
    retried = [rig.invoke("createPayment", _data(n), remaining_ms=10_000) for n in range(BATCH)]
    assert all(r.status == 200 for r in retried), [r.raw for r in retried]
    assert [r.data["created"] for r in retried] == [n >= CRASH_AT for n in range(BATCH)]
    for n, (first, again) in enumerate(zip(outcomes, retried, strict=True)):
        if first.status == 200:
            assert again.data["payment"]["id"] == ids[n]

    final = rig.payment_state()
    assert len(final) == BATCH
    assert all(set(e["transactions"]) == {"charge"} for e in final.values())
    assert sorted(int(e["payment"]["amount"]["N"]) for e in final.values()) == [
        100 + n for n in range(BATCH)
    ]
    (customer,) = rig.items("acme", "customers")
    assert customer["payments"]["N"] == str(BATCH)  # no create counted twice
