"""What the template tests share: the two templates' paths, the contract's constants, and
helpers that read CloudFormation values (`Fn::If` branches, policy statements, `Fn::Sub`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
PARTNER_ROLE = ROOT / "partner-role.yaml"

NO_VALUE = {"Ref": "AWS::NoValue"}
PARTNER_ENV = re.compile(
    r"PARTNER_(?P<id>[A-Za-z0-9_]+?)_(?P<field>ROLE_ARN|EXTERNAL_ID|REGION|TABLE_PREFIX)"
)
TABLE_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
}
# The payments models' tables (before the partner's prefix): keys, attribute types, indexes.
EXPECTED_TABLES: dict[str, dict[str, Any]] = {
    "payments": {
        "keys": {"id": "HASH"},
        "attributes": {"id": "S", "customer_id": "S", "created_at": "S"},
        "indexes": {"by_customer": ({"customer_id": "HASH", "created_at": "RANGE"}, "ALL")},
    },
    "transactions": {
        "keys": {"payment_id": "HASH", "id": "RANGE"},
        "attributes": {"payment_id": "S", "id": "S"},
        "indexes": {},
    },
    "customers": {"keys": {"id": "HASH"}, "attributes": {"id": "S"}, "indexes": {}},
}


# ---------------------------------------------------------------------------------------------
# helpers


def branches(value: Any) -> list[Any]:
    """Every value `value` can take: both sides of each `Fn::If`, AWS::NoValue dropped."""
    if value == NO_VALUE:
        return []
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        _condition, when_true, when_false = value["Fn::If"]
        return branches(when_true) + branches(when_false)
    return [value]


def as_list(value: Any) -> list[Any]:
    """A policy field that may be one item or a list (items may be `Fn::If`), flattened."""
    items = value if isinstance(value, list) else [value]
    return [branch for item in items for branch in branches(item)]


def resources_of_type(template: dict[str, Any], *types: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource.get("Type") in types
    }


def policy_statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    """The permission statements of an AWS::IAM::Role's inline policies (not its trust)."""
    statements: list[dict[str, Any]] = []
    for policy in as_list(role["Properties"].get("Policies", [])):
        statements.extend(as_list(policy["PolicyDocument"]["Statement"]))
    return statements


def sub_text(value: Any) -> str:
    """The template string of an `Fn::Sub` (either form)."""
    sub = value["Fn::Sub"]
    return sub if isinstance(sub, str) else sub[0]
