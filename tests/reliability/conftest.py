"""Reliability-suite fixtures: the payments app, rigs of fault servers, and the secrets sweep.

Every test here runs with the root logger at DEBUG (botocore's request, signing and response
logs included) and its log records, stdout and stderr go to the session's `collector`, with the
responses the tests received. `test_zz_secrets.py` runs last and searches all of it; a session
finalizer searches again whatever was collected after it, so a reordered run still fails loudly.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

from emulators.fault_server import FaultServer, forward_to
from emulators.moto_server import MotoServer
from handler_sdk import decorator
from local.seed import PartnerAccount
from partnerdb import ClientSettings, Partners
from tests.conftest import HOME_ENV
from tests.reliability.support import (
    ACME,
    Collector,
    PaymentsRig,
    Recorder,
)
from tests.support import create_tables, load_function

_LOG_FORMAT = logging.Formatter("%(name)s %(levelname)s %(message)s")


@pytest.fixture(scope="session")
def collector() -> Iterator[Collector]:
    """The session's record of logs, output and responses, and of the secrets to look for.

    An empty `Partners` is built first, with the function's (home) credentials in the
    environment, as a function's import would: partnerdb's redaction filter is then installed
    before the harness's own botocore calls log anything. pytest's log handlers are on the root
    logger by then, as awslambdaric's is in Lambda, so they get the filter too: the records the
    sweep reads are what a Lambda log would hold.
    """
    with pytest.MonkeyPatch.context() as patch:
        for key, value in HOME_ENV.items():
            patch.setenv(key, value)
        Partners([], settings=ClientSettings())
    found = Collector()
    found.add_secret("home AWS_SECRET_ACCESS_KEY", HOME_ENV["AWS_SECRET_ACCESS_KEY"])
    found.add_secret("home AWS_SESSION_TOKEN", HOME_ENV["AWS_SESSION_TOKEN"])
    found.add_access_key_id("home AWS_ACCESS_KEY_ID", HOME_ENV["AWS_ACCESS_KEY_ID"])
    yield found
    late = found.leaks(found.secrets, start=found.checked)
    if late:
        raise AssertionError(
            "secrets leaked after (or without) the final sweep of test_zz_secrets.py:\n"
            + "\n".join(sorted(set(late)))
        )


@pytest.fixture(autouse=True)
def _capture_everything(
    collector: Collector,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> Iterator[None]:
    """DEBUG logging on for the test; its records and output go to the collector after."""
    caplog.set_level(logging.DEBUG)
    yield
    records = [*caplog.get_records("setup"), *caplog.get_records("call")]
    text = "\n".join(_LOG_FORMAT.format(record) for record in records)
    out, err = capsys.readouterr()
    where = request.node.nodeid
    collector.add_text(f"{where} [logs]", text)
    collector.add_text(f"{where} [stdout/stderr]", out + err)
    collector.snapshot_sts(where)


@pytest.fixture(scope="session")
def payments_app() -> ModuleType:
    """functions/payments/app.py, imported once (as `functions.payments.app`).

    app.py decorates its router with the process-wide default `Partners.from_env()` at import;
    that happens here with no partner configured and on a throwaway default, so no other suite's
    process-wide state changes. Tests decorate `app.router` with a `Partners` of their own.
    """
    with pytest.MonkeyPatch.context() as patch:
        for key in list(os.environ):
            if key.startswith(("PARTNER_", "PARTNERDB_")) or key in (
                "AWS_LAMBDA_FUNCTION_NAME",
                "_X_AMZN_TRACE_ID",
            ):
                patch.delenv(key)
        patch.setenv("AWS_REGION", "us-east-1")
        patch.setattr(decorator, "_default_partners", decorator._DefaultPartners())
        patch.setattr(decorator, "_cold_start", decorator._cold_start)
        return load_function("payments")


RigFactory = Callable[..., PaymentsRig]


@pytest.fixture
def make_rig(
    moto: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    payments_app: ModuleType,
    collector: Collector,
    request: pytest.FixtureRequest,
) -> Iterator[RigFactory]:
    """Build a `PaymentsRig`: partners configured and their tables created in moto, STS and
    DynamoDB each behind a recording FaultServer that forwards to moto."""
    rigs: list[PaymentsRig] = []
    started: list[FaultServer] = []

    def build(
        accounts: list[PartnerAccount] | None = None,
        *,
        tables: bool = True,
        sts_url: str | None = None,
        **options: Any,
    ) -> PaymentsRig:
        chosen = accounts or [ACME]
        for account in chosen:
            collector.add_partner(account)
            for key, value in account.env().items():
                monkeypatch.setenv(key, value)
            if tables:
                create_tables(payments_app.MODELS, account, moto.url)
        sts_recorder = Recorder(forward_to(moto.url))
        dynamodb_recorder = Recorder(forward_to(moto.url))
        sts = FaultServer(sts_recorder).start()
        started.append(sts)
        dynamodb = FaultServer(dynamodb_recorder).start()
        started.append(dynamodb)
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts_url or sts.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url)
        rig = PaymentsRig(
            payments_app,
            moto.url,
            chosen,
            sts,
            sts_recorder,
            dynamodb,
            dynamodb_recorder,
            collector,
            request.node.nodeid,
            **options,
        )
        rigs.append(rig)
        return rig

    yield build
    restarted = [s for rig in rigs for s in rig.servers if s not in started]
    for server in started + restarted:
        server.stop()
