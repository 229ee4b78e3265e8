"""The deadline figure over HTTP measures what it says: only its deadline arm is watched."""

from __future__ import annotations

import pytest

from bench.overhead import PARTNER, _deadline_over_http
from bench.worker import HOME_ENV
from partnerdb.watchdog import WATCHDOG, Attempt


def test_only_the_deadline_arm_goes_through_the_watchdog(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {**HOME_ENV, **PARTNER, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}.items():
        monkeypatch.setenv(key, value)  # the figure sets them; teardown restores them
    watched: list[Attempt] = []
    watch = WATCHDOG.watch

    def counting(attempt: Attempt) -> None:
        watched.append(attempt)
        watch(attempt)

    monkeypatch.setattr(WATCHDOG, "watch", counting)
    per_round = _deadline_over_http(rounds=2, calls=3)
    assert {arm: len(times) for arm, times in per_round.items()} == {
        "no_deadline": 2, "deadline": 2,
    }
    assert all(t > 0 for times in per_round.values() for t in times)
    # one warm-up round and two timed rounds of 3 GetItems each, in the deadline arm only
    assert len(watched) == 3 + 2 * 3
