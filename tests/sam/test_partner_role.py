"""partner-role.yaml: the partner role is assumable only from the trusted account with the
ExternalId, for at most an hour, and only for item, query and transaction access to the three
tables, which match the payments function's models."""

from __future__ import annotations

import re
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.sam.templates import (
    EXPECTED_TABLES,
    ROOT,
    TABLE_ACTIONS,
    as_list,
    branches,
    policy_statements,
    resources_of_type,
    sub_text,
)
from tests.support import load_function

# ---------------------------------------------------------------------------------------------
# (c) the partner's role and tables


def test_partner_role_requires_the_external_id(partner_template: dict[str, Any]) -> None:
    roles = resources_of_type(partner_template, "AWS::IAM::Role")
    assert set(roles) == {"PartnerDbAccessRole"}
    role = roles["PartnerDbAccessRole"]["Properties"]
    assert role["MaxSessionDuration"] == 3600
    trust = as_list(role["AssumeRolePolicyDocument"]["Statement"])
    assert trust, "no trust statement"
    for statement in trust:
        assert statement["Effect"] == "Allow"
        assert as_list(statement["Action"]) == ["sts:AssumeRole"]
        principal = statement["Principal"]["AWS"]
        assert sub_text(principal) in (
            "arn:${AWS::Partition}:iam::${TrustedAccountId}:root",
            "arn:aws:iam::${TrustedAccountId}:root",
        )
        conditions = branches(statement["Condition"])
        assert conditions, "no Condition on the trust statement"
        for condition in conditions:  # every variant of the condition demands the ExternalId
            assert condition["StringEquals"]["sts:ExternalId"] == {"Ref": "ExternalId"}


def test_partner_parameters(partner_template: dict[str, Any]) -> None:
    parameters = partner_template["Parameters"]
    external_id = parameters["ExternalId"]
    assert external_id["NoEcho"] is True
    assert (external_id["MinLength"], external_id["MaxLength"]) == (6, 1224)  # partnerdb config
    assert external_id["AllowedPattern"] == r"[\w+=,.@:/-]*"
    assert "Default" not in external_id
    assert set(parameters) >= {"TrustedAccountId", "ExternalId", "TablePrefix"}


def key_types(key_schema: list[dict[str, str]]) -> dict[str, str]:
    """KeySchema as attribute name -> HASH / RANGE."""
    return {key["AttributeName"]: key["KeyType"] for key in key_schema}


def attribute_types(definitions: list[dict[str, str]]) -> dict[str, str]:
    """AttributeDefinitions as attribute name -> S / N / B."""
    return {item["AttributeName"]: item["AttributeType"] for item in definitions}


def table_indexes(properties: dict[str, Any]) -> dict[str, tuple[dict[str, str], str]]:
    """A table's global secondary indexes: name -> (keys, projection type)."""
    return {
        index["IndexName"]: (key_types(index["KeySchema"]), index["Projection"]["ProjectionType"])
        for index in properties.get("GlobalSecondaryIndexes", [])
    }


def partner_tables(partner_template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Table name (prefix removed) -> its resource, from `!Sub ${TablePrefix}<name>`."""
    tables = {}
    for name, resource in resources_of_type(partner_template, "AWS::DynamoDB::Table").items():
        table_name = sub_text(resource["Properties"]["TableName"])
        assert table_name.startswith("${TablePrefix}"), name
        tables[table_name.removeprefix("${TablePrefix}")] = resource
    return tables


def test_partner_tables(partner_template: dict[str, Any]) -> None:
    tables = partner_tables(partner_template)
    assert set(tables) == set(EXPECTED_TABLES)
    for name, expected in EXPECTED_TABLES.items():
        resource = tables[name]
        assert resource["DeletionPolicy"] == "Retain", name
        properties = resource["Properties"]
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        pitr = properties["PointInTimeRecoverySpecification"]
        assert pitr == {"PointInTimeRecoveryEnabled": True}
        assert properties["SSESpecification"]["SSEEnabled"] is True
        assert key_types(properties["KeySchema"]) == expected["keys"], name
        assert attribute_types(properties["AttributeDefinitions"]) == expected["attributes"], name
        assert table_indexes(properties) == expected["indexes"], name


def test_partner_role_reaches_only_the_three_tables(partner_template: dict[str, Any]) -> None:
    role = partner_template["Resources"]["PartnerDbAccessRole"]
    statements = policy_statements(role)
    table_ids = {name for name in resources_of_type(partner_template, "AWS::DynamoDB::Table")}
    expected_resources = {f"{table}.Arn" for table in table_ids} | {
        f"{table}.Arn/index/*" for table in table_ids
    }
    seen_actions: set[str] = set()
    seen_resources: set[str] = set()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        actions = set(as_list(statement["Action"]))
        assert actions <= TABLE_ACTIONS, actions - TABLE_ACTIONS
        seen_actions |= actions
        for resource in as_list(statement["Resource"]):
            if "Fn::GetAtt" in resource:
                seen_resources.add(".".join(resource["Fn::GetAtt"]))
            else:
                text = sub_text(resource)
                match = re.fullmatch(r"\$\{(\w+)\.Arn\}(/index/\*)", text)
                assert match, f"unexpected resource {text}"
                seen_resources.add(f"{match[1]}.Arn{match[2]}")
    assert seen_actions == TABLE_ACTIONS
    assert seen_resources == expected_resources
    assert partner_template["Outputs"]["RoleArn"]["Value"] == {
        "Fn::GetAtt": ["PartnerDbAccessRole", "Arn"]
    }


# ---------------------------------------------------------------------------------------------
# the payments models agree with the partner tables


def load_payments_models() -> ModuleType:
    path = ROOT / "functions" / "payments" / "models.py"
    if not path.is_file():
        pytest.skip("functions/payments/models.py does not exist yet")
    return load_function("payments", "models")


def models_of(module: ModuleType) -> Iterator[Any]:
    from pynamodb.models import Model

    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, Model)
            and value.__module__ == module.__name__
            and getattr(getattr(value, "Meta", None), "table_name", None)
        ):
            yield value


def test_payments_models_match_partner_tables(partner_template: dict[str, Any]) -> None:
    module = load_payments_models()
    tables = partner_tables(partner_template)
    models = {model.Meta.table_name: model for model in models_of(module)}
    assert models, "no PynamoDB model with a table_name in functions/payments/models.py"
    missing = set(models) - set(tables)
    assert not missing, f"tables missing from partner-role.yaml: {missing}"
    for table_name, model in models.items():
        schema = model._get_schema()
        properties = tables[table_name]["Properties"]
        assert key_types(schema["key_schema"]) == key_types(properties["KeySchema"]), table_name
        assert attribute_types(schema["attribute_definitions"]) == attribute_types(
            properties["AttributeDefinitions"]
        ), table_name
        model_indexes = {
            index["index_name"]: (
                key_types(index["key_schema"]),
                index["projection"]["ProjectionType"],
            )
            for index in schema["global_secondary_indexes"]
        }
        assert model_indexes == table_indexes(properties), table_name
        assert not schema["local_secondary_indexes"], "partner-role.yaml defines no LSI"
