"""Input validation of the payments actions, through awslambdaric.

Each bad input answers 400 and sends nothing to DynamoDB: the function's DynamoDB endpoint is a
loopback forwarder to moto that counts what reaches it, and the partner's tables stay empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from emulators.fault_server import FaultServer, forward_to
from local.stack import Stack
from tests.payments.helpers import ACME, TABLES, Payments, access_role_calls, items

GOOD = {"customerId": "cust-1", "amount": 1000, "currency": "USD", "idempotencyKey": "k-1"}
BAD_IDS: list[object] = [
    "has space",
    "a/b",
    "../etc",
    'quo"te',
    "it's",
    "back\\slash",
    "x" * 129,
    "x" * 500,
    "",
    "line\nbreak",
    "trailing\n",
    "ünïcode",
    "٣",  # a non-ASCII digit
    7,
    True,
    ["id"],
    {"id": "x"},
]


@dataclass
class Counted:
    """The function, and the forwarder its DynamoDB requests go through."""

    payments: Payments
    dynamodb: FaultServer

    def statuses(self, action: str, cases: list[dict[str, Any]]) -> dict[str, tuple[int, str]]:
        """(status, error) of `action` for each data in `cases`, keyed by the case's repr."""
        answers: dict[str, tuple[int, str]] = {}
        for data in cases:
            response = self.payments.call(action, data)
            assert response["success"] is (response["status"] == 200), response
            answers[repr(data)] = (response["status"], response.get("error", ""))
        return answers

    def assert_nothing_reached_dynamodb(self) -> None:
        """No DynamoDB request, no role assumed, and the partner's tables still empty."""
        assert self.dynamodb.requests == 0, self.dynamodb.targets
        assert access_role_calls() == []  # not even the partner's credentials were fetched
        for table in TABLES:
            assert items(ACME, table) == [], table


@pytest.fixture
def counted(stack: Stack) -> Iterator[Counted]:
    """A fresh function whose DynamoDB requests pass through a counting forwarder to moto."""
    with FaultServer(forward_to(stack.moto.url)) as dynamodb:
        fn = stack.function(env={"AWS_ENDPOINT_URL_DYNAMODB": dynamodb.url})
        yield Counted(Payments(fn), dynamodb)
        stack.stop_functions()


def _expect_400(answers: dict[str, tuple[int, str]], mentions: str) -> None:
    """Every answer is a 400 whose error mentions `mentions`."""
    wrong = {
        case: answer
        for case, answer in answers.items()
        if answer[0] != 400 or mentions not in answer[1]
    }
    assert wrong == {}, f"expected 400 mentioning {mentions!r}"


def test_bad_amounts(counted: Counted) -> None:
    amounts: list[object] = [
        19.99,
        1000.0,
        1e3,
        "1000",
        "",
        0,
        -1,
        -1000,
        True,
        False,
        10**12 + 1,
        10**30,
        [1000],
        {"v": 1000},
    ]
    answers = counted.statuses("createPayment", [{**GOOD, "amount": a} for a in amounts])
    _expect_400(answers, "amount")
    counted.assert_nothing_reached_dynamodb()


def test_bad_currencies(counted: Counted) -> None:
    currencies: list[object] = ["usd", "Usd", "XXX", "US", "USDD", "", " USD", 7, True, ["USD"]]
    answers = counted.statuses("createPayment", [{**GOOD, "currency": c} for c in currencies])
    _expect_400(answers, "currency")
    counted.assert_nothing_reached_dynamodb()


def test_missing_fields(counted: Counted) -> None:
    for field in GOOD:
        without = {k: v for k, v in GOOD.items() if k != field}
        for data in (without, {**GOOD, field: None}):
            answer = counted.statuses("createPayment", [data])
            assert list(answer.values()) == [(400, f"{field} is required")], data
    assert counted.statuses("createPayment", [{}]) == {"{}": (400, "customerId is required")}
    missing_data = counted.payments.call("createPayment")  # no "data" key at all
    assert (missing_data["status"], missing_data["error"]) == (400, "customerId is required")
    for action, field in (("getPayment", "id"), ("listPayments", "customerId")):
        assert list(counted.statuses(action, [{}]).values()) == [(400, f"{field} is required")]
    refund = {"id": "pay_1", "amount": 1, "idempotencyKey": "r-1"}
    for field in refund:
        data = {k: v for k, v in refund.items() if k != field}
        answer = counted.statuses("refundPayment", [data])
        assert list(answer.values()) == [(400, f"{field} is required")], data
    counted.assert_nothing_reached_dynamodb()


#: Every id field of every action, with the data around it that is otherwise valid.
ID_FIELDS: list[tuple[str, str, dict[str, Any]]] = [
    ("createPayment", "customerId", GOOD),
    ("createPayment", "idempotencyKey", GOOD),
    ("getPayment", "id", {}),
    ("listPayments", "customerId", {}),
    ("refundPayment", "id", {"amount": 1, "idempotencyKey": "r-1"}),
    ("refundPayment", "idempotencyKey", {"id": "pay_1", "amount": 1}),
]


def test_bad_identifiers(counted: Counted) -> None:
    """Spaces, slashes, quotes, 129 and 500 characters, non-ASCII, non-strings: each a 400."""
    for action, field, base in ID_FIELDS:
        answers = counted.statuses(action, [{**base, field: bad} for bad in BAD_IDS])
        _expect_400(answers, f"{field} must be 1 to 128 letters, digits or _.:-")
    counted.assert_nothing_reached_dynamodb()


def test_an_id_of_128_characters_is_accepted(counted: Counted) -> None:
    """The edge of the id rule: 128 characters of the allowed set is fine (404, not 400)."""
    longest = "a.b:c-d_" * 16
    assert len(longest) == 128
    response = counted.payments.call("getPayment", {"id": longest})
    assert response["status"] == 404
    assert counted.dynamodb.requests == 1


def test_bad_refund_amounts_and_list_limits(counted: Counted) -> None:
    refund = {"id": "pay_1", "idempotencyKey": "r-1"}
    amounts: list[object] = [1.5, "5", 0, -3, True, 10**12 + 1, None]
    _expect_400(
        counted.statuses("refundPayment", [{**refund, "amount": a} for a in amounts]), "amount"
    )
    limits: list[object] = [0, -1, 101, 10**9, "2", 2.0, True, None, [2]]
    _expect_400(
        counted.statuses("listPayments", [{"customerId": "c", "limit": n} for n in limits]),
        "limit must be a whole number from 1 to 100",
    )
    counted.assert_nothing_reached_dynamodb()
