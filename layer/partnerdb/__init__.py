"""partnerdb: partner-scoped, deadline-bound PynamoDB for AWS Lambda.

    from partnerdb import Partners, Deadline
    partners = Partners.from_env()
    partners.register_models(Payment)
    db = partners.db("acme", deadline=Deadline.from_context(context))
    db.model(Payment).get("p-1")
"""

from partnerdb._version import __version__
from partnerdb.config import ClientSettings, PartnerConfig, normalize_partner_id
from partnerdb.credentials import CacheStats, role_session_name
from partnerdb.db import PartnerDB, Partners
from partnerdb.deadline import PER_REQUEST_READ_TIMEOUT, Deadline, current_deadline
from partnerdb.errors import (
    ConfigError,
    DeadlineExceeded,
    InvalidPartnerId,
    ModelNotBindable,
    PartnerDBError,
    PartnerRoleError,
    PartnerRoleRefused,
    PartnerRoleThrottled,
    UnknownPartner,
)
from partnerdb.redact import redact_secrets
from partnerdb.snapstart import register as register_snapstart

__all__ = [
    "PER_REQUEST_READ_TIMEOUT",
    "CacheStats",
    "ClientSettings",
    "ConfigError",
    "Deadline",
    "DeadlineExceeded",
    "InvalidPartnerId",
    "ModelNotBindable",
    "PartnerConfig",
    "PartnerDB",
    "PartnerDBError",
    "PartnerRoleError",
    "PartnerRoleRefused",
    "PartnerRoleThrottled",
    "Partners",
    "UnknownPartner",
    "__version__",
    "current_deadline",
    "normalize_partner_id",
    "redact_secrets",
    "register_snapstart",
    "role_session_name",
]
