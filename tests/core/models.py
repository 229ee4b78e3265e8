"""Plain PynamoDB models the core tests bind per partner."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


class ByCustomer(GlobalSecondaryIndex["Order"]):
    class Meta:
        index_name = "by_customer"
        projection = AllProjection()

    customer = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)


class Order(Model):
    class Meta:
        table_name = "orders"

    id = UnicodeAttribute(hash_key=True)
    customer = UnicodeAttribute()
    amount = NumberAttribute()
    owner = UnicodeAttribute(null=True)
    by_customer = ByCustomer()


class Ledger(Model):
    class Meta:
        table_name = "ledger"

    account = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)
    note = UnicodeAttribute(null=True)
