"""Partner credentials expiring while the container lives (an injected clock moves time).

The handler keeps working across a refresh with exactly one extra STS call, and DynamoDB
requests switch to the new credentials at once. When STS refuses at refresh time the call fails
with the typed error (502 through the SDK) and no DynamoDB request goes out with the old
credentials or the function's own.
"""

from __future__ import annotations

import pytest

from local.fault_server import forward_to, sts_refuse
from partnerdb import Deadline, PartnerRoleRefused
from tests.conftest import HOME_ENV
from tests.reliability.conftest import RigFactory
from tests.reliability.support import ROLE_REFUSED, FakeClock, PaymentsRig, payment_data

HOME_KEY = HOME_ENV["AWS_ACCESS_KEY_ID"]


def _payment(rig: PaymentsRig) -> str:
    out = rig.invoke("createPayment", payment_data(1))
    assert out.status == 200
    return str(out.data["payment"]["id"])


def _gets(rig: PaymentsRig, payment_id: str, times: int) -> None:
    for _ in range(times):
        out = rig.invoke("getPayment", {"id": payment_id})
        assert out.status == 200 and out.data["payment"]["id"] == payment_id


def _keys_since(rig: PaymentsRig, start: int) -> set[str | None]:
    return set(rig.dynamodb_calls.access_keys()[start:])


def test_refresh_keeps_the_handler_working_with_one_extra_sts_call(make_rig: RigFactory) -> None:
    """Warm calls make no STS call; 46 minutes on, one refresh; new credentials used at once."""
    clock = FakeClock()
    rig = make_rig(clock=clock)
    payment_id = _payment(rig)
    _gets(rig, payment_id, 3)
    assert rig.sts_calls.count() == 1 and rig.partners.stats.sts_calls == 1
    (first_key,) = _keys_since(rig, 0)
    assert first_key not in (None, HOME_KEY)

    clock.advance(minutes=46)  # inside botocore's 15-minute advisory window of a 60-minute role
    mark = rig.dynamodb_calls.count()
    _gets(rig, payment_id, 5)
    assert rig.sts_calls.count() == 2, "exactly one extra AssumeRole for the refresh"
    assert rig.partners.stats.refreshes == 1
    (second_key,) = _keys_since(rig, mark)
    assert second_key not in (None, HOME_KEY, first_key)

    clock.advance(minutes=40)  # the new credentials are still far from expiry
    _gets(rig, payment_id, 3)
    assert rig.sts_calls.count() == 2


def test_refused_refresh_fails_typed_and_uses_no_old_or_home_credentials(
    make_rig: RigFactory,
) -> None:
    """At the mandatory refresh (and past expiry) a refusal is 502 and sends nothing."""
    clock = FakeClock()
    rig = make_rig(clock=clock)
    payment_id = _payment(rig)
    (old_key,) = _keys_since(rig, 0)

    clock.advance(minutes=51)  # inside the 10-minute mandatory window: must refresh
    rig.sts_calls.behaviour = sts_refuse
    mark = rig.dynamodb_calls.count()
    out = rig.invoke("getPayment", {"id": payment_id})
    assert (out.status, out.error) == (502, ROLE_REFUSED)
    with rig.partners.db("acme", deadline=Deadline.after(10)) as db:
        payments = db.model(rig.app.Payment)
        with pytest.raises(PartnerRoleRefused):
            payments.get(payment_id)
    clock.advance(minutes=15)  # now past expiry
    out = rig.invoke("createPayment", payment_data(2))
    assert (out.status, out.error) == (502, ROLE_REFUSED)
    assert rig.dynamodb_calls.count() == mark, "DynamoDB was called with old or home credentials"
    assert len(rig.payment_state()) == 1

    rig.sts_calls.behaviour = forward_to(rig.moto_url)  # the partner fixes its trust policy
    sts_before = rig.sts_calls.count()
    _gets(rig, payment_id, 3)
    assert rig.sts_calls.count() == sts_before + 1
    fresh = _keys_since(rig, mark)
    assert fresh and not fresh & {old_key, HOME_KEY, None}


def test_refusal_in_the_advisory_window_keeps_the_still_valid_credentials(
    make_rig: RigFactory,
) -> None:
    """Between 15 and 10 minutes before expiry a refused refresh is not fatal: the call goes
    on with the current, still valid credentials (botocore's advisory refresh); from 10
    minutes before expiry it fails with 502 and sends nothing."""
    clock = FakeClock()
    rig = make_rig(clock=clock)
    payment_id = _payment(rig)
    (old_key,) = _keys_since(rig, 0)

    clock.advance(minutes=46)
    rig.sts_calls.behaviour = sts_refuse
    mark = rig.dynamodb_calls.count()
    _gets(rig, payment_id, 1)
    assert _keys_since(rig, mark) == {old_key}
    assert rig.sts_calls.count() >= 2  # the refresh was tried

    clock.advance(minutes=5)  # mandatory now
    mark = rig.dynamodb_calls.count()
    assert rig.invoke("getPayment", {"id": payment_id}).status == 502
    assert rig.dynamodb_calls.count() == mark
