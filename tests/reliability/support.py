"""Shared pieces of the reliability suite.

The payments function runs in-process exactly as deployed (its router under `with_partner_db`),
on a `Partners` whose STS and DynamoDB endpoints are counting fault servers on 127.0.0.1 that
forward to the session's moto server until a test switches them to a fault. Everything here is
bounded: servers are stopped by their owners, waits have timeouts, loops have counts.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from emulators.fault_server import (
    Behaviour,
    FaultServer,
    Reply,
    TokenGate,
    access_key_of,
    forward_to,
)
from handler_sdk import with_partner_db
from local.seed import PartnerAccount, scan_items
from partnerdb import ClientSettings, Partners
from tests.support import FakeContext

ROOT = Path(__file__).resolve().parents[2]

#: Every status the SDK documents for a response.
DOCUMENTED_STATUSES = frozenset({200, 400, 403, 404, 409, 502, 504})
DEADLINE_MESSAGE = "lambda timeout exceeded"
#: Scheduling slack allowed past a deadline on a busy 2-core machine. A call that was not cut
#: would instead wait for the hung server (30 s) or the client's read timeout (10 s).
SLACK_S = 0.4
INTERNAL_ERROR = "internal error"
ROLE_REFUSED = "partner role could not be assumed"
ROLE_THROTTLED = "partner role throttled: retry later"

#: The two partners of the fault and hostile-input tests (accounts unused by other suites).
ACME = PartnerAccount("acme", "311111111111", "rel-acme-ext-4b1d9e7c55")
GLOBEX = PartnerAccount("globex", "322222222222", "rel-globex-ext-a07f3355d1", table_prefix="gx_")



def target_of(headers: dict[str, str]) -> str:
    """The operation a request asks for: DynamoDB's X-Amz-Target, or 'sts' for STS."""
    for key, value in headers.items():
        if key.lower() == "x-amz-target":
            return value.rsplit(".", 1)[-1]
    return "sts"


class Recorder:
    """A fault-server behaviour that records each request and delegates to `behaviour`,
    which a test may swap at any time."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.calls: list[tuple[str, str | None]] = []
        self._lock = threading.Lock()

    def __call__(self, path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        with self._lock:
            self.calls.append((target_of(headers), access_key_of(headers)))
        return self.behaviour(path, headers, body)

    def count(self, target: str | None = None) -> int:
        with self._lock:
            return sum(1 for t, _ in self.calls if target is None or t == target)

    def access_keys(self) -> list[str | None]:
        with self._lock:
            return [key for _, key in self.calls]


def restart_on_same_port(old: FaultServer, behaviour: Behaviour) -> FaultServer:
    """A new, started FaultServer on the port of `old` (already stopped): the server coming
    back at the address the partner's client keeps using."""
    port = int(old.url.rsplit(":", 1)[1])
    deadline = time.monotonic() + 5
    while True:  # the old listening socket is closed; the port is free again at once
        try:
            new = FaultServer(behaviour, port=port)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    return new.start()


@dataclass
class Outcome:
    """One invocation: its status, its body (direct-invoke shape) and the raw response."""

    status: int
    data: Any
    error: str | None
    raw: dict[str, Any]


def outcome_of(response: dict[str, Any]) -> Outcome:
    """Read a direct-invoke response, checking its documented shape on the way."""
    assert isinstance(response, dict), response
    assert isinstance(response.get("success"), bool), response
    status = response["status"]
    if response["success"]:
        assert status == 200, response
        return Outcome(200, response["data"], None, response)
    assert isinstance(response.get("error"), str), response
    return Outcome(status, None, response["error"], response)


class Collector:
    """Everything the suite showed the outside world, and every secret it must not show.

    Tests (through the autouse capture fixture and `PaymentsRig`) append log text, captured
    output and response bodies; `snapshot_sts` copies what moto's STS issued before the next
    test resets it. The last test of the suite searches all of it.
    """

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []
        #: secret keys, session tokens and ExternalIds: must never appear anywhere
        self.secrets: dict[str, str] = {}
        #: access key ids the product used (home and assumed for partnerdb sessions)
        self.access_key_ids: dict[str, str] = {}
        self.checked = 0
        self._lock = threading.Lock()

    def add_text(self, where: str, text: str) -> None:
        if text:
            with self._lock:
                self.texts.append((where, text))

    def add_body(self, where: str, response: object) -> None:
        self.add_text(f"{where} [response]", json.dumps(response, default=repr))

    def add_secret(self, label: str, value: str | None) -> None:
        if value:
            with self._lock:
                self.secrets[value] = label

    def add_access_key_id(self, label: str, value: str | None) -> None:
        if value:
            with self._lock:
                self.access_key_ids[value] = label

    def add_partner(self, partner: PartnerAccount) -> None:
        self.add_secret(f"ExternalId of {partner.partner_id}", partner.external_id)

    def snapshot_sts(self, where: str) -> None:
        """Record every credential moto's STS has issued so far (it forgets at reset).

        Credentials issued to the test harness's own `local.seed` sessions count as secrets
        (their keys and tokens must not leak either) but their access key ids do not: only
        the harness, not the product, logs those.
        """
        from moto.sts.models import sts_backends

        for account in sts_backends.values():
            for backend in account.values():
                for role in getattr(backend, "assumed_roles", []):
                    label = f"{role.session_name} ({where})"
                    self.add_secret(f"secret key of {label}", role.secret_access_key)
                    self.add_secret(f"session token of {label}", role.session_token)
                    if role.session_name.startswith("partnerdb"):
                        self.add_access_key_id(f"access key of {label}", role.access_key_id)

    def leaks(self, secrets: dict[str, str], start: int = 0) -> list[str]:
        """'<secret label> in <where>' for every secret found in a text from `start` on."""
        with self._lock:
            texts = self.texts[start:]
            wanted = dict(secrets)
        found = []
        for where, text in texts:
            for value, label in wanted.items():
                if value in text:
                    found.append(f"{label} in {where}")
        return found


class PaymentsRig:
    """The payments function in-process on a `Partners` of its own, with STS and DynamoDB
    behind recording fault servers that forward to moto until told otherwise."""

    def __init__(
        self,
        app: ModuleType,
        moto_url: str,
        accounts: list[PartnerAccount],
        sts: FaultServer,
        sts_recorder: Recorder,
        dynamodb: FaultServer,
        dynamodb_recorder: Recorder,
        collector: Collector,
        where: str,
        *,
        max_attempts: int = 3,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.app = app
        self.moto_url = moto_url
        self.accounts = {a.partner_id: a for a in accounts}
        self.sts, self.sts_calls = sts, sts_recorder
        self.dynamodb, self.dynamodb_calls = dynamodb, dynamodb_recorder
        self.collector = collector
        self.where = where
        #: every FaultServer of this rig (the fixture stops them all)
        self.servers: list[FaultServer] = [sts, dynamodb]
        settings = ClientSettings.from_env(max_attempts=max_attempts)
        if clock is None:
            self.partners = Partners.from_env(settings=settings)
        else:
            self.partners = Partners.from_env(settings=settings, clock=clock)
        self.handler = with_partner_db(models=list(app.MODELS), partners=self.partners)(
            app.router
        )

    def invoke(
        self, action: str, data: dict[str, Any], partner: str = "acme", remaining_ms: int = 10_000
    ) -> Outcome:
        """One direct invocation; the response goes to the collector."""
        event = {"partnerId": partner, "action": action, "data": data}
        response = self.handler(event, FakeContext(remaining_ms=remaining_ms))
        self.collector.add_body(self.where, response)
        return outcome_of(response)

    def items(self, partner: str, table: str) -> list[dict[str, Any]]:
        """Every item of a logical table in the partner's own account (read with plain
        botocore as that account, independent of partnerdb)."""
        account = self.accounts[partner]
        return scan_items(account.table_prefix + table, account.account_id, self.moto_url)

    def payment_state(self, partner: str = "acme") -> dict[str, Any]:
        """Payments by id with their transactions: what a test compares before and after."""
        state: dict[str, Any] = {}
        for item in self.items(partner, "payments"):
            state[item["id"]["S"]] = {"payment": item, "transactions": {}}
        for item in self.items(partner, "transactions"):
            entry = state.setdefault(item["payment_id"]["S"], {"payment": None, "transactions": {}})
            entry["transactions"][item["id"]["S"]] = item
        return state


def payment_data(n: int, customer: str = "cust-1", amount: int = 1000) -> dict[str, Any]:
    """createPayment data whose idempotency key is fixed by `n`."""
    return {"customerId": customer, "amount": amount, "currency": "EUR", "idempotencyKey": f"k-{n}"}


def create_payment(rig: PaymentsRig, n: int) -> str:
    """createPayment `payment_data(n)`, which must succeed; its payment id."""
    out = rig.invoke("createPayment", payment_data(n))
    assert out.status == 200, out.raw
    return str(out.data["payment"]["id"])


def gate_dynamodb(rig: PaymentsRig, rejection: str = "expired") -> TokenGate:
    """Put a `TokenGate` (answering `rejection` to revoked keys) in front of the rig's moto."""
    gate = TokenGate(forward_to(rig.moto_url), rejection)
    rig.dynamodb_calls.behaviour = gate
    return gate


@contextmanager
def timed() -> Iterator[list[float]]:
    """`with timed() as t:` ... `t[0]` holds the elapsed seconds afterwards."""
    box: list[float] = []
    start = time.monotonic()
    try:
        yield box
    finally:
        box.append(time.monotonic() - start)


@dataclass(frozen=True)
class Windows:
    """When, in seconds after the role was assumed, each refresh phase begins."""

    advisory: float  # a refresh is tried; if it fails the still-valid credentials are used
    mandatory: float  # a refresh must succeed or the call fails
    expiry: float

    def before_advisory(self) -> float:
        return self.advisory - 60

    def in_advisory(self) -> float:
        return (self.advisory + self.mandatory) / 2

    def in_mandatory(self) -> float:
        return (self.mandatory + self.expiry) / 2


def refresh_windows(rig: PaymentsRig) -> Windows:
    """The refresh windows of the partner's credentials (botocore attributes partnerdb sets)."""
    credentials = rig.partners.session("acme").credentials
    duration = rig.partners.settings.duration_seconds
    advisory = float(credentials._advisory_refresh_timeout)
    mandatory = float(credentials._mandatory_refresh_timeout)
    assert 0 < mandatory < advisory < duration
    return Windows(duration - advisory, duration - mandatory, duration)
