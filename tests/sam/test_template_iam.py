"""The function's IAM role in template.yaml can do nothing with partner data itself:
sts:AssumeRole on the configured partner role parameters (the registry's fixed role name is
checked in test_template_registry.py), no DynamoDB but GetItem on the registry table, no
SAM-generated policy; its partner environment and settings match the contract."""

from __future__ import annotations

import re
from typing import Any

from tests.sam.templates import (
    PARTNER_ENV,
    ROOT,
    TEMPLATE,
    as_list,
    branches,
    policy_statements,
    resources_of_type,
    sub_text,
)

# ---------------------------------------------------------------------------------------------
# (c) IAM of the function


def partner_env(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Partner id -> field -> the template value of its PARTNER_<ID>_<FIELD> variable."""
    variables = template["Resources"]["PaymentsFunction"]["Properties"]["Environment"]["Variables"]
    partners: dict[str, dict[str, Any]] = {}
    for key, value in variables.items():
        match = PARTNER_ENV.fullmatch(key)
        if match:
            partners.setdefault(match["id"], {})[match["field"]] = value
    return partners


def refs_in(value: Any) -> set[str]:
    names = set()
    for branch in as_list(value):
        assert isinstance(branch, dict) and set(branch) == {"Ref"}, f"not a !Ref: {branch!r}"
        names.add(branch["Ref"])
    return names


def test_function_can_only_assume_the_configured_partner_roles(template: dict[str, Any]) -> None:
    function = template["Resources"]["PaymentsFunction"]["Properties"]
    # An explicit role: no SAM `Policies` (policy templates would add permissions).
    assert "Policies" not in function and "Role" in function
    assert function["Role"] == {"Fn::GetAtt": ["PaymentsFunctionRole", "Arn"]}
    roles = resources_of_type(template, "AWS::IAM::Role")
    assert set(roles) == {"PaymentsFunctionRole"}
    assert not resources_of_type(
        template,
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::User",
        "AWS::IAM::Group",
        "AWS::IAM::RolePolicy",
    )
    role = roles["PaymentsFunctionRole"]["Properties"]
    trust = as_list(role["AssumeRolePolicyDocument"]["Statement"])
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]

    statements = policy_statements(roles["PaymentsFunctionRole"])
    by_sid = {statement["Sid"]: statement for statement in statements}
    assert len(by_sid) == len(statements)
    statement = by_sid["AssumeConfiguredPartnerRoles"]
    assert statement["Effect"] == "Allow"
    assert as_list(statement["Action"]) == ["sts:AssumeRole"]
    assert "NotAction" not in statement and "NotResource" not in statement
    parameters = template["Parameters"]
    allowed = refs_in(statement["Resource"])
    assert allowed == {"PartnerAcmeRoleArn", "PartnerGlobexRoleArn"}
    for name in allowed:
        assert name in parameters, name
        assert "arn:aws" in parameters[name]["AllowedPattern"], "a role ARN, never a wildcard"
        assert "*" not in str(parameters[name].get("Default", ""))

    # Exactly the roles the partners are configured with, no more, no fewer.
    partners = partner_env(template)
    assert set(partners) == {"ACME", "GLOBEX"}
    configured = set().union(*(refs_in(fields["ROLE_ARN"]) for fields in partners.values()))
    assert configured == allowed


def test_function_has_no_partner_data_permission_of_its_own(template: dict[str, Any]) -> None:
    role = template["Resources"]["PaymentsFunctionRole"]["Properties"]
    for statement in policy_statements(template["Resources"]["PaymentsFunctionRole"]):
        for action in as_list(statement["Action"]):
            if action.lower().startswith("dynamodb:"):
                # Only reading registry entries, in the registry table only.
                assert action == "dynamodb:GetItem"
                assert statement["Resource"] == {"Fn::GetAtt": ["PartnerRegistryTable", "Arn"]}
            assert "*" not in action, action
    managed = {sub_text(arn).rsplit("/", 1)[-1] for arn in as_list(role["ManagedPolicyArns"])}
    assert managed == {"AWSLambdaBasicExecutionRole", "AWSXRayDaemonWriteAccess"}
    text = TEMPLATE.read_text(encoding="utf-8")
    assert re.findall(r"(?i)dynamodb:[a-z*]+", text.replace("dynamodb:<", "")) == [
        "dynamodb:GetItem"
    ]
    assert "DynamoDBCrudPolicy" not in text and "DynamoDBReadPolicy" not in text


def test_partner_environment_matches_the_contract(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    for partner, fields in partner_env(template).items():
        assert {"ROLE_ARN", "EXTERNAL_ID"} <= set(fields), partner
        (external_id,) = refs_in(fields["EXTERNAL_ID"])
        assert parameters[external_id].get("NoEcho") is True, external_id
        # Optional partners: the role ARN and ExternalId are set (or left out) together.
        role_arn = fields["ROLE_ARN"]
        if isinstance(role_arn, dict) and "Fn::If" in role_arn:
            assert fields["EXTERNAL_ID"]["Fn::If"][0] == role_arn["Fn::If"][0]


def test_function_settings(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    function = resources["PaymentsFunction"]
    properties = function["Properties"]
    assert function["Metadata"]["BuildMethod"] == "makefile"
    assert properties["Runtime"] == "python3.12"
    assert properties["Handler"] == "payments.app.handler"
    assert properties["CodeUri"] == "functions/payments"
    assert properties["Architectures"] == [{"Ref": "Architecture"}]
    assert properties["Timeout"] == 10 and properties["MemorySize"] == 512
    assert "Active" in branches(properties["Tracing"])
    layer_choices = as_list(properties["Layers"])
    assert layer_choices == [
        {"Ref": "PartnerDbLayerX8664"},
        {"Ref": "PartnerDbLayerArm64"},
        {"Ref": "ExistingLayerArn"},
    ]
    assert template["Parameters"]["ExistingLayerArn"]["Default"] == ""
    for name, arch in (("PartnerDbLayerX8664", "x86_64"), ("PartnerDbLayerArm64", "arm64")):
        layer = resources[name]
        assert layer["Type"] == "AWS::Serverless::LayerVersion"
        assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": arch}
        assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
        assert layer["Properties"]["CompatibleArchitectures"] == [arch]
        assert layer["Condition"].startswith("BuildLayer")
        makefile = (ROOT / layer["Properties"]["ContentUri"] / "Makefile").read_text()
        assert f"build-{name}:" in makefile and f"build_layer,{arch})" in makefile
    makefile = (ROOT / properties["CodeUri"] / "Makefile").read_text()
    assert "build-PaymentsFunction:" in makefile
    outputs = template["Outputs"]
    assert outputs["PaymentsFunctionArn"]["Value"] == {"Fn::GetAtt": ["PaymentsFunction", "Arn"]}
    assert as_list(outputs["PartnerDbLayerArn"]["Value"]) == layer_choices
