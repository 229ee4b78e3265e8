"""A function for the SnapStart tests: with `PRIME_PARTNER` set, its init reads that partner's
payments (AssumeRole and a pooled connection before the snapshot, as a warm-up a user might
write); each invocation reads a payment and returns what its process holds."""

from __future__ import annotations

import os
import random
from typing import Any

from handler_sdk import with_partner_db
from partnerdb import PartnerDB, Partners
from tests.sdk.models import Payment

partners = Partners.from_env()
prime = os.environ.get("PRIME_PARTNER")
if prime:
    with partners.db(prime) as primed:
        primed.model(Payment).get("p-1")


@with_partner_db(models=[Payment], partners=partners)
def handler(event: dict[str, Any], context: Any, db: PartnerDB) -> dict[str, Any]:
    payment = db.model(Payment).get(event["data"]["id"])
    return {"amount": payment.amount, "random": random.getrandbits(64), "pid": os.getpid()}
