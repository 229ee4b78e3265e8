"""Configuration: partners and client settings, read from the environment once, validated up front.

Partners: `PARTNER_<ID>_ROLE_ARN` and `PARTNER_<ID>_EXTERNAL_ID` (required),
`PARTNER_<ID>_REGION` (default `AWS_REGION`), `PARTNER_<ID>_TABLE_PREFIX` (optional).
Client settings: `PARTNERDB_*` variables (see `ClientSettings`). Explicit arguments always win
over the environment. A bad value raises `ConfigError` naming the variable, at init, never at
the first request.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from partnerdb import constants as env_names
from partnerdb.constants import (
    EXTERNAL_ID_SUFFIX,
    PARTNER_PREFIX,
    PARTNER_SUFFIXES,
    REGION_SUFFIX,
    REQUIRED_PARTNER_SUFFIXES,
    ROLE_ARN_SUFFIX,
    TABLE_PREFIX_SUFFIX,
    home_region,
    partner_variable,
    settings_variable,
)
from partnerdb.errors import ConfigError, InvalidPartnerId

PARTNER_ID_MAX = 64
#: STS and IAM accept ASCII only (`\w` and `\d` would match any script's letters and digits):
#: ExternalId `[\w+=,.@:/-]`, role path and name `[\w+=,.@/-]`, 12 ASCII digits of account.
_PARTNER_ID = re.compile(r"[A-Za-z0-9_]+")
_ROLE_ARN = re.compile(r"arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]{1,512}")
#: AWS takes 2 to 1224 characters; fewer than 6 could not be kept out of logs (the redactor's
#: shortest secret) and would be guessable, which an ExternalId must not be.
_EXTERNAL_ID = re.compile(r"[A-Za-z0-9_+=,.@:/-]{6,1224}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
_TABLE_PREFIX = re.compile(r"[A-Za-z0-9_.-]{0,200}")
_PARTNER_VAR = re.compile(
    re.escape(PARTNER_PREFIX)
    + r"(?P<id>[A-Za-z0-9_]+?)_(?P<field>"
    + "|".join(PARTNER_SUFFIXES)
    + ")"
)


def normalize_partner_id(raw: object) -> str:
    """Return the canonical (lower-case) partner id, or raise `InvalidPartnerId`.

    Ids are case-insensitive letters, digits and underscore, 1 to 64 characters. The check
    runs before any lookup, so hostile ids never reach STS, a session name or a table name.
    """
    if not isinstance(raw, str):
        raise InvalidPartnerId(f"expected a string, got {type(raw).__name__}")
    if not raw:
        raise InvalidPartnerId("empty")
    if len(raw) > PARTNER_ID_MAX:
        raise InvalidPartnerId(f"longer than {PARTNER_ID_MAX} characters")
    if not _PARTNER_ID.fullmatch(raw):
        raise InvalidPartnerId("only letters, digits and underscore are allowed")
    return raw.lower()


@dataclass(frozen=True)
class PartnerConfig:
    """One partner: the role to assume in its account and where its tables live."""

    partner_id: str
    role_arn: str
    external_id: str = field(repr=False)
    region: str
    table_prefix: str = ""

    def __post_init__(self) -> None:
        pid = normalize_partner_id(self.partner_id)
        object.__setattr__(self, "partner_id", pid)
        var = partner_variable(pid)
        if not _ROLE_ARN.fullmatch(self.role_arn or ""):
            raise ConfigError(
                f"{var}_{ROLE_ARN_SUFFIX}",
                "must be an IAM role ARN like arn:aws:iam::123456789012:role/name",
            )
        if not _EXTERNAL_ID.fullmatch(self.external_id or ""):
            # Never echo the value: it is a shared secret with the partner.
            raise ConfigError(
                f"{var}_{EXTERNAL_ID_SUFFIX}",
                "must be 6 to 1224 characters of letters, digits and +=,.@:/-_ (a random "
                "value, such as a UUID: a short one is guessable)",
            )
        if not _REGION.fullmatch(self.region or ""):
            raise ConfigError(
                f"{var}_{REGION_SUFFIX}", f"{self.region!r} is not an AWS region like us-east-1"
            )
        if not _TABLE_PREFIX.fullmatch(self.table_prefix):
            raise ConfigError(
                f"{var}_{TABLE_PREFIX_SUFFIX}",
                "may hold only letters, digits, underscore, dot and dash (200 at most)",
            )

    @property
    def account_id(self) -> str:
        """The partner's AWS account, read from the role ARN."""
        return self.role_arn.split(":")[4]


def partners_from_env(environ: Mapping[str, str] | None = None) -> list[PartnerConfig]:
    """Read every `PARTNER_<ID>_*` variable and return the partners, validated.

    Variables that do not end in a known field are ignored, so unrelated `PARTNER_...`
    settings of the function do not break it; a partner missing a required field is an error.
    """
    env = os.environ if environ is None else environ
    found: dict[str, dict[str, tuple[str, str]]] = {}
    for name, value in env.items():
        match = _PARTNER_VAR.fullmatch(name)
        if not match:
            continue
        pid = match["id"].lower()
        fields_of = found.setdefault(pid, {})
        if match["field"] in fields_of:
            raise ConfigError(
                name, f"partner {pid!r} is also set by {fields_of[match['field']][0]}"
                " (partner ids are case-insensitive)"
            )
        fields_of[match["field"]] = (name, value)

    region_default = home_region(env)
    partners = []
    for pid, values in sorted(found.items()):
        for required in REQUIRED_PARTNER_SUFFIXES:
            if required not in values:
                raise ConfigError(partner_variable(pid, required), "is required but not set")
        region = values.get(REGION_SUFFIX, ("", ""))[1] or region_default
        if not region:
            raise ConfigError(
                partner_variable(pid, REGION_SUFFIX), "is not set and neither is AWS_REGION"
            )
        partners.append(
            PartnerConfig(
                partner_id=pid,
                role_arn=values[ROLE_ARN_SUFFIX][1].strip(),
                external_id=values[EXTERNAL_ID_SUFFIX][1],
                region=region.strip(),
                table_prefix=values.get(TABLE_PREFIX_SUFFIX, ("", ""))[1].strip(),
            )
        )
    return partners


def check_distinct_tables(partners: Iterable[PartnerConfig], *, allow_shared: bool) -> None:
    """Two partners with one account, region and table prefix would read and write the same
    tables: a `ConfigError` naming both, unless `allow_shared` (PARTNERDB_ALLOW_SHARED_TABLES)."""
    if allow_shared:
        return
    seen: dict[tuple[str, str, str], str] = {}
    for config in partners:
        key = (config.account_id, config.region, config.table_prefix)
        other = seen.setdefault(key, config.partner_id)
        if other != config.partner_id:
            first, second = sorted((other, config.partner_id))
            prefix = f"table prefix {config.table_prefix!r}" if config.table_prefix else (
                "no table prefix"
            )
            raise ConfigError(
                f"{partner_variable(first, TABLE_PREFIX_SUFFIX)}, "
                f"{partner_variable(second, TABLE_PREFIX_SUFFIX)}",
                f"partners {first!r} and {second!r} have the same account "
                f"({config.account_id}), region and {prefix}, so they would share tables: give "
                f"them distinct table prefixes, or set "
                f"{settings_variable('allow_shared_tables')}=true",
            )


@dataclass(frozen=True)
class ClientSettings:
    """How partner clients behave; each field has a `PARTNERDB_<FIELD>` variable.

    Defaults suit Lambda: a short connect timeout, three attempts, role credentials of 3600 s
    (the maximum for role chaining), a 30 s back-off before asking STS again for a partner
    whose role was refused or whose fresh credentials were rejected, and 0.5 s for an early
    credential refresh.
    """

    connect_timeout: float = env_names.CONNECT_TIMEOUT
    read_timeout: float = env_names.READ_TIMEOUT
    max_pool_connections: int = env_names.MAX_POOL_CONNECTIONS
    retry_mode: str = env_names.RETRY_MODE
    max_attempts: int = env_names.MAX_ATTEMPTS
    duration_seconds: int = env_names.DURATION_SECONDS
    cache_size: int = env_names.CACHE_SIZE
    sts_region: str = env_names.STS_REGION
    allow_shared_tables: bool = env_names.ALLOW_SHARED_TABLES
    backoff_seconds: float = env_names.BACKOFF_SECONDS
    refresh_budget: float = env_names.REFRESH_BUDGET

    def __post_init__(self) -> None:
        checks: list[tuple[str, bool, str]] = [
            ("connect_timeout", 0 < self.connect_timeout <= 1.0, "must be in (0, 1] seconds"),
            ("read_timeout", 0 < self.read_timeout <= 900, "must be in (0, 900] seconds"),
            ("max_pool_connections", 1 <= self.max_pool_connections <= 1000, "must be 1..1000"),
            ("retry_mode", self.retry_mode in ("standard", "adaptive"),
             "must be 'standard' or 'adaptive'"),
            ("max_attempts", 1 <= self.max_attempts <= 10, "must be 1..10"),
            ("duration_seconds", 900 <= self.duration_seconds <= 3600,
             "must be 900..3600: Lambda always chains roles, and STS refuses more then"),
            ("cache_size", 1 <= self.cache_size <= 100_000, "must be 1..100000"),
            ("backoff_seconds", 0 <= self.backoff_seconds <= 3600, "must be 0..3600 seconds"),
            ("refresh_budget", 0 < self.refresh_budget <= 10, "must be in (0, 10] seconds"),
            ("sts_region", self.sts_region == "" or bool(_REGION.fullmatch(self.sts_region)),
             "must be an AWS region like us-east-1"),
        ]
        for name, ok, problem in checks:
            if not ok:
                raise ConfigError(settings_variable(name), problem)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> ClientSettings:
        """Defaults, then `PARTNERDB_*` variables, then explicit `overrides` (which win)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            var = settings_variable(f.name)
            raw = env.get(var)
            if raw is None or raw.strip() == "":
                continue
            values[f.name] = _parse(var, raw.strip(), type(getattr(cls, f.name)))
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown client settings: {', '.join(sorted(unknown))}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        if not values.get("sts_region"):
            values["sts_region"] = home_region(env)
        return cls(**values)

    def with_overrides(self, **overrides: Any) -> ClientSettings:
        return replace(self, **overrides)


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _parse(var: str, raw: str, kind: type) -> Any:
    if kind is bool:
        if raw.lower() in _TRUE | _FALSE:
            return raw.lower() in _TRUE
        raise ConfigError(var, "must be true or false")
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(var, f"{raw!r} is not a valid {kind.__name__}") from None
