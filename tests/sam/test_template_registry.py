"""The optional partner registry in template.yaml: a table (or SSM path) the function may only
read, and sts:AssumeRole on one fixed partner role name in any account, which partner-role.yaml
creates under exactly that name with the ExternalId condition."""

from __future__ import annotations

import re
from typing import Any

from tests.sam.templates import NO_VALUE, as_list, sub_text


def policy_named(role: dict[str, Any], name: str) -> tuple[str, list[dict[str, Any]]]:
    """(condition, statements) of the inline policy `name`, which must sit behind an `Fn::If`."""
    for policy in role["Properties"]["Policies"]:
        if isinstance(policy, dict) and "Fn::If" in policy:
            condition, when_true, when_false = policy["Fn::If"]
            if when_true.get("PolicyName") == name:
                assert when_false == NO_VALUE
                return condition, as_list(when_true["PolicyDocument"]["Statement"])
    raise AssertionError(f"no conditional policy {name}")


def test_registry_is_optional_and_read_only(template: dict[str, Any]) -> None:
    parameters, conditions = template["Parameters"], template["Conditions"]
    assert parameters["PartnerRegistry"]["Default"] == "none"
    assert parameters["PartnerRegistry"]["AllowedValues"] == ["none", "dynamodb", "ssm"]
    table = template["Resources"]["PartnerRegistryTable"]
    assert table["Condition"] == "UseDynamoDBRegistry" and table["DeletionPolicy"] == "Retain"
    properties = table["Properties"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"]["SSEEnabled"] is True
    assert properties["KeySchema"] == [{"AttributeName": "partner_id", "KeyType": "HASH"}]
    registry = {"Ref": "PartnerRegistry"}
    assert conditions["UseDynamoDBRegistry"] == {"Fn::Equals": [registry, "dynamodb"]}
    assert conditions["UseSsmRegistry"] == {"Fn::Equals": [registry, "ssm"]}

    role = template["Resources"]["PaymentsFunctionRole"]
    condition, statements = policy_named(role, "read-partner-registry-table")
    assert condition == "UseDynamoDBRegistry"
    assert [(s["Action"], s["Resource"]) for s in statements] == [
        ("dynamodb:GetItem", {"Fn::GetAtt": ["PartnerRegistryTable", "Arn"]})
    ]
    condition, statements = policy_named(role, "read-partner-registry-parameters")
    assert condition == "UseSsmRegistry"
    actions = {s["Action"]: s for s in statements}
    assert set(actions) == {"ssm:GetParameter", "kms:Decrypt"}
    assert sub_text(actions["ssm:GetParameter"]["Resource"]).endswith(
        ":parameter${RegistrySsmPath}/*"
    )
    via = actions["kms:Decrypt"]["Condition"]["StringEquals"]["kms:ViaService"]
    assert sub_text(via) == "ssm.${AWS::Region}.amazonaws.com"

    variables = template["Resources"]["PaymentsFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["PARTNERDB_REGISTRY_TABLE"] == {
        "Fn::If": ["UseDynamoDBRegistry", {"Ref": "PartnerRegistryTable"}, NO_VALUE]
    }
    assert variables["PARTNERDB_REGISTRY_SSM_PATH"] == {
        "Fn::If": ["UseSsmRegistry", {"Ref": "RegistrySsmPath"}, NO_VALUE]
    }


def test_wildcard_assume_role_is_the_fixed_partner_role_name_only(
    template: dict[str, Any], partner_template: dict[str, Any]
) -> None:
    role = template["Resources"]["PaymentsFunctionRole"]
    condition, statements = policy_named(role, "assume-registry-partner-roles")
    assert condition == "UseRegistry"
    (statement,) = statements
    assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRole"
    resource = sub_text(statement["Resource"])
    assert resource == "arn:${AWS::Partition}:iam::*:role/${PartnerRoleName}"
    # The name is a plain role name (no wildcard), and partner-role.yaml creates exactly it.
    names = (template["Parameters"]["PartnerRoleName"], partner_template["Parameters"]["RoleName"])
    for parameters in names:
        assert parameters["Default"] == "partnerdb-access"
        pattern = parameters["AllowedPattern"]
        assert re.fullmatch(pattern, "partnerdb-access")
        assert not any(re.fullmatch(pattern, bad) for bad in ("*", "partner*", "a/b", ""))
    assert partner_template["Resources"]["PartnerDbAccessRole"]["Properties"]["RoleName"] == {
        "Ref": "RoleName"
    }
