"""The AWS side of publishing the layer: one region's Lambda, S3 and SSM calls, with botocore.

`RegionPublisher` publishes a zip as a layer version unless the newest version for the same
runtime and architecture already has its CodeSha256, shares the version (organization,
accounts, or public) and records its ARN in SSM Parameter Store. Zips over Lambda's 50 MB
direct-upload limit go through S3 (`bucket`, in the same region, as Lambda requires).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

# Lambda refuses a direct (non-S3) upload above 50 MB.
DIRECT_UPLOAD_LIMIT = 50 * 1000 * 1000
GET_LAYER = "lambda:GetLayerVersion"


class PublishError(Exception):
    """A failure worth one line to the user; `code` is the exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class LayerZip:
    """One built layer zip and what it is for."""

    data: bytes
    python: str
    arch: str
    slim: bool
    name: str
    description: str
    code_sha256: str

    @property
    def runtime(self) -> str:
        return f"python{self.python}"

    def parameter(self, prefix: str) -> str:
        """Its SSM parameter: `<prefix>/<python>/<arch>[/slim]`."""
        return f"{prefix}/{self.python}/{self.arch}" + ("/slim" if self.slim else "")


@dataclass(frozen=True)
class Sharing:
    """Who may use the published versions besides the publishing account."""

    org_id: str | None = None
    accounts: tuple[str, ...] = ()
    public: bool = False

    def statements(self) -> dict[str, dict[str, str]]:
        """Statement id -> add_layer_version_permission arguments."""
        wanted: dict[str, dict[str, str]] = {}
        if self.org_id:
            org = {"Principal": "*", "OrganizationId": self.org_id}
            wanted[f"partnerdb-org-{self.org_id}"] = org
        for account in self.accounts:
            wanted[f"partnerdb-account-{account}"] = {"Principal": account}
        if self.public:
            wanted["partnerdb-public"] = {"Principal": "*"}
        return wanted


@dataclass(frozen=True)
class Outcome:
    """What happened to one zip in one region."""

    region: str
    layer: LayerZip
    version: int
    arn: str
    published: bool
    parameter: str
    shared_with: tuple[str, ...]


def error_code(exc: ClientError) -> str:
    """The AWS error code of a ClientError."""
    return str(exc.response.get("Error", {}).get("Code", ""))


class RegionPublisher:
    """Publishing in one region, with clients made by the caller's botocore session."""

    def __init__(
        self, session: Any, region: str, *, bucket: str | None, ssm_prefix: str, sharing: Sharing
    ) -> None:
        self.region = region
        self.lambda_ = session.create_client("lambda", region_name=region)
        self._session = session
        self.bucket = bucket.replace("{region}", region) if bucket else None
        self.ssm_prefix = ssm_prefix
        self.sharing = sharing

    def run(self, layer: LayerZip) -> Outcome:
        """Publish (or reuse) `layer`'s version, share it, and record its ARN in SSM."""
        same = self.current_version(layer)
        if same is None:
            found = self.publish(layer)
            published = True
        else:
            found, published = same, False
        version = int(found["Version"])
        arn = str(found["LayerVersionArn"])
        shared = self.share(layer.name, version)
        parameter = layer.parameter(self.ssm_prefix)
        self._session.create_client("ssm", region_name=self.region).put_parameter(
            Name=parameter,
            Value=arn,
            Type="String",
            Overwrite=True,
            Description=f"partnerdb layer {layer.runtime} {layer.arch}"
            + (" slim" if layer.slim else ""),
        )
        return Outcome(self.region, layer, version, arn, published, parameter, shared)

    def current_version(self, layer: LayerZip) -> dict[str, Any] | None:
        """The newest version for this runtime and architecture, if it has the same bytes."""
        newest: int | None = None
        try:
            pages = self.lambda_.get_paginator("list_layer_versions").paginate(
                LayerName=layer.name,
                CompatibleRuntime=layer.runtime,
                CompatibleArchitecture=layer.arch,
            )
            for page in pages:
                for item in page.get("LayerVersions", []):
                    # Checked here too: some implementations (moto) ignore the two filters.
                    if layer.runtime not in item.get("CompatibleRuntimes", []):
                        continue
                    if layer.arch not in item.get("CompatibleArchitectures", []):
                        continue
                    version = int(item["Version"])
                    newest = version if newest is None else max(newest, version)
            if newest is None:
                return None
            found: dict[str, Any] = self.lambda_.get_layer_version(
                LayerName=layer.name, VersionNumber=newest
            )
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise
        return found if found.get("Content", {}).get("CodeSha256") == layer.code_sha256 else None

    def publish(self, layer: LayerZip) -> dict[str, Any]:
        """A new version from the zip's bytes (through S3 above the direct limit)."""
        published: dict[str, Any] = self.lambda_.publish_layer_version(
            LayerName=layer.name,
            Description=layer.description,
            Content=self.content(layer),
            CompatibleRuntimes=[layer.runtime],
            CompatibleArchitectures=[layer.arch],
            LicenseInfo="Apache-2.0",
        )
        reported = published.get("Content", {}).get("CodeSha256")
        if reported != layer.code_sha256:
            raise PublishError(
                f"Lambda reports CodeSha256 {reported}, expected {layer.code_sha256}"
            )
        return published

    def content(self, layer: LayerZip) -> dict[str, Any]:
        """`Content` of PublishLayerVersion: the bytes, or an S3 object they were put in."""
        if len(layer.data) <= DIRECT_UPLOAD_LIMIT:
            return {"ZipFile": layer.data}
        if not self.bucket:
            raise PublishError(too_big(len(layer.data)), 2)
        key = f"partnerdb-layer/{layer.name}/{layer.python}-{layer.arch}-{digest_hex(layer)}.zip"
        s3 = self._session.create_client("s3", region_name=self.region)
        s3.put_object(Bucket=self.bucket, Key=key, Body=layer.data)
        return {"S3Bucket": self.bucket, "S3Key": key}

    def share(self, name: str, version: int) -> tuple[str, ...]:
        """Add the sharing statements the version lacks; return every statement id wanted."""
        wanted = self.sharing.statements()
        if not wanted:
            return ()
        present = self.statement_ids(name, version)
        for sid, principal in wanted.items():
            if sid in present:
                continue
            self.lambda_.add_layer_version_permission(
                LayerName=name,
                VersionNumber=version,
                StatementId=sid,
                Action=GET_LAYER,
                **principal,
            )
        return tuple(wanted)

    def statement_ids(self, name: str, version: int) -> set[str]:
        """The statement ids of the version's policy (none when it has no policy)."""
        try:
            policy = self.lambda_.get_layer_version_policy(LayerName=name, VersionNumber=version)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return set()
            raise
        return {s.get("Sid", "") for s in json.loads(policy["Policy"]).get("Statement", [])}


def too_big(size: int) -> str:
    return (
        f"the zip is {size / 1e6:.1f} MB, over Lambda's 50 MB direct upload limit: set "
        "LAYER_BUCKET to an S3 bucket in each target region (or build with --slim)"
    )


def digest_hex(layer: LayerZip) -> str:
    """A short hex form of the zip's sha256 (from its base64 CodeSha256)."""
    return base64.b64decode(layer.code_sha256).hex()[:16]
