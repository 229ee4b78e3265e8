"""Baseline `handwritten`, logging one JSON line per invocation, as most production functions do.

The same GetItem as `app.handler`, then one line through `logging` (the runtime's handler):
request id, partner, action, status and duration. A second baseline for the warm figure: the
issue's baseline writes no line at all, while `@with_partner_db` must write one.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from app import handler as get_payment

log = logging.getLogger("app")
log.setLevel(logging.INFO)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    response = get_payment(event, context)
    log.info(json.dumps({
        "message": "invocation",
        "requestId": context.aws_request_id,
        "partner_id": event.get("partnerId"),
        "action": event.get("action"),
        "status": response.get("status"),
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
    }))
    return response
