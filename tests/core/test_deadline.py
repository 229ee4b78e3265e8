"""The deadline: nothing starts after it, hung calls are cut at it, retries stop before it."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.httpsession import URLLib3Session

from emulators.fault_server import (
    FaultServer,
    Reply,
    dynamodb_json,
    dynamodb_throttle,
    forward_to,
    hang,
    sequence,
    trickle,
)
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


_ORDER = {"Item": {"id": {"S": "o-1"}, "customer": {"S": "c-1"}, "amount": {"N": "12"}}}


def _order_reply(path: str, headers: dict[str, str], body: bytes) -> Reply:
    return dynamodb_json(_ORDER)


def test_trickling_response_is_cut_at_the_deadline(
    accounts: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each read gets a byte in time, so only a cut of the whole attempt ends it; the
    truncated body must not be parsed as an answer (it would read as a missing item)."""
    with FaultServer(trickle(_order_reply, interval=0.3, chunk=4)) as dynamodb:
        partners = _partners_with_dynamodb_at(monkeypatch, dynamodb)
        partners.db("acme").model(Order)  # bind outside the timed part
        deadline = Deadline.after(1.0)
        with pytest.raises(DeadlineExceeded, match="cut at the deadline"):
            partners.db("acme", deadline=deadline).model(Order).get("o-1")
        overrun = -deadline.remaining()
        assert 0 <= overrun < 0.1
        assert dynamodb.requests == 1


def test_a_forked_copy_still_cuts_a_trickling_response(
    accounts: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process forked after the watchdog thread started (a local SnapStart copy) has no such
    thread; its first attempt under a deadline starts one, so the cut still happens there."""
    with FaultServer(trickle(_order_reply, interval=0.3, chunk=4)) as dynamodb:
        partners = _partners_with_dynamodb_at(monkeypatch, dynamodb)
        with pytest.raises(DeadlineExceeded):  # the parent's watchdog thread is running now
            partners.db("acme", deadline=Deadline.after(0.5)).model(Order).get("o-1")
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the copy: report what happened, then leave without pytest's teardown
            outcome = "no error"
            try:
                deadline = Deadline.after(1.0)
                partners.db("acme", deadline=deadline).model(Order).get("o-1")
            except DeadlineExceeded:
                outcome = f"cut {-deadline.remaining():.3f}"
            except BaseException as err:
                outcome = type(err).__name__
            os.write(write_end, outcome.encode())
            os._exit(0)
        os.close(write_end)
        try:
            for _ in range(100):  # the copy answers within about 1 s
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                time.sleep(0.05)
            else:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            outcome = os.read(read_end, 200).decode()
        finally:
            os.close(read_end)
    assert outcome.startswith("cut "), outcome
    assert 0 <= float(outcome.split()[1]) < 0.1


def test_a_cut_connection_is_not_reused(accounts: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a cut, the next call (with time) gets a whole answer on a fresh connection."""
    steps = sequence((1, _order_reply), (1, trickle(_order_reply, 0.3, 4)), then=_order_reply)
    with FaultServer(steps) as dynamodb:
        partners = _partners_with_dynamodb_at(monkeypatch, dynamodb)
        partners.db("acme").model(Order).get("o-1")  # role assumed, connection open
        with pytest.raises(DeadlineExceeded):
            partners.db("acme", deadline=Deadline.after(0.5)).model(Order).get("o-1")
        order = partners.db("acme", deadline=Deadline.after(10)).model(Order).get("o-1")
        assert order.amount == 12
        assert dynamodb.requests == 3
        assert dynamodb.connections == 2  # the cut connection was not reused


def test_adaptive_mode_sets_the_timeout_after_the_rate_limiter_waits(
    accounts: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Throttling makes the adaptive limiter wait before the next attempt; the hung attempt
    after that wait must still end at the deadline, not the wait's length past it."""
    steps = sequence((1, _order_reply), (2, dynamodb_throttle), then=hang)
    with FaultServer(steps) as dynamodb:
        partners = _partners_with_dynamodb_at(
            monkeypatch, dynamodb, max_attempts=10, retry_mode="adaptive"
        )
        partners.db("acme").model(Order).get("o-1")  # role assumed, connection open
        # The second throttle drops the limiter to its floor (0.5 requests/s): the hung
        # attempt waits about 2 s for its token, well inside the 5 s.
        deadline = Deadline.after(5.0)
        with pytest.raises(DeadlineExceeded, match="cut at the deadline"):
            partners.db("acme", deadline=deadline).model(Order).get("o-1")
        overrun = -deadline.remaining()
        assert 0 <= overrun < 0.1
        assert dynamodb.requests == 4


def test_without_per_request_read_timeouts_a_hung_call_is_still_cut_at_the_deadline(
    accounts: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore before 1.43.68 (the --slim layer on an old runtime) has no per-request read
    timeout; the attempt's timeouts are clamped in the connection pool and the watchdog cuts
    it, so the deadline holds there too."""
    monkeypatch.setattr(URLLib3Session, "_get_request_timeout", lambda self, request: None)
    with FaultServer(hang) as dynamodb:
        partners = _partners_with_dynamodb_at(monkeypatch, dynamodb, read_timeout=1.5)
        partners.db("acme").model(Order)  # bind outside the timed part
        deadline = Deadline.after(0.5)
        with pytest.raises(DeadlineExceeded):
            partners.db("acme", deadline=deadline).model(Order).get("o-1")
        overrun = -deadline.remaining()
        assert 0 <= overrun < 0.1
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
