"""The test kit used the way a user would: the plugin's fixtures over a user's own handler."""

from __future__ import annotations

from typing import Any

from tests.testkit.userfn.models import Order


def test_order_lands_in_the_calling_partners_account(
    partnerdb_aws: Any, lambda_context: Any
) -> None:
    acme = partnerdb_aws.add_partner("acme", models=[Order])
    globex = partnerdb_aws.add_partner("globex", models=[Order], table_prefix="gx_")
    handler = partnerdb_aws.import_handler("tests.testkit.userfn.app.handler")
    event = {"partnerId": "acme", "data": {"customer": "c1", "created": 1, "total": 5}}
    response = handler(event, lambda_context)
    assert response["success"] is True, response
    assert [(o.customer, o.total) for o in acme.items(Order)] == [("c1", 5)]
    assert globex.items(Order) == []
    assert 0 < response["data"]["remaining_ms"] <= 3000


def test_each_test_starts_empty_and_sees_its_own_partners(
    partnerdb_aws: Any, lambda_context: Any
) -> None:
    globex = partnerdb_aws.add_partner("globex", models=[Order])
    handler = partnerdb_aws.import_handler("tests.testkit.userfn.app.handler")
    response = handler({"partnerId": "acme", "data": {}}, lambda_context)
    assert response["success"] is False  # acme was a partner in the previous test only
    assert "acme" not in partnerdb_aws.partners
    event = {"partnerId": "globex", "data": {"customer": "c9", "created": 2, "total": 1}}
    assert handler(event, lambda_context)["success"] is True
    assert [o.customer for o in globex.items(Order)] == ["c9"]
