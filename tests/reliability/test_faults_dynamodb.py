"""DynamoDB misbehaving: throttling, 500s, hanging.

Against a real loopback server in front of moto, a createPayment under each fault ends in its
documented error (504 "lambda timeout exceeded" when the deadline is what stops it, 500
"internal error" without internals when the allowed attempts run out first), the in-process
error is the one documented (partnerdb's `DeadlineExceeded`, else PynamoDB's own), nothing is
written, and once DynamoDB is back the same create makes exactly one payment.
"""

from __future__ import annotations

import pytest
from pynamodb.exceptions import GetError

from emulators.fault_server import Behaviour, dynamodb_500, dynamodb_throttle, forward_to, hang
from partnerdb import Deadline, DeadlineExceeded, PartnerDBError
from tests.reliability.conftest import RigFactory
from tests.reliability.support import (
    DEADLINE_MESSAGE,
    INTERNAL_ERROR,
    SLACK_S,
    PaymentsRig,
    payment_data,
    timed,
)

DEADLINE_S = 1.0
#: Words of the underlying fault that must not reach a caller in a 500.
_INTERNALS = ("Throughput", "Throttl", "InternalServerError", "Traceback", "payments", "arn:")


def _unchanged(rig: PaymentsRig) -> None:
    """Not a payment, transaction or customer was written."""
    assert rig.payment_state() == {}
    assert rig.items("acme", "customers") == []


def _recovers_with_one_payment(rig: PaymentsRig) -> None:
    """DynamoDB back: the same create makes one payment, its charge and one customer count."""
    rig.dynamodb_calls.behaviour = forward_to(rig.moto_url)
    first = rig.invoke("createPayment", payment_data(1))
    again = rig.invoke("createPayment", payment_data(1))
    assert (first.status, first.data["created"]) == (200, True)
    assert (again.status, again.data["created"]) == (200, False)
    state = rig.payment_state()
    assert len(state) == 1 and set(next(iter(state.values()))["transactions"]) == {"charge"}
    (customer,) = rig.items("acme", "customers")
    assert customer["payments"]["N"] == "1"


def _warm(rig: PaymentsRig) -> None:
    """Assume the role before the fault, so the fault meets DynamoDB calls only."""
    assert rig.invoke("getPayment", {"id": "pay_none"}).status == 404


@pytest.mark.parametrize(
    ("behaviour", "attempts"),
    [
        pytest.param(dynamodb_throttle, 1, id="throttling"),
        pytest.param(dynamodb_500, 2, id="http-500"),
    ],
)
def test_faults_outlasting_the_attempts_are_a_generic_500(
    make_rig: RigFactory, behaviour: Behaviour, attempts: int
) -> None:
    """With time to spare, the allowed attempts run out: 500 'internal error', nothing more."""
    rig = make_rig(max_attempts=attempts)
    _warm(rig)
    rig.dynamodb_calls.behaviour = behaviour
    before = rig.dynamodb_calls.count("TransactWriteItems")
    out = rig.invoke("createPayment", payment_data(1), remaining_ms=30_000)
    assert (out.status, out.error) == (500, INTERNAL_ERROR)
    assert rig.dynamodb_calls.count("TransactWriteItems") - before == attempts
    assert not any(word in out.raw["error"] for word in _INTERNALS)

    with rig.partners.db("acme", deadline=Deadline.after(30)) as db:
        payments = db.model(rig.app.Payment)
        with pytest.raises(GetError) as caught:
            payments.get("pay_x")
    assert not isinstance(caught.value, PartnerDBError)  # PynamoDB's error, passed through
    rig.dynamodb_calls.behaviour = forward_to(rig.moto_url)
    _unchanged(rig)
    _recovers_with_one_payment(rig)


@pytest.mark.parametrize(
    "behaviour",
    [
        pytest.param(dynamodb_throttle, id="throttling"),
        pytest.param(dynamodb_500, id="http-500"),
    ],
)
def test_retries_that_would_not_fit_the_deadline_are_a_504_before_it(
    make_rig: RigFactory, behaviour: Behaviour
) -> None:
    """With many attempts allowed, the deadline stops the retries early: 504, before it."""
    rig = make_rig(max_attempts=10)
    _warm(rig)
    rig.dynamodb_calls.behaviour = behaviour
    with timed() as elapsed:
        out = rig.invoke(
            "createPayment", payment_data(1), remaining_ms=int(DEADLINE_S * 1000) + 1000
        )
    assert (out.status, out.error) == (504, DEADLINE_MESSAGE)
    assert elapsed[0] < DEADLINE_S + SLACK_S
    assert 1 <= rig.dynamodb_calls.count("TransactWriteItems") < 10

    with rig.partners.db("acme", deadline=Deadline.after(0.5)) as db:
        payments = db.model(rig.app.Payment)
        with pytest.raises(DeadlineExceeded, match=f"^{DEADLINE_MESSAGE}"):
            payments.get("pay_x")
    rig.dynamodb_calls.behaviour = forward_to(rig.moto_url)
    _unchanged(rig)
    _recovers_with_one_payment(rig)


def test_hung_dynamodb_is_cut_at_the_deadline_with_504(make_rig: RigFactory) -> None:
    """A hung TransactWriteItems is cut at the deadline, not retried, and writes nothing."""
    rig = make_rig()
    _warm(rig)
    rig.dynamodb_calls.behaviour = hang
    with timed() as elapsed:
        out = rig.invoke(
            "createPayment", payment_data(1), remaining_ms=int(DEADLINE_S * 1000) + 1000
        )
    assert (out.status, out.error) == (504, DEADLINE_MESSAGE)
    assert DEADLINE_S - 0.05 <= elapsed[0] <= DEADLINE_S + SLACK_S
    assert rig.dynamodb_calls.count("TransactWriteItems") == 1

    with timed() as elapsed, rig.partners.db("acme", deadline=Deadline.after(0.5)) as db:
        payments = db.model(rig.app.Payment)
        with pytest.raises(DeadlineExceeded, match=r"cut at the deadline|would not fit"):
            payments.get("pay_x")
    assert elapsed[0] <= 0.5 + SLACK_S
    rig.dynamodb_calls.behaviour = forward_to(rig.moto_url)
    _unchanged(rig)
    _recovers_with_one_payment(rig)
