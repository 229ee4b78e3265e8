"""What the registry cache keeps between requests stays bounded and serves the partners in use:
a cached malformed entry or a failed read is raised afresh per request (a re-raised exception
object grows its traceback, and keeps every request's frames alive, for the whole TTL); a
dropped partner's secrets leave the redactor; unknown ids never push active partners out; an
evicted partner's refused-role back-off stays."""

from __future__ import annotations

import traceback
import uuid

import pytest

from emulators.fault_server import FaultServer, sts_refuse
from emulators.moto_server import MotoServer
from local.registry_seed import entry_of, put_table_entry
from local.seed import PartnerAccount
from partnerdb import (
    Deadline,
    DynamoDBRegistry,
    PartnerRoleRefused,
    RegistryEntryInvalid,
    UnknownPartner,
    redact_secrets,
)
from partnerdb.redact import REDACTOR
from tests.core.conftest import INITECH, fresh_initech, partner_calls, registry_partners
from tests.core.models import Order
from tests.support import FakeClock

REQUESTS = 50
ROTATIONS = 8


def _depth(exc: BaseException) -> int:
    return len(traceback.extract_tb(exc.__traceback__))


def test_a_cached_malformed_entry_is_raised_afresh_each_time(
    table_registry: DynamoDBRegistry,
    moto: MotoServer,
    clock: FakeClock,
) -> None:
    put_table_entry(moto.url, {**entry_of(INITECH), "role_arn": "not-an-arn"})
    partners = registry_partners(table_registry, clock, ttl=300)
    raised: list[RegistryEntryInvalid] = []
    for _ in range(REQUESTS):
        with pytest.raises(RegistryEntryInvalid) as caught:
            partners.db("initech")
        raised.append(caught.value)
    assert partners.registry is not None and partners.registry.stats.reads == 1
    assert len({id(e) for e in raised}) == REQUESTS
    assert max(_depth(e) for e in raised) == _depth(raised[0])
    assert {str(e) for e in raised} == {str(raised[0])}
    assert {e.field for e in raised} == {"role_arn"}


def test_rotations_and_disables_leave_the_redactor_flat(
    table_registry: DynamoDBRegistry, moto: MotoServer, clock: FakeClock
) -> None:
    """Each rotation or disable drops the partner's session: its three secrets leave the
    redactor with it, as an evicted session's do (tests/core/test_redactor_size.py)."""
    initech = fresh_initech(moto)
    partners = registry_partners(table_registry, clock, ttl=300, negative_ttl=60)
    partners.db("initech").model(Order).count()
    settled = len(REDACTOR)
    for _ in range(ROTATIONS):
        put_table_entry(moto.url, entry_of(initech, status="disabled"))
        clock.advance(seconds=301)
        with pytest.raises(UnknownPartner):
            partners.db("initech")
        rotated = f"initech-rotated-{uuid.uuid4().hex[:12]}"
        put_table_entry(moto.url, entry_of(initech, external_id=rotated))
        clock.advance(seconds=61)
        partners.db("initech").model(Order).count()
        assert redact_secrets(f"x {rotated} y") == "x *** y"
    assert len(partner_calls(moto, INITECH.account_id)) == ROTATIONS + 1
    assert len(REDACTOR) == settled


def test_unknown_ids_never_push_an_active_partner_out(
    table_registry: DynamoDBRegistry, moto: MotoServer, clock: FakeClock
) -> None:
    """Ids anyone can send (unknown ones) are cached apart from the partners being served:
    a stream of them costs reads, never an active partner's cached entry and session."""
    partners = registry_partners(table_registry, clock, cache_size=4, negative_ttl=60)
    partners.db("initech").model(Order).count()
    for n in range(40):
        with pytest.raises(UnknownPartner):
            partners.db(f"stranger_{n}")
    partners.db("initech").model(Order).count()
    cache = partners.registry
    assert cache is not None and cache.stats.reads == 41
    assert len(partner_calls(moto, INITECH.account_id)) == 1
    assert partners.cached_partner_ids() == ["initech"]


def test_an_evicted_refused_partner_keeps_its_back_off(
    table_registry: DynamoDBRegistry,
    moto: MotoServer,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two refused registry partners through a registry cache of one: each evicts the
    other's entry (and session), never its back-off; STS is asked once per partner."""
    hooli = PartnerAccount("hooli", "444444444444", f"hooli-{uuid.uuid4().hex[:12]}")
    put_table_entry(moto.url, entry_of(hooli))
    with FaultServer(sts_refuse) as sts:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts.url)
        partners = registry_partners(table_registry, clock, cache_size=1)
        for pid in ("initech", "hooli", "initech", "hooli"):
            with pytest.raises(PartnerRoleRefused, match=pid):
                partners.db(pid, deadline=Deadline.after(5)).model(Order).count()
        assert sts.requests == 2
        cache = partners.registry
        assert cache is not None and cache.stats.evictions == 3 and cache.stats.reads == 4
