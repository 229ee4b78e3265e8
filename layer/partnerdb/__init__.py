"""partnerdb: partner-scoped, deadline-bound PynamoDB for AWS Lambda.

    from partnerdb import Partners, Deadline
    partners = Partners.from_env()
    partners.register_models(Payment)
    with partners.db("acme", deadline=Deadline.from_context(context)) as db:
        db.model(Payment).get("p-1")

`__all__` holds what user code needs. `CacheStats` stays in it because it is the type of the
public `Partners.stats`. Internals stay importable from their own module only, e.g.
`partnerdb.deadline.PER_REQUEST_READ_TIMEOUT`, `partnerdb.assume_role.role_session_name`,
`partnerdb.constants` (every environment variable name and default).
"""

# botocore first: every other dependency of the layer builds on it, so an incomplete layer is
# reported by its base dependency (see handler_sdk.compat).
import botocore  # noqa: F401

from partnerdb._version import __version__
from partnerdb.config import ClientSettings, PartnerConfig, normalize_partner_id
from partnerdb.db import PartnerDB, Partners
from partnerdb.deadline import Deadline, current_deadline
from partnerdb.errors import (
    ConfigError,
    DeadlineExceeded,
    InvalidPartnerId,
    ModelNotBindable,
    PartnerCredentialsRejected,
    PartnerDBError,
    PartnerRoleError,
    PartnerRoleRefused,
    PartnerRoleThrottled,
    RegistryEntryInvalid,
    RegistryError,
    RegistryUnavailable,
    UnknownPartner,
)
from partnerdb.redact import PRE_REDACTED, redact_secrets
from partnerdb.registry import (
    DynamoDBRegistry,
    Registry,
    RegistryRecord,
    RegistrySettings,
    RegistryStats,
    SsmRegistry,
    registry_from_env,
)
from partnerdb.snapstart import register as register_snapstart
from partnerdb.stats import CacheStats

__all__ = [
    "PRE_REDACTED",
    "CacheStats",
    "ClientSettings",
    "ConfigError",
    "Deadline",
    "DeadlineExceeded",
    "DynamoDBRegistry",
    "InvalidPartnerId",
    "ModelNotBindable",
    "PartnerConfig",
    "PartnerCredentialsRejected",
    "PartnerDB",
    "PartnerDBError",
    "PartnerRoleError",
    "PartnerRoleRefused",
    "PartnerRoleThrottled",
    "Partners",
    "Registry",
    "RegistryEntryInvalid",
    "RegistryError",
    "RegistryRecord",
    "RegistrySettings",
    "RegistryStats",
    "RegistryUnavailable",
    "SsmRegistry",
    "UnknownPartner",
    "__version__",
    "current_deadline",
    "normalize_partner_id",
    "redact_secrets",
    "register_snapstart",
    "registry_from_env",
]
