"""Where registry entries live: a DynamoDB table or SSM Parameter Store, in the home account.

Both stores read with the function's own credentials through partnerdb's shared client factory,
so a lookup gets the Lambda-tuned timeouts and the invocation's deadline hooks. An entry is the
fields `role_arn`, `external_id`, optional `region` and `table_prefix`, `status`
(`active` | `disabled`) and `updated_at`. The write and list methods serve the `partnerdb`
command; the runtime only reads.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from partnerdb.clients import ClientFactory
from partnerdb.config import ClientSettings, PartnerConfig
from partnerdb.constants import REGISTRY_SSM_PATH_ENV, REGISTRY_TABLE_ENV, home_region
from partnerdb.errors import ConfigError, RegistryEntryInvalid, RegistryUnavailable

ACTIVE = "active"
DISABLED = "disabled"
STATUSES = (ACTIVE, DISABLED)
#: Entry fields in the order the CLI shows them.
FIELDS = ("partner_id", "role_arn", "external_id", "region", "table_prefix", "status", "updated_at")
_CONFIG_FIELDS = {"ROLE_ARN": "role_arn", "EXTERNAL_ID": "external_id", "REGION": "region",
                  "TABLE_PREFIX": "table_prefix"}
_SSM_PATH = re.compile(r"/[A-Za-z0-9_.\-/]{1,900}")
_TABLE = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_NOT_FOUND = {"ParameterNotFound"}
#: Listing stops after this many pages (the CLI's `list`; 1 MB of items per DynamoDB page).
MAX_LIST_PAGES = 1000


@dataclass(frozen=True)
class RegistryRecord:
    """A validated registry entry: the partner's configuration and whether it is served."""

    config: PartnerConfig
    status: str
    updated_at: str = ""

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


class Registry(Protocol):
    """What the runtime needs of a registry: one read per partner id."""

    def describe(self) -> str:
        """`dynamodb:<table>` or `ssm:<path>`, for logs and the CLI (no secret in it)."""
        ...

    def attach(self, factory: ClientFactory) -> None:
        """Build clients from `factory` (the one partner clients share)."""
        ...

    def ready(self) -> None:
        """Build the client now (no network call), so a read's time budget is all network."""
        ...

    def read(self, partner_id: str) -> RegistryRecord | None:
        """The partner's entry, or None if there is none.

        Raises `RegistryUnavailable` when the store does not answer and
        `RegistryEntryInvalid` for a malformed entry.
        """
        ...


def parse_entry(partner_id: str, fields: Mapping[str, object], home_region: str) -> RegistryRecord:
    """Validate a raw entry; a bad field raises `RegistryEntryInvalid` naming it, no value."""
    values: dict[str, str] = {}
    for name in FIELDS:
        value = fields.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise RegistryEntryInvalid(partner_id, name, "must be a string")
        values[name] = value.strip() if name != "external_id" else value
    for required in ("role_arn", "external_id"):
        if not values.get(required):
            raise RegistryEntryInvalid(partner_id, required, "is missing")
    if values.get("partner_id", partner_id).lower() != partner_id:
        raise RegistryEntryInvalid(partner_id, "partner_id", "does not match the entry's key")
    status = values.get("status") or ACTIVE
    if status not in STATUSES:
        raise RegistryEntryInvalid(partner_id, "status", "must be 'active' or 'disabled'")
    try:
        config = PartnerConfig(
            partner_id=partner_id,
            role_arn=values["role_arn"],
            external_id=values["external_id"],
            region=values.get("region") or home_region,
            table_prefix=values.get("table_prefix", ""),
        )
    except ConfigError as err:
        field = next(
            (f for k, f in _CONFIG_FIELDS.items() if err.variable.endswith(f"_{k}")), "entry"
        )
        problem = str(err).split(": ", 1)[-1]
        raise RegistryEntryInvalid(partner_id, field, problem) from None
    return RegistryRecord(config=config, status=status, updated_at=values.get("updated_at", ""))


def _error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", "Unknown"))


def _unavailable(partner_id: str, where: str, err: Exception) -> RegistryUnavailable:
    if isinstance(err, ClientError):
        return RegistryUnavailable(partner_id, f"registry {where} answered {_error_code(err)}")
    return RegistryUnavailable(
        partner_id, f"registry {where} unreachable ({type(err).__name__})"
    )


class _Store:
    """Lazily built home client of one service, from the shared factory."""

    service = ""

    def __init__(self, region: str | None, factory: ClientFactory | None) -> None:
        self._region = region
        self._factory = factory
        self._client: Any = None
        self._lock = threading.Lock()

    def attach(self, factory: ClientFactory) -> None:
        if self._factory is None:
            self._factory = factory

    @property
    def region(self) -> str:
        if self._region:
            return self._region
        return self._factory_now().settings.sts_region

    @property
    def home_region(self) -> str:
        """Where a partner without a `region` field lives: the function's region."""
        return home_region(os.environ) or self.region

    def _factory_now(self) -> ClientFactory:
        if self._factory is None:
            self._factory = ClientFactory(ClientSettings.from_env())
        return self._factory

    def ready(self) -> None:
        self.client()

    def read(self, partner_id: str) -> RegistryRecord | None:
        raw = self.get_raw(partner_id)
        return None if raw is None else parse_entry(partner_id, raw, self.home_region)

    def get_raw(self, partner_id: str) -> dict[str, object] | None:
        """The entry's fields as stored (unvalidated), or None; `RegistryUnavailable` on error."""
        raise NotImplementedError

    def client(self) -> Any:
        """The store's client with the caller's own credentials (built once)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    factory = self._factory_now()
                    self._client = factory.home_client(self.service, self.region)
        return self._client


class DynamoDBRegistry(_Store):
    """Entries as items of a DynamoDB table keyed by `partner_id` (S), read with GetItem."""

    service = "dynamodb"

    def __init__(
        self, table: str, region: str | None = None, *, factory: ClientFactory | None = None
    ) -> None:
        if not _TABLE.fullmatch(table or ""):
            raise ConfigError(REGISTRY_TABLE_ENV, "must be a DynamoDB table name")
        super().__init__(region, factory)
        self.table = table

    def describe(self) -> str:
        return f"dynamodb:{self.table}"


    def get_raw(self, partner_id: str) -> dict[str, object] | None:
        """The item as plain fields (a non-string attribute stays as its DynamoDB shape)."""
        try:
            response = self.client().get_item(
                TableName=self.table, Key={"partner_id": {"S": partner_id}}, ConsistentRead=False
            )
        except (ClientError, BotoCoreError) as err:
            raise _unavailable(partner_id, self.describe(), err) from err
        item = response.get("Item")
        return None if item is None else _from_item(item)

    def put_raw(self, fields: Mapping[str, str]) -> None:
        item = {name: {"S": value} for name, value in fields.items() if value != ""}
        self.client().put_item(TableName=self.table, Item=item)

    def list_raw(self) -> list[dict[str, object]]:
        entries: list[dict[str, object]] = []
        start: dict[str, Any] = {}
        for _ in range(MAX_LIST_PAGES):
            page = self.client().scan(TableName=self.table, **start)
            entries.extend(_from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return entries
            start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
        raise RuntimeError(f"{self.describe()} has more than {MAX_LIST_PAGES} pages of entries")


def _from_item(item: Mapping[str, Any]) -> dict[str, object]:
    return {name: value.get("S", value) for name, value in item.items()}


class SsmRegistry(_Store):
    """Entries as SecureString parameters `<path>/<id>` holding the fields as JSON."""

    service = "ssm"

    def __init__(
        self, path: str, region: str | None = None, *, factory: ClientFactory | None = None
    ) -> None:
        path = (path or "").rstrip("/")
        if not _SSM_PATH.fullmatch(path):
            raise ConfigError(
                REGISTRY_SSM_PATH_ENV, "must be a parameter path like /partnerdb/partners"
            )
        super().__init__(region, factory)
        self.path = path

    def describe(self) -> str:
        return f"ssm:{self.path}"

    def name_of(self, partner_id: str) -> str:
        return f"{self.path}/{partner_id}"


    def get_raw(self, partner_id: str) -> dict[str, object] | None:
        try:
            response = self.client().get_parameter(
                Name=self.name_of(partner_id), WithDecryption=True
            )
        except ClientError as err:
            if _error_code(err) in _NOT_FOUND:
                return None
            raise _unavailable(partner_id, self.describe(), err) from err
        except BotoCoreError as err:
            raise _unavailable(partner_id, self.describe(), err) from err
        return _parse_json(partner_id, response["Parameter"]["Value"])

    def put_raw(self, fields: Mapping[str, str]) -> None:
        value = json.dumps({k: v for k, v in fields.items() if v != ""}, sort_keys=True)
        self.client().put_parameter(
            Name=self.name_of(fields["partner_id"]), Value=value, Type="SecureString",
            Overwrite=True,
        )

    def list_raw(self) -> list[dict[str, object]]:
        entries: list[dict[str, object]] = []
        start: dict[str, Any] = {}
        for _ in range(MAX_LIST_PAGES):
            page = self.client().get_parameters_by_path(
                Path=self.path, Recursive=False, WithDecryption=True, **start
            )
            for param in page.get("Parameters", []):
                pid = str(param["Name"]).rsplit("/", 1)[-1]
                try:
                    entries.append({"partner_id": pid, **_parse_json(pid, param["Value"])})
                except RegistryEntryInvalid:
                    entries.append({"partner_id": pid, "status": "malformed"})
            if not page.get("NextToken"):
                return entries
            start = {"NextToken": page["NextToken"]}
        raise RuntimeError(f"{self.describe()} has more than {MAX_LIST_PAGES} pages of entries")


def _parse_json(partner_id: str, text: str) -> dict[str, object]:
    try:
        value = json.loads(text)
    except ValueError:
        raise RegistryEntryInvalid(partner_id, "value", "is not JSON") from None
    if not isinstance(value, dict):
        raise RegistryEntryInvalid(partner_id, "value", "is not a JSON object")
    return value
