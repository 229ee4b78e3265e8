"""Shared fixtures: one moto server on 127.0.0.1 per session, reset before every test.

Every test that touches AWS talks real HTTP to it through `AWS_ENDPOINT_URL`; nothing is
patched in-process. The function's own (home) credentials are moto's test keys in account
123456789012; partner accounts exist only through the roles tests assume.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from local.moto_server import MotoServer, start_moto

HOME_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIAHOMEFUNCTIONKEY0",
    "AWS_SECRET_ACCESS_KEY": "home-function-secret-key-never-logged",
    "AWS_SESSION_TOKEN": "home-function-session-token-never-logged",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = start_moto()
    yield server
    server.stop()


@pytest.fixture
def moto(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """A clean moto server with the environment pointing at it and no partner configured."""
    moto_server.reset()
    for key in list(os.environ):
        if key.startswith(("PARTNER_", "PARTNERDB_", "AWS_")):
            monkeypatch.delenv(key, raising=False)
    for key, value in HOME_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    return moto_server
