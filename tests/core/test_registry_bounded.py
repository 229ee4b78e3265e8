"""What the registry cache keeps between requests stays bounded: a cached malformed entry or a
failed read is raised afresh per request (a re-raised exception object grows its traceback,
and keeps every request's frames alive, for the whole TTL)."""

from __future__ import annotations

import traceback

import pytest

from emulators.moto_server import MotoServer
from local.registry_seed import entry_of, put_table_entry
from partnerdb import DynamoDBRegistry, RegistryEntryInvalid
from tests.core.conftest import INITECH, registry_partners
from tests.support import FakeClock

REQUESTS = 50


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
