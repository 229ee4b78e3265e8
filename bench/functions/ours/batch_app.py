"""Variant `ours`, batch figure: an SQS batch, one GetItem per record in its partner's table.

`@with_partner_db` runs the handler once per record with that record's partner (from the JSON
body), and answers ReportBatchItemFailures for the records that failed.
"""

from __future__ import annotations

from typing import Any

from models import Payment

from handler_sdk import record_data, with_partner_db
from partnerdb import PartnerDB


@with_partner_db(models=[Payment])
def handler(record: dict[str, Any], context: Any, db: PartnerDB) -> None:
    """Read the payment the record's body names from the record's partner's table."""
    db.model(Payment).get(record_data(record)["id"])
