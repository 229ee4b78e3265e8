"""Static checks of template.yaml and partner-role.yaml: cfn-lint passes on both (warnings
count as failures), and every reference resolves (tests.sam.refcheck, which also walks the
places cfn-lint skips); the checker is shown to catch a bad `!Ref` in a function's Environment
and Layers."""

from __future__ import annotations

import copy
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.sam.refcheck import Problem, check_references, collect_references, load_template
from tests.sam.templates import PARTNER_ROLE, TEMPLATE

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
