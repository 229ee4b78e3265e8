"""Baseline `handwritten`, batch figure: the same SQS batch handled by a hand-written loop.

Per record: parse the JSON body, the partner's DynamoDB client (`app._partner`: AssumeRole
cached per partner), one GetItem; any error puts the record's message id in
``batchItemFailures``, as a careful engineer writes it for ReportBatchItemFailures.
"""

from __future__ import annotations

import json
from typing import Any

from app import partner_client


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures: list[dict[str, str]] = []
    for record in event["Records"]:
        try:
            body = json.loads(record["body"])
            client, prefix = partner_client(str(body["partnerId"]).lower())
            client.get_item(TableName=prefix + "payments", Key={"id": {"S": body["id"]}})
        except Exception:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
