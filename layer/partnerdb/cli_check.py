"""`partnerdb partners check`: assume a partner's role as the runtime would, then probe tables.

Uses the runtime's own client factory (same timeouts, deadline hooks) and the registered
ExternalId. Each table gets one DescribeTable with the assumed credentials and a verdict:
ok, missing or denied. Nothing secret is printed.
"""

from __future__ import annotations

from typing import TextIO

from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError

from partnerdb.assume_role import role_session_name
from partnerdb.clients import ClientFactory
from partnerdb.config import ClientSettings, PartnerConfig
from partnerdb.deadline import Deadline, reset_deadline
from partnerdb.errors import DeadlineExceeded
from partnerdb.redact import REDACTOR

#: The whole check stops starting calls after this many seconds.
CHECK_SECONDS = 30.0
#: The shortest session STS grants; the check needs a few seconds of it.
CHECK_SESSION_SECONDS = 900
_DENIED = {"AccessDenied", "AccessDeniedException", "UnrecognizedClientException",
           "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException"}


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", "Unknown"))


def home_account_id(factory: ClientFactory, region: str) -> str | None:
    """The account of the caller's own credentials (GetCallerIdentity), None if unknown."""
    try:
        identity = factory.home_client("sts", region).get_caller_identity()
    except (ClientError, BotoCoreError):
        return None
    return str(identity["Account"])


def check_partner(config: PartnerConfig, tables: list[str], out: TextIO) -> bool:
    """Print a per-step report; True when the role and every table are reachable."""
    settings = ClientSettings.from_env()
    factory = ClientFactory(settings)
    token = Deadline.after(CHECK_SECONDS).activate()
    try:
        return _check(factory, settings, config, tables, out)
    except DeadlineExceeded as err:
        print(f"FAILED: {err}", file=out)
        return False
    finally:
        reset_deadline(token)


def _check(
    factory: ClientFactory, settings: ClientSettings, config: PartnerConfig,
    tables: list[str], out: TextIO,
) -> bool:
    sts = factory.home_client("sts", settings.sts_region or config.region)
    try:
        response = sts.assume_role(
            RoleArn=config.role_arn,
            RoleSessionName=role_session_name(config.partner_id, "cli-check"),
            ExternalId=config.external_id,
            DurationSeconds=CHECK_SESSION_SECONDS,
        )
    except ClientError as err:
        verdict = "denied" if _code(err) in _DENIED else "error"
        print(f"role {config.role_arn}: {verdict} ({_code(err)}): check the partner's trust "
              "policy and that it uses the registered ExternalId", file=out)
        return False
    except BotoCoreError as err:
        print(f"role {config.role_arn}: error (STS unreachable: {type(err).__name__})", file=out)
        return False
    creds = response["Credentials"]
    REDACTOR.add(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    print(f"role {config.role_arn}: ok (assumed with the registered ExternalId)", file=out)
    dynamodb = factory.partner_client(
        "dynamodb",
        config.region,
        Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]),
    )
    ok = True
    for table in tables:
        name = config.table_prefix + table
        try:
            dynamodb.describe_table(TableName=name)
            verdict = "ok"
        except ClientError as err:
            code = _code(err)
            verdict = ("missing" if code == "ResourceNotFoundException"
                       else f"denied ({code})" if code in _DENIED else f"error ({code})")
        except BotoCoreError as err:
            verdict = f"error ({type(err).__name__})"
        ok = ok and verdict == "ok"
        print(f"table {name} in {config.account_id}/{config.region}: {verdict}", file=out)
    return ok
