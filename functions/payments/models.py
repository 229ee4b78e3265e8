"""The payments function's tables, as plain PynamoDB models.

Table names are the logical ones; each partner's `PARTNER_<ID>_TABLE_PREFIX` is added when the
SDK binds them to that partner. partner-role.yaml creates the same tables in a partner account.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


class PaymentsByCustomer(GlobalSecondaryIndex["Payment"]):
    """A customer's payments, newest last by creation time."""

    class Meta:
        index_name = "by_customer"
        projection = AllProjection()

    customer_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class Payment(Model):
    """A captured card payment; `refunded` counts what has been given back (minor units)."""

    class Meta:
        table_name = "payments"

    id = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()
    amount = NumberAttribute()  # integer minor units (cents)
    currency = UnicodeAttribute()  # ISO 4217
    status = UnicodeAttribute()  # captured | partially_refunded | refunded
    refunded = NumberAttribute(default=0)
    created_at = UnicodeAttribute()  # ISO 8601 UTC, sortable
    idempotency_key = UnicodeAttribute()
    request_hash = UnicodeAttribute()  # what the idempotency key was first used for
    by_customer = PaymentsByCustomer()


class Transaction(Model):
    """A money movement of a payment: its charge, and each refund."""

    class Meta:
        table_name = "transactions"

    payment_id = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()  # charge | refund
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    created_at = UnicodeAttribute()


class Customer(Model):
    """A partner's customer, kept up to date by each payment."""

    class Meta:
        table_name = "customers"

    id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute()
    payments = NumberAttribute(default=0)
    last_payment_at = UnicodeAttribute(null=True)


MODELS = (Payment, Transaction, Customer)
