"""release/publish_layer.py against the moto server (Lambda layers, SSM, S3 over HTTP): names per
flavour, one version per (python, arch), regions, the unchanged-content skip per region,
sharing, SSM parameters, the S3 route for big zips, and one-line errors."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from emulators.moto_server import MotoServer
from release import publish_layer
from tests.conftest import HOME_ENV
from tests.layer.builds import PYTHON, ROOT, Build

REGIONS = ("us-east-1", "eu-west-1")
LAYER_ENV = ("LAYER_", "REGIONS")


def client(service: str, region: str = "us-east-1") -> Any:
    return botocore.session.get_session().create_client(service, region_name=region)


def code_sha256(path: Path) -> str:
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def fake_zip(folder: Path, python: str, arch: str, *, slim: bool = False, extra: bytes = b"",
             size: int = 0) -> Path:  # fmt: skip
    """A small zip named as build_layer.sh names them (a full one carries botocore)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"partnerdb-layer-{python}-{arch}{'-slim' if slim else ''}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("python/partnerdb/__init__.py", b"__version__ = '0'\n" + extra)
        if not slim:
            zf.writestr("python/botocore/__init__.py", b"")
        if size:
            zf.writestr("python/blob.bin", random.Random(7).randbytes(size))
    return path


def versions(name: str, region: str = "us-east-1") -> list[dict[str, Any]]:
    try:
        found = client("lambda", region).list_layer_versions(LayerName=name)["LayerVersions"]
    except client("lambda", region).exceptions.ResourceNotFoundException:
        return []
    return sorted(found, key=lambda v: v["Version"])


def parameter(name: str, region: str = "us-east-1") -> str:
    value: str = client("ssm", region).get_parameter(Name=name)["Parameter"]["Value"]
    return value


def policy(name: str, version: int) -> list[dict[str, Any]]:
    lam = client("lambda")
    try:
        raw = lam.get_layer_version_policy(LayerName=name, VersionNumber=version)["Policy"]
    except lam.exceptions.ResourceNotFoundException:
        return []
    statements: list[dict[str, Any]] = json.loads(raw).get("Statement", [])
    return statements


@pytest.fixture
def aws(moto: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """moto, no publishing option set; returns where the ARN file goes."""
    for key in list(os.environ):
        if key.startswith(LAYER_ENV):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return tmp_path / "arns.txt"


def publish(arn_file: Path, *zips: Path, extra: tuple[str, ...] = ()) -> int:
    args = [a for z in zips for a in ("--zip", str(z))]
    return publish_layer.main([*args, "--arn-file", str(arn_file), *extra])


def rows(out: str) -> list[list[str]]:
    """The table's data rows, split into cells."""
    lines = out.strip().splitlines()
    assert lines[0].split()[:3] == ["REGION", "PYTHON", "ARCH"]
    return [line.split() for line in lines if not line.startswith("REGION ")]


def test_full_and_slim_under_their_names_in_two_regions_then_skipped(
    aws: Path, default_build: Build, slim_build: Build, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("REGIONS", ",".join(REGIONS))
    assert publish(aws, default_build.zip_path, slim_build.zip_path) == 0
    table = rows(capsys.readouterr().out)
    assert len(table) == 4 and {row[5] for row in table} == {"published"}
    arch = "x86_64"
    for region in REGIONS:
        (full,) = versions("partnerdb", region)
        (slim,) = versions("partnerdb-slim", region)
        assert full["CompatibleRuntimes"] == slim["CompatibleRuntimes"] == [f"python{PYTHON}"]
        assert f":{region}:" in full["LayerVersionArn"]
        assert parameter(f"/partnerdb/layer/{PYTHON}/{arch}", region) == full["LayerVersionArn"]
        assert parameter(f"/partnerdb/layer/{PYTHON}/{arch}/slim", region) == slim[
            "LayerVersionArn"]  # fmt: skip
        got = client("lambda", region).get_layer_version(LayerName="partnerdb", VersionNumber=1)
        assert got["Content"]["CodeSha256"] == code_sha256(default_build.zip_path)
        assert "slim" in slim["Description"] and "slim" not in full["Description"]
    assert len(aws.read_text().splitlines()) == 4
    # full, slim, full again: nothing new anywhere (the old single-name bug gave versions 1-3)
    assert publish(aws, default_build.zip_path) == 0
    assert publish(aws, slim_build.zip_path, default_build.zip_path) == 0
    again = rows(capsys.readouterr().out)
    assert {row[5] for row in again} == {"unchanged"}
    for region in REGIONS:
        assert len(versions("partnerdb", region)) == len(versions("partnerdb-slim", region)) == 1


def test_one_version_per_python_and_arch_each_skipped_on_its_own(
    aws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zips = [fake_zip(tmp_path / "z", py, arch) for py, arch in
            (("3.12", "x86_64"), ("3.12", "arm64"), ("3.13", "x86_64"))]  # fmt: skip
    assert publish(aws, *zips) == 0
    published = versions("partnerdb")
    assert [(v["CompatibleRuntimes"], v["CompatibleArchitectures"]) for v in published] == [
        (["python3.12"], ["x86_64"]), (["python3.12"], ["arm64"]), (["python3.13"], ["x86_64"])
    ]  # fmt: skip
    assert parameter("/partnerdb/layer/3.12/arm64") == published[1]["LayerVersionArn"]
    capsys.readouterr()
    changed = fake_zip(tmp_path / "z2", "3.12", "arm64", extra=b"# changed\n")
    assert publish(aws, *zips[:1], changed, *zips[2:]) == 0
    assert [row[5] for row in rows(capsys.readouterr().out)] == [
        "unchanged", "published", "unchanged"]  # fmt: skip
    assert len(versions("partnerdb")) == 4
    assert parameter("/partnerdb/layer/3.12/arm64").endswith(":layer:partnerdb:4")


def test_the_skip_is_per_region(
    aws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zip_path = fake_zip(tmp_path, "3.12", "x86_64")
    assert publish(aws, zip_path, extra=("--regions", "us-east-1")) == 0
    capsys.readouterr()
    assert publish(aws, zip_path, extra=("--regions", "us-east-1,eu-west-1")) == 0
    assert [(r[0], r[5]) for r in rows(capsys.readouterr().out)] == [
        ("us-east-1", "unchanged"), ("eu-west-1", "published")]  # fmt: skip
    assert len(versions("partnerdb", "eu-west-1")) == 1


def test_names_are_overridable_and_must_differ(
    aws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("LAYER_NAME", "team-db")
    slim = fake_zip(tmp_path, "3.12", "x86_64", slim=True)
    assert publish(aws, fake_zip(tmp_path, "3.12", "x86_64"), slim,
                   extra=("--slim-name", "team-db-lite")) == 0  # fmt: skip
    assert [v["Version"] for v in versions("team-db")] == [1]
    assert [v["Version"] for v in versions("team-db-lite")] == [1]
    capsys.readouterr()
    assert publish(aws, slim, extra=("--slim-name", "team-db")) == 2
    assert "distinct names" in capsys.readouterr().err


def test_nothing_is_shared_unless_asked(aws: Path, tmp_path: Path) -> None:
    assert publish(aws, fake_zip(tmp_path, "3.12", "x86_64")) == 0
    assert policy("partnerdb", 1) == []


def test_organization_and_accounts_then_public_only_when_asked(
    aws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    zip_path = fake_zip(tmp_path, "3.12", "x86_64")
    monkeypatch.setenv("LAYER_ORG_ID", "o-a1b2c3d4e5")
    monkeypatch.setenv("LAYER_ACCOUNTS", "111122223333, 444455556666")
    assert publish(aws, zip_path) == 0
    statements = {s["Sid"]: s for s in policy("partnerdb", 1)}
    assert set(statements) == {
        "partnerdb-org-o-a1b2c3d4e5", "partnerdb-account-111122223333",
        "partnerdb-account-444455556666",
    }  # fmt: skip
    org = statements["partnerdb-org-o-a1b2c3d4e5"]
    # AWS turns OrganizationId into this condition; moto 5.2.5 keeps the request's field.
    condition = {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}
    assert org.get("Condition") == condition or org.get("OrganizationId") == "o-a1b2c3d4e5"
    assert statements["partnerdb-account-111122223333"]["Principal"] == "111122223333"
    assert all(s["Action"] == "lambda:GetLayerVersion" for s in statements.values())
    assert "partnerdb-public" not in statements
    # the unchanged version gets what is asked for later, once
    monkeypatch.setenv("LAYER_PUBLIC", "1")
    assert publish(aws, zip_path) == 0
    assert publish(aws, zip_path) == 0
    assert len(versions("partnerdb")) == 1
    public = [s for s in policy("partnerdb", 1) if s["Sid"] == "partnerdb-public"]
    assert len(public) == 1 and public[0]["Principal"] == "*"
    assert "Condition" not in public[0] and "OrganizationId" not in public[0]


BIG = 50 * 1000 * 1000 + 1024


def test_a_zip_over_50_mb_needs_a_bucket_and_goes_through_s3(
    aws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    big = fake_zip(tmp_path, "3.12", "x86_64", size=BIG)
    assert publish(aws, big) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "50 MB direct upload limit" in err[0] and "LAYER_BUCKET" in err[0]
    assert versions("partnerdb") == []
    for region in REGIONS:
        config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {
            "LocationConstraint": region}}  # fmt: skip
        client("s3", region).create_bucket(Bucket=f"layers-{region}", **config)
    monkeypatch.setenv("LAYER_BUCKET", "layers-{region}")
    monkeypatch.setenv("REGIONS", ",".join(REGIONS))
    assert publish(aws, big) == 0
    for region in REGIONS:
        assert len(versions("partnerdb", region)) == 1
        got = client("lambda", region).get_layer_version(LayerName="partnerdb", VersionNumber=1)
        assert got["Content"]["CodeSha256"] == code_sha256(big)
        keys = client("s3", region).list_objects_v2(Bucket=f"layers-{region}")["Contents"]
        assert len(keys) == 1 and keys[0]["Size"] == big.stat().st_size


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LAYER_ORG_ID": "org-1"}, "LAYER_ORG_ID"),
        ({"LAYER_ACCOUNTS": "1234,111122223333"}, "12-digit"),
        ({"REGIONS": "us-east-1,Mars"}, "not a region"),
        ({"LAYER_PUBLIC": "yes"}, "LAYER_PUBLIC must be 1 or 0"),
        ({"LAYER_NAME": "bad name"}, "LAYER_NAME"),
        ({"LAYER_SSM_PREFIX": "no-slash"}, "LAYER_SSM_PREFIX"),
    ],
)
def test_bad_options_are_one_line_and_publish_nothing(
    aws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], env: dict[str, str], message: str,
) -> None:  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert publish(aws, fake_zip(tmp_path, "3.12", "x86_64")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert versions("partnerdb") == []


def test_zip_names_and_contents_are_checked(
    aws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = tmp_path / "layer.zip"
    odd.write_bytes(fake_zip(tmp_path / "x", "3.12", "x86_64").read_bytes())
    assert publish(aws, odd) == 2
    assert "not a name build_layer.sh writes" in capsys.readouterr().err
    mislabeled = fake_zip(tmp_path / "y", "3.12", "x86_64")
    mislabeled = mislabeled.rename(mislabeled.with_name("partnerdb-layer-3.12-x86_64-slim.zip"))
    assert publish(aws, mislabeled) == 2
    assert "does not match its name" in capsys.readouterr().err
    same = fake_zip(tmp_path / "z", "3.12", "x86_64")
    assert publish(aws, same, same) == 2
    assert "same python, arch and flavour" in capsys.readouterr().err


def run_cli(
    env: dict[str, str], zip_path: Path, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """The command as `make layer` runs it, in a scrubbed environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", *LAYER_ENV))}
    base.update(
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    base.update(env)
    return subprocess.run(
        [sys.executable, "-m", "release.publish_layer", "--zip", str(zip_path),
         "--arn-file", str(tmp_path / "arns.txt")],
        env=base, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def assert_one_line_error(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("publish_layer: error: ")
    assert text in lines[0]
    assert "Traceback" not in result.stderr
    for secret in (HOME_ENV["AWS_SECRET_ACCESS_KEY"], HOME_ENV["AWS_SESSION_TOKEN"]):
        assert secret not in result.stderr


def test_missing_region_is_one_line_exit_2(moto_server: MotoServer, tmp_path: Path) -> None:
    env = {k: v for k, v in HOME_ENV.items() if "REGION" not in k}
    zip_path = fake_zip(tmp_path / "z", "3.12", "x86_64")
    result = run_cli({**env, "AWS_ENDPOINT_URL": moto_server.url}, zip_path, tmp_path)
    assert_one_line_error(result, "no AWS region")
    assert not (tmp_path / "arns.txt").exists()


def test_missing_credentials_is_one_line_exit_2(moto_server: MotoServer, tmp_path: Path) -> None:
    env = {"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto_server.url}
    result = run_cli(env, fake_zip(tmp_path / "z", "3.12", "x86_64"), tmp_path)
    assert_one_line_error(result, "no AWS credentials")


def test_partial_credentials_do_not_leak(moto_server: MotoServer, tmp_path: Path) -> None:
    env = {
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto_server.url,
        "AWS_SECRET_ACCESS_KEY": HOME_ENV["AWS_SECRET_ACCESS_KEY"],
        "AWS_SESSION_TOKEN": HOME_ENV["AWS_SESSION_TOKEN"],
    }
    result = run_cli(env, fake_zip(tmp_path / "z", "3.12", "x86_64"), tmp_path)
    assert_one_line_error(result, "AWS credentials")


def test_missing_or_broken_zip_is_one_line_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "partnerdb-layer-3.12-x86_64.zip"
    assert_one_line_error(run_cli({"AWS_REGION": "us-east-1"}, missing, tmp_path), "cannot read")
    missing.write_bytes(b"not a zip")
    assert_one_line_error(run_cli({"AWS_REGION": "us-east-1"}, missing, tmp_path), "not a zip")


def test_redact_removes_credential_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-value")
    assert publish_layer.redact("bad s3cr3t-value\nhere") == "bad <redacted> here"


def test_git_commit_marks_a_dirty_tree(tmp_path: Path) -> None:
    assert publish_layer.git_commit(tmp_path) == "unknown"
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "f").write_text("1")
    subprocess.run([*git, "add", "f"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "c"], check=True)
    sha = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert publish_layer.git_commit(tmp_path) == sha
    (tmp_path / "f").write_text("2")
    assert publish_layer.git_commit(tmp_path) == f"{sha}-dirty"


def test_package_version_is_read_without_importing(tmp_path: Path) -> None:
    version_file = tmp_path / "_version.py"
    version_file.write_text('__version__ = "9.8.7"\n')
    assert publish_layer.package_version(version_file) == "9.8.7"
    version_file.write_text("nothing\n")
    with pytest.raises(publish_layer.PublishError):
        publish_layer.package_version(version_file)


def test_bundles_botocore_reads_the_zip() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("python/botocore/__init__.py", "")
    assert publish_layer.bundles_botocore(buf.getvalue())
