"""release/publish_layer.py against the moto server: publish, skip when unchanged, errors."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from emulators.moto_server import MotoServer
from release import publish_layer
from tests.conftest import HOME_ENV
from tests.layer.builds import PYTHON, ROOT, Build

LAYER = f"partnerdb-py{PYTHON.replace('.', '')}-x86_64"


def lambda_client() -> Any:
    session = botocore.session.get_session()
    return session.create_client("lambda", region_name=os.environ["AWS_REGION"])


def code_sha256(path: Path) -> str:
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def publish(zip_path: Path, arn_file: Path, *extra: str) -> int:
    return publish_layer.main(
        [
            "--zip",
            str(zip_path),
            "--python",
            PYTHON,
            "--arch",
            "x86_64",
            "--arn-file",
            str(arn_file),
            *extra,
        ]
    )


@pytest.fixture
def aws(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """moto with no LAYER_NAME set and no instance metadata lookups."""
    monkeypatch.delenv("LAYER_NAME", raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return moto


def test_publish_then_skip_then_publish_changed_content(
    aws: MotoServer,
    default_build: Build,
    slim_build: Build,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    arn_file = tmp_path / "layer-arn.txt"
    client = lambda_client()

    assert publish(default_build.zip_path, arn_file) == 0
    first = capsys.readouterr()
    arn = first.out.strip()
    assert arn.endswith(f":layer:{LAYER}:1")
    assert arn_file.read_text() == arn + "\n"
    version = client.get_layer_version(LayerName=LAYER, VersionNumber=1)
    assert version["Content"]["CodeSha256"] == code_sha256(default_build.zip_path)
    assert version["CompatibleRuntimes"] == [f"python{PYTHON}"]
    assert version["CompatibleArchitectures"] == ["x86_64"]
    assert f"partnerdb {publish_layer.package_version()} " in version["Description"]
    assert f"({publish_layer.git_commit()})" in version["Description"]

    assert publish(default_build.zip_path, arn_file) == 0
    again = capsys.readouterr()
    assert again.out.strip() == arn
    assert "unchanged" in again.err
    assert len(client.list_layer_versions(LayerName=LAYER)["LayerVersions"]) == 1
    assert arn_file.read_text() == arn + "\n"

    assert publish(slim_build.zip_path, arn_file) == 0
    changed = capsys.readouterr().out.strip()
    assert changed.endswith(f":layer:{LAYER}:2")
    assert arn_file.read_text() == changed + "\n"
    latest = client.get_layer_version(LayerName=LAYER, VersionNumber=2)
    assert latest["Content"]["CodeSha256"] == code_sha256(slim_build.zip_path)
    assert "slim" in latest["Description"]
    assert "slim" not in version["Description"]


def test_name_from_flag_or_environment(
    aws: MotoServer,
    slim_build: Build,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LAYER_NAME", "from-env")
    assert publish(slim_build.zip_path, tmp_path / "arn.txt") == 0
    assert capsys.readouterr().out.strip().endswith(":layer:from-env:1")
    assert publish(slim_build.zip_path, tmp_path / "arn.txt", "--name", "from-flag") == 0
    assert capsys.readouterr().out.strip().endswith(":layer:from-flag:1")
    assert publish_layer.layer_name(None, "3.13", "arm64") == "from-env"
    monkeypatch.delenv("LAYER_NAME")
    assert publish_layer.layer_name(None, "3.13", "arm64") == "partnerdb-py313-arm64"


def run_cli(
    env: dict[str, str], zip_path: Path, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """The command as `make layer` runs it, in a scrubbed environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAYER_NAME"))}
    base.update(
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    base.update(env)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "release.publish_layer",
            "--zip",
            str(zip_path),
            "--python",
            PYTHON,
            "--arch",
            "x86_64",
            "--arn-file",
            str(tmp_path / "arn.txt"),
        ],
        env=base,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


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


def test_missing_region_is_one_line_exit_2(
    moto_server: MotoServer, slim_build: Build, tmp_path: Path
) -> None:
    env = {k: v for k, v in HOME_ENV.items() if "REGION" not in k}
    result = run_cli({**env, "AWS_ENDPOINT_URL": moto_server.url}, slim_build.zip_path, tmp_path)
    assert_one_line_error(result, "no AWS region")
    assert not (tmp_path / "arn.txt").exists()


def test_missing_credentials_is_one_line_exit_2(
    moto_server: MotoServer, slim_build: Build, tmp_path: Path
) -> None:
    env = {"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto_server.url}
    result = run_cli(env, slim_build.zip_path, tmp_path)
    assert_one_line_error(result, "no AWS credentials")


def test_partial_credentials_do_not_leak(
    moto_server: MotoServer, slim_build: Build, tmp_path: Path
) -> None:
    env = {
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto_server.url,
        "AWS_SECRET_ACCESS_KEY": HOME_ENV["AWS_SECRET_ACCESS_KEY"],
        "AWS_SESSION_TOKEN": HOME_ENV["AWS_SESSION_TOKEN"],
    }
    result = run_cli(env, slim_build.zip_path, tmp_path)
    assert_one_line_error(result, "AWS credentials")


def test_missing_or_broken_zip_is_one_line_exit_2(tmp_path: Path) -> None:
    result = run_cli({"AWS_REGION": "us-east-1"}, tmp_path / "missing.zip", tmp_path)
    assert_one_line_error(result, "cannot read")
    (tmp_path / "broken.zip").write_bytes(b"not a zip")
    result = run_cli({"AWS_REGION": "us-east-1"}, tmp_path / "broken.zip", tmp_path)
    assert_one_line_error(result, "not a zip")


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
