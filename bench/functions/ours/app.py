"""Variant `ours`: the same GetItem as a payments-style handler on the SDK.

`@with_partner_db` finds the partner in the event, assumes its role (ExternalId, cached) and
hands the handler a DB whose models are bound to that partner and the invocation's deadline.
"""

from __future__ import annotations

from typing import Any

from models import Payment

from handler_sdk import with_partner_db
from partnerdb import PartnerDB


@with_partner_db(models=[Payment])
def handler(event: dict[str, Any], context: Any, db: PartnerDB) -> Payment:
    """Get the payment `event["data"]["id"]` from the partner's `payments` table."""
    payment: Payment = db.model(Payment).get(event["data"]["id"])
    return payment
