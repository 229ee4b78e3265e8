"""The PynamoDB model the SDK tests bind per partner."""

from __future__ import annotations

from pynamodb.attributes import (
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model


class Payment(Model):
    class Meta:
        table_name = "payments"

    id = UnicodeAttribute(hash_key=True)
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    created = UTCDateTimeAttribute(null=True)
    tags = UnicodeSetAttribute(null=True)
