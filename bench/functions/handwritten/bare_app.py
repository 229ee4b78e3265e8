"""Baseline `handwritten` without a DynamoDB call: the same envelope, no partner work."""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    partner_id = str(event["partnerId"]).lower()
    return {"success": True, "status": 200, "data": {"id": str(event["data"]["id"]),
                                                     "partner": partner_id}}
