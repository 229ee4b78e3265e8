"""Per-partner credentials from STS AssumeRole with ExternalId, cached and refreshed.

Each partner gets one `PartnerSession`: botocore refreshable credentials that call
AssumeRole on first use (never before) and again shortly before expiry (3 min advisory, 1 min
mandatory; with the default 3600 s that is one STS call per 57 minutes), plus the partner's
DynamoDB client signed with them. botocore's refresh lock makes
concurrent first uses share one STS call. Sessions live in a bounded LRU.

A refused or throttled AssumeRole raises a typed error naming the partner and role. There is
no fallback to the function's own credentials: partner clients are built with these
credentials only.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.credentials import DeferredRefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError
from botocore.utils import parse_timestamp

from partnerdb.clients import ClientFactory
from partnerdb.config import PartnerConfig
from partnerdb.deadline import current_deadline
from partnerdb.errors import (
    DeadlineExceeded,
    PartnerRoleError,
    PartnerRoleRefused,
    PartnerRoleThrottled,
)
from partnerdb.redact import REDACTOR

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
_SESSION_NAME_BAD = re.compile(r"[^\w+=,.@-]")


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


@dataclass
class CacheStats:
    """Counters for tests and metrics; read a consistent copy with `snapshot()`."""

    sts_calls: int = 0
    refreshes: int = 0
    cache_hits: int = 0
    partners_bound: int = 0
    evictions: int = 0

    def snapshot(self) -> dict[str, int]:
        return asdict(self)


class _RoleCredentials(DeferredRefreshableCredentials):  # type: ignore[misc]
    """Refreshable credentials with Lambda-sized refresh windows.

    botocore refreshes 15 minutes (advisory) and 10 minutes (mandatory) before expiry, which
    with one-hour role-chaining credentials is an AssumeRole every 45 minutes. Every request
    re-checks, and a signed request needs its credentials only until AWS receives it, so 3 and
    1 minutes are ample: one call per partner every 57 minutes.
    """

    _advisory_refresh_timeout = 3 * 60
    _mandatory_refresh_timeout = 60

    def __init__(self, refresh_using: Callable[[], dict[str, str]], time_fetcher: Clock) -> None:
        super().__init__(refresh_using=refresh_using, method="assume-role",
                         time_fetcher=time_fetcher)
        self._partnerdb_refresh = (refresh_using, time_fetcher)

    def forget(self) -> None:
        """Back to never fetched, through botocore's own constructor: the next request assumes
        the role again (a SnapStart copy must not sign with the snapshot's credentials)."""
        refresh_using, time_fetcher = self._partnerdb_refresh
        DeferredRefreshableCredentials.__init__(
            self, refresh_using=refresh_using, method="assume-role", time_fetcher=time_fetcher
        )


class PartnerSession:
    """One partner's refreshable credentials and DynamoDB client, plus its bound models."""

    def __init__(
        self,
        config: PartnerConfig,
        factory: ClientFactory,
        sts: Callable[[], Any],
        stats: CacheStats,
        stats_lock: threading.Lock,
        clock: Clock,
        function_name: str,
        duration_seconds: int,
    ) -> None:
        self.config = config
        self._duration = duration_seconds
        self._sts = sts
        self._stats = stats
        self._stats_lock = stats_lock
        self._clock = clock
        self._session_name = role_session_name(config.partner_id, function_name)
        self._assumed_once = False
        self._issued: tuple[str, ...] = ()
        self.credentials = _RoleCredentials(self._assume_role, clock)
        self.dynamodb = factory.partner_client("dynamodb", config.region, self.credentials)
        #: model class -> its subclass bound to this partner (filled by partnerdb.db)
        self.bound_models: dict[type, type] = {}
        #: PynamoDB Connection for this partner's transactions (built by partnerdb.db)
        self.transaction_connection: Any = None

    def forget_credentials(self) -> None:
        """Drop the assumed credentials; the next request assumes the role again."""
        self.credentials.forget()
        self._assumed_once = False

    def _assume_role(self) -> dict[str, str]:
        """Call AssumeRole; botocore calls this under its refresh lock."""
        cfg = self.config
        with self._stats_lock:
            self._stats.sts_calls += 1
            if self._assumed_once:
                self._stats.refreshes += 1
            self._assumed_once = True
        requested_at = self._clock()
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
            code = str(err.response.get("Error", {}).get("Code", "Unknown"))
            if code in _THROTTLED:
                raise PartnerRoleThrottled(
                    cfg.partner_id, cfg.role_arn, f"STS throttled the request ({code})"
                ) from err
            if code in _REFUSED:
                raise PartnerRoleRefused(
                    cfg.partner_id,
                    cfg.role_arn,
                    f"STS refused ({code}): check the role's trust policy and ExternalId",
                ) from err
            raise PartnerRoleError(cfg.partner_id, cfg.role_arn, f"STS error {code}") from err
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


class SessionCache:
    """A bounded LRU of `PartnerSession`s, built on first use of a partner."""

    def __init__(
        self,
        factory: ClientFactory,
        *,
        max_size: int,
        duration_seconds: int,
        clock: Clock = utc_now,
        function_name: str = "",
    ) -> None:
        self.stats = CacheStats()
        self._factory = factory
        self._max_size = max_size
        self._duration = duration_seconds
        self._clock = clock
        self._function_name = function_name
        self._sessions: OrderedDict[str, PartnerSession] = OrderedDict()
        self._lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._sts_clients: dict[str, Any] = {}
        self._sts_lock = threading.Lock()

    def get(self, config: PartnerConfig) -> PartnerSession:
        """The partner's session, built (without any network call) on first use."""
        pid = config.partner_id
        with self._lock:
            session = self._sessions.get(pid)
            if session is not None:
                self._sessions.move_to_end(pid)
                self.stats.cache_hits += 1
                return session
            sts_region = self._factory.settings.sts_region or config.region
            session = PartnerSession(
                config,
                self._factory,
                lambda: self._sts_client(sts_region),
                self.stats,
                self._stats_lock,
                self._clock,
                self._function_name,
                self._duration,
            )
            self._sessions[pid] = session
            self.stats.partners_bound += 1
            while len(self._sessions) > self._max_size:
                self._sessions.popitem(last=False)
                self.stats.evictions += 1
            return session

    def cached_partner_ids(self) -> list[str]:
        with self._lock:
            return list(self._sessions)

    def build_sts_clients(self, regions: list[str]) -> None:
        """Build the STS clients of `regions` now (no network call: warm-up before a snapshot)."""
        for region in regions:
            self._sts_client(self._factory.settings.sts_region or region)

    def forget_credentials_and_connections(self) -> None:
        """After a SnapStart restore: every partner assumes its role again, the STS clients are
        rebuilt with the credentials of now, and no pooled connection of the snapshot is used."""
        with self._lock:
            sessions = list(self._sessions.values())
        for session in sessions:
            session.forget_credentials()
        with self._sts_lock:
            self._sts_clients.clear()
        self._factory.close_connections()

    def _sts_client(self, region: str) -> Any:
        """The STS client of the function's own credentials, one per region, built lazily."""
        client = self._sts_clients.get(region)
        if client is None:
            with self._sts_lock:
                client = self._sts_clients.get(region)
                if client is None:
                    client = self._factory.home_client("sts", region)
                    self._sts_clients[region] = client
        return client
