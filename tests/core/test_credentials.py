"""Assume-role credentials: lazy, one STS call per partner and refresh, typed refusals."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest

import partnerdb.credentials
from emulators.fault_server import FaultServer, hang, sts_refuse, sts_throttle
from emulators.moto_server import MotoServer
from partnerdb import (
    ClientSettings,
    Deadline,
    DeadlineExceeded,
    PartnerRoleRefused,
    PartnerRoleThrottled,
    Partners,
)
from partnerdb.assume_role import role_session_name
from partnerdb.constants import THROTTLE_BACKOFF_SECONDS
from tests.conftest import HOME_ENV
from tests.core.conftest import ACME, GLOBEX
from tests.core.models import Order
from tests.support import FakeClock


def partner_calls(moto: MotoServer) -> list[dict[str, str]]:
    return [c for c in moto.sts_assume_role_calls() if c["role_arn"].endswith("/partnerdb-access")]


def test_no_sts_call_before_first_use(partners: Partners, moto: MotoServer) -> None:
    partners.db("acme")
    partners.db("globex").model(Order)
    assert partners.stats.sts_calls == 0
    assert partner_calls(moto) == []


def test_external_id_and_session_name_reach_sts(
    accounts: object, moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "payments-api")
    partners = Partners.from_env()
    for partner in (ACME, GLOBEX):
        partners.db(partner.partner_id).model(Order).count()
    calls = {c["role_arn"]: c for c in partner_calls(moto)}
    for partner in (ACME, GLOBEX):
        call = calls[partner.role_arn]
        assert call["external_id"] == partner.external_id
        assert call["session_name"] == f"partnerdb-payments-api-{partner.partner_id}"


def test_role_session_name_is_sanitized_and_bounded() -> None:
    assert role_session_name("acme", "fn") == "partnerdb-fn-acme"
    long = role_session_name("partner_" + "x" * 50, "f" * 80 + "!bad chars")
    assert len(long) <= 64 and long.endswith("x" * 10)
    assert all(ch.isalnum() or ch in "+=,.@-_" for ch in long)


def test_refresh_with_injected_clock(accounts: object, clock: FakeClock) -> None:
    partners = Partners.from_env(clock=clock)
    orders = partners.db("acme").model(Order)

    def calls_after(n: int) -> int:
        for _ in range(n):
            orders.count()
        return partners.stats.sts_calls

    assert calls_after(5) == 1  # first use assumes the role, warm calls do not
    clock.advance(minutes=56)
    assert calls_after(5) == 1  # still outside the 3 min advisory window
    clock.advance(minutes=2)
    assert calls_after(5) == 2  # one refresh in the advisory window
    assert partners.stats.refreshes == 1
    clock.advance(minutes=60)  # past the new credentials' mandatory window
    assert calls_after(5) == 3
    clock.advance(minutes=5)
    assert calls_after(5) == 3


def test_lru_evicts_least_recently_used_partner(accounts: object) -> None:
    partners = Partners.from_env(cache_size=1)
    partners.db("acme").model(Order).count()
    partners.db("globex").model(Order).count()
    assert partners.stats.evictions >= 1
    partners.db("acme").model(Order).count()  # evicted: rebinding assumes the role again
    assert partners.stats.sts_calls == 3


def _with_sts_at(monkeypatch: pytest.MonkeyPatch, server: FaultServer) -> Partners:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", server.url)
    return Partners.from_env(settings=ClientSettings.from_env(max_attempts=2))


def test_sts_refusal_is_typed_and_never_falls_back(
    accounts: object, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with FaultServer(sts_refuse) as sts, FaultServer(hang) as dynamodb:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url)
        partners = _with_sts_at(monkeypatch, sts)
        with pytest.raises(PartnerRoleRefused) as err:
            partners.db("acme", deadline=Deadline.after(5)).model(Order).get("x")
        assert dynamodb.requests == 0  # nothing was sent with any other credentials
        assert sts.requests == 1  # a refusal is not retried
    message = str(err.value)
    assert "acme" in message and ACME.role_arn in message
    secrets = [ACME.external_id, HOME_ENV["AWS_SECRET_ACCESS_KEY"], HOME_ENV["AWS_SESSION_TOKEN"]]
    for secret in secrets:
        assert secret not in message
        assert secret not in caplog.text


@pytest.mark.parametrize("kept,sts_calls", [(4096, 3), (1, 5)])
def test_back_offs_of_evicted_partners_are_kept_up_to_a_bound(
    accounts: object, monkeypatch: pytest.MonkeyPatch, kept: int, sts_calls: int
) -> None:
    """Three refused partners through a cache of one session: each is evicted by the next.
    Their back-offs are kept (no AssumeRole again before they end), at most `kept` of them."""
    monkeypatch.setattr(partnerdb.credentials, "EVICTED_BACKOFFS_KEPT", kept)
    role = "arn:aws:iam::333333333333:role/partnerdb-access"
    monkeypatch.setenv("PARTNER_INITECH_ROLE_ARN", role)
    monkeypatch.setenv("PARTNER_INITECH_EXTERNAL_ID", "initech-external-id-5e21c")
    monkeypatch.setenv("PARTNER_INITECH_REGION", "us-east-1")
    monkeypatch.setenv("PARTNERDB_CACHE_SIZE", "1")
    with FaultServer(sts_refuse) as sts:
        partners = _with_sts_at(monkeypatch, sts)
        for pid in ("acme", "globex", "initech", "acme", "globex"):
            with pytest.raises(PartnerRoleRefused, match=pid):
                partners.db(pid, deadline=Deadline.after(5)).model(Order).get("x")
        assert partners.stats.evictions == 4
        # kept: the first three asked STS once each; bounded to one: acme's and globex's
        # back-offs were pushed out by later evictions, so they asked again
        assert sts.requests == sts_calls


def test_sts_throttling_is_typed_after_retries(
    accounts: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FaultServer(sts_throttle) as sts:
        partners = _with_sts_at(monkeypatch, sts)
        with pytest.raises(PartnerRoleThrottled, match="acme"):
            partners.db("acme", deadline=Deadline.after(10)).model(Order).get("x")
        assert sts.requests == 2  # max_attempts


def test_sts_hang_is_cut_at_the_deadline(accounts: object, monkeypatch: pytest.MonkeyPatch) -> None:
    with FaultServer(hang) as sts:
        partners = _with_sts_at(monkeypatch, sts)
        deadline = Deadline.after(0.8)
        with pytest.raises(DeadlineExceeded, match="lambda timeout exceeded"):
            partners.db("acme", deadline=deadline).model(Order).get("x")
        assert -0.1 < deadline.remaining() <= 0


def test_a_throttled_assume_role_is_not_asked_again_for_a_moment(
    accounts: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STS's AssumeRole quota is the whole account's: after a throttled AssumeRole the
    partner's next requests, and threads waiting on that refresh, answer `PartnerRoleThrottled`
    without calling STS for `THROTTLE_BACKOFF_SECONDS`; then one request tries again."""
    clock = FakeClock()
    with FaultServer(sts_throttle) as sts:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts.url)
        partners = Partners.from_env(settings=ClientSettings.from_env(max_attempts=2), clock=clock)

        def get(_: int = 0) -> None:
            with pytest.raises(PartnerRoleThrottled):
                partners.db("acme", deadline=Deadline.after(10)).model(Order).get("x")

        get()
        assert sts.requests == 2  # one AssumeRole, its botocore retry
        for _ in range(10):
            get()
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(get, range(6)))
        assert sts.requests == 2
        clock.advance(seconds=THROTTLE_BACKOFF_SECONDS + 1)
        get()
        assert sts.requests == 4
