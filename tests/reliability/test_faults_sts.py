"""STS misbehaving: refused, throttled, hung, unreachable.

Each fault runs against a real loopback server in front of moto and ends in its documented
error: 502 for a refused, throttled or unreachable partner role, 504 "lambda timeout exceeded"
for a hung one, and the typed partnerdb error in-process. No DynamoDB request goes out with any
other credentials meanwhile, nothing is written, and once STS is back the same create (same
idempotency key) makes exactly one payment.
"""

from __future__ import annotations

from typing import Any

import pytest

from emulators.fault_server import Behaviour, forward_to, hang, sts_refuse, sts_throttle
from partnerdb import (
    Deadline,
    DeadlineExceeded,
    PartnerDBError,
    PartnerRoleError,
    PartnerRoleRefused,
    PartnerRoleThrottled,
)
from tests.conftest import HOME_ENV
from tests.reliability.conftest import RigFactory
from tests.reliability.support import (
    ACME,
    DEADLINE_MESSAGE,
    ROLE_REFUSED,
    ROLE_THROTTLED,
    SLACK_S,
    PaymentsRig,
    payment_data,
    timed,
)
from tests.support import FakeClock, closed_port_url

#: The partner's DB deadline in the timed cases (the handler's is remaining_ms - 1000 ms).
DEADLINE_S = 1.0


def _typed_error(rig: PaymentsRig, seconds: float) -> PartnerDBError:
    """The in-process error of a first use of the partner's DB under the current fault."""
    with rig.partners.db("acme", deadline=Deadline.after(seconds)) as db:
        payments = db.model(rig.app.Payment)
        with pytest.raises(PartnerDBError) as caught:
            payments.get("pay_x")
    rig.collector.add_text(f"{rig.where} [exception]", str(caught.value))
    return caught.value


def _assert_nothing_reached_dynamodb(rig: PaymentsRig) -> None:
    assert rig.dynamodb_calls.count() == 0, "a DynamoDB request went out without partner creds"
    assert rig.payment_state() == {}
    assert rig.items("acme", "customers") == []


def _recovers_with_one_payment(rig: PaymentsRig, data: dict[str, Any]) -> None:
    """STS back: the same create succeeds once, signed with the partner's credentials only."""
    rig.sts_calls.behaviour = forward_to(rig.moto_url)
    first = rig.invoke("createPayment", data)
    again = rig.invoke("createPayment", data)
    assert first.status == 200 and first.data["created"] is True
    assert again.status == 200 and again.data["created"] is False
    state = rig.payment_state()
    assert len(state) == 1
    (entry,) = state.values()
    assert set(entry["transactions"]) == {"charge"}
    keys = set(rig.dynamodb_calls.access_keys())
    assert HOME_ENV["AWS_ACCESS_KEY_ID"] not in keys and None not in keys


@pytest.mark.parametrize(
    ("behaviour", "attempts", "message", "error_type"),
    [
        pytest.param(sts_refuse, 1, ROLE_REFUSED, PartnerRoleRefused, id="access-denied"),
        pytest.param(sts_throttle, 2, ROLE_THROTTLED, PartnerRoleThrottled, id="throttling"),
    ],
)
def test_refused_or_throttled_role_is_502_and_typed(
    make_rig: RigFactory,
    behaviour: Behaviour,
    attempts: int,
    message: str,
    error_type: type[PartnerRoleError],
) -> None:
    """AccessDenied is not retried; Throttling is retried up to max_attempts; both are 502.
    A refusal is remembered for the back-off (30 s of the injected clock), throttling for
    `THROTTLE_BACKOFF_SECONDS` (tests/reliability/test_credentials_heal.py)."""
    clock = FakeClock()
    rig = make_rig(max_attempts=2, clock=clock)
    rig.sts_calls.behaviour = behaviour
    out = rig.invoke("createPayment", payment_data(1))
    assert (out.status, out.error) == (502, message)
    assert rig.sts_calls.count() == attempts
    _assert_nothing_reached_dynamodb(rig)

    err = _typed_error(rig, seconds=10)
    assert type(err) is error_type
    assert "acme" in str(err) and ACME.role_arn in str(err)
    assert ACME.external_id not in str(err)
    assert rig.sts_calls.count() == attempts  # remembered: not asked again at once
    clock.advance(seconds=31)
    _recovers_with_one_payment(rig, payment_data(1))


def test_hung_sts_is_cut_at_the_deadline_with_504(make_rig: RigFactory) -> None:
    """A hung AssumeRole is cut at the deadline: 504, one STS attempt, no DynamoDB request."""
    rig = make_rig()
    rig.sts_calls.behaviour = hang
    with timed() as elapsed:
        out = rig.invoke(
            "createPayment", payment_data(1), remaining_ms=int(DEADLINE_S * 1000) + 1000
        )
    assert (out.status, out.error) == (504, DEADLINE_MESSAGE)
    assert DEADLINE_S - 0.05 <= elapsed[0] <= DEADLINE_S + SLACK_S
    assert rig.sts_calls.count() == 1
    _assert_nothing_reached_dynamodb(rig)

    with timed() as elapsed:
        err = _typed_error(rig, seconds=0.5)
    assert isinstance(err, DeadlineExceeded) and str(err).startswith(DEADLINE_MESSAGE)
    assert elapsed[0] <= 0.5 + SLACK_S
    _recovers_with_one_payment(rig, payment_data(1))


def test_unreachable_sts_is_502_and_typed(make_rig: RigFactory) -> None:
    """Nothing listening where STS should be: retried, then 502 and a `PartnerRoleError`."""
    rig = make_rig(sts_url=closed_port_url(), max_attempts=2)
    out = rig.invoke("createPayment", payment_data(1))
    assert (out.status, out.error) == (502, ROLE_REFUSED)
    _assert_nothing_reached_dynamodb(rig)
    err = _typed_error(rig, seconds=10)
    assert type(err) is PartnerRoleError
    assert "STS unreachable" in str(err)
