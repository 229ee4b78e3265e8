"""The payments table as the `ours` benchmark function sees it (same schema as
functions/payments/models.py's `Payment`, without the index the benchmark does not read)."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model


class Payment(Model):
    """A captured card payment; amounts are integer minor units."""

    class Meta:
        table_name = "payments"

    id = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    status = UnicodeAttribute()
    refunded = NumberAttribute(default=0)
    created_at = UnicodeAttribute()
    idempotency_key = UnicodeAttribute()
    request_hash = UnicodeAttribute()
