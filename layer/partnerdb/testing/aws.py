"""`LocalAWS`: moto in server mode on 127.0.0.1 with partner accounts, roles and tables.

moto maps credentials from AssumeRole to the role's account, so a partner's "account" is a
role ARN in it: a table created, and an item written, with that role's credentials lives in
that account only. Tables are created and read back here with plain botocore clients acting
in the partner's account, independently of partnerdb, so a test sees where its writes landed.
"""

from __future__ import annotations

import importlib
import json
import secrets
import sys
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import botocore.session

from partnerdb.testing.environment import Environment

HOME_ACCOUNT = "123456789012"
ROLE_NAME = "partnerdb-access"
SEED_ROLE = "partnerdb-testkit"
#: The function's own credentials in tests; moto accepts any. Never sent to a partner.
HOME_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIAPARTNERDBTESTKIT",
    "AWS_SECRET_ACCESS_KEY": "partnerdb-testkit-secret-not-a-real-key",
    "AWS_SESSION_TOKEN": "partnerdb-testkit-session-not-a-real-token",
}
_FIRST_PARTNER_ACCOUNT = 100_000_000_001
_MAX_TABLE_PAGES = 1000


def hash_first(key_schema: list[dict[str, str]]) -> list[dict[str, str]]:
    """Key schema with the HASH key first: PynamoDB lists keys in attribute order, DynamoDB
    (unlike moto) refuses a RANGE key listed first."""
    return sorted(key_schema, key=lambda key: key["KeyType"] != "HASH")


def table_params(model: Any, name: str) -> dict[str, Any]:
    """CreateTable parameters for a PynamoDB model (keys, GSIs, LSIs) under table `name`."""
    # PynamoDB's schema is already in DynamoDB's wire shape (AttributeName, KeyType, ...).
    schema = model._get_schema()
    params: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": schema["attribute_definitions"],
        "KeySchema": hash_first(schema["key_schema"]),
        "BillingMode": "PAY_PER_REQUEST",
    }
    for kind, wire in (
        ("global_secondary_indexes", "GlobalSecondaryIndexes"),
        ("local_secondary_indexes", "LocalSecondaryIndexes"),
    ):
        indexes = [
            {
                "IndexName": index["index_name"],
                "KeySchema": hash_first(index["key_schema"]),
                "Projection": index["projection"],
            }
            for index in schema[kind]
        ]
        if indexes:
            params[wire] = indexes
    return params


def partner_env(
    partner_id: str, role_arn: str, external_id: str, region: str, table_prefix: str = ""
) -> dict[str, str]:
    """The `PARTNER_<ID>_*` variables that configure one partner for partnerdb."""
    var = f"PARTNER_{partner_id.upper()}"
    env = {
        f"{var}_ROLE_ARN": role_arn,
        f"{var}_EXTERNAL_ID": external_id,
        f"{var}_REGION": region,
    }
    if table_prefix:
        env[f"{var}_TABLE_PREFIX"] = table_prefix
    return env


def trust_policy(trusted_account: str, external_id: str) -> str:
    """A partner role's trust policy: the function's account, with the ExternalId condition
    (what partner-role.yaml deploys; moto does not enforce it)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{trusted_account}:root"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
                }
            ],
        }
    )


@dataclass(frozen=True)
class PartnerAccount:
    """A partner as the function sees it, and a way to look inside its account."""

    partner_id: str
    account_id: str
    external_id: str
    table_prefix: str = ""
    region: str = "us-east-1"
    #: The local server its account lives in (what `client()` and the readers talk to).
    endpoint: str = ""

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:role/{ROLE_NAME}"

    def env(self) -> dict[str, str]:
        """The `PARTNER_<ID>_*` variables that configure this partner for partnerdb."""
        return partner_env(
            self.partner_id, self.role_arn, self.external_id, self.region, self.table_prefix
        )

    def client(self, service: str) -> Any:
        """A plain botocore client acting inside this partner's account."""
        if not self.endpoint:
            raise RuntimeError(f"partner {self.partner_id!r} has no endpoint to reach")
        return account_client(service, self.account_id, self.endpoint, self.region)

    def table_name(self, model: Any) -> str:
        return self.table_prefix + str(model.Meta.table_name)

    def create_table(self, model: Any) -> str:
        """Create `model`'s table (with its indexes) in this account; return its name."""
        name = self.table_name(model)
        client = self.client("dynamodb")
        client.create_table(**table_params(model, name))
        client.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
        )
        return name

    def table_names(self) -> list[str]:
        """Every table in this partner's account."""
        names: list[str] = []
        for page in self.client("dynamodb").get_paginator("list_tables").paginate():
            names.extend(page["TableNames"])
        return names

    def raw_items(self, table: str) -> list[dict[str, Any]]:
        """Every item of `table` in this account, in DynamoDB's JSON; [] if there is none."""
        client = self.client("dynamodb")
        items: list[dict[str, Any]] = []
        try:
            pages = client.get_paginator("scan").paginate(TableName=table)
            for count, page in enumerate(pages):
                if count >= _MAX_TABLE_PAGES:
                    raise RuntimeError(f"{table} has over {_MAX_TABLE_PAGES} pages of items")
                items.extend(page["Items"])
        except client.exceptions.ResourceNotFoundException:
            return []
        return items

    def items(self, model: Any) -> list[Any]:
        """Every item of `model`'s table in this account, as `model` instances."""
        return [model.from_raw_data(item) for item in self.raw_items(self.table_name(model))]


def account_client(
    service: str, account_id: str, endpoint: str, region: str, *, service_url: str | None = None
) -> Any:
    """A botocore client acting inside `account_id`, through a role moto lets anyone assume.

    STS is moto's at `endpoint`; the client goes to `service_url` when given (e.g. DynamoDB
    Local), else to `endpoint` too.
    """
    session = botocore.session.get_session()
    home = {
        "aws_access_key_id": HOME_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": HOME_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }
    sts = session.create_client("sts", region, endpoint_url=endpoint, **home)
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/{SEED_ROLE}", RoleSessionName="testkit"
    )["Credentials"]
    return session.create_client(
        service,
        region,
        endpoint_url=service_url or endpoint,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


class LocalAWS:
    """A moto server on 127.0.0.1 (a free port), partner accounts in it, and the environment
    a function under test needs to reach them.

        with LocalAWS() as aws, aws.environment():
            acme = aws.add_partner("acme", models=[Payment])
            handler = aws.import_handler("app.handler")
            handler(event, LambdaContext())
            assert acme.items(Payment)

    Needs the `[testing]` extra (moto). `stop()` stops the server thread and frees the port.
    """

    def __init__(self, *, region: str = "us-east-1") -> None:
        self.region = region
        self.partners: dict[str, PartnerAccount] = {}
        self._server: Any = None
        self._url: str | None = None
        self._environment: Environment | None = None

    # lifecycle

    def start(self) -> LocalAWS:
        """Start moto on 127.0.0.1 with a free port; return once it answers."""
        if self._server is not None:
            return self
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as err:
            raise ImportError(
                "partnerdb.testing needs moto: pip install 'partnerdb[testing]'"
            ) from err
        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        self._server, self._url = server, f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        """Stop the server (its thread ends, its port is closed)."""
        server, self._server, self._url = self._server, None, None
        if server is not None:
            server.stop()

    def __enter__(self) -> LocalAWS:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """What `AWS_ENDPOINT_URL` holds while `environment()` is active."""
        if self._url is None:
            raise RuntimeError("LocalAWS is not started: call start() or use `with`")
        return self._url

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def reset(self) -> None:
        """Forget every partner and every resource in every account."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
        self.partners.clear()

    # partners

    def add_partner(
        self,
        partner_id: str,
        *,
        models: Iterable[Any] = (),
        table_prefix: str = "",
        region: str | None = None,
        account_id: str | None = None,
        external_id: str | None = None,
    ) -> PartnerAccount:
        """A partner account with its role and the tables of `models`.

        While `environment()` is active the partner's `PARTNER_<ID>_*` variables are set too.
        """
        key = partner_id.lower()
        if key in self.partners:
            raise ValueError(f"partner {partner_id!r} was already added")
        partner = PartnerAccount(
            partner_id=key,
            account_id=account_id or f"{_FIRST_PARTNER_ACCOUNT + len(self.partners):012d}",
            external_id=external_id or f"{key}-{secrets.token_hex(8)}",
            endpoint=self.url,
            table_prefix=table_prefix,
            region=region or self.region,
        )
        self._create_role(partner)
        for model in models:
            partner.create_table(model)
        self.partners[key] = partner
        if self._environment is not None and self._environment.active:
            self._environment.set(partner.env())
        return partner

    def _create_role(self, partner: PartnerAccount) -> None:
        """The partner's role, trusting the home account with an ExternalId condition."""
        partner.client("iam").create_role(
            RoleName=ROLE_NAME,
            AssumeRolePolicyDocument=trust_policy(HOME_ACCOUNT, partner.external_id),
            MaxSessionDuration=3600,
        )

    # the function's side

    def env(self) -> dict[str, str]:
        """The function's environment: home credentials, region, endpoint, every partner."""
        env = {
            **HOME_CREDENTIALS,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.url,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        for partner in self.partners.values():
            env.update(partner.env())
        return env

    @contextmanager
    def environment(self, **extra: str) -> Iterator[dict[str, str]]:
        """Set `env()` (plus `extra`) in `os.environ`, clearing other `AWS_*`/`PARTNER_*`
        variables; restore the previous environment exactly on exit."""
        if self._environment is not None:
            raise RuntimeError("environment() is already active")
        values = {**self.env(), **extra}
        self._environment = Environment(values)
        try:
            with self._environment:
                yield values
        finally:
            self._environment = None

    def import_handler(self, target: str) -> Any:
        """Import `module.attr` afresh (a cold start) and return the attribute.

        The module is dropped from `sys.modules` first, so its module-level code (the handler
        decorator reading the partners) runs again with the current environment.
        """
        module_name, _, attr = target.rpartition(".")
        if not module_name or not attr:
            raise ValueError(f"target must be 'module.attribute', not {target!r}")
        sys.modules.pop(module_name, None)
        return getattr(importlib.import_module(module_name), attr)
