"""A queue consumer whose behaviour each message's body chooses, for the event source tests.

Body "ok": done. "fail": reported in batchItemFailures. "first-error": the whole invocation
raises on the message's first delivery only. "first-sleep": sleeps past the timeout on the
first delivery only. "foreign": reports an id that is not in the batch. Every processed
message id is printed, so the test can count deliveries from the logs.
"""

from __future__ import annotations

import time
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures: list[dict[str, str]] = []
    for record in event["Records"]:
        body, first = record["body"], record["attributes"]["ApproximateReceiveCount"] == "1"
        print(f"delivered {record['messageId']} {body}")
        if body == "first-error" and first:
            raise RuntimeError("transient failure of the whole batch")
        if body == "first-sleep" and first:
            time.sleep(30)
        if body == "fail":
            failures.append({"itemIdentifier": record["messageId"]})
        if body == "foreign":
            failures.append({"itemIdentifier": "not-in-this-batch"})
    return {"batchItemFailures": failures}
