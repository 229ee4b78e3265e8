"""A user's model, as in their own repository. The RANGE key is declared first on purpose:
the test kit must still create the table with HASH before RANGE."""

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model


class Order(Model):
    class Meta:
        table_name = "orders"
        region = "us-east-1"

    created = NumberAttribute(range_key=True)
    customer = UnicodeAttribute(hash_key=True)
    total = NumberAttribute()
