"""A partner's "Revoke active sessions": DynamoDB answers `AccessDeniedException`.

AWS revokes a role's sessions by attaching a policy that denies every action to tokens issued
before then, so requests fail with an access denial, not an expired-token error. The role is
assumed again once and the call retried, so the partner heals at once instead of failing until
the credentials' next refresh (up to an hour). A denial that new credentials get too is the
role's permissions: answered as it is, and denials ask STS at most once per back-off.
"""

from __future__ import annotations

import logging

import pytest

from emulators.fault_server import sts_refuse
from tests.reliability.conftest import RigFactory
from tests.reliability.support import create_payment, gate_dynamodb, refresh_windows
from tests.support import FakeClock

BACKOFF_S = 30  # the documented default back-off


def test_a_revoked_session_is_assumed_again_and_the_call_retried(make_rig: RigFactory) -> None:
    rig = make_rig(clock=FakeClock())
    gate = gate_dynamodb(rig, "denied")
    payment_id = create_payment(rig, 1)
    gate.revoke_seen()  # the partner revoked the role's active sessions
    out = rig.invoke("getPayment", {"id": payment_id})
    assert out.status == 200, out.raw
    assert (gate.rejected, rig.sts_calls.count()) == (1, 2)
    gate.revoke_seen()
    create_payment(rig, 2)  # a write denied once runs exactly once
    assert (gate.rejected, rig.sts_calls.count()) == (2, 3)
    assert len(rig.payment_state()) == 2


def test_a_denial_of_new_credentials_is_answered_and_asks_sts_once_per_back_off(
    make_rig: RigFactory, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    rig = make_rig(clock=clock)
    gate = gate_dynamodb(rig, "denied")
    create_payment(rig, 1)
    gate.revoke_all = True  # the role's permissions deny everything, new credentials too
    caplog.clear()
    first = rig.invoke("getPayment", {"id": "pay_x"})
    assert first.status != 200
    assert (gate.rejected, rig.sts_calls.count()) == (2, 2)  # one re-assume, one retry
    for n in range(20):  # during the back-off: answered alike, no AssumeRole
        out = rig.invoke("getPayment", {"id": f"pay_{n}"})
        assert (out.status, out.error) == (first.status, first.error)
    assert (gate.rejected, rig.sts_calls.count()) == (22, 2)
    warnings = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and "denied newly issued" in r.getMessage()
    ]
    assert len(warnings) == 1
    clock.advance(seconds=BACKOFF_S + 1)
    rig.invoke("getPayment", {"id": "pay_y"})
    assert rig.sts_calls.count() == 3  # one more try after the back-off
    gate.revoke_all = False
    clock.advance(seconds=BACKOFF_S + 1)
    create_payment(rig, 2)
    assert rig.sts_calls.count() == 3  # the new credentials of the last try serve


def test_a_denial_during_a_back_off_is_answered_as_the_denial(make_rig: RigFactory) -> None:
    """While an early refresh's refusal is remembered (the credentials still valid), a denied
    call is not turned into the back-off's `PartnerRoleRefused`: it is answered as the
    denial, without an AssumeRole."""
    clock = FakeClock()
    rig = make_rig(clock=clock)
    gate = gate_dynamodb(rig, "denied")
    payment_id = create_payment(rig, 1)
    windows = refresh_windows(rig)
    rig.sts_calls.behaviour = sts_refuse
    clock.advance(seconds=windows.in_advisory())
    out = rig.invoke("getPayment", {"id": payment_id})  # early refresh refused: remembered
    assert out.status == 200, out.raw
    sts = rig.sts_calls.count()
    gate.revoke_all = True
    out = rig.invoke("getPayment", {"id": payment_id})
    assert out.status == 500 and out.error == "internal error", out.raw  # the denial, as before
    assert rig.sts_calls.count() == sts
