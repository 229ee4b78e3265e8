"""The invocation deadline through the runtime: Lambda's timeout minus the SDK's 1000 ms buffer.

The function's DynamoDB endpoint is a loopback server that accepts requests and never answers;
STS stays on moto, so the partner's role is assumed as usual.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulators.fault_server import FaultServer, forward_to, hang
from local.stack import Stack
from tests.payments.helpers import ACME, Payments, access_role_calls, items

BUFFER_S = 1.0  # with_partner_db's default buffer_ms
CREATE = {"customerId": "cust-1", "amount": 1000, "currency": "USD", "idempotencyKey": "k-1"}


@pytest.fixture
def hung_dynamodb() -> Iterator[FaultServer]:
    with FaultServer(hang) as server:
        yield server


def test_a_hung_dynamodb_is_cut_at_the_deadline_and_the_process_stays_warm(
    stack: Stack, hung_dynamodb: FaultServer
) -> None:
    timeout_s = 3.0
    fn = stack.function(timeout_s=timeout_s, env={"AWS_ENDPOINT_URL_DYNAMODB": hung_dynamodb.url})
    payments = Payments(fn)

    result = payments.invoke({"partnerId": "acme", "action": "createPayment", "data": CREATE})
    assert not result.timed_out and not result.is_error
    assert result.payload["success"] is False and result.payload["status"] == 504
    assert result.payload["error"].startswith("lambda timeout exceeded")
    assert result.duration_ms is not None
    expected_ms = (timeout_s - BUFFER_S) * 1000
    assert expected_ms - 100 <= result.duration_ms <= expected_ms + 600, result.duration_ms
    # One attempt, cut at the deadline: no retry after it.
    assert hung_dynamodb.targets == ["DynamoDB_20120810.TransactWriteItems"]

    # The same process serves the next request, this time with DynamoDB answering.
    hung_dynamodb.behaviour = forward_to(stack.moto.url)
    after = payments.invoke({"partnerId": "acme", "action": "createPayment", "data": CREATE})
    assert not after.cold_start and after.pid == result.pid and fn.processes_started == 1
    assert after.payload["status"] == 200 and after.payload["data"]["created"] is True
    assert len(items(ACME, "payments")) == 1


def test_a_timeout_below_the_buffer_answers_504_at_once_without_dynamodb(
    stack: Stack, hung_dynamodb: FaultServer
) -> None:
    fn = stack.function(timeout_s=0.9, env={"AWS_ENDPOINT_URL_DYNAMODB": hung_dynamodb.url})
    payments = Payments(fn)

    for action, data in (
        ("createPayment", CREATE),
        ("getPayment", {"id": "pay_1"}),
        ("listPayments", {"customerId": "cust-1"}),
    ):
        result = payments.invoke({"partnerId": "acme", "action": action, "data": data})
        assert not result.timed_out
        assert result.payload["status"] == 504, result.payload
        assert result.payload["error"].startswith("lambda timeout exceeded")
        assert result.duration_ms is not None and result.duration_ms < 300, result.duration_ms
    assert hung_dynamodb.requests == 0
    assert access_role_calls() == []  # nothing started: not even the partner's credentials
    assert fn.processes_started == 1
