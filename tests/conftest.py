"""Shared fixtures: one moto server on 127.0.0.1 per session, reset before every test.

Every test that touches AWS talks real HTTP to it through `AWS_ENDPOINT_URL`; nothing is
patched in-process. The function's own (home) credentials are moto's test keys in account
123456789012; partner accounts exist only through the roles tests assume.

Under `python -m emulators.ddblocal -- pytest ...` (`make test-ddblocal`), `TEST_DYNAMODB_ENDPOINT`
holds AWS's DynamoDB Local: tests marked `ddblocal` then send DynamoDB there (STS and IAM stay
on moto) and start with no table in it; every other test stays on moto entirely. Without the
variable, `-m ddblocal` only selects tests and they run against moto like the rest.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import os
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from emulators.ddblocal import ENDPOINT_ENV
from emulators.moto_server import MotoServer, start_moto

HOME_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIAHOMEFUNCTIONKEY0",
    "AWS_SECRET_ACCESS_KEY": "home-function-secret-key-never-logged",
    "AWS_SESSION_TOKEN": "home-function-session-token-never-logged",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}

#: DynamoDB Local's URL when the run goes through `python -m emulators.ddblocal`, read once here,
#: before any fixture edits the environment (it does not start with AWS_, so it survives them).
DDBLOCAL_ENDPOINT = os.environ.get(ENDPOINT_ENV) or None
#: Bounds on clearing DynamoDB Local before a test.
_MAX_TABLE_PAGES = 50


def pytest_report_header(config: pytest.Config) -> str:
    """Say which DynamoDB the `ddblocal` tests run against."""
    if DDBLOCAL_ENDPOINT:
        return (
            f"dynamodb: tests marked ddblocal use DynamoDB Local at {DDBLOCAL_ENDPOINT}; "
            "STS, IAM and all other tests use moto"
        )
    return f"dynamodb: moto for every test (no ${ENDPOINT_ENV}; make test-ddblocal sets it)"


def _ddblocal_client(endpoint: str) -> Any:
    """A plain client of DynamoDB Local (one shared database: any credentials will do)."""
    return botocore.session.get_session().create_client(
        "dynamodb",
        "us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="ddblocalcleanup",
        aws_secret_access_key="ddblocalcleanup",
        config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 2}),
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    """With an endpoint set, check once that it answers; stop the run at once if not."""
    if not DDBLOCAL_ENDPOINT:
        return  # `-m ddblocal` alone only selects tests: they run against moto
    try:
        _ddblocal_client(DDBLOCAL_ENDPOINT).list_tables(Limit=1)
    except (BotoCoreError, ClientError) as err:
        pytest.exit(
            f"{ENDPOINT_ENV}={DDBLOCAL_ENDPOINT} does not answer as DynamoDB: {err}", returncode=3
        )


@pytest.fixture(scope="session")
def ddblocal_client() -> Any:
    """A plain DynamoDB Local client for the session, or None when the run uses moto only."""
    return _ddblocal_client(DDBLOCAL_ENDPOINT) if DDBLOCAL_ENDPOINT else None


def delete_all_tables(client: Any) -> list[str]:
    """Delete every table DynamoDB Local holds (bounded in pages); return their names."""
    names: list[str] = []
    start: dict[str, str] = {}
    for _ in range(_MAX_TABLE_PAGES):
        page = client.list_tables(**start)
        names.extend(page["TableNames"])
        if "LastEvaluatedTableName" not in page:
            break
        start = {"ExclusiveStartTableName": page["LastEvaluatedTableName"]}
    else:
        raise RuntimeError(f"DynamoDB Local lists over {_MAX_TABLE_PAGES} pages of tables")
    for name in names:
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            client.delete_table(TableName=name)
    return names


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run each (synchronous) test function in a copy of the context.

    A test that leaves a PartnerDB open (no `with`, no `close()`) leaves its deadline current
    in the context it ran in, as the API says; in a copy, the next test does not inherit it
    (an inherited deadline that expires mid-test fails an unrelated call, depending on timing).
    """
    function = pyfuncitem.obj
    if inspect.iscoroutinefunction(function):
        return None
    names = inspect.signature(function).parameters
    args = {name: value for name, value in pyfuncitem.funcargs.items() if name in names}
    contextvars.copy_context().run(function, **args)
    return True


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = start_moto()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _dynamodb_local_only_where_marked(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hide the endpoint from tests not marked ddblocal, so they (and `local.seed`, and any
    process they start) stay on moto even when the whole suite runs under emulators.ddblocal."""
    if DDBLOCAL_ENDPOINT and request.node.get_closest_marker("ddblocal") is None:
        monkeypatch.delenv(ENDPOINT_ENV, raising=False)


@pytest.fixture
def moto(
    moto_server: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    ddblocal_client: Any,
) -> MotoServer:
    """A clean moto server with the environment pointing at it and no partner configured.

    In a test marked ddblocal under `make test-ddblocal`, DynamoDB points at DynamoDB Local
    instead (`AWS_ENDPOINT_URL_DYNAMODB`), emptied of every table first.
    """
    moto_server.reset()
    for key in list(os.environ):
        if key.startswith(("PARTNER_", "PARTNERDB_", "AWS_")):
            monkeypatch.delenv(key, raising=False)
    for key, value in HOME_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    if DDBLOCAL_ENDPOINT and request.node.get_closest_marker("ddblocal") is not None:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", DDBLOCAL_ENDPOINT)
        delete_all_tables(ddblocal_client)
    return moto_server
