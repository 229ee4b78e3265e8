"""partnerdb's SnapStart hooks on their own (the emulator tests are in tests/sdk)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from typing import Any

import pytest

from emulators.fault_server import FaultServer, forward_to, sts_refuse
from emulators.moto_server import MotoServer
from partnerdb import PartnerRoleRefused, Partners, snapstart
from partnerdb.signing import FastSigV4
from tests.conftest import HOME_ENV
from tests.core.models import Order

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_after_restore_assumes_again_on_a_new_connection(
    accounts: object, moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FaultServer(forward_to(moto.url)) as dynamodb:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url)
        partners = Partners.from_env()
        partners.register_models(Order)
        partners.before_snapshot()
        assert partners.stats.sts_calls == 0  # warm-up makes no call
        for _ in range(2):
            with partners.db("acme") as db:
                db.model(Order).count()
        assert (partners.stats.sts_calls, dynamodb.connections) == (1, 1)
        partners.after_restore()
        with partners.db("acme") as db:
            db.model(Order).count()
        assert (partners.stats.sts_calls, partners.stats.refreshes) == (2, 0)
        assert dynamodb.connections == 2


def test_after_restore_drops_the_signing_keys(
    accounts: object, moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key derived from the snapshot's credentials is not kept by any restored copy."""
    forgotten: list[bool] = []
    forget = FastSigV4.forget

    def counted(self: FastSigV4) -> None:
        forget(self)
        forgotten.append(self.holds_key)

    monkeypatch.setattr(FastSigV4, "forget", counted)
    partners = Partners.from_env()
    partners.register_models(Order)
    for partner in ("acme", "globex"):
        with partners.db(partner) as db:
            db.model(Order).count()
    partners.after_restore()
    assert forgotten == [False, False]


def test_after_restore_assumes_with_the_function_credentials_of_now(
    accounts: object, moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The STS client is rebuilt after restore with the credentials the environment holds
    then, not the ones resolved before the snapshot."""
    signed_with: list[str] = []
    forward = forward_to(moto.url)

    def record(path: str, headers: dict[str, str], body: bytes) -> Any:
        signed_with.append(headers["Authorization"].split("Credential=", 1)[1].split("/", 1)[0])
        return forward(path, headers, body)

    with FaultServer(record) as sts:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts.url)
        partners = Partners.from_env()
        partners.register_models(Order)
        partners.before_snapshot()
        with partners.db("acme") as db:
            db.model(Order).count()
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIARESTOREDCOPYKEY1")
        partners.after_restore()
        with partners.db("acme") as db:
            db.model(Order).count()
    assert signed_with == [HOME_ENV["AWS_ACCESS_KEY_ID"], "AKIARESTOREDCOPYKEY1"]


def test_after_restore_forgets_a_remembered_refusal(
    accounts: object, moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refusal remembered before the snapshot (a back-off) is not answered from memory by a
    restored copy: its first request asks STS again."""
    forward = forward_to(moto.url)
    refuse = [True]
    asked: list[str] = []

    def sts(path: str, headers: dict[str, str], body: bytes) -> Any:
        asked.append(path)
        return sts_refuse(path, headers, body) if refuse[0] else forward(path, headers, body)

    with FaultServer(sts) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", server.url)
        partners = Partners.from_env()
        partners.register_models(Order)
        for _ in range(2):
            with pytest.raises(PartnerRoleRefused), partners.db("acme") as db:
                db.model(Order).count()
        assert len(asked) == 1  # the second refusal came from the back-off
        refuse[0] = False
        partners.after_restore()
        with partners.db("acme") as db:
            db.model(Order).count()
    assert len(asked) == 2
    assert (partners.stats.sts_calls, partners.stats.refreshes) == (2, 0)


def test_after_restore_reseeds_random() -> None:
    state = random.getstate()
    snapstart.after_restore()
    assert random.getstate() != state


REGISTER = """
import os, sys
{setup}
from partnerdb import Partners, register_snapstart
p = Partners([])
calls = []
print(register_snapstart(p, on_restore=[calls.append]), register_snapstart(p))
import snapshot_restore_py as hooks
print(len(hooks.get_before_snapshot()), len(hooks.get_after_restore()))
"""


@pytest.mark.parametrize(
    ("env", "setup", "expected"),
    [
        ({}, "", "False False"),
        ({"AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand"}, "", "False False"),
        ({"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"}, "", "True True\n1 1"),
        ({"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"},
         "sys.modules['snapshot_restore_py'] = None", "False False"),
    ],
)
def test_hooks_only_under_snapstart_and_once(env: dict[str, str], setup: str,
                                             expected: str) -> None:
    code = REGISTER.format(setup=setup)
    if "False" in expected:
        code = code.split("import snapshot_restore_py")[0]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": ROOT, "AWS_REGION": "us-east-1",
             **env},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected
