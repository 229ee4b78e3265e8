"""Two partner accounts in moto with their tables, and a Partners built from the environment."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Callable

import pytest

from emulators.moto_server import MotoServer
from local.registry_seed import REGISTRY_TABLE, create_registry_table, entry_of, put_table_entry
from local.seed import ROLE_NAME, PartnerAccount, create_table_for
from partnerdb import DynamoDBRegistry, Partners, RegistrySettings
from tests.core.models import Ledger, Order
from tests.support import FakeClock

ACME = PartnerAccount("acme", "111111111111", "acme-external-id-7f3a9")
GLOBEX = PartnerAccount("globex", "222222222222", "globex-external-id-19bc2", table_prefix="gx_")
HOME_ACCOUNT = "123456789012"
#: a partner served from the registry only (`table_registry`)
INITECH = PartnerAccount("initech", "333333333333", "initech-external-id-55aa1", table_prefix="in_")


@pytest.fixture
def accounts(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> list[PartnerAccount]:
    """ACME and GLOBEX configured in the environment, each with its tables in its account."""
    for partner in (ACME, GLOBEX):
        for key, value in partner.env().items():
            monkeypatch.setenv(key, value)
        for model in (Order, Ledger):
            create_table_for(model, partner, moto.url)
    return [ACME, GLOBEX]


@pytest.fixture
def partners(accounts: list[PartnerAccount]) -> Partners:
    p = Partners.from_env()
    p.register_models(Order, Ledger)
    return p


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


ClockFactory = Callable[[], FakeClock]


@pytest.fixture
def no_endpoint_override(monkeypatch: pytest.MonkeyPatch) -> None:
    """No endpoint override, data path or profile: botocore resolves endpoints as on AWS
    (for tests that capture requests before they are sent)."""
    for key in list(os.environ):
        if key.startswith("AWS_ENDPOINT_URL") or key in ("AWS_DATA_PATH", "AWS_PROFILE"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)


@pytest.fixture
def table_registry(moto: MotoServer) -> DynamoDBRegistry:
    """The registry table in the home account, holding INITECH; its tables in its account."""
    create_registry_table(moto.url)
    put_table_entry(moto.url, entry_of(INITECH))
    create_table_for(Order, INITECH, moto.url)
    return DynamoDBRegistry(table=REGISTRY_TABLE)


def registry_partners(registry: object, clock: FakeClock, **settings: float) -> Partners:
    """Partners from `registry` only, cache timings from `settings`, on the injected clock."""
    return Partners(
        [], registry=registry, clock=clock, registry_settings=RegistrySettings(**settings)  # type: ignore[arg-type]
    )


def fresh_initech(moto: MotoServer) -> PartnerAccount:
    """INITECH under an ExternalId no other test registered: the redactor counts references
    across every `Partners` of the process, so a redaction test needs an id of its own."""
    account = dataclasses.replace(INITECH, external_id=f"initech-{uuid.uuid4().hex[:12]}")
    put_table_entry(moto.url, entry_of(account))
    return account


def partner_calls(moto: MotoServer, account: str) -> list[dict[str, str]]:
    """The AssumeRole calls moto's STS recorded for the partner role of `account`."""
    role = f"arn:aws:iam::{account}:role/{ROLE_NAME}"
    return [c for c in moto.sts_assume_role_calls() if c["role_arn"] == role]
