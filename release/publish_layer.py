"""Publish built layer zips as Lambda layer versions, in one or more regions.

    python -m release.publish_layer --zip build/partnerdb-layer-3.12-x86_64.zip \\
        [--zip build/partnerdb-layer-3.12-arm64.zip ...] [--regions us-east-1,eu-west-1]

Each zip's Python, architecture and flavour come from its name as `build_layer.sh` writes it
(`partnerdb-layer-<python>-<arch>[-slim].zip`). For each zip and region:

- full and slim layers publish under their own names: `--name`/`LAYER_NAME` (default
  `partnerdb`) and `--slim-name`/`LAYER_NAME_SLIM` (default `partnerdb-slim`);
- nothing is published when the newest version for that runtime and architecture already has
  the zip's CodeSha256 (build_layer.sh writes byte-identical zips for identical inputs): that
  version is reused;
- sharing: `--org-id`/`LAYER_ORG_ID=o-...` and `--accounts`/`LAYER_ACCOUNTS=111...,222...` add
  layer version permissions (lambda:GetLayerVersion); public only with `--public`/
  `LAYER_PUBLIC=1`; nothing is shared otherwise;
- the version ARN goes to SSM Parameter Store, `/partnerdb/layer/<python>/<arch>[/slim]`
  (`--ssm-prefix`/`LAYER_SSM_PREFIX`), in that region;
- a zip over Lambda's 50 MB direct-upload limit is uploaded to `--bucket`/`LAYER_BUCKET`
  (`{region}` in the name is replaced by each region) and published from there.

Regions: `--regions`/`REGIONS` (comma-separated), else the session's region (`AWS_REGION`,
`AWS_DEFAULT_REGION` or the profile's). Explicit options win over the environment. A table of
what happened goes to stdout, the ARNs (one a line) to `--arn-file` (build/layer-arns.txt),
progress to stderr. Bad options, no region, no credentials, an unreadable zip or one too big
without a bucket: one line on stderr and exit code 2, before anything is published; any other
failure one line and exit code 1. No traceback, and no credential value, is ever printed.
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
from collections.abc import Mapping, Sequence
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

from release.layer_aws import (
    DIRECT_UPLOAD_LIMIT,
    LayerZip,
    Outcome,
    PublishError,
    RegionPublisher,
    Sharing,
    error_code,
    too_big,
)

ROOT = Path(__file__).resolve().parent.parent
VERSION_FILE = ROOT / "layer" / "partnerdb" / "_version.py"
DEFAULT_ARN_FILE = ROOT / "build" / "layer-arns.txt"
DEFAULT_NAME = "partnerdb"
DEFAULT_SLIM_NAME = "partnerdb-slim"
DEFAULT_SSM_PREFIX = "/partnerdb/layer"
EXIT_FAILED = 1
EXIT_CONFIG = 2
_ZIP_NAME = re.compile(r"partnerdb-layer-(3\.1[1-3])-(x86_64|arm64)(-slim)?\.zip")
_LAYER_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_ORG_ID = re.compile(r"o-[a-z0-9]{10,32}")
_ACCOUNT = re.compile(r"\d{12}")
_SSM_PREFIX = re.compile(r"(/[A-Za-z0-9_.-]+)+")


@dataclass(frozen=True)
class Options:
    """Everything a run needs, validated."""

    zips: tuple[Path, ...]
    name: str
    slim_name: str
    regions: tuple[str, ...]
    sharing: Sharing
    bucket: str | None
    ssm_prefix: str
    arn_file: Path


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m release.publish_layer",
        description="Publish layer zips (unchanged ones are skipped) to regions, share them "
        "and record their ARNs in SSM.",
    )
    parser.add_argument("--zip", dest="zips", action="append", required=True, type=Path,
                        help="a zip built by build_layer.sh (repeat for each python/arch)")
    parser.add_argument("--name", help=f"full layer name (LAYER_NAME, default {DEFAULT_NAME})")
    parser.add_argument("--slim-name", help=f"slim layer name (LAYER_NAME_SLIM, default "
                        f"{DEFAULT_SLIM_NAME})")
    parser.add_argument("--regions", help="comma-separated regions (REGIONS)")
    parser.add_argument("--org-id", help="share with this organization (LAYER_ORG_ID)")
    parser.add_argument("--accounts", help="share with these accounts (LAYER_ACCOUNTS)")
    parser.add_argument("--public", action="store_true", default=None,
                        help="share with every AWS account (LAYER_PUBLIC=1)")
    parser.add_argument("--bucket", help="S3 bucket for zips over 50 MB (LAYER_BUCKET)")
    parser.add_argument("--ssm-prefix", help=f"SSM path (LAYER_SSM_PREFIX, default "
                        f"{DEFAULT_SSM_PREFIX})")
    parser.add_argument("--arn-file", type=Path, default=DEFAULT_ARN_FILE,
                        help=f"where to write the ARNs (default: {DEFAULT_ARN_FILE})")
    return parser.parse_args(argv)  # fmt: skip


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def resolve_options(args: argparse.Namespace, env: Mapping[str, str]) -> Options:
    """Options from the command line, else the environment, else defaults; all validated."""
    name = args.name or env.get("LAYER_NAME") or DEFAULT_NAME
    slim_name = args.slim_name or env.get("LAYER_NAME_SLIM") or DEFAULT_SLIM_NAME
    for option, value in (("LAYER_NAME", name), ("LAYER_NAME_SLIM", slim_name)):
        if not _LAYER_NAME.fullmatch(value):
            raise PublishError(f"{option} {value!r}: 1-64 letters, digits, - and _", EXIT_CONFIG)
    if name == slim_name:
        raise PublishError(f"full and slim layers need distinct names, both are {name!r}",
                           EXIT_CONFIG)  # fmt: skip
    regions = _split(args.regions or env.get("REGIONS"))
    for region in regions:
        if not _REGION.fullmatch(region):
            raise PublishError(f"REGIONS: {region!r} is not a region like us-east-1", EXIT_CONFIG)
    org_id = args.org_id or env.get("LAYER_ORG_ID") or None
    if org_id is not None and not _ORG_ID.fullmatch(org_id):
        raise PublishError(f"LAYER_ORG_ID {org_id!r} is not an organization id like "
                           "o-a1b2c3d4e5", EXIT_CONFIG)  # fmt: skip
    accounts = _split(args.accounts or env.get("LAYER_ACCOUNTS"))
    for account in accounts:
        if not _ACCOUNT.fullmatch(account):
            raise PublishError(f"LAYER_ACCOUNTS: {account!r} is not a 12-digit account id",
                               EXIT_CONFIG)  # fmt: skip
    public_flag = env.get("LAYER_PUBLIC", "")
    if public_flag not in ("", "0", "1"):
        raise PublishError(f"LAYER_PUBLIC must be 1 or 0, not {public_flag!r}", EXIT_CONFIG)
    public = bool(args.public) or public_flag == "1"
    ssm_prefix = (args.ssm_prefix or env.get("LAYER_SSM_PREFIX") or DEFAULT_SSM_PREFIX).rstrip("/")
    if not _SSM_PREFIX.fullmatch(ssm_prefix):
        raise PublishError(f"LAYER_SSM_PREFIX {ssm_prefix!r} is not a path like /partnerdb/layer",
                           EXIT_CONFIG)  # fmt: skip
    return Options(
        zips=tuple(args.zips),
        name=name,
        slim_name=slim_name,
        regions=regions,
        sharing=Sharing(org_id=org_id, accounts=accounts, public=public),
        bucket=args.bucket or env.get("LAYER_BUCKET") or None,
        ssm_prefix=ssm_prefix,
        arn_file=args.arn_file,
    )


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


def bundles_botocore(data: bytes) -> bool:
    """Whether the layer zip carries its own botocore (a `--slim` build does not)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return "python/botocore/__init__.py" in zf.namelist()
    except zipfile.BadZipFile:
        raise PublishError("the layer file is not a zip", EXIT_CONFIG) from None


def load_zip(path: Path, options: Options) -> LayerZip:
    """Read and describe one zip; refuse it when its name or content says nothing usable."""
    match = _ZIP_NAME.fullmatch(path.name)
    if match is None:
        raise PublishError(
            f"{path.name}: not a name build_layer.sh writes "
            "(partnerdb-layer-<3.11|3.12|3.13>-<x86_64|arm64>[-slim].zip)",
            EXIT_CONFIG,
        )
    python, arch, slim = match.group(1), match.group(2), match.group(3) is not None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PublishError(f"cannot read {path}: {exc.strerror}", EXIT_CONFIG) from None
    if bundles_botocore(data) == slim:
        raise PublishError(f"{path.name}: its content does not match its name (slim or full)",
                           EXIT_CONFIG)  # fmt: skip
    if len(data) > DIRECT_UPLOAD_LIMIT and not options.bucket:
        raise PublishError(f"{path.name}: {too_big(len(data))}", EXIT_CONFIG)
    description = f"partnerdb {package_version()} ({git_commit()}) python{python} {arch}"
    if slim:
        description += " slim (uses the runtime's boto3/botocore)"
    return LayerZip(
        data=data,
        python=python,
        arch=arch,
        slim=slim,
        name=options.slim_name if slim else options.name,
        description=description,
        code_sha256=code_sha256(data),
    )


def aws_session(regions: tuple[str, ...]) -> tuple[Any, tuple[str, ...]]:
    """A botocore session with credentials, and the regions to publish to.

    Checking first turns botocore's errors (raised deep inside the first call) into one clear
    line. `AWS_ENDPOINT_URL` is honoured by botocore itself.
    """
    session = botocore.session.get_session()
    try:
        region = session.get_config_variable("region") or os.environ.get("AWS_REGION")
        credentials = session.get_credentials()
    except (PartialCredentialsError, ProfileNotFound) as exc:
        raise PublishError(f"AWS credentials: {exc}", EXIT_CONFIG) from None
    if not regions and not region:
        raise PublishError(
            "no AWS region: set REGIONS, AWS_REGION or AWS_DEFAULT_REGION (or a profile's region)",
            EXIT_CONFIG,
        )
    if credentials is None:
        raise PublishError(
            "no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
            EXIT_CONFIG,
        )
    return session, regions or (str(region),)


def run(options: Options) -> list[Outcome]:
    """Publish (or reuse) every zip in every region; return what happened."""
    layers = [load_zip(path, options) for path in options.zips]
    keys = [(layer.python, layer.arch, layer.slim) for layer in layers]
    if len(set(keys)) != len(keys):
        raise PublishError("two zips for the same python, arch and flavour", EXIT_CONFIG)
    session, regions = aws_session(options.regions)
    outcomes: list[Outcome] = []
    for region in regions:
        publisher = RegionPublisher(
            session,
            region,
            bucket=options.bucket,
            ssm_prefix=options.ssm_prefix,
            sharing=options.sharing,
        )
        for layer in layers:
            outcome = publisher.run(layer)
            verb = "published" if outcome.published else "unchanged, reused"
            note(f"{region}: {verb} {layer.name} version {outcome.version} "
                 f"({layer.runtime} {layer.arch}, CodeSha256 {layer.code_sha256})")  # fmt: skip
            outcomes.append(outcome)
    options.arn_file.parent.mkdir(parents=True, exist_ok=True)
    options.arn_file.write_text("".join(f"{o.arn}\n" for o in outcomes))
    return outcomes


def table(outcomes: Sequence[Outcome]) -> str:
    """The outcomes as an aligned text table, one row per (region, zip)."""
    header = ("REGION", "PYTHON", "ARCH", "LAYER", "VERSION", "STATUS", "SSM PARAMETER", "ARN")
    rows = [header] + [
        (
            o.region,
            o.layer.python,
            o.layer.arch,
            o.layer.name,
            str(o.version),
            "published" if o.published else "unchanged",
            o.parameter,
            o.arn,
        )
        for o in outcomes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def note(message: str) -> None:
    """A progress line on stderr."""
    print(f"publish_layer: {message}", file=sys.stderr)


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
        print(table(run(resolve_options(args, os.environ))))
    except PublishError as exc:
        return fail(str(exc), exc.code)
    except (NoCredentialsError, PartialCredentialsError, ProfileNotFound) as exc:
        return fail(f"AWS credentials: {exc}", EXIT_CONFIG)
    except NoRegionError:
        return fail("no AWS region: set REGIONS, AWS_REGION or AWS_DEFAULT_REGION", EXIT_CONFIG)
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", "")
        return fail(f"{error_code(exc)}: {message}")
    except (BotoCoreError, OSError) as exc:
        return fail(str(exc))
    return 0


def fail(message: str, code: int = EXIT_FAILED) -> int:
    """Print one redacted error line and return the exit code."""
    print(f"publish_layer: error: {redact(message)}", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
