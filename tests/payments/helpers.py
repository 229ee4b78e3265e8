"""Helpers of the payments runtime tests: a client of one execution environment, and plain
reads of what moto holds (tables per account, the AssumeRole calls and credentials of its STS).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from emulators.lambda_runner import FunctionResult, LambdaFunction
from emulators.moto_server import assumed_roles
from local.seed import PartnerAccount, scan_items
from local.stack import DEMO_PARTNERS

ACME, GLOBEX = DEMO_PARTNERS
HOME_ACCOUNT_ID = "123456789012"
#: The logical table names of the payments function (each partner adds its prefix).
TABLES = ("payments", "transactions", "customers")
ACCESS_ROLE_SUFFIX = "/partnerdb-access"


@dataclass
class Payments:
    """A client of one execution environment of the payments function (direct invoke)."""

    fn: LambdaFunction

    def invoke(self, event: Any, **kwargs: Any) -> FunctionResult:
        """Invoke with a raw event; check the runtime answered and logged exactly once."""
        result = self.fn.invoke(event, **kwargs)
        assert not result.is_error, (result.error_type, result.error_message, result.logs)
        assert not result.timed_out
        lines = sdk_lines(result.logs)
        assert len(lines) == 1, result.logs
        assert lines[0]["requestId"] == result.request_id
        return result

    def call(
        self, action: Any, data: Any = None, partner: Any = "acme", **kwargs: Any
    ) -> dict[str, Any]:
        """`{"partnerId", "action", "data"}` through the runtime; return the response."""
        event: dict[str, Any] = {"partnerId": partner, "action": action}
        if data is not None:
            event["data"] = data
        payload: dict[str, Any] = self.invoke(event, **kwargs).payload
        return payload

    def ok(self, action: str, data: dict[str, Any], partner: str = "acme") -> dict[str, Any]:
        """Call an action that must succeed; return its `data`."""
        response = self.call(action, data, partner)
        assert response["success"] is True and response["status"] == 200, response
        body: dict[str, Any] = response["data"]
        return body

    def create(
        self,
        key: str,
        *,
        customer: str = "cust-1",
        amount: int = 1000,
        currency: str = "USD",
        partner: str = "acme",
    ) -> dict[str, Any]:
        """createPayment that must succeed; return its `data` (payment, created)."""
        data = {
            "customerId": customer,
            "amount": amount,
            "currency": currency,
            "idempotencyKey": key,
        }
        return self.ok("createPayment", data, partner)


def sdk_lines(logs: str) -> list[dict[str, Any]]:
    """The handler_sdk JSON log lines among a function's output (after Lambda's text prefix)."""
    lines: list[dict[str, Any]] = []
    for line in logs.splitlines():
        start = line.find('{"timestamp"')
        if start < 0:
            continue
        try:
            parsed = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(parsed, dict) and parsed.get("logger") == "handler_sdk":
            lines.append(parsed)
    return lines


def items(partner: PartnerAccount, table: str, account_id: str | None = None) -> list[Any]:
    """Every item of `partner`'s table `table` (prefixed), read in `account_id` (default its own).

    Read with plain botocore in that account, independent of partnerdb.
    """
    endpoint = _endpoint()
    return scan_items(partner.table_prefix + table, account_id or partner.account_id, endpoint)


def snapshot(partner: PartnerAccount) -> dict[str, list[Any]]:
    """All of a partner's payment tables, each sorted, for before/after comparisons."""
    return {
        table: sorted(items(partner, table), key=lambda item: json.dumps(item, sort_keys=True))
        for table in TABLES
    }


def access_role_calls() -> list[dict[str, str]]:
    """The AssumeRole calls moto served for partner access roles (not the test's seeding)."""
    return [c for c in assumed_roles() if c["role_arn"].endswith(ACCESS_ROLE_SUFFIX)]


def moto_issued_secrets() -> set[str]:
    """Every secret key and session token moto's STS issued in this process (non-empty)."""
    from moto.sts.models import sts_backends

    secrets: set[str] = set()
    for account_backends in sts_backends.values():
        for backend in account_backends.values():
            for role in getattr(backend, "assumed_roles", []):
                for value in (role.secret_access_key, role.session_token):
                    if value:
                        secrets.add(value)
    return secrets


def _endpoint() -> str:
    """moto's URL, as the `moto` fixture put it in the environment."""
    return os.environ["AWS_ENDPOINT_URL"]


def drain_queue(sqs: Any, url: str, *, max_messages: int = 2000) -> list[dict[str, Any]]:
    """Every message left in the queue at `url`, with its attributes (bounded: fails past
    `max_messages`)."""
    found: list[dict[str, Any]] = []
    for _ in range(max_messages // 10):
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=120, AttributeNames=["All"]
        )
        if not got.get("Messages"):
            return found
        found.extend(got["Messages"])
    raise AssertionError(f"{url} still has messages after {max_messages}")
