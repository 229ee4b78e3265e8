"""Baseline `handwritten`: boto3 STS AssumeRole with ExternalId, then one GetItem.

What a careful engineer writes without partnerdb: module-level clients, the assumed
credentials cached per partner until 15 minutes before they expire (botocore's own advisory
window), and one DynamoDB client per partner reused while those credentials are valid.
Partners are configured like partnerdb's (`PARTNER_<ID>_ROLE_ARN`, `_EXTERNAL_ID`, `_REGION`,
`_TABLE_PREFIX`), the event is a direct invoke `{"partnerId", "data": {"id"}}`.
"""

from __future__ import annotations

import os
import time
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer

REFRESH_BEFORE_EXPIRY_S = 15 * 60
DURATION_S = 3600

_sts = boto3.client("sts")
_deserializer = TypeDeserializer()
#: partner id -> (credentials expire at, epoch s; DynamoDB client; table prefix)
_partners: dict[str, tuple[float, Any, str]] = {}


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; the runtime's JSON wants int or float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def partner_client(partner_id: str) -> tuple[Any, str]:
    """The partner's DynamoDB client and table prefix; AssumeRole only when needed."""
    cached = _partners.get(partner_id)
    if cached is not None and cached[0] - time.time() > REFRESH_BEFORE_EXPIRY_S:
        return cached[1], cached[2]
    var = f"PARTNER_{partner_id.upper()}_"
    role_arn = os.environ.get(var + "ROLE_ARN")
    if role_arn is None:
        raise KeyError(f"unknown partner {partner_id!r}")
    creds = _sts.assume_role(
        RoleArn=role_arn,
        RoleSessionName=f"handwritten-{partner_id}",
        ExternalId=os.environ[var + "EXTERNAL_ID"],
        DurationSeconds=DURATION_S,
    )["Credentials"]
    client = boto3.client(
        "dynamodb",
        region_name=os.environ.get(var + "REGION") or os.environ["AWS_REGION"],
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    prefix = os.environ.get(var + "TABLE_PREFIX", "")
    _partners[partner_id] = (creds["Expiration"].timestamp(), client, prefix)
    return client, prefix


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Get the payment `event["data"]["id"]` from the partner's `payments` table."""
    partner_id = str(event["partnerId"]).lower()
    client, prefix = partner_client(partner_id)
    response = client.get_item(
        TableName=prefix + "payments", Key={"id": {"S": event["data"]["id"]}}
    )
    item = response.get("Item")
    if item is None:
        return {"success": False, "status": 404, "error": "payment not found"}
    data = {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}
    return {"success": True, "status": 200, "data": data}
