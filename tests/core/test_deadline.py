"""The deadline: nothing starts after it, hung calls are cut at it, retries stop before it."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from emulators.fault_server import FaultServer, dynamodb_throttle, forward_to, hang
from emulators.moto_server import MotoServer
from partnerdb import (
    ClientSettings,
    Deadline,
    DeadlineExceeded,
    Partners,
    current_deadline,
)
from partnerdb.deadline import PER_REQUEST_READ_TIMEOUT
from tests.core.models import Order
from tests.support import FakeContext


def test_from_context_subtracts_the_buffer_and_zero_means_zero() -> None:
    deadline = Deadline.from_context(FakeContext(5000), buffer_ms=1000)
    assert 3900 <= deadline.remaining_ms() <= 4000
    assert Deadline.from_context(FakeContext(0), buffer_ms=0).expired
    assert Deadline.from_context(FakeContext(500)).expired  # less than the buffer is no time
    assert not Deadline.never().expired
    with pytest.raises(ValueError):
        Deadline.from_context(FakeContext(5000), buffer_ms=-1)


def _partners_with_dynamodb_at(
    monkeypatch: pytest.MonkeyPatch, server: FaultServer, **settings: Any
) -> Partners:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", server.url)
    return Partners.from_env(settings=ClientSettings.from_env(**settings))


def test_passed_deadline_sends_nothing(accounts: object, monkeypatch: pytest.MonkeyPatch) -> None:
    with FaultServer(hang) as dynamodb:
        partners = _partners_with_dynamodb_at(monkeypatch, dynamodb)
        db = partners.db("acme", deadline=Deadline.after(-0.001))
        with pytest.raises(DeadlineExceeded, match=r"^lambda timeout exceeded"):
            db.model(Order).get("o-1")
        assert dynamodb.requests == 0
        assert partners.stats.sts_calls == 0  # not even the role was assumed


def test_hung_server_is_cut_at_the_deadline(
    accounts: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert PER_REQUEST_READ_TIMEOUT, "the pinned botocore supports per-request read timeouts"
    with FaultServer(hang) as dynamodb:
        partners = _partners_with_dynamodb_at(monkeypatch, dynamodb)
        partners.db("acme").model(Order)  # bind outside the timed part
        deadline = Deadline.after(1.0)
        db = partners.db("acme", deadline=deadline)
        with pytest.raises(DeadlineExceeded):
            db.model(Order).get("o-1")
        overrun = -deadline.remaining()
        assert 0 <= overrun < 0.1
        assert dynamodb.requests == 1


def test_throttling_server_is_abandoned_before_the_deadline(
    accounts: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FaultServer(dynamodb_throttle) as dynamodb:
        partners = _partners_with_dynamodb_at(monkeypatch, dynamodb, max_attempts=10)
        deadline = Deadline.after(1.5)
        with pytest.raises(DeadlineExceeded, match="would not fit"):
            partners.db("acme", deadline=deadline).model(Order).get("o-1")
        assert deadline.remaining() > 0  # gave up early instead of sleeping past it
        assert 1 <= dynamodb.requests < 10


def test_adaptive_retry_mode_also_respects_the_deadline(
    accounts: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FaultServer(dynamodb_throttle) as dynamodb:
        partners = _partners_with_dynamodb_at(
            monkeypatch, dynamodb, max_attempts=10, retry_mode="adaptive"
        )
        deadline = Deadline.after(1.5)
        with pytest.raises(DeadlineExceeded):
            partners.db("acme", deadline=deadline).model(Order).get("o-1")
        assert deadline.remaining() > -0.1
        assert dynamodb.requests < 10


@pytest.mark.ddblocal
def test_each_thread_keeps_its_own_deadline(
    accounts: object, moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_dynamodb = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB", moto.url)
    with FaultServer(forward_to(real_dynamodb)) as dynamodb:
        partners = _partners_with_dynamodb_at(monkeypatch, dynamodb)
        with partners.db("acme") as warm:
            warm.model(Order).count()  # assume the role once, up front
        with partners.db("acme", deadline=Deadline.after(30)) as mine:
            barrier = threading.Barrier(8)

            def invoke(n: int) -> str:
                seconds = -1.0 if n % 2 else 10.0
                db = partners.db("acme", deadline=Deadline.after(seconds))
                barrier.wait(timeout=10)
                try:
                    for _ in range(5):
                        db.model(Order).count()
                        time.sleep(0.005)
                    return "ok"
                except DeadlineExceeded:
                    return "deadline"
                finally:
                    db.close()

            with ThreadPoolExecutor(8) as pool:
                outcomes = list(pool.map(invoke, range(8)))
            assert outcomes == ["ok", "deadline"] * 4
            assert current_deadline() is mine.deadline  # the threads' deadlines never reached here


def test_db_as_context_manager_restores_the_previous_deadline(accounts: object) -> None:
    partners = Partners.from_env()
    with partners.db("acme", deadline=Deadline.after(60)) as outer:
        with partners.db("globex", deadline=Deadline.after(5)) as db:
            assert current_deadline() is db.deadline
        assert current_deadline() is outer.deadline


def test_older_botocore_cuts_a_hung_call_at_the_client_read_timeout(
    accounts: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore before 1.43.68 (the --slim layer on an old runtime) has no per-request read
    timeout: a request in flight ends at the client's read timeout, and no retry starts after
    the deadline."""
    monkeypatch.setattr("partnerdb.deadline.PER_REQUEST_READ_TIMEOUT", False)
    with FaultServer(hang) as dynamodb:
        partners = _partners_with_dynamodb_at(monkeypatch, dynamodb, read_timeout=1.5)
        partners.db("acme").model(Order)  # bind outside the timed part
        deadline = Deadline.after(0.5)
        with pytest.raises(DeadlineExceeded):
            partners.db("acme", deadline=deadline).model(Order).get("o-1")
        overrun = -deadline.remaining()
        assert 0.8 < overrun < 1.6  # the read timeout (1.5 s from the send), not the deadline
        assert dynamodb.requests == 1


def test_two_threads_two_deadlines_no_cross_talk_and_reset_after_with(
    partners: Partners,
) -> None:
    """Each thread's `with` makes its own deadline current there, and only there, while both
    are open at once; the hooks enforce each; leaving the `with` resets the context var."""
    deadlines = {"acme": Deadline.after(-1.0), "globex": Deadline.after(60)}
    inside = threading.Barrier(2)
    seen: dict[str, dict[str, object]] = {}

    def invoke(pid: str) -> None:
        mine: dict[str, object] = {"before": current_deadline()}
        with partners.db(pid, deadline=deadlines[pid]) as db:
            inside.wait(timeout=10)  # both threads are inside their `with` now
            mine["inside"] = current_deadline()
            try:
                db.model(Order).count()
                mine["call"] = "ok"
            except DeadlineExceeded:
                mine["call"] = "deadline"
            inside.wait(timeout=10)  # neither has left while the other ran its call
            mine["still"] = current_deadline()
        mine["after"] = current_deadline()
        seen[pid] = mine

    main_before = current_deadline()
    threads = [threading.Thread(target=invoke, args=(pid,)) for pid in deadlines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert set(seen) == {"acme", "globex"}
    for pid, mine in seen.items():
        assert mine["before"] is None
        assert mine["inside"] is deadlines[pid] and mine["still"] is deadlines[pid]
        assert mine["after"] is None  # the context var was reset by the `with`
    assert seen["acme"]["call"] == "deadline" and seen["globex"]["call"] == "ok"
    assert current_deadline() is main_before  # nothing reached the main thread


def test_db_without_with_activates_once_on_first_use_and_close_resets(
    partners: Partners,
) -> None:
    """Outside `with`, the first model() enters the scope once; close() leaves it."""
    before = current_deadline()
    db = partners.db("acme", deadline=Deadline.after(-1.0))
    assert current_deadline() is before  # constructing a PartnerDB activates nothing
    model = db.model(Order)
    assert current_deadline() is db.deadline
    with pytest.raises(DeadlineExceeded):
        model.count()  # the deadline of the db, honoured after model() returned
    db.model(Order)  # already in scope: no second activation
    db.close()
    assert current_deadline() is before
    db.close()  # idempotent
    assert current_deadline() is before
