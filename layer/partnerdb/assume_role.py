"""`AssumeRole`: one partner's STS AssumeRole call, its errors and its credentials' expiry.

botocore's refreshable credentials call an `AssumeRole` (under their refresh lock) on first use
and shortly before expiry. A refused or throttled call raises a typed error naming the partner
and role; every call is counted (`partnerdb.stats.count_sts_call`); the issued keys go to the
redactor so no log line can show them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.utils import parse_timestamp

from partnerdb.config import PartnerConfig
from partnerdb.deadline import current_deadline
from partnerdb.errors import (
    DeadlineExceeded,
    PartnerRoleError,
    PartnerRoleRefused,
    PartnerRoleThrottled,
)
from partnerdb.redact import REDACTOR
from partnerdb.stats import CacheStats, count_sts_call

Clock = Callable[[], datetime]

_REFUSED = {
    "AccessDenied",
    "AccessDeniedException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "RegionDisabledException",
    "UnrecognizedClientException",
}
_THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
}
_SESSION_NAME_BAD = re.compile(r"[^\w+=,.@-]", re.ASCII)


def utc_now() -> datetime:
    return datetime.now(UTC)


def role_session_name(partner_id: str, function_name: str = "") -> str:
    """`partnerdb-<function>-<partner>`, cut to STS's 64 characters and character set.

    The partner id keeps its place at the end even when the function name is long, so
    CloudTrail in the partner's account always shows who came in for whom.
    """
    partner = _SESSION_NAME_BAD.sub("-", partner_id)[:40]
    function = _SESSION_NAME_BAD.sub("-", function_name)
    head = "partnerdb"
    if function:
        room = 64 - len(head) - len(partner) - 2
        head = f"{head}-{function[:room]}" if room > 0 else head
    return f"{head}-{partner}"[:64]


class AssumeRole:
    """Calls AssumeRole for one partner; a botocore credentials refresher (`()` -> metadata)."""

    def __init__(
        self,
        *,
        config: PartnerConfig,
        sts: Callable[[], Any],
        stats: CacheStats,
        clock: Clock,
        function_name: str,
        duration_seconds: int,
    ) -> None:
        self.config = config
        self._sts = sts
        self._stats = stats
        #: the clock expiries are counted on (botocore's refresh checks read it too)
        self.clock = clock
        self._duration = duration_seconds
        self._session_name = role_session_name(config.partner_id, function_name)
        self._assumed_once = False
        self._issued: tuple[str, ...] = ()

    def forget(self) -> None:
        """The next call is a first AssumeRole again (its credentials were dropped)."""
        self._assumed_once = False

    def __call__(self) -> dict[str, str]:
        """Assume the role; the credentials in botocore's refresh format."""
        cfg = self.config
        count_sts_call(self._stats, refresh=self._assumed_once)
        self._assumed_once = True
        requested_at = self.clock()
        try:
            response = self._sts().assume_role(
                RoleArn=cfg.role_arn,
                RoleSessionName=self._session_name,
                ExternalId=cfg.external_id,
                DurationSeconds=self._duration,
            )
        except DeadlineExceeded:
            raise
        except ClientError as err:
            raise self._client_error(err) from err
        except BotoCoreError as err:
            deadline = current_deadline()
            if deadline is not None and deadline.expired:
                raise DeadlineExceeded("assuming the partner role was cut at the deadline") from err
            raise PartnerRoleError(
                cfg.partner_id, cfg.role_arn, f"STS unreachable ({type(err).__name__})"
            ) from err
        creds = response["Credentials"]
        REDACTOR.discard(*self._issued)
        self._issued = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        REDACTOR.add(*self._issued)
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": self._expiry(response, requested_at).isoformat(),
        }

    def forget_secrets(self) -> None:
        """Unregister the issued credentials from the log redactor (the session is dropped)."""
        REDACTOR.discard(*self._issued)
        self._issued = ()

    def _client_error(self, err: ClientError) -> PartnerRoleError:
        cfg = self.config
        code = str(err.response.get("Error", {}).get("Code", "Unknown"))
        if code in _THROTTLED:
            return PartnerRoleThrottled(
                cfg.partner_id, cfg.role_arn, f"STS throttled the request ({code})"
            )
        if code in _REFUSED:
            return PartnerRoleRefused(
                cfg.partner_id,
                cfg.role_arn,
                f"STS refused ({code}): check the role's trust policy and ExternalId",
            )
        return PartnerRoleError(cfg.partner_id, cfg.role_arn, f"STS error {code}")

    def _expiry(self, response: dict[str, Any], requested_at: datetime) -> datetime:
        """Expiry on our clock: the validity STS granted, counted from when we asked.

        Counting from our own clock keeps a skewed container clock (or a test's injected one)
        from refreshing on every call or too late.
        """
        expiration: datetime = response["Credentials"]["Expiration"]
        date_header = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
        validity = timedelta(seconds=self._duration)
        if date_header:
            with contextlib.suppress(TypeError, ValueError):
                validity = min(validity, expiration - parse_timestamp(date_header))
        return requested_at + validity
