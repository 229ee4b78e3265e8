"""Partner credentials that heal, and STS kept calm (issue 11, items 1-4).

- DynamoDB rejecting the partner's token (revoked sessions, a clock step): the credentials are
  dropped, the role assumed once more, the call retried once; rejected again, the typed
  `PartnerCredentialsRejected` (502) and no AssumeRole for that partner for a back-off.
- A refused AssumeRole is remembered per partner for a back-off: no STS call, one log line.
- An early (advisory) refresh against a hung STS gets a small budget: the request goes on with
  the still-valid credentials, and a request pays the budget once, not twice.
- A request waiting for another thread's mandatory refresh stops at its own deadline.

Time moves on an injected clock (the credentials' and the back-offs'), so nothing sleeps.
"""

from __future__ import annotations

import logging
import threading

import pytest

from emulators.fault_server import (
    Reply,
    forward_to,
    hang,
    sts_refuse,
    sts_throttle,
    wait_until,
)
from partnerdb import Deadline, DeadlineExceeded, PartnerCredentialsRejected, PartnerRoleRefused
from partnerdb.constants import THROTTLE_BACKOFF_SECONDS
from tests.reliability.conftest import RigFactory
from tests.reliability.support import (
    ACME,
    GLOBEX,
    ROLE_REFUSED,
    ROLE_THROTTLED,
    create_payment,
    gate_dynamodb,
    payment_data,
    refresh_windows,
)
from tests.support import FakeClock

CREDENTIALS_REJECTED = "partner credentials rejected: retry later"
BACKOFF_S = 30  # the documented default of both back-offs


@pytest.mark.parametrize("rejection", ["expired", "unrecognized"])
def test_rejected_credentials_are_replaced_and_the_call_retried_once(
    make_rig: RigFactory, rejection: str
) -> None:
    rig = make_rig(clock=FakeClock())
    gate = gate_dynamodb(rig, rejection)
    payment_id = create_payment(rig, 1)
    assert rig.sts_calls.count() == 1
    gate.revoke_seen()  # the partner revoked the role's active sessions
    out = rig.invoke("getPayment", {"id": payment_id})
    assert out.status == 200, out.raw
    assert (gate.rejected, rig.sts_calls.count()) == (1, 2)
    create_payment(rig, 2)  # a write right after: no more rejections, no more STS calls
    gate.revoke_seen()
    create_payment(rig, 3)  # a write whose first attempt is rejected runs exactly once
    assert (gate.rejected, rig.sts_calls.count()) == (2, 3)
    assert len(rig.payment_state()) == 3  # writes lost: 0, none doubled


def test_credentials_rejected_again_are_typed_and_backed_off(make_rig: RigFactory) -> None:
    clock = FakeClock()
    rig = make_rig(clock=clock)
    gate = gate_dynamodb(rig)
    create_payment(rig, 1)
    gate.revoke_all = True  # even freshly issued credentials are refused
    out = rig.invoke("createPayment", payment_data(2))
    assert (out.status, out.error) == (502, CREDENTIALS_REJECTED)
    assert (gate.rejected, rig.sts_calls.count()) == (2, 2)  # one re-assume, one retry
    with (
        rig.partners.db("acme", deadline=Deadline.after(10)) as db,
        pytest.raises(PartnerCredentialsRejected) as caught,
    ):
        db.model(rig.app.Payment).get("pay_x")
    assert "acme" in str(caught.value)
    for n in range(20):  # during the back-off: no AssumeRole, no DynamoDB request
        out = rig.invoke("getPayment", {"id": f"pay_{n}"})
        assert (out.status, out.error) == (502, CREDENTIALS_REJECTED)
    assert (gate.rejected, rig.sts_calls.count()) == (2, 2)
    gate.revoke_all = False
    clock.advance(seconds=BACKOFF_S + 1)
    create_payment(rig, 3)
    assert rig.sts_calls.count() == 3
    assert len(rig.payment_state()) == 2  # the refused create wrote nothing


def test_refused_role_is_remembered_for_the_back_off(
    make_rig: RigFactory, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    rig = make_rig(clock=clock)
    rig.sts_calls.behaviour = sts_refuse
    caplog.clear()
    for _ in range(20):
        out = rig.invoke("getPayment", {"id": "pay_x"})
        assert (out.status, out.error) == (502, ROLE_REFUSED)
    with (
        rig.partners.db("acme", deadline=Deadline.after(10)) as db,
        pytest.raises(PartnerRoleRefused),
    ):
        db.model(rig.app.Payment).get("pay_x")
    assert rig.sts_calls.count() == 1
    refusals = [
        r for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith(("partnerdb", "botocore"))
    ]
    assert len(refusals) == 1, [r.getMessage() for r in refusals]
    assert refusals[0].exc_info is None and "Traceback" not in refusals[0].getMessage()
    assert rig.dynamodb_calls.count() == 0
    clock.advance(seconds=BACKOFF_S + 1)
    assert rig.invoke("getPayment", {"id": "pay_x"}).status == 502
    assert rig.sts_calls.count() == 2  # asked again after the back-off


def test_a_refusal_outlives_the_partners_eviction_from_the_cache(
    make_rig: RigFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One cached session (`PARTNERDB_CACHE_SIZE=1`) and traffic for two partners: the refused
    partner's session is evicted by every request of the other one, and must not come back
    asking STS again before its back-off ends (a storm of AssumeRole at platform scale)."""
    monkeypatch.setenv("PARTNERDB_CACHE_SIZE", "1")
    clock = FakeClock()
    rig = make_rig([ACME, GLOBEX], clock=clock)
    create_payment(rig, 1)  # acme works; then only globex's role is refused
    forward = forward_to(rig.moto_url)

    def refuse_globex(path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        if GLOBEX.account_id.encode() in body:  # its RoleArn, in the form-encoded request
            return sts_refuse(path, headers, body)
        return forward(path, headers, body)

    rig.sts_calls.behaviour = refuse_globex
    for n in range(5):
        out = rig.invoke("getPayment", {"id": "pay_x"}, partner="globex")
        assert (out.status, out.error) == (502, ROLE_REFUSED)
        assert rig.invoke("createPayment", payment_data(n + 2)).status == 200  # evicts globex
    assert rig.partners.stats.evictions == 10
    assert rig.sts_calls.count() == 2 + 5  # globex refused once; acme assumed after each eviction
    clock.advance(seconds=BACKOFF_S + 1)
    assert rig.invoke("getPayment", {"id": "pay_x"}, partner="globex").status == 502
    assert rig.sts_calls.count() == 2 + 5 + 1  # asked again after the back-off


def test_throttled_role_is_remembered_for_a_moment_not_as_refused(make_rig: RigFactory) -> None:
    """Throttling passes: remembered for `THROTTLE_BACKOFF_SECONDS`, not the refusal's 30 s."""
    clock = FakeClock()
    rig = make_rig(clock=clock, max_attempts=1)
    rig.sts_calls.behaviour = sts_throttle
    for _ in range(3):
        out = rig.invoke("getPayment", {"id": "pay_x"})
        assert (out.status, out.error) == (502, ROLE_THROTTLED)
    assert rig.sts_calls.count() == 1
    clock.advance(seconds=THROTTLE_BACKOFF_SECONDS + 0.5)
    out = rig.invoke("getPayment", {"id": "pay_x"})
    assert (out.status, rig.sts_calls.count()) == (502, 2)  # asked again, still throttled
    rig.sts_calls.behaviour = forward_to(rig.moto_url)
    clock.advance(seconds=THROTTLE_BACKOFF_SECONDS + 0.5)  # well within the refusal's 30 s
    create_payment(rig, 1)


def test_hung_sts_in_the_advisory_window_does_not_stop_requests(make_rig: RigFactory) -> None:
    clock = FakeClock()
    rig = make_rig(clock=clock)
    windows = refresh_windows(rig)
    payment_id = create_payment(rig, 1)
    (old_key,) = set(rig.dynamodb_calls.access_keys())
    clock.advance(seconds=windows.in_advisory())
    rig.sts_calls.behaviour = hang
    mark = rig.dynamodb_calls.count()
    out = rig.invoke("getPayment", {"id": payment_id}, remaining_ms=10_000)
    assert out.status == 200, out.raw
    assert rig.sts_calls.count() == 2  # one early refresh tried, within its budget, not twice
    out = rig.invoke("getPayment", {"id": payment_id}, remaining_ms=10_000)
    assert out.status == 200 and rig.sts_calls.count() == 2  # tried again later, not now
    assert set(rig.dynamodb_calls.access_keys()[mark:]) == {old_key}
    rig.sts_calls.behaviour = forward_to(rig.moto_url)
    clock.advance(seconds=BACKOFF_S + 1)  # still before the mandatory window
    assert rig.invoke("getPayment", {"id": payment_id}).status == 200
    assert rig.sts_calls.count() == 3
    assert rig.dynamodb_calls.access_keys()[-1] != old_key


def test_waiting_for_another_refresh_ends_at_the_waiters_deadline(make_rig: RigFactory) -> None:
    clock = FakeClock()
    rig = make_rig(clock=clock)
    windows = refresh_windows(rig)
    payment_id = create_payment(rig, 1)
    clock.advance(seconds=windows.in_mandatory())
    rig.sts_calls.behaviour = hang
    holder_done = threading.Event()

    def holder() -> None:
        try:
            with rig.partners.db("acme", deadline=Deadline.after(3.0)) as db:
                db.model(rig.app.Payment).get(payment_id)
        except DeadlineExceeded:
            pass
        finally:
            holder_done.set()

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert wait_until(lambda: rig.sts_calls.count() == 2, timeout=5)  # holder refreshing
        deadline = Deadline.after(0.5)
        with rig.partners.db("acme", deadline=deadline) as db, pytest.raises(DeadlineExceeded):
            db.model(rig.app.Payment).get(payment_id)
        overrun = -deadline.remaining()
        assert overrun < 0.1
        assert not holder_done.is_set()  # it ended at its own deadline, not the holder's
        assert rig.sts_calls.count() == 2
    finally:
        thread.join(timeout=10)
