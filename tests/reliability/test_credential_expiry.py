"""Partner credentials expiring while the container lives (an injected clock moves time).

The handler keeps working across a refresh with exactly one extra STS call, and DynamoDB
requests switch to the new credentials at once. When STS refuses at refresh time the call fails
with the typed error (502 through the SDK) and no DynamoDB request goes out with the old
credentials or the function's own.

The refresh windows are read from the partner's credentials (botocore's advisory and mandatory
refresh timeouts, which partnerdb sets), so the tests follow partnerdb when it retunes them.
"""

from __future__ import annotations

import pytest

from emulators.fault_server import forward_to, sts_refuse
from partnerdb import Deadline, PartnerRoleRefused
from tests.conftest import HOME_ENV
from tests.reliability.conftest import RigFactory
from tests.reliability.support import ROLE_REFUSED, PaymentsRig, payment_data, refresh_windows
from tests.support import FakeClock

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
    """Warm calls make no STS call; in the refresh window, one; new credentials used at once."""
    clock = FakeClock()
    rig = make_rig(clock=clock)
    windows = refresh_windows(rig)
    payment_id = _payment(rig)
    _gets(rig, payment_id, 3)
    assert rig.sts_calls.count() == 1 and rig.partners.stats.sts_calls == 1
    (first_key,) = _keys_since(rig, 0)
    assert first_key not in (None, HOME_KEY)

    clock.advance(seconds=windows.before_advisory())
    _gets(rig, payment_id, 3)
    assert rig.sts_calls.count() == 1, "refreshed before the refresh window"

    clock.advance(seconds=windows.in_advisory() - windows.before_advisory())
    mark = rig.dynamodb_calls.count()
    _gets(rig, payment_id, 5)
    assert rig.sts_calls.count() == 2, "exactly one extra AssumeRole for the refresh"
    assert rig.partners.stats.refreshes == 1
    (second_key,) = _keys_since(rig, mark)
    assert second_key not in (None, HOME_KEY, first_key)

    clock.advance(seconds=windows.expiry / 2)  # the new credentials are far from expiry
    _gets(rig, payment_id, 3)
    assert rig.sts_calls.count() == 2


def test_refused_refresh_fails_typed_and_uses_no_old_or_home_credentials(
    make_rig: RigFactory,
) -> None:
    """At the mandatory refresh (and past expiry) a refusal is 502 and sends nothing."""
    clock = FakeClock()
    rig = make_rig(clock=clock)
    windows = refresh_windows(rig)
    payment_id = _payment(rig)
    (old_key,) = _keys_since(rig, 0)

    clock.advance(seconds=windows.in_mandatory())
    rig.sts_calls.behaviour = sts_refuse
    mark = rig.dynamodb_calls.count()
    out = rig.invoke("getPayment", {"id": payment_id})
    assert (out.status, out.error) == (502, ROLE_REFUSED)
    with rig.partners.db("acme", deadline=Deadline.after(10)) as db:
        payments = db.model(rig.app.Payment)
        with pytest.raises(PartnerRoleRefused):
            payments.get(payment_id)
    clock.advance(seconds=windows.expiry - windows.in_mandatory() + 60)  # now past expiry
    out = rig.invoke("createPayment", payment_data(2))
    assert (out.status, out.error) == (502, ROLE_REFUSED)
    assert rig.dynamodb_calls.count() == mark, "DynamoDB was called with old or home credentials"
    assert len(rig.payment_state()) == 1

    rig.sts_calls.behaviour = forward_to(rig.moto_url)  # the partner fixes its trust policy
    clock.advance(seconds=31)  # past the 30 s during which a refusal is remembered
    sts_before = rig.sts_calls.count()
    _gets(rig, payment_id, 3)
    assert rig.sts_calls.count() == sts_before + 1
    fresh = _keys_since(rig, mark)
    assert fresh and not fresh & {old_key, HOME_KEY, None}


def test_refusal_in_the_advisory_window_keeps_the_still_valid_credentials(
    make_rig: RigFactory,
) -> None:
    """In the advisory window a refused refresh is not fatal: the call goes on with the current,
    still valid credentials (botocore's advisory refresh); from the mandatory window on it
    fails with 502 and sends nothing."""
    clock = FakeClock()
    rig = make_rig(clock=clock)
    windows = refresh_windows(rig)
    payment_id = _payment(rig)
    (old_key,) = _keys_since(rig, 0)

    clock.advance(seconds=windows.in_advisory())
    rig.sts_calls.behaviour = sts_refuse
    mark = rig.dynamodb_calls.count()
    _gets(rig, payment_id, 1)
    assert _keys_since(rig, mark) == {old_key}
    assert rig.sts_calls.count() >= 2  # the refresh was tried

    clock.advance(seconds=windows.in_mandatory() - windows.in_advisory())
    mark = rig.dynamodb_calls.count()
    assert rig.invoke("getPayment", {"id": payment_id}).status == 502
    assert rig.dynamodb_calls.count() == mark
