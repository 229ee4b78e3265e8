"""Test-only fault around payments.refunds.handler: a function timeout after the batch's work.

When a record carrying the message attribute ``stall`` is delivered for the first time, the
handler sleeps past the function timeout after refunds.handler has committed every refund of
the batch: Lambda then delivers the whole batch again, and the refunds must not happen twice.
"""

from __future__ import annotations

import time
from typing import Any

from payments import refunds


def handler(event: dict[str, Any], context: Any) -> Any:
    response = refunds.handler(event, context)
    for record in event.get("Records", []):
        first = record.get("attributes", {}).get("ApproximateReceiveCount") == "1"
        if first and "stall" in record.get("messageAttributes", {}):
            time.sleep(60)
    return response
