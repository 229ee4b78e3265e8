"""A partner registry in the home account of a local moto server (or DynamoDB Local).

Plain botocore with the function's own credentials, independent of partnerdb, so tests can
change entries behind partnerdb's back and check what it picks up.
"""

from __future__ import annotations

import json
from typing import Any

from local.seed import PartnerAccount, home_client

REGISTRY_TABLE = "partnerdb-partners"
REGISTRY_SSM_PATH = "/partnerdb/partners"


def create_registry_table(endpoint: str, name: str = REGISTRY_TABLE) -> str:
    """The registry table as template.yaml declares it: key `partner_id` (S), on demand."""
    client = home_client("dynamodb", endpoint)
    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "partner_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "partner_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
    return name


def entry_of(partner: PartnerAccount, **changes: str) -> dict[str, str]:
    """The registry fields of `partner`, with `changes` applied (a value of '' drops it)."""
    fields = {
        "partner_id": partner.partner_id,
        "role_arn": partner.role_arn,
        "external_id": partner.external_id,
        "region": partner.region,
        "table_prefix": partner.table_prefix,
        "status": "active",
        "updated_at": "2026-11-30T00:00:00Z",
    }
    fields.update(changes)
    return {k: v for k, v in fields.items() if v != ""}


def put_table_entry(endpoint: str, fields: dict[str, Any], table: str = REGISTRY_TABLE) -> None:
    """Write one item; values are strings unless given in DynamoDB's shape already."""
    item = {k: v if isinstance(v, dict) else {"S": v} for k, v in fields.items()}
    home_client("dynamodb", endpoint).put_item(TableName=table, Item=item)


def put_ssm_entry(
    endpoint: str, partner_id: str, value: dict[str, str] | str, path: str = REGISTRY_SSM_PATH
) -> None:
    """Write one SecureString parameter `<path>/<id>` (a str value is written as is)."""
    text = value if isinstance(value, str) else json.dumps(value)
    home_client("ssm", endpoint).put_parameter(
        Name=f"{path}/{partner_id}", Value=text, Type="SecureString", Overwrite=True
    )
