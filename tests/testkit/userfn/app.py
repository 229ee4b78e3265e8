"""A user's handler, as in their own repository: writes one order for the calling partner."""

from typing import Any

from handler_sdk import with_partner_db
from partnerdb import PartnerDB

from .models import Order


@with_partner_db(models=[Order])
def handler(event: dict[str, Any], context: Any, db: PartnerDB) -> dict[str, Any]:
    data = event["data"]
    order = db.model(Order)(customer=data["customer"], created=data["created"], total=data["total"])
    order.save()
    return {"customer": order.customer, "remaining_ms": db.remaining_ms()}
