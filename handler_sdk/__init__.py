"""handler_sdk: the per-function SDK over the partnerdb layer.

    from handler_sdk import with_partner_db

    @with_partner_db(models=[Payment])
    def handler(event, context, db):
        return db.model(Payment).get(event["data"]["id"])

Importing this package first checks the layer (`handler_sdk.compat`): a missing or too old
``partnerdb`` is an ImportError saying what to do.
"""

from handler_sdk.compat import MIN_PARTNERDB, PARTNERDB_VERSION  # first: the layer check
from handler_sdk.decorator import with_partner_db
from handler_sdk.errors import (
    BadRequest,
    Conflict,
    HandlerError,
    NotFound,
    SdkConfigError,
    UnknownAction,
)
from handler_sdk.events import Shape, parse_json
from handler_sdk.router import ActionRouter

__all__ = [
    "MIN_PARTNERDB",
    "PARTNERDB_VERSION",
    "ActionRouter",
    "BadRequest",
    "Conflict",
    "HandlerError",
    "NotFound",
    "SdkConfigError",
    "Shape",
    "UnknownAction",
    "parse_json",
    "with_partner_db",
]
