"""Deeply nested JSON is a 400 with a clear message, never a 500 (RecursionError is no
ValueError): an API Gateway body of nested arrays, base64 or not, and a forged listPayments
cursor that decodes to 1,536 `[` (the longest a 2,048-character cursor can carry)."""

from __future__ import annotations

import base64
import json

import pytest

from tests.reliability.conftest import RigFactory
from tests.reliability.support import FakeContext

DEPTH = 1536
NESTED = ["[" * DEPTH + "]" * DEPTH, "[" * DEPTH, '{"a":' * DEPTH + "1" + "}" * DEPTH]


@pytest.mark.parametrize("text", NESTED, ids=["arrays", "unclosed", "objects"])
@pytest.mark.parametrize("encoded", [False, True], ids=["plain", "base64"])
def test_nested_api_gateway_body_is_a_400(make_rig: RigFactory, text: str, encoded: bool) -> None:
    rig = make_rig()
    body = base64.b64encode(text.encode()).decode() if encoded else text
    event = {
        "resource": "/p/{partnerId}/{action}",
        "path": "/p/acme/listPayments",
        "httpMethod": "POST",
        "requestContext": {"httpMethod": "POST"},
        "headers": {"X-Partner-Id": "acme"},
        "pathParameters": {"partnerId": "acme", "action": "listPayments"},
        "body": body,
        "isBase64Encoded": encoded,
    }
    response = rig.handler(event, FakeContext(remaining_ms=10_000))
    rig.collector.add_body(rig.where, response)
    assert response["statusCode"] == 400, response
    assert json.loads(response["body"])["error"] == "body is nested too deeply"
    assert rig.dynamodb_calls.count() == 0


def test_cursor_decoding_to_nested_arrays_is_a_400(make_rig: RigFactory) -> None:
    rig = make_rig()
    cursor = base64.urlsafe_b64encode(b"[" * DEPTH).decode().rstrip("=")
    assert len(cursor) <= 2048  # within the length the function accepts
    out = rig.invoke("listPayments", {"customerId": "cust-1", "cursor": cursor})
    assert (out.status, out.error) == (400, "cursor is nested too deeply"), out.raw
