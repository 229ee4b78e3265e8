"""Every action of the payments function, through awslambdaric: success paths and idempotency."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.payments.helpers import ACME, Payments, items, snapshot

# Idempotency, conditions and transactions are DynamoDB semantics: run these on DynamoDB Local
# too (make test-ddblocal). Partners have distinct table prefixes, so the shared database works.
pytestmark = pytest.mark.ddblocal


def _ids(page: dict[str, Any]) -> list[str]:
    """The payment ids of a listPayments page, in order."""
    return [p["id"] for p in page["payments"]]


def _of(payment_id: str, rows: list[Any], key: str = "id") -> list[Any]:
    """The stored items whose `key` is `payment_id`."""
    return [r for r in rows if r[key]["S"] == payment_id]


def test_create_then_idempotent_retry_stores_one_payment_and_one_charge(
    payments: Payments,
) -> None:
    first = payments.create("order-1", customer="cust-1", amount=1999, currency="EUR")
    assert first["created"] is True
    payment = first["payment"]
    assert payment["id"].startswith("pay_")
    assert {k: payment[k] for k in ("customerId", "amount", "currency", "status", "refunded")} == {
        "customerId": "cust-1",
        "amount": 1999,
        "currency": "EUR",
        "status": "captured",
        "refunded": 0,
    }

    retry = payments.create("order-1", customer="cust-1", amount=1999, currency="EUR")
    assert retry == {"payment": payment, "created": False}

    stored = items(ACME, "payments")
    assert len(stored) == 1 and stored[0]["id"]["S"] == payment["id"]
    assert stored[0]["amount"]["N"] == "1999" and stored[0]["idempotency_key"]["S"] == "order-1"
    charges = items(ACME, "transactions")
    assert [(t["payment_id"]["S"], t["id"]["S"], t["kind"]["S"]) for t in charges] == [
        (payment["id"], "charge", "charge")
    ]
    customers = items(ACME, "customers")
    assert [(c["id"]["S"], c["payments"]["N"]) for c in customers] == [("cust-1", "1")]


def test_a_reused_key_with_other_parameters_is_a_conflict_and_writes_nothing(
    payments: Payments,
) -> None:
    payments.create("order-1", customer="cust-1", amount=1000, currency="USD")
    before = snapshot(ACME)
    changed = [
        {"customerId": "cust-1", "amount": 1001, "currency": "USD"},
        {"customerId": "cust-1", "amount": 1000, "currency": "EUR"},
        {"customerId": "cust-2", "amount": 1000, "currency": "USD"},
    ]
    for data in changed:
        response = payments.call("createPayment", {**data, "idempotencyKey": "order-1"})
        assert response["success"] is False and response["status"] == 409, (data, response)
        assert response["error"] == "idempotencyKey was already used for a different payment"
    assert snapshot(ACME) == before


def test_get_payment_and_a_missing_one(payments: Payments) -> None:
    created = payments.create("order-1")["payment"]
    assert payments.ok("getPayment", {"id": created["id"]}) == {"payment": created}

    missing = payments.call("getPayment", {"id": "pay_000000000000000000000000"})
    assert missing["success"] is False and missing["status"] == 404
    assert missing["error"] == "payment pay_000000000000000000000000 not found"
    assert isinstance(missing["requestId"], str) and missing["requestId"]


def test_list_pages_newest_first_with_a_cursor_round_trip(payments: Payments) -> None:
    made = [payments.create(f"list-{i}", customer="cust-list")["payment"]["id"] for i in range(5)]
    payments.create("other-1", customer="cust-other")

    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(10):  # bounded: 5 payments at 2 a page is 3 pages
        data: dict[str, Any] = {"customerId": "cust-list", "limit": 2}
        if cursor is not None:
            data["cursor"] = cursor
        page = payments.ok("listPayments", data)
        pages.append(page)
        cursor = page["cursor"]
        if cursor is None:
            break

    assert [len(p["payments"]) for p in pages] == [2, 2, 1]
    listed = [pid for page in pages for pid in _ids(page)]
    assert listed == list(reversed(made))  # newest first, no duplicate, no omission
    assert all(isinstance(p["cursor"], str) for p in pages[:-1])
    created_at = [p["createdAt"] for page in pages for p in page["payments"]]
    assert created_at == sorted(created_at, reverse=True)
    assert {p["customerId"] for page in pages for p in page["payments"]} == {"cust-list"}

    # The same cursor again gives the same page (cursors are stateless).
    again = payments.ok(
        "listPayments", {"customerId": "cust-list", "limit": 2, "cursor": pages[0]["cursor"]}
    )
    assert again == pages[1]
    # Without a limit the default page holds them all.
    everything = payments.ok("listPayments", {"customerId": "cust-list"})
    assert _ids(everything) == listed and everything["cursor"] is None
    # A customer without payments has an empty page.
    assert payments.ok("listPayments", {"customerId": "nobody"}) == {
        "payments": [],
        "cursor": None,
    }


def test_a_foreign_or_broken_cursor_is_a_bad_request(payments: Payments) -> None:
    for i in range(3):
        payments.create(f"a-{i}", customer="cust-a")
        payments.create(f"b-{i}", customer="cust-b")
    cursor_a = payments.ok("listPayments", {"customerId": "cust-a", "limit": 1})["cursor"]
    assert isinstance(cursor_a, str)

    def b64(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    foreign = payments.call("listPayments", {"customerId": "cust-b", "cursor": cursor_a})
    assert foreign["status"] == 400 and foreign["error"] == "cursor is not valid for this customer"

    broken: list[object] = [
        "garbage",
        "!!!",
        "",
        cursor_a[:-3],
        cursor_a + "x" * 3000,
        base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),
        b64(["cust-a"]),
        b64({"c": "cust-a"}),
        b64({"c": "cust-a", "k": "not-a-key"}),
        12345,
        {"c": "cust-a"},
    ]
    answers = {
        repr(cursor)[:40]: payments.call(
            "listPayments", {"customerId": "cust-a", "cursor": cursor}
        )["status"]
        for cursor in broken
    }
    assert answers == {repr(cursor)[:40]: 400 for cursor in broken}


def test_refund_partially_then_fully(payments: Payments) -> None:
    payment_id = payments.create("order-1", amount=1000)["payment"]["id"]

    partial = payments.ok(
        "refundPayment", {"id": payment_id, "amount": 300, "idempotencyKey": "refund-1"}
    )
    assert partial["created"] is True and partial["refundId"].startswith("refund_")
    assert (partial["payment"]["status"], partial["payment"]["refunded"]) == (
        "partially_refunded",
        300,
    )
    assert payments.ok("getPayment", {"id": payment_id})["payment"] == partial["payment"]

    full = payments.ok(
        "refundPayment", {"id": payment_id, "amount": 700, "idempotencyKey": "refund-2"}
    )
    assert full["created"] is True and full["refundId"] != partial["refundId"]
    assert (full["payment"]["status"], full["payment"]["refunded"]) == ("refunded", 1000)
    assert payments.ok("getPayment", {"id": payment_id})["payment"] == full["payment"]

    stored = {
        t["id"]["S"]: (t["kind"]["S"], t["amount"]["N"])
        for t in _of(payment_id, items(ACME, "transactions"), "payment_id")
    }
    assert stored == {
        "charge": ("charge", "1000"),
        partial["refundId"]: ("refund", "300"),
        full["refundId"]: ("refund", "700"),
    }

    # Nothing is left to refund: a new refund is a conflict.
    more = payments.call(
        "refundPayment", {"id": payment_id, "amount": 1, "idempotencyKey": "refund-3"}
    )
    assert more["status"] == 409 and "refunded and cannot be refunded" in more["error"]


def test_an_over_refund_is_a_conflict_and_changes_nothing(payments: Payments) -> None:
    payment_id = payments.create("order-1", amount=1000)["payment"]["id"]
    payments.ok("refundPayment", {"id": payment_id, "amount": 400, "idempotencyKey": "r-1"})
    before = snapshot(ACME)

    over = payments.call(
        "refundPayment", {"id": payment_id, "amount": 601, "idempotencyKey": "r-2"}
    )
    assert over["success"] is False and over["status"] == 409
    assert over["error"] == "refund of 601 exceeds the 600 still refundable"
    assert snapshot(ACME) == before

    # The whole remainder still fits afterwards.
    rest = payments.ok("refundPayment", {"id": payment_id, "amount": 600, "idempotencyKey": "r-2"})
    assert rest["created"] is True and rest["payment"]["status"] == "refunded"


def test_an_over_refund_of_a_fresh_payment_changes_nothing(payments: Payments) -> None:
    payment_id = payments.create("order-1", amount=500)["payment"]["id"]
    before = snapshot(ACME)
    over = payments.call(
        "refundPayment", {"id": payment_id, "amount": 501, "idempotencyKey": "r-1"}
    )
    assert over["status"] == 409
    assert over["error"] == "refund of 501 exceeds the 500 still refundable"
    assert snapshot(ACME) == before


def test_a_retried_refund_gives_the_same_answer_and_stores_one_refund(payments: Payments) -> None:
    payment_id = payments.create("order-1", amount=1000)["payment"]["id"]
    request = {"id": payment_id, "amount": 250, "idempotencyKey": "refund-key-1"}

    first = payments.ok("refundPayment", request)
    again = payments.ok("refundPayment", request)
    assert first["created"] is True and again["created"] is False
    assert {k: v for k, v in again.items() if k != "created"} == {
        k: v for k, v in first.items() if k != "created"
    }
    assert again["payment"]["refunded"] == 250

    reused = payments.call("refundPayment", {**request, "amount": 300})
    assert reused["status"] == 409
    assert reused["error"] == "idempotencyKey was already used for a different refund"

    refunds = [
        t
        for t in _of(payment_id, items(ACME, "transactions"), "payment_id")
        if t["kind"]["S"] == "refund"
    ]
    assert [(t["id"]["S"], t["amount"]["N"]) for t in refunds] == [(first["refundId"], "250")]
    stored = _of(payment_id, items(ACME, "payments"))
    assert [(p["refunded"]["N"], p["status"]["S"]) for p in stored] == [
        ("250", "partially_refunded")
    ]


def test_refund_of_a_missing_payment_is_not_found(payments: Payments) -> None:
    missing = payments.call(
        "refundPayment", {"id": "pay_nothing", "amount": 1, "idempotencyKey": "r-1"}
    )
    assert missing["status"] == 404 and missing["error"] == "payment pay_nothing not found"
    assert items(ACME, "transactions") == []
