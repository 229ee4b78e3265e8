"""A sample payments function on the SDK, imported by subprocess and runtime tests.

It uses the process-wide partners (`Partners.from_env()`), exactly as a deployed function does.
"""

from __future__ import annotations

import logging
from typing import Any

from handler_sdk import ActionRouter, BadRequest, with_partner_db
from partnerdb import PartnerDB
from tests.sdk.models import Payment

router = ActionRouter("payments")


@router.action("getPayment")
def get_payment(data: dict[str, Any], db: PartnerDB, context: Any) -> Payment:
    if not isinstance(data.get("id"), str):
        raise BadRequest("data.id must be a string")
    return db.model(Payment).get(data["id"])


@router.action("createPayment")
def create_payment(data: dict[str, Any], db: PartnerDB, context: Any) -> Payment:
    try:
        payment = db.model(Payment)(
            id=str(data["id"]), amount=float(data["amount"]), currency=str(data["currency"])
        )
    except (KeyError, ValueError) as err:
        raise BadRequest(f"invalid payment: {type(err).__name__}") from None
    payment.save(condition=Payment.id.does_not_exist())
    return payment


handler = with_partner_db(models=[Payment])(router)

#: The same function for async invokes and Step Functions: failures are raised, typed.
raising = with_partner_db(models=[Payment], errors="raise")(router)


def log_route(event: Any, context: Any) -> dict[str, bool]:
    """Whether this process's setup sends the SDK's lines straight to the runtime's handler."""
    from handler_sdk.logs import RUNTIME_LOG

    return {"direct": RUNTIME_LOG.sink(logging.INFO) is not None}
