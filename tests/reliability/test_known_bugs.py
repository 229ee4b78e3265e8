"""Regressions for bugs the reliability suite found (each was a 500 for a bad request).

Each test states the documented behaviour: a non-ASCII base64 body and a forged cursor are
bad requests (400), never a 500.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.reliability.conftest import RigFactory
from tests.reliability.support import ACME, PaymentsRig, outcome_of, payment_data
from tests.support import FakeContext


def _api_event(version: str, body: str) -> dict[str, Any]:
    event: dict[str, Any] = {
        "headers": {"X-Partner-Id": "acme"},
        "pathParameters": {"action": "getPayment"},
        "body": body,
        "isBase64Encoded": True,
    }
    if version == "2.0":
        event.update({"version": "2.0", "requestContext": {"http": {"method": "POST"}}})
    else:
        event.update({"httpMethod": "POST", "requestContext": {"httpMethod": "POST"}})
    return event


def test_non_ascii_base64_body_is_a_400(make_rig: RigFactory) -> None:
    """A base64 body with non-ASCII characters is a bad event (400), like any bad base64."""
    rig = make_rig([ACME], tables=False)
    for version in ("1.0", "2.0"):
        for body in ("\x80", "eyJ9é", "\uff41\uff42\uff43\uff44"):
            response = rig.handler(_api_event(version, body), FakeContext())
            rig.collector.add_body(rig.where, response)
            assert response["statusCode"] == 400, (version, body, response)
            error = json.loads(response["body"])["error"]
            assert error == "body is not valid base64-encoded UTF-8"
    assert rig.dynamodb_calls.count() == 0 and rig.sts_calls.count() == 0


def _cursor(customer: str, key: object) -> str:
    raw = json.dumps({"c": customer, "k": key}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _list(rig: PaymentsRig, key: object) -> Any:
    return rig.invoke("listPayments", {"customerId": "cust-1", "cursor": _cursor("cust-1", key)})


def test_forged_cursor_with_a_malformed_key_is_a_400(make_rig: RigFactory) -> None:
    """A cursor the function did not issue is 'cursor is not valid' (400), never a 500."""
    rig = make_rig([ACME], max_attempts=1)
    assert rig.invoke("createPayment", payment_data(1)).status == 200
    keys: list[dict[str, object]] = [{"id": 5}, {"id": "a"}, {"id": None}, {"id": []}]
    for key in keys:
        out = _list(rig, key)
        assert (out.status, out.error) == (400, "cursor is not valid"), (key, out.raw)


def test_cursor_with_a_well_formed_key_pages_normally(make_rig: RigFactory) -> None:
    """The control: a cursor around a key of the index's shape is accepted."""
    rig = make_rig([ACME], max_attempts=1)
    assert rig.invoke("createPayment", payment_data(1)).status == 200
    key = {"id": {"S": "pay_0"}, "customer_id": {"S": "cust-1"}, "created_at": {"S": "0"}}
    out = _list(rig, key)
    assert out.status == 200 and isinstance(out.data["payments"], list)
    outcome_of(out.raw)
