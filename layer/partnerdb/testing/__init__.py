"""partnerdb.testing: test your own handlers against local AWS accounts (the `[testing]` extra).

    def test_create(partnerdb_aws, lambda_context):          # fixtures of the pytest plugin
        acme = partnerdb_aws.add_partner("acme", models=[Payment])
        handler = partnerdb_aws.import_handler("app.handler")
        handler({"partnerId": "acme", ...}, lambda_context)
        assert [p.id for p in acme.items(Payment)] == ["p-1"]

Shipped in the wheel, not in the layer. Without pytest: `LocalAWS` and `LambdaContext`.
"""

from partnerdb.testing.aws import HOME_ACCOUNT, HOME_CREDENTIALS, LocalAWS, PartnerAccount
from partnerdb.testing.context import LambdaContext
from partnerdb.testing.environment import Environment

__all__ = [
    "HOME_ACCOUNT",
    "HOME_CREDENTIALS",
    "Environment",
    "LambdaContext",
    "LocalAWS",
    "PartnerAccount",
]
