"""The partner registry: partners looked up at first use instead of configured in env.

    from partnerdb import Partners, DynamoDBRegistry
    partners = Partners([], registry=DynamoDBRegistry(table="partnerdb-partners"))

or, from the environment, `Partners.from_env()` with `PARTNERDB_REGISTRY_TABLE` (and optionally
`PARTNERDB_REGISTRY_REGION`) or `PARTNERDB_REGISTRY_SSM_PATH`. Cache timings come from
`PARTNERDB_REGISTRY_TTL`, `_NEGATIVE_TTL`, `_MAX_STALE`, `_CACHE_SIZE` and `_TIMEOUT`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from partnerdb.clients import ClientFactory
from partnerdb.constants import (
    REGISTRY_REGION_ENV,
    REGISTRY_SETTINGS_PREFIX,
    REGISTRY_SSM_PATH_ENV,
    REGISTRY_TABLE_ENV,
)
from partnerdb.errors import ConfigError
from partnerdb.registry_cache import RegistryCache, RegistrySettings, RegistryStats
from partnerdb.registry_store import (
    ACTIVE,
    DISABLED,
    DynamoDBRegistry,
    Registry,
    RegistryRecord,
    SsmRegistry,
    parse_entry,
)

#: Bounds of each `RegistrySettings` field: (low, high), inclusive.
_BOUNDS: dict[str, tuple[float, float]] = {
    "ttl": (1, 86_400),
    "negative_ttl": (1, 86_400),
    "max_stale": (0, 7 * 86_400),
    "cache_size": (1, 1_000_000),
    "timeout": (0.05, 30),
}

__all__ = [
    "ACTIVE",
    "DISABLED",
    "DynamoDBRegistry",
    "Registry",
    "RegistryCache",
    "RegistryRecord",
    "RegistrySettings",
    "RegistryStats",
    "SsmRegistry",
    "parse_entry",
    "parse_registry_spec",
    "registry_from_env",
    "registry_settings_from_env",
]


def registry_settings_from_env(
    environ: Mapping[str, str] | None = None, **overrides: Any
) -> RegistrySettings:
    """Defaults, then `PARTNERDB_REGISTRY_<FIELD>` variables, then `overrides` (which win)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(RegistrySettings):
        var = f"{REGISTRY_SETTINGS_PREFIX}{f.name.upper()}"
        raw = overrides.get(f.name)
        source = var
        if raw is None:
            raw = env.get(var)
            if raw is None or str(raw).strip() == "":
                continue
        kind = type(getattr(RegistrySettings, f.name))
        try:
            value = kind(str(raw).strip()) if isinstance(raw, str) else kind(raw)
        except ValueError:
            raise ConfigError(source, f"{raw!r} is not a valid {kind.__name__}") from None
        low, high = _BOUNDS[f.name]
        if not low <= value <= high:
            raise ConfigError(source, f"must be in [{low:g}, {high:g}]")
        values[f.name] = value
    return RegistrySettings(**values)


def registry_from_env(
    environ: Mapping[str, str] | None = None, *, factory: ClientFactory | None = None
) -> Registry | None:
    """The registry the environment names, or None; both kinds set is a `ConfigError`."""
    env = os.environ if environ is None else environ
    table = env.get(REGISTRY_TABLE_ENV, "").strip()
    path = env.get(REGISTRY_SSM_PATH_ENV, "").strip()
    region = env.get(REGISTRY_REGION_ENV, "").strip() or None
    if table and path:
        raise ConfigError(
            REGISTRY_SSM_PATH_ENV, f"set either it or {REGISTRY_TABLE_ENV}, not both"
        )
    if table:
        return DynamoDBRegistry(table=table, region=region, factory=factory)
    if path:
        return SsmRegistry(path=path, region=region, factory=factory)
    return None


def parse_registry_spec(
    spec: str, region: str | None = None, *, factory: ClientFactory | None = None
) -> DynamoDBRegistry | SsmRegistry:
    """`dynamodb:TABLE` or `ssm:PATH` (the CLI's `--registry`) as a registry."""
    kind, _, where = spec.partition(":")
    if kind == "dynamodb" and where:
        return DynamoDBRegistry(table=where, region=region, factory=factory)
    if kind == "ssm" and where:
        return SsmRegistry(path=where, region=region, factory=factory)
    raise ConfigError("--registry", "must be dynamodb:TABLE or ssm:/PATH")
