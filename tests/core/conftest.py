"""Two partner accounts in moto with their tables, and a Partners built from the environment."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from emulators.moto_server import MotoServer
from local.seed import PartnerAccount, create_table_for
from partnerdb import Partners
from tests.core.models import Ledger, Order
from tests.support import FakeClock

ACME = PartnerAccount("acme", "111111111111", "acme-external-id-7f3a9")
GLOBEX = PartnerAccount("globex", "222222222222", "globex-external-id-19bc2", table_prefix="gx_")
HOME_ACCOUNT = "123456789012"


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
