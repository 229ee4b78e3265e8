"""SDK test fixtures: two partner accounts in moto and sample events (the fake Lambda
context is `tests.support.FakeContext`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from emulators.fault_server import FaultServer, sts_error
from emulators.moto_server import MotoServer
from handler_sdk import decorator
from partnerdb import Partners
from tests.conftest import HOME_ENV
from tests.sdk.models import Payment

ROOT = Path(__file__).resolve().parents[2]
#: one invocation line as the Lambda runtime's text handler writes it
LINE = re.compile(
    r"\[(INFO|ERROR)\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t(?P<rid>[^\t]+)\t(?P<json>\{.*\})\n"
)
EVENTS = Path(__file__).parent / "events"
ACME_ROLE = "arn:aws:iam::111111111111:role/partnerdb"
GLOBEX_ROLE = "arn:aws:iam::222222222222:role/partnerdb"
ACME_EXTERNAL_ID = "acme-sdk-external-7d41c9a2"
GLOBEX_EXTERNAL_ID = "globex-sdk-external-b58e03f6"
PARTNER_ENV = {
    "PARTNER_ACME_ROLE_ARN": ACME_ROLE,
    "PARTNER_ACME_EXTERNAL_ID": ACME_EXTERNAL_ID,
    "PARTNER_GLOBEX_ROLE_ARN": GLOBEX_ROLE,
    "PARTNER_GLOBEX_EXTERNAL_ID": GLOBEX_EXTERNAL_ID,
    "PARTNER_GLOBEX_TABLE_PREFIX": "gx_",
}


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of a sample event from tests/sdk/events."""
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


@pytest.fixture
def env(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """ACME and GLOBEX configured; returns the environment a subprocess needs."""
    for key, value in PARTNER_ENV.items():
        monkeypatch.setenv(key, value)
    return {**HOME_ENV, **PARTNER_ENV, "AWS_ENDPOINT_URL": moto.url}


@pytest.fixture
def partners(env: dict[str, str]) -> Partners:
    """Partners from the environment with the payments table and p-1 in each account."""
    setup = Partners.from_env()
    setup.register_models(Payment)
    for pid, amount in (("acme", 10.5), ("globex", 99)):
        with setup.db(pid) as db:
            model = db.model(Payment)
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
            model(id="p-1", amount=amount, currency="EUR").save()
    return fresh_partners()


def fresh_partners() -> Partners:
    """New Partners (no STS call made yet) on the tables `partners` created."""
    return Partners.from_env()


@pytest.fixture
def default_partners(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the process-wide default Partners be built again from this test's environment."""
    monkeypatch.setattr(decorator, "_default_partners", decorator._DefaultPartners())


@pytest.fixture
def cold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the next invocation the process's first."""
    monkeypatch.setattr(decorator, "_cold_start", True)


def log_lines(source: str | pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The SDK's invocation lines: JSON lines of captured output, or the records pytest's
    logging capture received (the SDK's logger propagates to whatever is configured)."""
    if not isinstance(source, str):
        return [
            json.loads(record.getMessage())
            for record in source.records
            if record.name == "handler_sdk"
        ]
    lines = []
    for line in source.splitlines():
        start = line.find('{"timestamp"')  # after Lambda's text prefix, if any
        if start >= 0:
            parsed = json.loads(line[start:])
            if parsed.get("logger") == "handler_sdk":
                lines.append(parsed)
    return lines


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def secrets() -> list[str]:
    """Every secret that must never show: home keys, ExternalIds, what moto's STS issued."""
    from moto.sts.models import sts_backends

    found = [
        HOME_ENV["AWS_SECRET_ACCESS_KEY"],
        HOME_ENV["AWS_SESSION_TOKEN"],
        ACME_EXTERNAL_ID,
        GLOBEX_EXTERNAL_ID,
    ]
    for account in sts_backends.values():
        for backend in account.values():
            for role in backend.assumed_roles:
                found += [role.secret_access_key, role.session_token]
    return found


def run_python(
    code: str, env: dict[str, str], *, flags: Sequence[str] = (), timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter of this venv, from the repo root, with only `env`."""
    full = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, *flags, "-c", code],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def FakeSTS(status: int, code: str) -> FaultServer:
    """An STS endpoint on 127.0.0.1 that answers every request with one error."""
    return FaultServer(sts_error(status, code))

