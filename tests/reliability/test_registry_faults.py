"""The partner registry when it misbehaves, and under load: real HTTP on 127.0.0.1.

The registry's DynamoDB traffic goes through the project's fault server (emulators.fault_server),
which hangs or refuses GetItem on the registry table and forwards every other DynamoDB request
(the partners' own tables) to moto; STS goes to moto directly.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from emulators.fault_server import FaultServer, Reply, dynamodb_throttle, forward_to
from emulators.moto_server import MotoServer
from handler_sdk import with_partner_db
from local.registry_seed import REGISTRY_TABLE, create_registry_table, entry_of, put_table_entry
from local.seed import PartnerAccount, create_table_for, scan_items
from partnerdb import (
    Deadline,
    DeadlineExceeded,
    DynamoDBRegistry,
    Partners,
    RegistrySettings,
    RegistryUnavailable,
    UnknownPartner,
)
from tests.core.models import Order
from tests.reliability.support import Collector
from tests.support import FakeClock

REGISTRY_PARTNERS = [
    PartnerAccount(f"reg{n}", f"44444444440{n}", f"reg{n}-external-id-{n:04d}", f"r{n}_")
    for n in range(2)
]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class RegistryFaults:
    """Forwards everything to moto except registry reads, which follow `mode`."""

    def __init__(self, moto_url: str) -> None:
        self.mode = "forward"
        self.registry_reads = 0
        self.delay = 0.0
        self._forward = forward_to(moto_url)
        self._lock = threading.Lock()

    def __call__(self, path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        if b'"TableName": "' + REGISTRY_TABLE.encode() not in body.replace(b'":"', b'": "'):
            return self._forward(path, headers, body)
        with self._lock:
            self.registry_reads += 1
        if self.delay:
            time.sleep(self.delay)
        if self.mode == "hang":
            return None
        if self.mode == "refuse":
            payload = {
                "__type": "com.amazonaws.dynamodb.v20120810#AccessDeniedException",
                "message": "not authorized",
            }
            return 400, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(payload).encode()
        if self.mode == "throttle":
            return dynamodb_throttle(path, headers, body)
        return self._forward(path, headers, body)


@pytest.fixture
def faults(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch, collector: Collector
) -> Iterator[RegistryFaults]:
    """The registry table holding REGISTRY_PARTNERS (whose ExternalIds the final secrets sweep
    looks for), their tables, and DynamoDB behind the fault server."""
    create_registry_table(moto.url)
    for partner in REGISTRY_PARTNERS:
        collector.add_partner(partner)
        put_table_entry(moto.url, entry_of(partner))
        create_table_for(Order, partner, moto.url)
    behaviour = RegistryFaults(moto.url)
    with FaultServer(behaviour) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", server.url)
        yield behaviour


def make_partners(clock: FakeClock, **settings: float) -> Partners:
    defaults: dict[str, float] = {"ttl": 300, "negative_ttl": 60, "timeout": 0.5}
    return Partners(
        [],
        registry=DynamoDBRegistry(table=REGISTRY_TABLE),
        clock=clock,
        registry_settings=RegistrySettings(**{**defaults, **settings}),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("mode", ["hang", "refuse"])
def test_cached_entries_keep_serving_when_the_registry_fails(
    faults: RegistryFaults, clock: FakeClock, mode: str
) -> None:
    partners = make_partners(clock)
    partners.db("reg0").model(Order)(id="o-1", customer="c", amount=1).save()
    faults.mode = mode
    clock.advance(seconds=301)  # past the TTL: the next use tries the registry
    db = partners.db("reg0", deadline=Deadline.after(10))
    assert db.model(Order).count() == 1
    cache = partners.registry
    assert cache is not None and cache.stats.stale_served == 1
    reads = faults.registry_reads
    for _ in range(5):  # no new read until the retry interval (negative TTL) has passed
        partners.db("reg0").model(Order).count()
    assert faults.registry_reads == reads == 2
    clock.advance(seconds=61)
    partners.db("reg0")
    assert faults.registry_reads == 3 and cache.stats.stale_served == 2


@pytest.mark.parametrize("mode", ["hang", "refuse"])
def test_uncached_ids_get_registry_unavailable_before_the_deadline(
    faults: RegistryFaults, clock: FakeClock, mode: str
) -> None:
    faults.mode = mode
    partners = make_partners(clock, timeout=0.5)
    with pytest.raises(RegistryUnavailable) as caught:
        partners.db("reg1", deadline=Deadline.after(10))
    assert "reg1" in str(caught.value)
    assert not isinstance(caught.value, UnknownPartner)
    assert partners.cached_partner_ids() == []


def test_sdk_answers_503_for_an_unreachable_registry(
    faults: RegistryFaults, clock: FakeClock
) -> None:
    faults.mode = "hang"

    @with_partner_db(partners=make_partners(clock))
    def handler(event: dict[str, object], context: object, db: object) -> str:
        return "served"

    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 5000

    response = handler({"partnerId": "reg1", "action": "x", "data": {}}, Context())
    assert response["success"] is False and response["status"] == 503
    faults.mode = "forward"
    response = handler({"partnerId": "reg1", "action": "x", "data": {}}, Context())
    assert response["status"] == 503  # the failed id backs off: no read yet
    clock.advance(seconds=6)
    response = handler({"partnerId": "reg1", "action": "x", "data": {}}, Context())
    assert response == {"success": True, "status": 200, "data": "served"}


def test_stale_entries_stop_serving_after_max_stale(
    faults: RegistryFaults, clock: FakeClock
) -> None:
    partners = make_partners(clock, ttl=300, max_stale=600, negative_ttl=60)
    partners.db("reg0")
    faults.mode = "refuse"
    clock.advance(seconds=301 + 598)
    partners.db("reg0")  # 598 s past its TTL: still served
    clock.advance(seconds=61)
    with pytest.raises(RegistryUnavailable):
        partners.db("reg0")


def test_a_deadline_shorter_than_the_read_timeout_is_a_deadline_error(
    faults: RegistryFaults, clock: FakeClock
) -> None:
    faults.mode = "hang"
    partners = make_partners(clock, timeout=5)
    with pytest.raises(DeadlineExceeded):
        partners.db("reg1", deadline=Deadline.after(0.4))


def test_reads_cut_at_short_deadlines_still_back_off(
    faults: RegistryFaults, clock: FakeClock
) -> None:
    """Requests with less time left than the read timeout (late records of a batch, short
    functions): a read that hung for a good part of the timeout before their deadline cut
    it is a failed read too, so the next requests back off instead of each hanging on it."""
    partners = make_partners(clock, timeout=2.0, failure_backoff=5)
    partners.db("reg0", deadline=Deadline.after(10))  # the registry client is built
    faults.mode = "hang"
    with pytest.raises(DeadlineExceeded):  # cut at 1 s: half the timeout, no answer
        partners.db("reg1", deadline=Deadline.after(1.0))
    for _ in range(5):
        with pytest.raises(RegistryUnavailable, match="back-off"):
            partners.db("reg1", deadline=Deadline.after(1.0))
    assert faults.registry_reads == 2
    faults.mode = "forward"
    clock.advance(seconds=6)
    assert partners.db("reg1", deadline=Deadline.after(5)).partner_id == "reg1"
    # a read cut early (under a quarter of its timeout) is no evidence: no back-off
    faults.mode = "hang"
    with pytest.raises(DeadlineExceeded):
        partners.db("reg9", deadline=Deadline.after(0.1))
    faults.mode = "forward"
    with pytest.raises(UnknownPartner):  # read again at once, not backed off
        partners.db("reg9", deadline=Deadline.after(5))


def test_concurrent_first_lookups_of_one_id_make_one_read(
    faults: RegistryFaults, clock: FakeClock
) -> None:
    faults.delay = 0.3  # the first read is still running when the others arrive
    partners = make_partners(clock, timeout=3)
    start = threading.Barrier(8)

    def first_use(_: int) -> str:
        start.wait(timeout=5)
        return partners.db("reg1", deadline=Deadline.after(10)).partner_id

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(first_use, range(8))) == ["reg1"] * 8
    assert faults.registry_reads == 1
    assert partners.registry is not None and partners.registry.stats.reads == 1


def test_threads_waiting_on_a_failed_read_each_get_their_own_error(
    faults: RegistryFaults, clock: FakeClock
) -> None:
    """Each waiter raises a new `RegistryUnavailable`, not the reading thread's object (an
    exception raised again in several threads collects all their tracebacks and frames)."""
    faults.mode, faults.delay = "refuse", 0.3
    partners = make_partners(clock, timeout=3)
    start = threading.Barrier(6)

    def first_use(_: int) -> RegistryUnavailable:
        start.wait(timeout=5)
        with pytest.raises(RegistryUnavailable) as caught:
            partners.db("reg1", deadline=Deadline.after(10))
        return caught.value

    with ThreadPoolExecutor(6) as pool:
        raised = list(pool.map(first_use, range(6)))
    assert faults.registry_reads == 1
    assert len({id(e) for e in raised}) == 6
    assert len({str(e) for e in raised}) == 1 and "'reg1'" in str(raised[0])


def test_isolation_under_threads_with_registry_partners(
    faults: RegistryFaults, moto: MotoServer, clock: FakeClock
) -> None:
    partners = make_partners(clock)
    per_partner = 12

    def write(n: int) -> None:
        partner = REGISTRY_PARTNERS[n % len(REGISTRY_PARTNERS)]
        db = partners.db(partner.partner_id, deadline=Deadline.after(20))
        db.model(Order)(id=f"o-{n}", customer="c", amount=n, owner=partner.partner_id).save()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(per_partner * len(REGISTRY_PARTNERS))))
    for partner in REGISTRY_PARTNERS:
        items = scan_items(partner.table_prefix + "orders", partner.account_id, moto.url)
        assert len(items) == per_partner
        assert {i["owner"]["S"] for i in items} == {partner.partner_id}
    assert faults.registry_reads == len(REGISTRY_PARTNERS)


@pytest.mark.parametrize("mode", ["hang", "refuse", "throttle"])
def test_a_failed_id_backs_off_instead_of_reading_on_every_call(
    faults: RegistryFaults, clock: FakeClock, mode: str
) -> None:
    faults.mode = mode
    partners = make_partners(clock, timeout=0.5, failure_backoff=5)
    cache = partners.registry
    assert cache is not None
    with pytest.raises(RegistryUnavailable):
        partners.db("reg1", deadline=Deadline.after(10))
    first = faults.registry_reads
    assert first >= 1 and cache.stats.reads == 1
    for _ in range(5):  # within the back-off: answered at once, no read
        with pytest.raises(RegistryUnavailable, match="back-off") as caught:
            partners.db("reg1", deadline=Deadline.after(10))
        assert not isinstance(caught.value, UnknownPartner)
    assert faults.registry_reads == first and cache.stats.backed_off == 5
    clock.advance(seconds=5.1)  # back-off over: one read again, still failing
    with pytest.raises(RegistryUnavailable):
        partners.db("reg1", deadline=Deadline.after(10))
    with pytest.raises(RegistryUnavailable, match="back-off"):
        partners.db("reg1", deadline=Deadline.after(10))
    second = faults.registry_reads  # botocore may retry a throttled read within it
    assert cache.stats.reads == 2 and second > first
    faults.mode = "forward"
    clock.advance(seconds=5.1)
    assert partners.db("reg1", deadline=Deadline.after(10)).partner_id == "reg1"
    assert cache.stats.reads == 3 and faults.registry_reads == second + 1


@pytest.mark.parametrize("mode", ["hang", "refuse"])
def test_an_outage_opens_a_registry_wide_circuit_for_uncached_ids(
    faults: RegistryFaults, clock: FakeClock, mode: str
) -> None:
    partners = make_partners(clock, timeout=0.5, failure_backoff=5, circuit_failures=3)
    cache = partners.registry
    assert cache is not None
    partners.db("reg0")  # cached before the outage
    faults.mode = mode
    clock.advance(seconds=301)  # reg0 past its TTL, still within max_stale
    reads = faults.registry_reads
    for n in range(100):
        with pytest.raises(RegistryUnavailable):
            partners.db(f"outage{n}", deadline=Deadline.after(10))
    assert faults.registry_reads - reads == 3  # three failed reads open the circuit
    assert cache.stats.backed_off == 97 and cache.stats.circuit_opened == 1
    assert partners.db("reg0").partner_id == "reg0"  # stale-if-error, without a read
    assert faults.registry_reads - reads == 3 and cache.stats.stale_served == 1
    clock.advance(seconds=5.1)  # one probe read, still failing: the circuit stays open
    for n in range(10):
        with pytest.raises(RegistryUnavailable):
            partners.db(f"later{n}", deadline=Deadline.after(10))
    assert faults.registry_reads - reads == 4
    faults.mode = "forward"
    clock.advance(seconds=5.1)  # the probe succeeds (an unknown id) and closes the circuit
    with pytest.raises(UnknownPartner):
        partners.db("later0", deadline=Deadline.after(10))
    assert partners.db("reg1", deadline=Deadline.after(10)).partner_id == "reg1"
    assert faults.registry_reads - reads == 6


def test_a_zero_failure_backoff_reads_on_every_call(
    faults: RegistryFaults, clock: FakeClock
) -> None:
    faults.mode = "refuse"
    partners = make_partners(clock, failure_backoff=0)
    for _ in range(8):
        with pytest.raises(RegistryUnavailable):
            partners.db("reg1", deadline=Deadline.after(10))
    assert faults.registry_reads == 8


def test_the_failure_memory_is_bounded_by_the_cache_size(
    faults: RegistryFaults, clock: FakeClock
) -> None:
    """Only the `cache_size` most recent failed ids are remembered: an older one is read
    again within its back-off, a recent one is not (counted at the fault server)."""
    faults.mode = "refuse"
    partners = make_partners(clock, cache_size=8, circuit_failures=1000)
    for n in range(20):
        with pytest.raises(RegistryUnavailable):
            partners.db(f"gone{n}")
    assert faults.registry_reads == 20
    for n in range(12, 20):  # the 8 remembered: backing off, no read
        with pytest.raises(RegistryUnavailable, match="back-off"):
            partners.db(f"gone{n}")
    assert faults.registry_reads == 20
    with pytest.raises(RegistryUnavailable):
        partners.db("gone0")  # forgotten: read again
    assert faults.registry_reads == 21
