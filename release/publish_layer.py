"""Publish a built layer zip as a Lambda layer version, unless the latest one is identical.

    python -m release.publish_layer --zip build/partnerdb-layer-3.12-x86_64.zip \\
        --python 3.12 --arch x86_64 [--name NAME] [--arn-file PATH]

The layer name is `--name`, else `LAYER_NAME`, else `partnerdb-py312-x86_64` (from the
Python version and architecture). The description carries the partnerdb version and the git
commit (`-dirty` when the work tree has changes). When the latest version already has the zip's
CodeSha256 (base64 of its sha256, as Lambda reports it) and the same runtime and architecture,
nothing is published and that version's ARN is reused: `build_layer.sh` writes byte-identical
zips for identical inputs, so an unchanged layer is never published twice.

The ARN goes to stdout (alone, so a shell can capture it) and to `build/layer-arn.txt`; progress
goes to stderr. Uses botocore only, which honours `AWS_ENDPOINT_URL`. The region comes from
`AWS_DEFAULT_REGION` or the profile, else `AWS_REGION`. A missing region, missing credentials
or an unreadable zip is one line on stderr and exit code 2; any other failure one line and exit
code 1. No traceback, and no credential value, is ever printed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

ROOT = Path(__file__).resolve().parent.parent
VERSION_FILE = ROOT / "layer" / "partnerdb" / "_version.py"
DEFAULT_ARN_FILE = ROOT / "build" / "layer-arn.txt"
ARCHITECTURES = ("x86_64", "arm64")
PYTHONS = ("3.11", "3.12", "3.13")
# Lambda refuses a direct (non-S3) upload above 50 MB.
DIRECT_UPLOAD_LIMIT = 50 * 1000 * 1000
EXIT_FAILED = 1
EXIT_CONFIG = 2


class PublishError(Exception):
    """A failure worth one line to the user; `code` is the exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class LayerSpec:
    """Everything that describes the version to publish."""

    name: str
    zip_path: Path
    runtime: str
    architecture: str
    description: str
    code_sha256: str


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m release.publish_layer",
        description="Publish the layer zip unless the latest version has the same CodeSha256.",
    )
    parser.add_argument("--zip", required=True, type=Path, help="the layer zip to publish")
    parser.add_argument("--python", default="3.12", choices=PYTHONS, help="runtime pythonX.Y")
    parser.add_argument("--arch", default="x86_64", choices=ARCHITECTURES)
    parser.add_argument("--name", help="layer name (default: LAYER_NAME or partnerdb-pyXY-ARCH)")
    parser.add_argument(
        "--arn-file",
        type=Path,
        default=DEFAULT_ARN_FILE,
        help=f"where to write the ARN (default: {DEFAULT_ARN_FILE})",
    )
    return parser.parse_args(argv)


def layer_name(explicit: str | None, python: str, arch: str) -> str:
    """`--name`, else `LAYER_NAME`, else `partnerdb-py<XY>-<arch>`."""
    derived = f"partnerdb-py{python.replace('.', '')}-{arch}"
    return explicit or os.environ.get("LAYER_NAME") or derived


def package_version(path: Path = VERSION_FILE) -> str:
    """`__version__` from partnerdb's `_version.py`, read as text (no import)."""
    match = re.search(r"""^__version__\s*=\s*["']([^"']+)["']""", path.read_text(), re.MULTILINE)
    if match is None:
        raise PublishError(f"no __version__ in {path}")
    return match.group(1)


def git_commit(root: Path = ROOT) -> str:
    """Short commit of the work tree, with `-dirty` if anything is changed; else "unknown"."""
    try:
        sha = _git(root, "rev-parse", "--short", "HEAD")
        dirty = _git(root, "status", "--porcelain")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


def _git(root: Path, *args: str) -> str:
    """Output of one git command in `root`, stripped."""
    result = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=30
    )
    return result.stdout.strip()


def code_sha256(data: bytes) -> str:
    """What Lambda reports as CodeSha256: the base64 of the zip's sha256 digest."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def build_spec(args: argparse.Namespace, data: bytes) -> LayerSpec:
    """The version to publish, from the command line and the zip's bytes."""
    runtime = f"python{args.python}"
    description = f"partnerdb {package_version()} ({git_commit()}) {runtime} {args.arch}"
    if not bundles_botocore(data):
        description += " slim (uses the runtime's boto3/botocore)"
    return LayerSpec(
        name=layer_name(args.name, args.python, args.arch),
        zip_path=args.zip,
        runtime=runtime,
        architecture=args.arch,
        description=description,
        code_sha256=code_sha256(data),
    )


def bundles_botocore(data: bytes) -> bool:
    """Whether the layer zip carries its own botocore (a `--slim` build does not)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return "python/botocore/__init__.py" in zf.namelist()
    except zipfile.BadZipFile:
        raise PublishError("the layer file is not a zip", EXIT_CONFIG) from None


def read_zip(path: Path) -> bytes:
    """The zip's bytes; it must exist and fit a direct upload."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PublishError(f"cannot read {path}: {exc.strerror}", EXIT_CONFIG) from None
    if len(data) > DIRECT_UPLOAD_LIMIT:
        raise PublishError(
            f"{path} is {len(data) / 1e6:.1f} MB, over Lambda's 50 MB direct upload limit "
            "(build with --slim)"
        )
    return data


def lambda_client() -> Any:
    """A botocore Lambda client, after checking that a region and credentials exist.

    Checking first turns botocore's errors (raised deep inside the first call) into one clear
    line. `AWS_ENDPOINT_URL` is honoured by botocore itself.
    """
    session = botocore.session.get_session()
    try:
        region = session.get_config_variable("region") or os.environ.get("AWS_REGION")
        credentials = session.get_credentials()
    except (PartialCredentialsError, ProfileNotFound) as exc:
        raise PublishError(f"AWS credentials: {exc}", EXIT_CONFIG) from None
    if not region:
        raise PublishError(
            "no AWS region: set AWS_REGION or AWS_DEFAULT_REGION (or a profile's region)",
            EXIT_CONFIG,
        )
    if credentials is None:
        raise PublishError(
            "no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
            EXIT_CONFIG,
        )
    return session.create_client("lambda", region_name=region)


def latest_version(client: Any, name: str) -> dict[str, Any] | None:
    """The newest version of layer `name` with its Content (CodeSha256), or None if none."""
    newest: int | None = None
    try:
        for page in client.get_paginator("list_layer_versions").paginate(LayerName=name):
            for item in page.get("LayerVersions", []):
                version = int(item["Version"])
                newest = version if newest is None else max(newest, version)
        if newest is None:
            return None
        found: dict[str, Any] = client.get_layer_version(LayerName=name, VersionNumber=newest)
    except ClientError as exc:
        if _error_code(exc) == "ResourceNotFoundException":
            return None
        raise
    return found


def is_same(latest: dict[str, Any] | None, spec: LayerSpec) -> bool:
    """Whether `latest` already is this zip for this runtime and architecture."""
    if latest is None:
        return False
    return (
        latest.get("Content", {}).get("CodeSha256") == spec.code_sha256
        and spec.runtime in latest.get("CompatibleRuntimes", [])
        and spec.architecture in latest.get("CompatibleArchitectures", [])
    )


def publish(client: Any, spec: LayerSpec, data: bytes) -> dict[str, Any]:
    """Publish a new version and check that Lambda saw the same bytes."""
    published: dict[str, Any] = client.publish_layer_version(
        LayerName=spec.name,
        Description=spec.description,
        Content={"ZipFile": data},
        CompatibleRuntimes=[spec.runtime],
        CompatibleArchitectures=[spec.architecture],
    )
    reported = published.get("Content", {}).get("CodeSha256")
    if reported != spec.code_sha256:
        raise PublishError(f"Lambda reports CodeSha256 {reported}, expected {spec.code_sha256}")
    return published


def write_arn(path: Path, arn: str) -> None:
    """Write the ARN (and a newline) to `path`, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(arn + "\n")


def run(args: argparse.Namespace) -> str:
    """Publish (or reuse) the layer version; return its ARN."""
    data = read_zip(args.zip)
    spec = build_spec(args, data)
    client = lambda_client()
    latest = latest_version(client, spec.name)
    if latest is not None and is_same(latest, spec):
        arn = str(latest["LayerVersionArn"])
        note(
            f"unchanged: {spec.name} version {latest['Version']} has CodeSha256 "
            f"{spec.code_sha256}; not publishing"
        )
    else:
        published = publish(client, spec, data)
        arn = str(published["LayerVersionArn"])
        note(
            f"published {spec.name} version {published['Version']} "
            f"({len(data) / 2**20:.2f} MiB, CodeSha256 {spec.code_sha256}): {spec.description}"
        )
    write_arn(args.arn_file, arn)
    return arn


def note(message: str) -> None:
    """A progress line on stderr."""
    print(f"publish_layer: {message}", file=sys.stderr)


def _error_code(exc: ClientError) -> str:
    """The AWS error code of a ClientError."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def redact(message: str) -> str:
    """Remove any credential value from a message before it is printed."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        value = os.environ.get(key)
        if value:
            message = message.replace(value, "<redacted>")
    return " ".join(message.split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run; every failure is one line on stderr (no traceback) and a non-zero exit code."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        print(run(args))
    except PublishError as exc:
        return fail(str(exc), exc.code)
    except (NoCredentialsError, PartialCredentialsError, ProfileNotFound) as exc:
        return fail(f"AWS credentials: {exc}", EXIT_CONFIG)
    except NoRegionError:
        return fail("no AWS region: set AWS_REGION or AWS_DEFAULT_REGION", EXIT_CONFIG)
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", "")
        return fail(f"{_error_code(exc)}: {message}")
    except (BotoCoreError, OSError) as exc:
        return fail(str(exc))
    return 0


def fail(message: str, code: int = EXIT_FAILED) -> int:
    """Print one redacted error line and return the exit code."""
    print(f"publish_layer: error: {redact(message)}", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
