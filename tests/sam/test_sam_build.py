"""`sam build` of template.yaml, offline and without Docker, and what it produces.

Both resources use `BuildMethod: makefile`, which SAM runs in-process: functions/payments/Makefile
for the function, layer/Makefile (build_layer.sh) for the layers. SAM itself comes from its own
venv (release/sam.py; aws-sam-cli pins an older boto3 than the dev venv's). Runs in
`make test-sam`; plain `make test` skips it (tests/sam/conftest.py says when and why).

Checked: the function artifact holds the function's modules and nothing of handler_sdk,
partnerdb or their dependencies; each layer artifact holds python/partnerdb, python/handler_sdk
and the pinned dependencies with native code for its architecture; and, with a python3.12 on
the machine,
the function imports with nothing but its artifact and the layer on sys.path, as on Lambda.
Also: SAM's own translation of the template (what `sam deploy` submits) adds no IAM and keeps
every reference resolvable, and passes cfn-lint as plain CloudFormation.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from release import sam
from tests.sam.refcheck import check_references, load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

pytestmark = pytest.mark.sam_build

FUNCTION = "PaymentsFunction"
LAYERS = {"x86_64": "PartnerDbLayerX8664", "arm64": "PartnerDbLayerArm64"}
NATIVE_TAG = {"x86_64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}
# Never in the function's artifact: they come from the layer only.
LAYER_ONLY = (
    "partnerdb", "handler_sdk", "botocore", "boto3", "pynamodb", "aws_xray_sdk", "wrapt"
)
# Needed before `sam build` can succeed (some are written by other parts of the project).
INPUTS = (
    "functions/payments/__init__.py",
    "functions/payments/app.py",
    "functions/payments/models.py",
    "functions/payments/Makefile",
    "handler_sdk/__init__.py",
    "layer/partnerdb/__init__.py",
    "layer/Makefile",
    "build_layer.sh",
    "release/build_layer.sh",
)


def say(config: pytest.Config, line: str) -> None:
    """Write a line to the terminal, whatever the capture mode."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


@pytest.fixture(scope="module")
def build_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run `sam build` once for the module; return its --build-dir."""
    missing = [path for path in INPUTS if not (ROOT / path).is_file()]
    if missing:
        pytest.fail(f"sam build cannot run, missing: {', '.join(missing)}")

    started = time.monotonic()
    installed_before = sam.is_installed()
    sam.ensure_sam()
    install_s = time.monotonic() - started
    say(
        request.config,
        f"\nsam: aws-sam-cli {sam.SAM_CLI_VERSION} "
        + (
            "already installed"
            if installed_before
            else f"installed into {sam.venv_dir()} in {install_s:.1f} s"
        ),
    )

    work = tmp_path_factory.mktemp("sam-build")
    out = work / "build"
    started = time.monotonic()
    done = sam.run_sam(
        [
            "build",
            "--template-file",
            str(TEMPLATE),
            "--base-dir",
            str(ROOT),
            "--build-dir",
            str(out),
            "--cache-dir",
            str(work / "cache"),
        ],
        cwd=work,  # build.toml and anything else SAM writes land here, not in the repo
        timeout=1500,
    )
    build_s = time.monotonic() - started
    (work / "sam-build.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    assert done.returncode == 0, f"sam build failed:\n{done.stdout[-6000:]}{done.stderr[-6000:]}"
    say(request.config, f"sam: build of template.yaml took {build_s:.1f} s (log: {work})")
    return out


@pytest.fixture(scope="module")
def built_template(build_dir: Path) -> dict[str, Any]:
    return load_template(build_dir / "template.yaml")


def files_under(directory: Path) -> list[Path]:
    return sorted(path.relative_to(directory) for path in directory.rglob("*"))


def test_built_template_points_at_the_artifacts(
    build_dir: Path, built_template: dict[str, Any]
) -> None:
    resources = built_template["Resources"]
    assert resources[FUNCTION]["Properties"]["CodeUri"] == FUNCTION
    for layer in LAYERS.values():
        assert resources[layer]["Properties"]["ContentUri"] == layer
    for name in (FUNCTION, *LAYERS.values()):
        assert (build_dir / name).is_dir(), name


def test_function_artifact_is_function_code_only(build_dir: Path) -> None:
    function = build_dir / FUNCTION
    assert (function / "payments" / "__init__.py").is_file()
    assert (function / "payments" / "app.py").is_file()
    assert (function / "payments" / "models.py").is_file()
    for path in files_under(function):
        assert path.parts[0] not in LAYER_ONLY, f"{path}: comes from the layer only"
        assert "partnerdb" not in path.name, f"{path}: partnerdb comes from the layer only"
        assert "__pycache__" not in path.parts, path
        assert not path.name.endswith(".dist-info"), path
    assert not (function / "Makefile").exists()


@pytest.mark.parametrize("arch", sorted(LAYERS))
def test_layer_artifact(build_dir: Path, arch: str) -> None:
    site = build_dir / LAYERS[arch] / "python"
    assert [p.name for p in site.parent.iterdir()] == ["python"], "the layer root holds python/"
    assert (site / "partnerdb" / "__init__.py").is_file()
    assert (site / "botocore" / "__init__.py").is_file()
    assert (site / "pynamodb" / "__init__.py").is_file()
    assert not (site / "bin").exists()
    sources = {
        p.relative_to(ROOT / "layer").as_posix()
        for p in (ROOT / "layer" / "partnerdb").rglob("*.py")
        if "testing" not in p.relative_to(ROOT / "layer" / "partnerdb").parts
    }
    shipped = {p.relative_to(site).as_posix() for p in (site / "partnerdb").rglob("*.py")}
    assert sources == shipped  # the test kit (partnerdb/testing) ships in the wheel only
    sdk = {p.name for p in (ROOT / "handler_sdk").glob("*.py")}
    assert sdk == {p.name for p in (site / "handler_sdk").glob("*.py")}
    native = [Path(p).name for p in glob.glob(str(site / "**" / "*.so"), recursive=True)]
    assert native, "no native extension (wrapt's) in the layer"
    for name in native:
        assert NATIVE_TAG[arch] in name, f"{name} is not for {arch}"


def python312() -> str | None:
    """A CPython 3.12 on this machine (Lambda's python3.12 runtime), or None."""
    candidates = [os.environ.get("PARTNERDB_TARGET_PYTHON", ""), "python3.12"]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(
        glob.glob(str(pyenv / "versions" / "3.12*" / "bin" / "python3.12")), reverse=True
    )
    for candidate in filter(None, candidates):
        try:
            done = subprocess.run(
                [candidate, "-I", "-c", "import sys; print(sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except OSError:
            continue
        if done.returncode == 0 and done.stdout.strip() == "(3, 12)":
            return candidate
    return None


IMPORT_CHECK = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from payments import app
import handler_sdk, partnerdb
print(json.dumps({
    "handler": callable(getattr(app, "handler", None)),
    "handler_sdk": handler_sdk.__file__,
    "partnerdb": partnerdb.__file__,
    "pynamodb": sys.modules["pynamodb"].__file__ if "pynamodb" in sys.modules else None,
}))
"""


def test_function_imports_with_only_its_artifact_and_the_layer(build_dir: Path) -> None:
    """As on Lambda: /var/task (the function) then /opt/python (the layer), nothing else."""
    interpreter = python312()
    if interpreter is None:
        pytest.skip("no python3.12 here to stand in for the Lambda runtime")

    function = build_dir / FUNCTION
    layer = build_dir / LAYERS["x86_64"] / "python"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LAMBDA_TASK_ROOT": str(function),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIAFUNCTIONHOMEKEY0",
        "AWS_SECRET_ACCESS_KEY": "function-home-secret",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "PARTNER_ACME_ROLE_ARN": "arn:aws:iam::111111111111:role/partnerdb-access",
        "PARTNER_ACME_EXTERNAL_ID": "acme-external-id-for-tests",
    }
    # -I: no PYTHON* variables, no user site; -S: no site-packages. Only stdlib, then the paths.
    done = subprocess.run(
        [interpreter, "-I", "-S", "-c", IMPORT_CHECK, str(function), str(layer)],
        capture_output=True,
        text=True,
        env=env,
        cwd=function,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["handler"] is True
    assert Path(found["handler_sdk"]).is_relative_to(layer)
    assert Path(found["partnerdb"]).is_relative_to(layer)
    if found["pynamodb"]:
        assert Path(found["pynamodb"]).is_relative_to(layer)


# What SAM turns the template into (the CloudFormation that `sam deploy` submits), translated
# offline with the aws-sam-translator that SAM CLI ships; artifact URIs stand in for the S3
# locations `sam package` would write, and a region is given for the pseudo parameters.
TRANSLATE = """
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

class NoManagedPolicies:
    def load(self):
        return {}

template = yaml_parse(open(sys.argv[1], encoding="utf-8").read())
for resource in template["Resources"].values():
    properties = resource.get("Properties", {})
    for key in ("CodeUri", "ContentUri"):
        if key in properties:
            properties[key] = "s3://artifact-bucket/" + key
print(json.dumps(transform(template, {}, NoManagedPolicies())))
"""


@pytest.fixture(scope="module")
def translated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    python = sam.ensure_sam().parent / "python"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    done = subprocess.run(
        [str(python), "-I", "-c", TRANSLATE, str(TEMPLATE)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-6000:]
    result: dict[str, Any] = json.loads(done.stdout)
    (tmp_path_factory.mktemp("sam-translate") / "template.json").write_text(
        json.dumps(result, indent=1), encoding="utf-8"
    )
    return result


def test_translated_template_references_resolve(translated: dict[str, Any]) -> None:
    """After SAM renames the layers (hash suffixes), every reference still resolves."""
    problems = check_references(translated)
    assert not problems, "\n".join(map(str, problems))
    assert "Transform" not in translated


def test_translation_adds_no_iam_and_keeps_conditions(translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    kinds = sorted(resource["Type"] for resource in resources.values())
    assert kinds == [
        "AWS::DynamoDB::Table",  # the optional partner registry, declared in the template
        "AWS::IAM::Role",
        "AWS::Lambda::Function",
        "AWS::Lambda::LayerVersion",
        "AWS::Lambda::LayerVersion",
        "AWS::Logs::LogGroup",
    ], "SAM generated resources the template does not declare"
    layers = {
        resource["Condition"]: name
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::LayerVersion"
    }
    assert set(layers) == {"BuildLayerX8664", "BuildLayerArm64"}
    function = resources[FUNCTION]["Properties"]
    assert function["Layers"] == [
        {
            "Fn::If": [
                "BuildLayerX8664",
                {"Ref": layers["BuildLayerX8664"]},
                {
                    "Fn::If": [
                        "BuildLayerArm64",
                        {"Ref": layers["BuildLayerArm64"]},
                        {"Ref": "ExistingLayerArn"},
                    ]
                },
            ]
        }
    ]
    assert function["Role"] == {"Fn::GetAtt": ["PaymentsFunctionRole", "Arn"]}
    assert (
        function["Environment"]
        == load_template(TEMPLATE)["Resources"][FUNCTION]["Properties"]["Environment"]
    )


def test_translated_template_passes_cfn_lint(translated: dict[str, Any], tmp_path: Path) -> None:
    """Plain CloudFormation, so cfn-lint checks the Lambda resources in full."""
    path = tmp_path / "translated.json"
    path.write_text(json.dumps(translated, indent=1), encoding="utf-8")
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    done = subprocess.run(
        [str(cfn_lint), "--format", "parseable", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
