"""Variant `ours` without a DynamoDB call: what `@with_partner_db` costs by itself per
invocation (event, partner, DB scope, deadline, log line, response)."""

from __future__ import annotations

from typing import Any

from handler_sdk import with_partner_db
from partnerdb import PartnerDB


@with_partner_db()
def handler(event: dict[str, Any], context: Any, db: PartnerDB) -> dict[str, str]:
    return {"id": str(event["data"]["id"])}
