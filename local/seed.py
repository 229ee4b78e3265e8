"""Partner accounts in a local moto server: roles, tables, and plain per-account clients.

moto maps credentials from AssumeRole to the role's account, so a partner "account" is just
a role ARN in it. Tables are created and read back here with plain botocore clients of that
account, independent of partnerdb, so tests can check where partnerdb's writes landed.

When `TEST_DYNAMODB_ENDPOINT` is set (`python -m emulators.ddblocal`, for tests marked ddblocal),
the DynamoDB clients built here use DynamoDB Local there; STS and IAM stay on moto. DynamoDB
Local runs with one shared database, so every "account" sees the same tables there: account
isolation cannot be observed, and partners need distinct table prefixes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import botocore.session

from emulators.ddblocal import ENDPOINT_ENV
from partnerdb.testing.aws import ROLE_NAME, PartnerAccount, table_params, trust_policy
from partnerdb.testing.aws import account_client as kit_account_client


def service_endpoint(service: str, endpoint: str) -> str:
    """Where `service` is served: DynamoDB Local for dynamodb when its endpoint is set."""
    if service == "dynamodb":
        return os.environ.get(ENDPOINT_ENV) or endpoint
    return endpoint


def ddblocal_active() -> bool:
    """Whether DynamoDB goes to DynamoDB Local (one database shared by every account)."""
    return bool(os.environ.get(ENDPOINT_ENV))


def account_client(service: str, account_id: str, endpoint: str, region: str = "us-east-1") -> Any:
    """A botocore client acting inside `account_id` (moto: through an assumed role).

    `endpoint` is moto's; a dynamodb client goes to DynamoDB Local instead when it is active.
    """
    url = service_endpoint(service, endpoint)
    return kit_account_client(service, account_id, endpoint, region, service_url=url)


def home_client(service: str, endpoint: str, region: str = "us-east-1") -> Any:
    """A botocore client with the function's own (home) credentials from the environment."""
    return botocore.session.get_session().create_client(
        service, region, endpoint_url=service_endpoint(service, endpoint)
    )


def create_role(partner: PartnerAccount, endpoint: str, trusted_account: str) -> None:
    """The partner's role, trusting the function's account with an ExternalId condition.

    moto does not enforce trust policies; the role makes the local stack look like a real
    partner account (and shows what a partner deploys, see partner-role.yaml).
    """
    iam = account_client("iam", partner.account_id, endpoint, partner.region)
    iam.create_role(
        RoleName=ROLE_NAME,
        AssumeRolePolicyDocument=trust_policy(trusted_account, partner.external_id),
        MaxSessionDuration=3600,
    )


def create_tables(models: Iterable[Any], partner: PartnerAccount, endpoint: str) -> list[str]:
    """Create each model's table (with its indexes) in the partner's account, with one client
    for all of them, and wait until they exist; return their names."""
    client = account_client("dynamodb", partner.account_id, endpoint, partner.region)
    names = []
    for model in models:
        name: str = partner.table_prefix + model.Meta.table_name
        try:
            client.create_table(**table_params(model, name))
        except client.exceptions.ResourceInUseException:
            if not ddblocal_active():
                raise
            raise RuntimeError(
                f"table {name!r} already exists in DynamoDB Local: its one shared database "
                "holds every account's tables, so partners need distinct table prefixes there"
            ) from None
        names.append(name)
    for name in names:
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
    return names


def create_table_for(model: Any, partner: PartnerAccount, endpoint: str) -> str:
    """Create `model`'s table (with its indexes) in the partner's account; return its name."""
    [name] = create_tables([model], partner, endpoint)
    return name


def scan_items(table: str, account_id: str, endpoint: str, region: str = "us-east-1") -> list[Any]:
    """Every item of `table` in `account_id` (empty if the table does not exist there)."""
    client = account_client("dynamodb", account_id, endpoint, region)
    try:
        pages = client.get_paginator("scan").paginate(TableName=table)
        return [item for page in pages for item in page["Items"]]
    except client.exceptions.ResourceNotFoundException:
        return []


def list_tables(account_id: str, endpoint: str, region: str = "us-east-1") -> list[str]:
    """The table names in `account_id` (in DynamoDB Local: every table, accounts are shared)."""
    client = account_client("dynamodb", account_id, endpoint, region)
    names: list[str] = client.list_tables()["TableNames"]
    return names
