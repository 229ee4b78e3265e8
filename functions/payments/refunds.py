"""Asynchronous refunds: one SQS message per refund, one partner per message.

Message body: ``{"partnerId": "acme", "id": "pay_...", "amount": 250, "idempotencyKey":
"r-1"}`` (the partner may instead be the message attribute ``partnerId``). The SDK calls the
handler once per record with that partner's DB and answers ReportBatchItemFailures, so only
failed messages come back. A refund is keyed by its idempotency key (`app.refund_payment`): a
redelivered message, even one whose first delivery committed and then timed out, finds its
refund already made and changes nothing.
"""

from __future__ import annotations

from typing import Any

from handler_sdk import BadRequest, record_data, with_partner_db

from .app import refund_payment
from .models import MODELS


def refund(record: dict[str, Any], context: Any, db: Any) -> dict[str, Any]:
    """Refund the payment the message names, in the message's partner's account."""
    data = record_data(record)
    if not isinstance(data, dict):
        raise BadRequest("the message body must be a JSON object")
    return refund_payment(data, db, context)


#: A FIFO queue would take ``skip_group_on_error=True`` too: a failed message then holds back
#: only its own message group (for example its partner), not every message after it.
handler = with_partner_db(models=list(MODELS))(refund)
