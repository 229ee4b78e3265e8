"""Static checks of template.yaml (SAM) and partner-role.yaml (the partner's CloudFormation).

- cfn-lint passes on both (warnings count as failures);
- every reference resolves (tests.sam.refcheck, which also walks the places cfn-lint skips),
  and the checker is shown to catch a bad `!Ref` in a function's Environment and Layers;
- the function's IAM role can do nothing with partner data itself: sts:AssumeRole on the
  configured partner role parameters, and with a registry on the one fixed partner role name
  in any account (the only wildcard); dynamodb:GetItem on the registry table only, or
  ssm:GetParameter under the registry path with kms:Decrypt through SSM; no SAM policy;
- the partner role is assumable only from the trusted account with the ExternalId, for at
  most an hour, and only for item, query and transaction access to the three tables.
"""

from __future__ import annotations

import copy
import importlib.util
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.sam.refcheck import Problem, check_references, collect_references, load_template

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


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def partner_template() -> dict[str, Any]:
    return load_template(PARTNER_ROLE)


# ---------------------------------------------------------------------------------------------
# (a) cfn-lint


def cfn_lint() -> Path:
    """cfn-lint of the interpreter running the tests (the dev venv's, pinned)."""
    path = Path(sys.executable).parent / "cfn-lint"
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make install` (cfn-lint is in requirements-dev)")
    return path


@pytest.mark.parametrize("path", [TEMPLATE, PARTNER_ROLE], ids=lambda p: p.name)
def test_cfn_lint_passes(path: Path) -> None:
    started = time.monotonic()
    done = subprocess.run(
        [str(cfn_lint()), "--format", "parseable", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    elapsed = time.monotonic() - started
    report = f"cfn-lint {path.name} ({elapsed:.1f} s):\n{done.stdout}{done.stderr}"
    assert done.returncode == 0, report


def test_cfn_lint_catches_an_error(tmp_path: Path) -> None:
    """cfn-lint really runs (a silent no-op would pass the test above)."""
    broken = tmp_path / "template.yaml"
    broken.write_text(
        TEMPLATE.read_text(encoding="utf-8").replace("Timeout: 10", "Timeout: 100000", 1),
        encoding="utf-8",
    )
    done = subprocess.run(
        [str(cfn_lint()), "--format", "parseable", str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0 and "100000" in done.stdout, done.stdout + done.stderr


# ---------------------------------------------------------------------------------------------
# (b) references


@pytest.mark.parametrize("path", [TEMPLATE, PARTNER_ROLE], ids=lambda p: p.name)
def test_every_reference_resolves(path: Path) -> None:
    problems = check_references(load_template(path))
    assert not problems, "\n".join(map(str, problems))


def test_checker_sees_function_environment_and_layers(template: dict[str, Any]) -> None:
    """The places cfn-lint is weakest are walked: Environment, Layers, Sub, Conditions."""
    refs, problems = collect_references(template)
    assert not problems
    where = {(ref.kind, ref.name, ref.where) for ref in refs}
    env = "Resources.PaymentsFunction.Properties.Environment.Variables"
    layers = "Resources.PaymentsFunction.Properties.Layers[0]"
    assert ("Ref", "PartnerAcmeRoleArn", f"{env}.PARTNER_ACME_ROLE_ARN.Ref") in where
    assert ("Ref", "PartnerDbLayerX8664", f"{layers}.Fn::If[1].Ref") in where
    assert ("Condition", "BuildLayerX8664", f"{layers}.Fn::If[0]") in where
    assert ("Ref", "ExistingLayerArn", f"{layers}.Fn::If[2].Fn::If[2].Ref") in where
    log_group = "Resources.PaymentsLogGroup.Properties.LogGroupName"
    assert ("Sub", "AWS::StackName", f"{log_group}.Fn::Sub") in where
    assert ("Condition", "BuildLayer", "Conditions.BuildLayerX8664.Fn::And[0].Condition") in where


SMALL_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  RoleArn: {Type: String}
  LayerArn: {Type: String, Default: ""}
Conditions:
  HasLayer: !Not [!Equals [!Ref LayerArn, ""]]
Resources:
  Layer:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: layer, CompatibleRuntimes: [python3.12]}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/payments
      Handler: app.handler
      Runtime: python3.12
      Layers:
        - !If [HasLayer, !Ref LayerArn, !Ref Layer]
      Environment:
        Variables:
          PARTNER_X_ROLE_ARN: !Ref RoleArn
          STACK: !Sub "${AWS::StackName}-${Layer}-${!NotAReference}"
          PREFIXED: !Sub ["${Prefix}-x", {Prefix: !Ref AWS::Region}]
Outputs:
  FnArn: {Value: !GetAtt Fn.Arn}
"""


def problems_after(edit: str, replacement: str) -> list[Problem]:
    assert edit in SMALL_TEMPLATE
    return check_references(load_template(SMALL_TEMPLATE.replace(edit, replacement, 1)))


def test_small_template_is_clean() -> None:
    assert check_references(load_template(SMALL_TEMPLATE)) == []


def test_bad_ref_in_function_environment_is_caught() -> None:
    problems = problems_after("PARTNER_X_ROLE_ARN: !Ref RoleArn", "PARTNER_X_ROLE_ARN: !Ref Nope")
    assert [p.where for p in problems] == [
        "Resources.Fn.Properties.Environment.Variables.PARTNER_X_ROLE_ARN.Ref"
    ]
    assert "Nope" in problems[0].message


def test_bad_ref_in_function_layers_is_caught() -> None:
    problems = problems_after("!Ref Layer]", "!Ref MissingLayer]")
    assert [p.where for p in problems] == ["Resources.Fn.Properties.Layers[0].Fn::If[2].Ref"]
    plain = problems_after("- !If [HasLayer, !Ref LayerArn, !Ref Layer]", "- !Ref MissingLayer")
    assert [p.where for p in plain] == ["Resources.Fn.Properties.Layers[0].Ref"]


def test_bad_condition_sub_and_getatt_are_caught() -> None:
    assert problems_after("!If [HasLayer,", "!If [NoSuchCondition,")[0].where == (
        "Resources.Fn.Properties.Layers[0].Fn::If[0]"
    )
    sub = problems_after("${AWS::StackName}-${Layer}", "${AWS::StackName}-${Lyer}")
    assert [p.message for p in sub] == [
        "Sub Lyer: no Parameter, Resource or pseudo parameter of that name"
    ]
    sub_attr = problems_after("${Layer}", "${RoleArn.Arn}")
    assert "RoleArn is a Parameter, not a Resource" in sub_attr[0].message
    getatt = problems_after("!GetAtt Fn.Arn", "!GetAtt Function.Arn")
    assert [p.where for p in getatt] == ["Outputs.FnArn.Value.Fn::GetAtt"]
    ref_to_condition = problems_after("!Ref RoleArn", "!Ref HasLayer")
    assert "names a Condition" in ref_to_condition[0].message


def test_sub_variable_map_names_are_local() -> None:
    """`${Prefix}` is defined by the Sub's own map; a wrong name inside the map is caught."""
    assert problems_after("{Prefix: !Ref AWS::Region}", "{Prefix: !Ref AWS::Regio}")[0].where == (
        "Resources.Fn.Properties.Environment.Variables.PREFIXED.Fn::Sub[1].Prefix.Ref"
    )
    unknown = problems_after('"${Prefix}-x"', '"${Prefixx}-x"')
    assert "Prefixx" in unknown[0].message


def test_malformed_intrinsics_are_reported() -> None:
    two_armed = problems_after("!Ref LayerArn, !Ref Layer]", "!Ref Layer]")
    assert "Fn::If needs" in two_armed[0].message
    assert "Ref needs a name" in problems_after("!Ref RoleArn", "{Ref: [RoleArn]}")[0].message


def test_long_form_json_is_checked_too() -> None:
    template = {
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "DependsOn": ["Missing"],
                "Properties": {"Environment": {"Variables": {"A": {"Ref": "Gone"}}}},
            }
        }
    }
    assert sorted(p.message for p in check_references(copy.deepcopy(template))) == [
        "DependsOn Missing: no Resource named Missing",
        "Ref Gone: no Parameter, Resource or pseudo parameter of that name",
    ]


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
            assert "*" not in action, action
            if action.lower().startswith("dynamodb:"):
                # Only reading registry entries, in the registry table only.
                assert action == "dynamodb:GetItem"
                assert statement["Resource"] == {"Fn::GetAtt": ["PartnerRegistryTable", "Arn"]}
    managed = {sub_text(arn).rsplit("/", 1)[-1] for arn in as_list(role["ManagedPolicyArns"])}
    assert managed == {"AWSLambdaBasicExecutionRole", "AWSXRayDaemonWriteAccess"}
    text = TEMPLATE.read_text(encoding="utf-8")
    assert re.findall(r"(?i)dynamodb:[a-z*]+", text.replace("dynamodb:<", "")) == [
        "dynamodb:GetItem"
    ]
    assert "DynamoDBCrudPolicy" not in text and "DynamoDBReadPolicy" not in text


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
    assert key_types(properties["KeySchema"]) == {"partner_id": "HASH"}
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
    assert properties["Handler"] == "app.handler"
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
    assert (external_id["MinLength"], external_id["MaxLength"]) == (2, 1224)
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
    spec = importlib.util.spec_from_file_location("_partnerdb_payments_models_under_test", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


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
