"""The partner registry against moto in server mode (DynamoDB, SSM, STS), the table also against
DynamoDB Local (`make test-ddblocal`): reads per TTL, changes picked up, disabled partners,
malformed entries, and redaction of registry ExternalIds."""

from __future__ import annotations

import logging
import sys
import threading

import pytest

from emulators.fault_server import FaultServer, Reply
from emulators.moto_server import MotoServer
from handler_sdk import with_partner_db
from local.registry_seed import (
    REGISTRY_SSM_PATH,
    REGISTRY_TABLE,
    create_registry_table,
    entry_of,
    put_ssm_entry,
    put_table_entry,
)
from local.seed import PartnerAccount, create_table_for
from partnerdb import (
    ConfigError,
    Deadline,
    DynamoDBRegistry,
    InvalidPartnerId,
    Partners,
    RegistryEntryInvalid,
    RegistrySettings,
    RegistryStats,
    SsmRegistry,
    UnknownPartner,
    redact_secrets,
)
from partnerdb.registry import registry_settings_from_env
from tests.core.conftest import (
    ACME,
    GLOBEX,
    INITECH,
    fresh_initech,
    partner_calls,
    registry_partners,
)
from tests.core.models import Order
from tests.support import FakeClock, FakeContext


@pytest.mark.ddblocal
def test_first_use_reads_once_and_assumes_with_registry_external_id(
    table_registry: DynamoDBRegistry, moto: MotoServer, clock: FakeClock
) -> None:
    partners = registry_partners(table_registry, clock)
    assert partners.registry is not None and partners.registry.stats.reads == 0
    for n in range(5):
        partners.db("INITECH", deadline=Deadline.after(10)).model(Order)(
            id=f"o-{n}", customer="c", amount=n
        ).save()
    assert partners.registry.stats.reads == 1
    assert partners.registry.stats.hits == 4
    calls = partner_calls(moto, INITECH.account_id)
    assert [c["external_id"] for c in calls] == [INITECH.external_id]


@pytest.mark.ddblocal
def test_ttl_expiry_picks_up_a_new_external_id(
    table_registry: DynamoDBRegistry, moto: MotoServer, clock: FakeClock
) -> None:
    initech = fresh_initech(moto)
    partners = registry_partners(table_registry, clock, ttl=300)
    partners.db("initech").model(Order).count()
    put_table_entry(moto.url, entry_of(initech, external_id="initech-rotated-id-0042"))
    clock.advance(seconds=299)
    partners.db("initech").model(Order).count()  # still the cached entry and session
    assert len(partner_calls(moto, INITECH.account_id)) == 1
    clock.advance(seconds=2)
    partners.db("initech").model(Order).count()
    calls = partner_calls(moto, INITECH.account_id)
    assert [c["external_id"] for c in calls] == [initech.external_id, "initech-rotated-id-0042"]
    assert partners.registry is not None and partners.registry.stats.reads == 2
    assert redact_secrets("x initech-rotated-id-0042 y") == "x *** y"
    assert initech.external_id in redact_secrets(f"old {initech.external_id}")


def test_changed_table_prefix_rebinds_models(
    table_registry: DynamoDBRegistry, moto: MotoServer, clock: FakeClock
) -> None:
    partners = registry_partners(table_registry, clock, ttl=60)
    old = partners.db("initech").model(Order)
    old(id="before", customer="c", amount=1).save()
    moved = PartnerAccount(INITECH.partner_id, INITECH.account_id, INITECH.external_id, "v2_")
    create_table_for(Order, moved, moto.url)
    put_table_entry(moto.url, entry_of(INITECH, table_prefix="v2_"))
    clock.advance(seconds=61)
    new = partners.db("initech").model(Order)
    assert new is not old and new.Meta.table_name == "v2_orders"
    assert new.count() == 0 and old.count() == 1


def test_disabled_partner_is_unknown_after_ttl_and_credentials_dropped(
    table_registry: DynamoDBRegistry, moto: MotoServer, clock: FakeClock
) -> None:
    initech = fresh_initech(moto)
    partners = registry_partners(table_registry, clock, ttl=300)
    partners.db("initech").model(Order).count()
    assert "initech" in partners.cached_partner_ids()
    put_table_entry(moto.url, entry_of(initech, status="disabled"))
    clock.advance(seconds=301)
    with pytest.raises(UnknownPartner):
        partners.db("initech")
    assert "initech" not in partners.cached_partner_ids()
    assert initech.external_id in redact_secrets(initech.external_id)
    # enabling it again serves it after the negative TTL, with a fresh AssumeRole
    put_table_entry(moto.url, entry_of(INITECH))
    clock.advance(seconds=61)
    partners.db("initech").model(Order).count()
    assert len(partner_calls(moto, INITECH.account_id)) == 2


def test_an_entry_read_again_unchanged_still_leaves_the_redactor_when_disabled(
    table_registry: DynamoDBRegistry, moto: MotoServer, clock: FakeClock
) -> None:
    """Each re-read after the TTL stores the entry again; the redactor must count it once."""
    initech = fresh_initech(moto)
    partners = registry_partners(table_registry, clock, ttl=300)
    for _ in range(3):
        partners.db("initech").model(Order).count()
        clock.advance(seconds=301)
    assert partners.registry is not None and partners.registry.stats.reads == 3
    put_table_entry(moto.url, entry_of(initech, status="disabled"))
    with pytest.raises(UnknownPartner):
        partners.db("initech")
    assert redact_secrets(initech.external_id) == initech.external_id


def test_unknown_ids_are_cached_for_the_negative_ttl(
    table_registry: DynamoDBRegistry, clock: FakeClock
) -> None:
    partners = registry_partners(table_registry, clock, negative_ttl=60)
    cache = partners.registry
    assert cache is not None
    for _ in range(3):
        with pytest.raises(UnknownPartner, match="not active in registry dynamodb:partnerdb-"):
            partners.db("nobody")
    assert cache.stats.reads == 1
    clock.advance(seconds=61)
    with pytest.raises(UnknownPartner):
        partners.db("nobody")
    assert cache.stats.reads == 2


@pytest.mark.parametrize("bad", ["", "../etc", "a" * 65, "has space", "ünï"])
def test_invalid_ids_never_cause_a_read(
    table_registry: DynamoDBRegistry, clock: FakeClock, bad: str
) -> None:
    partners = registry_partners(table_registry, clock)
    with pytest.raises(InvalidPartnerId):
        partners.db(bad)
    assert partners.registry is not None and partners.registry.stats.reads == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"role_arn": "arn:aws:iam::12:role/x"}, "role_arn"),
        ({"external_id": ""}, "external_id"),
        ({"external_id": "bad id with spaces"}, "external_id"),
        ({"region": "mars-1"}, "region"),
        ({"status": "paused"}, "status"),
        ({"table_prefix": "no spaces allowed"}, "table_prefix"),
        ({"role_arn": {"N": "1"}}, "role_arn"),
    ],
)
def test_malformed_entries_name_the_field_never_the_external_id(
    table_registry: DynamoDBRegistry,
    moto: MotoServer,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    changes: dict[str, object],
    field: str,
) -> None:
    put_table_entry(moto.url, {**entry_of(INITECH), **changes})  # type: ignore[dict-item]
    partners = registry_partners(table_registry, clock, ttl=300)
    with caplog.at_level(logging.ERROR, logger="partnerdb.registry"):
        for _ in range(3):
            with pytest.raises(RegistryEntryInvalid) as caught:
                partners.db("initech")
            assert caught.value.field == field and "'initech'" in str(caught.value)
            assert INITECH.external_id not in str(caught.value)
        clock.advance(seconds=301)
        with pytest.raises(RegistryEntryInvalid):
            partners.db("initech")
    logged = [r for r in caplog.records if r.name == "partnerdb.registry"]
    assert len(logged) == 2  # once per TTL
    assert all(INITECH.external_id not in r.getMessage() for r in logged)
    assert partner_calls(moto, INITECH.account_id) == []


def test_ssm_registry_reads_secure_string_once(moto: MotoServer, clock: FakeClock) -> None:
    put_ssm_entry(moto.url, "initech", entry_of(INITECH))
    create_table_for(Order, INITECH, moto.url)
    partners = registry_partners(SsmRegistry(path=REGISTRY_SSM_PATH), clock)
    for _ in range(3):
        assert partners.db("initech").model(Order).count() == 0
    assert partners.registry is not None and partners.registry.stats.reads == 1
    calls = partner_calls(moto, INITECH.account_id)
    assert [c["external_id"] for c in calls] == [INITECH.external_id]
    with pytest.raises(UnknownPartner):
        partners.db("nobody")


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("{not json", "value"),
        ("[1]", "value"),
        ('{"role_arn": "x", "external_id": "abcdefgh"}', "role_arn"),
    ],
)
def test_ssm_malformed_values(moto: MotoServer, clock: FakeClock, value: str, field: str) -> None:
    put_ssm_entry(moto.url, "initech", value)
    partners = registry_partners(SsmRegistry(path=REGISTRY_SSM_PATH), clock)
    with pytest.raises(RegistryEntryInvalid) as caught:
        partners.db("initech")
    assert caught.value.field == field


def test_from_env_picks_up_the_registry_and_env_wins(
    table_registry: DynamoDBRegistry,
    moto: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GLOBEX is both in env and (with another ExternalId) in the registry: env wins.
    put_table_entry(moto.url, entry_of(GLOBEX, external_id="registry-globex-id-1"))
    create_table_for(Order, GLOBEX, moto.url)
    for key, value in GLOBEX.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PARTNERDB_REGISTRY_TABLE", REGISTRY_TABLE)
    monkeypatch.setenv("PARTNERDB_REGISTRY_TTL", "30")
    with caplog.at_level(logging.INFO, logger="partnerdb"):
        partners = Partners.from_env()
    assert partners.registry is not None and partners.registry.settings.ttl == 30
    precedence = [r.getMessage() for r in caplog.records if "precedence" in r.getMessage()]
    assert len(precedence) == 1 and "globex" in precedence[0]
    assert GLOBEX.external_id not in precedence[0] and GLOBEX.role_arn not in precedence[0]
    partners.db("globex").model(Order).count()
    partners.db("initech").model(Order).count()
    assert partners.registry.stats.reads == 1  # globex never read
    calls = {c["role_arn"]: c["external_id"] for c in moto.sts_assume_role_calls()}
    assert calls[GLOBEX.role_arn] == GLOBEX.external_id


def test_from_env_rejects_both_registries_and_bad_settings(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARTNERDB_REGISTRY_TABLE", REGISTRY_TABLE)
    monkeypatch.setenv("PARTNERDB_REGISTRY_SSM_PATH", REGISTRY_SSM_PATH)
    with pytest.raises(ConfigError, match="PARTNERDB_REGISTRY_SSM_PATH"):
        Partners.from_env()
    monkeypatch.delenv("PARTNERDB_REGISTRY_SSM_PATH")
    monkeypatch.setenv("PARTNERDB_REGISTRY_NEGATIVE_TTL", "soon")
    with pytest.raises(ConfigError, match="PARTNERDB_REGISTRY_NEGATIVE_TTL"):
        Partners.from_env()
    monkeypatch.setenv("PARTNERDB_REGISTRY_NEGATIVE_TTL", "0")
    with pytest.raises(ConfigError, match="PARTNERDB_REGISTRY_NEGATIVE_TTL"):
        Partners.from_env()
    monkeypatch.delenv("PARTNERDB_REGISTRY_NEGATIVE_TTL")
    for bad in ("-1", "later", "3601"):
        monkeypatch.setenv("PARTNERDB_REGISTRY_FAILURE_BACKOFF", bad)
        with pytest.raises(ConfigError, match="PARTNERDB_REGISTRY_FAILURE_BACKOFF"):
            Partners.from_env()
    monkeypatch.setenv("PARTNERDB_REGISTRY_FAILURE_BACKOFF", "2.5")
    monkeypatch.setenv("PARTNERDB_REGISTRY_CIRCUIT_FAILURES", "0")
    with pytest.raises(ConfigError, match="PARTNERDB_REGISTRY_CIRCUIT_FAILURES"):
        Partners.from_env()
    monkeypatch.setenv("PARTNERDB_REGISTRY_CIRCUIT_FAILURES", "12")
    partners = Partners.from_env()
    assert partners.registry is not None
    assert partners.registry.settings.failure_backoff == 2.5
    assert partners.registry.settings.circuit_failures == 12
    assert registry_settings_from_env(failure_backoff=0).failure_backoff == 0  # argument wins
    with pytest.raises(ConfigError, match="PARTNERDB_REGISTRY_CIRCUIT_FAILURES"):
        RegistrySettings(circuit_failures=0)  # settings built in code are checked too
    monkeypatch.setenv("PARTNERDB_REGISTRY_TABLE", "x")
    with pytest.raises(ConfigError, match="PARTNERDB_REGISTRY_TABLE"):
        Partners.from_env()


def test_without_a_registry_unknown_partners_stay_unknown(accounts: object) -> None:
    partners = Partners.from_env()
    assert partners.registry is None
    with pytest.raises(UnknownPartner):
        partners.db("initech")
    assert ACME.partner_id in partners.partner_ids


@pytest.mark.slow
def test_ten_thousand_unknown_ids_make_bounded_reads_and_memory(
    moto: MotoServer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each distinct unknown id is read once, the cache never grows past its size, and a
    second pass within the negative TTL only re-reads evicted ids. The registry here is the
    project's fault server answering every GetItem with no item (moto takes ~9 ms a read);
    it counts the reads it received, independently of partnerdb's own counter."""
    def no_item(path: str, headers: dict[str, str], body: bytes) -> Reply:
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, b"{}"

    with FaultServer(no_item) as registry:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", registry.url)
        partners = registry_partners(
            DynamoDBRegistry(table=REGISTRY_TABLE), clock, cache_size=512, negative_ttl=60
        )
        cache = partners.registry
        assert cache is not None
        largest = 0
        for n in range(10_000):
            with pytest.raises(UnknownPartner):
                partners.db(f"stranger_{n}")
            largest = max(largest, len(cache))
        assert cache.stats.reads == registry.requests == 10_000
        assert largest == 512 and cache.stats.evictions == 10_000 - 512
        for n in range(10_000 - 512, 10_000):  # the ones still cached: no read
            with pytest.raises(UnknownPartner):
                partners.db(f"stranger_{n}")
        with pytest.raises(UnknownPartner):
            partners.db("stranger_0")  # evicted: read again
        assert cache.stats.reads == registry.requests == 10_001
    assert partners.cached_partner_ids() == []


@pytest.mark.parametrize("kind", ["dynamodb", "ssm"])
def test_registry_reads_logged_by_botocore_never_show_the_external_id(
    moto: MotoServer, clock: FakeClock, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    """botocore logs the GetItem / GetParameter response body at DEBUG, before partnerdb knows
    the value is a secret: the redactor must recognise the field there."""
    secret = f"{kind}-registry-secret-4242"  # never seen before in this process
    entry = entry_of(INITECH, external_id=secret)
    registry: DynamoDBRegistry | SsmRegistry
    if kind == "dynamodb":
        create_registry_table(moto.url)
        put_table_entry(moto.url, entry)
        registry = DynamoDBRegistry(table=REGISTRY_TABLE)
    else:
        put_ssm_entry(moto.url, "initech", entry)
        registry = SsmRegistry(path=REGISTRY_SSM_PATH)
    partners = registry_partners(registry, clock)
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        partners.db("initech")
    assert any("Response body" in r.getMessage() for r in caplog.records)
    assert secret not in caplog.text
    assert "initech" in caplog.text  # the rest of the body is still there


def test_sdk_answers_502_for_a_malformed_entry_and_403_for_a_disabled_one(
    table_registry: DynamoDBRegistry, moto: MotoServer, clock: FakeClock
) -> None:
    partners = registry_partners(table_registry, clock, ttl=300, negative_ttl=60)

    @with_partner_db(partners=partners)
    def handler(event: dict[str, object], context: object, db: object) -> str:
        return "served"

    event = {"partnerId": "initech", "action": "x", "data": {}}
    put_table_entry(moto.url, entry_of(INITECH, region="nowhere"))
    response = handler(event, FakeContext())
    assert response["status"] == 502 and INITECH.external_id not in str(response)
    put_table_entry(moto.url, entry_of(INITECH, status="disabled"))
    clock.advance(seconds=301)
    assert handler(event, FakeContext())["status"] == 403


def test_registry_stats_snapshot_is_taken_under_the_update_lock() -> None:
    """Two counters bumped in one update never differ in a snapshot, even with the thread
    switch interval made tiny so a snapshot read field by field would be torn."""
    stats = RegistryStats()
    updates = 50_000
    done = threading.Event()

    def bump() -> None:
        for _ in range(updates):
            stats.increment(reads=1, failures=1)
        done.set()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    torn = 0
    try:
        writer = threading.Thread(target=bump)
        writer.start()
        for _ in range(50 * updates):  # bounded; reads for as long as the writer writes
            snap = stats.snapshot()
            torn += snap["reads"] != snap["failures"]
            if done.is_set():
                break
        writer.join(timeout=30)
    finally:
        sys.setswitchinterval(interval)
    assert torn == 0
    assert stats.snapshot()["reads"] == stats.snapshot()["failures"] == updates
    with pytest.raises(TypeError, match="bogus"):
        stats.increment(bogus=1)
