"""payments.refunds for a FIFO queue whose message groups are partners: a failed message holds
back only its own group (``skip_group_on_error=True``)."""

from __future__ import annotations

from payments import refunds
from payments.models import MODELS

from handler_sdk import with_partner_db

handler = with_partner_db(models=list(MODELS), skip_group_on_error=True)(refunds.refund)
