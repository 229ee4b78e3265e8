"""Every environment variable partnerdb reads, and the defaults of its settings, in one place.

Explicit arguments always win over these variables (see `partnerdb.config`).
"""

from __future__ import annotations

from collections.abc import Mapping

#: `PARTNER_<ID>_<SUFFIX>`: one partner's configuration.
PARTNER_PREFIX = "PARTNER_"
ROLE_ARN_SUFFIX = "ROLE_ARN"
EXTERNAL_ID_SUFFIX = "EXTERNAL_ID"
REGION_SUFFIX = "REGION"
TABLE_PREFIX_SUFFIX = "TABLE_PREFIX"
PARTNER_SUFFIXES = (ROLE_ARN_SUFFIX, EXTERNAL_ID_SUFFIX, REGION_SUFFIX, TABLE_PREFIX_SUFFIX)
REQUIRED_PARTNER_SUFFIXES = (ROLE_ARN_SUFFIX, EXTERNAL_ID_SUFFIX)

#: `PARTNERDB_<FIELD>`: a field of `ClientSettings`.
SETTINGS_PREFIX = "PARTNERDB_"

#: The function's own region (Lambda sets AWS_REGION), in order of preference.
REGION_ENV = ("AWS_REGION", "AWS_DEFAULT_REGION")
#: Lambda sets it; it names the function in each role session name.
FUNCTION_NAME_ENV = "AWS_LAMBDA_FUNCTION_NAME"

# Defaults of `ClientSettings`, sized for Lambda.
CONNECT_TIMEOUT = 1.0  # seconds; a connect also ends at the deadline
READ_TIMEOUT = 10.0  # seconds
MAX_POOL_CONNECTIONS = 10
RETRY_MODE = "standard"
MAX_ATTEMPTS = 3
DURATION_SECONDS = 3600  # the maximum for role chaining, as Lambda does
CACHE_SIZE = 256  # partner sessions kept
STS_REGION = ""  # empty: the function's region
ALLOW_SHARED_TABLES = False  # two partners of one account, region and table prefix: ConfigError
BACKOFF_SECONDS = 30.0  # a refused role / rejected fresh credentials: no AssumeRole meanwhile
REFRESH_BUDGET = 0.5  # seconds an early (advisory) credential refresh may take
#: After a throttled AssumeRole, the partner's requests answer PartnerRoleThrottled without
#: calling STS for this long (at most BACKOFF_SECONDS): STS's quota is the whole account's.
THROTTLE_BACKOFF_SECONDS = 2.0
#: Back-offs of partners evicted from the session cache, kept until they end (at most this many).
EVICTED_BACKOFFS_KEPT = 4096

#: The partner registry (`partnerdb.registry`): a DynamoDB table or an SSM parameter path.
REGISTRY_TABLE_ENV = "PARTNERDB_REGISTRY_TABLE"
REGISTRY_REGION_ENV = "PARTNERDB_REGISTRY_REGION"
REGISTRY_SSM_PATH_ENV = "PARTNERDB_REGISTRY_SSM_PATH"
#: `PARTNERDB_REGISTRY_<FIELD>`: a field of `RegistrySettings`.
REGISTRY_SETTINGS_PREFIX = "PARTNERDB_REGISTRY_"

# Defaults of `RegistrySettings`.
REGISTRY_TTL = 300.0  # seconds an active entry is used before it is read again
REGISTRY_NEGATIVE_TTL = 60.0  # seconds an unknown or disabled id is remembered
REGISTRY_MAX_STALE = 3600.0  # seconds past its TTL an entry serves while the registry fails
REGISTRY_CACHE_SIZE = 2048  # ids per LRU: active partners; unknown, disabled or malformed ids
REGISTRY_TIMEOUT = 1.0  # seconds one registry read may take (never past the deadline)
REGISTRY_FAILURE_BACKOFF = 5.0  # seconds a failed id (or every id, below) is not read again
REGISTRY_CIRCUIT_FAILURES = 5  # failed reads in a row, any ids, that stop all reads for a back-off

#: `Deadline.from_context(buffer_ms=...)`: stop starting work this long before Lambda's deadline.
DEADLINE_BUFFER_MS = 1000


def partner_variable(partner_id: str, suffix: str = "") -> str:
    """`PARTNER_<ID>` or `PARTNER_<ID>_<SUFFIX>`, the name error messages show."""
    name = f"{PARTNER_PREFIX}{partner_id.upper()}"
    return f"{name}_{suffix}" if suffix else name


def settings_variable(field: str) -> str:
    """`PARTNERDB_<FIELD>` for a `ClientSettings` field."""
    return f"{SETTINGS_PREFIX}{field.upper()}"


def home_region(environ: Mapping[str, str]) -> str:
    """The function's region from `environ`, or ''."""
    for name in REGION_ENV:
        value = environ.get(name)
        if value:
            return value
    return ""
