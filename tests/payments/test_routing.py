"""Routing and SDK errors of the payments function through awslambdaric, and partner isolation."""

from __future__ import annotations

from typing import Any

from local.seed import list_tables
from local.stack import DEMO_PARTNERS, Stack
from tests.payments.helpers import (
    ACME,
    GLOBEX,
    HOME_ACCOUNT_ID,
    TABLES,
    Payments,
    access_role_calls,
    items,
)


def _answer(response: dict[str, Any]) -> tuple[bool, int, str]:
    """(success, status, error) of a direct-invoke response."""
    return response["success"], response["status"], response.get("error", "")


def test_unknown_or_missing_action(payments: Payments) -> None:
    assert _answer(payments.call("chargeEverything", {})) == (
        False,
        400,
        "unknown action: chargeEverything",
    )
    assert _answer(payments.call("X")) == (False, 400, "unknown action: X")
    assert _answer(payments.invoke({"partnerId": "acme", "data": {}}).payload) == (
        False,
        400,
        "unknown action: (none)",
    )
    assert _answer(payments.call(None)) == (False, 400, "unknown action: (none)")
    assert _answer(payments.call(7)) == (False, 400, "unknown action: 7")
    assert _answer(payments.call("")) == (False, 400, "unknown action: ")
    long_action = "a" * 300
    status = payments.call(long_action)
    assert status["status"] == 400 and status["error"] == "unknown action: " + "a" * 100
    assert _answer(payments.call("getpayment", {"id": "p"})) == (
        False,
        400,
        "unknown action: getpayment",  # action names are case-sensitive
    )


def test_data_that_is_not_an_object(payments: Payments) -> None:
    for data in ([], ["id"], "id=1", 7, True, 1.5):
        response = payments.invoke(
            {"partnerId": "acme", "action": "getPayment", "data": data}
        ).payload
        assert _answer(response) == (False, 400, "data must be a JSON object"), data


def test_events_without_a_usable_partner(payments: Payments) -> None:
    events: list[object] = ["acme", 42, None]
    for event in events:
        response = payments.invoke(event).payload
        assert _answer(response) == (False, 400, "event must be a JSON object"), event
    array = payments.fn.invoke([{"partnerId": "acme"}])  # EventBridge Pipes' shape: raised
    assert array.is_error and array.error_type == "UnsupportedEvent", array.error_message
    no_partner = payments.invoke({"action": "getPayment", "data": {"id": "p"}}).payload
    assert _answer(no_partner) == (False, 400, "partnerId is required")
    assert access_role_calls() == []


def test_unknown_partner_is_forbidden_without_assuming_any_role(payments: Payments) -> None:
    for unknown in ("initech", "INITECH", "acme_", "globex2"):
        response = payments.call(
            "createPayment",
            {"customerId": "c", "amount": 1, "currency": "USD", "idempotencyKey": "k"},
            partner=unknown,
        )
        assert _answer(response) == (False, 403, "unknown partner"), unknown
    # Nothing was assumed, not even at init for the configured partners.
    assert access_role_calls() == []
    for partner in DEMO_PARTNERS:
        for table in TABLES:
            assert items(partner, table) == []


def test_invalid_partner_ids_are_bad_requests(payments: Payments) -> None:
    for partner in (
        "ac me",
        "acme/../globex",
        "acme-1",
        "",
        "acme\n",
        "a" * 65,
        "ácme",
        7,
        None,
        ["acme"],
    ):
        response = payments.call("getPayment", {"id": "p"}, partner=partner)
        assert response["success"] is False and response["status"] == 400, partner
        assert response["error"].startswith("invalid partner id"), (partner, response)
    assert access_role_calls() == []


def test_partner_ids_are_case_insensitive(payments: Payments) -> None:
    created = payments.create("order-1", partner="acme")["payment"]
    assert payments.ok("getPayment", {"id": created["id"]}, partner="ACME")["payment"] == created
    assert payments.ok("getPayment", {"id": created["id"]}, partner="Acme")["payment"] == created
    assert {c["external_id"] for c in access_role_calls()} == {ACME.external_id}


def test_a_partner_cannot_read_or_refund_another_partners_payment(payments: Payments) -> None:
    created = payments.create("order-1", customer="cust-a", partner="acme")["payment"]

    read = payments.call("getPayment", {"id": created["id"]}, partner="globex")
    assert _answer(read) == (False, 404, f"payment {created['id']} not found")
    refund = payments.call(
        "refundPayment",
        {"id": created["id"], "amount": 1, "idempotencyKey": "steal"},
        partner="globex",
    )
    assert _answer(refund) == (False, 404, f"payment {created['id']} not found")
    listed = payments.ok("listPayments", {"customerId": "cust-a"}, partner="globex")
    assert listed == {"payments": [], "cursor": None}

    for table in TABLES:
        assert items(GLOBEX, table) == [], table  # nothing about acme's payment in globex
    assert payments.ok("getPayment", {"id": created["id"]}, partner="acme")["payment"] == created
    roles = {(c["role_arn"], c["external_id"]) for c in access_role_calls()}
    assert roles == {(p.role_arn, p.external_id) for p in DEMO_PARTNERS}


def test_each_partners_items_live_only_in_its_own_account(stack: Stack) -> None:
    """Both partners write through one process; each one's items are in its own account
    only, and the function's home account holds no table at all."""
    payments = Payments(stack.function())
    ids = {}
    for partner in DEMO_PARTNERS:
        # The same idempotency key and customer in both: two separate payments.
        ids[partner.partner_id] = payments.create(
            "shared-key", customer="cust-shared", amount=100, partner=partner.partner_id
        )["payment"]["id"]
        payments.create(
            "own-key", customer=f"cust-{partner.partner_id}", partner=partner.partner_id
        )

    for partner in DEMO_PARTNERS:
        other = GLOBEX if partner is ACME else ACME
        own = {table: items(partner, table) for table in TABLES}
        assert [len(own[t]) for t in TABLES] == [2, 2, 2], partner.partner_id
        customers = {c["id"]["S"] for c in own["customers"]}
        assert customers == {"cust-shared", f"cust-{partner.partner_id}"}
        assert f"cust-{other.partner_id}" not in repr(own)
        # This partner's tables do not exist in the other's account, nor in the home account.
        for table in TABLES:
            assert items(partner, table, account_id=other.account_id) == []
            assert items(partner, table, account_id=HOME_ACCOUNT_ID) == []
        assert sorted(list_tables(partner.account_id, stack.moto.url)) == sorted(
            partner.table_prefix + t for t in TABLES
        )
    assert list_tables(HOME_ACCOUNT_ID, stack.moto.url) == []
    # Same key, same payment id (ids derive from the key), yet each in its own account.
    assert ids["acme"] == ids["globex"]
