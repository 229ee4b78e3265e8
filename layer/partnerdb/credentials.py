"""Per-partner sessions: refreshable role credentials and the DynamoDB client signed with them.

Each partner gets one `PartnerSession`: refreshable credentials (`partnerdb.refresh`) that
call the partner's `AssumeRole` on first use (never before) and again shortly before expiry,
plus the partner's DynamoDB client built with those credentials only (no fallback to the
function's own), which replaces credentials DynamoDB rejects (`partnerdb.rejection`). The
refresh lock makes concurrent first uses share one STS call. Sessions live in a bounded LRU,
`SessionCache`; an evicted session's credentials leave the log redactor, and its back-off (a
refused role, rejected fresh credentials) stays until it ends: a refused partner evicted and
used again does not ask STS again before its time, however often the cache turns over.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from partnerdb.assume_role import AssumeRole, Clock, utc_now
from partnerdb.clients import ClientFactory
from partnerdb.config import PartnerConfig
from partnerdb.constants import EVICTED_BACKOFFS_KEPT
from partnerdb.refresh import Backoff, PartnerCredentials
from partnerdb.rejection import install_rejection_hooks
from partnerdb.signing import install_fast_signing
from partnerdb.stats import CacheStats


class PartnerSession:
    """One partner's refreshable credentials and the DynamoDB client that signs with them."""

    def __init__(
        self, *, config: PartnerConfig, assume_role: AssumeRole, factory: ClientFactory
    ) -> None:
        self.config = config
        self.assume_role = assume_role
        self.credentials = PartnerCredentials(
            assume_role,
            partner_id=config.partner_id,
            clock=assume_role.clock,
            backoff=factory.settings.backoff_seconds,
            refresh_budget=factory.settings.refresh_budget,
        )
        self.dynamodb = factory.partner_client("dynamodb", config.region, self.credentials)
        install_rejection_hooks(self.dynamodb, self.credentials)
        self.signer = install_fast_signing(self.dynamodb, self.credentials)

    def forget_credentials(self) -> None:
        """Drop the assumed credentials and any remembered refusal or back-off; the next
        request assumes the role again (its first AssumeRole, not a refresh)."""
        self.credentials.forget()
        self.assume_role.forget()
        self.signer.forget()

    def __repr__(self) -> str:
        return f"PartnerSession(partner_id={self.config.partner_id!r})"


class SessionCache:
    """A bounded LRU of `PartnerSession`s, built on first use of a partner."""

    def __init__(
        self,
        *,
        factory: ClientFactory,
        stats: CacheStats,
        max_size: int,
        duration_seconds: int,
        clock: Clock = utc_now,
        function_name: str = "",
    ) -> None:
        self.stats = stats
        self._factory = factory
        self._max_size = max_size
        self._duration = duration_seconds
        self._clock = clock
        self._function_name = function_name
        self._sessions: OrderedDict[str, PartnerSession] = OrderedDict()
        #: back-offs of evicted sessions, by partner, with the config they were refused under
        self._backoffs: OrderedDict[str, tuple[PartnerConfig, Backoff]] = OrderedDict()
        self._lock = threading.Lock()
        self._sts_clients: dict[str, Any] = {}
        self._sts_lock = threading.Lock()

    def get(self, config: PartnerConfig) -> PartnerSession:
        """The partner's session, built (without any network call) on first use."""
        pid = config.partner_id
        with self._lock:
            session = self._sessions.get(pid)
            if session is not None:
                self._sessions.move_to_end(pid)
                self.stats.add(cache_hits=1)
                return session
            sts_region = self._factory.settings.sts_region or config.region
            assume_role = AssumeRole(
                config=config,
                sts=lambda: self._sts_client(sts_region),
                stats=self.stats,
                clock=self._clock,
                function_name=self._function_name,
                duration_seconds=self._duration,
            )
            session = PartnerSession(config=config, assume_role=assume_role, factory=self._factory)
            kept = self._backoffs.pop(pid, None)
            if kept is not None and kept[0] == config:
                session.credentials.resume(kept[1])
            self._sessions[pid] = session
            evicted = 0
            while len(self._sessions) > self._max_size:
                _, dropped = self._sessions.popitem(last=False)
                self._keep_backoff(dropped)
                dropped.assume_role.forget_secrets()
                evicted += 1
            self.stats.add(partners_bound=1, evictions=evicted)
            return session

    def drop(self, partner_id: str, evicted: bool = False) -> bool:
        """Forget a partner's session (credentials, client, bound models, and its secrets in
        the redactor); True if one was cached.

        For a partner whose configuration changed or that was disabled: the next `get` builds
        a fresh session, so the next call assumes the role again with the current config.
        A partner `evicted` from the registry cache keeps its back-off (as a session evicted
        here does): `get` resumes it if the partner comes back unchanged.
        """
        with self._lock:
            session = self._sessions.pop(partner_id, None)
            if not evicted:
                self._backoffs.pop(partner_id, None)
            elif session is not None:
                self._keep_backoff(session)
        if session is None:
            return False
        session.assume_role.forget_secrets()
        return True

    def cached_partner_ids(self) -> list[str]:
        with self._lock:
            return list(self._sessions)

    def build_sts_clients(self, regions: list[str]) -> None:
        """Build the STS clients of `regions` now (no network call: warm-up before a snapshot)."""
        for region in regions:
            self._sts_client(self._factory.settings.sts_region or region)

    def forget_credentials_and_connections(self) -> None:
        """After a SnapStart restore: every partner assumes its role again, the STS clients are
        rebuilt with the function's credentials of now, and no pooled connection of the
        snapshot is used."""
        with self._lock:
            sessions = list(self._sessions.values())
            self._backoffs.clear()
        for session in sessions:
            session.forget_credentials()
        with self._sts_lock:
            self._sts_clients.clear()
        self._factory.close_connections()

    def _keep_backoff(self, session: PartnerSession) -> None:
        """Keep an evicted session's back-off, if one is in force (call with the lock held)."""
        backoff = session.credentials.backoff()
        if backoff is None:
            return
        pid = session.config.partner_id
        self._backoffs[pid] = (session.config, backoff)
        self._backoffs.move_to_end(pid)
        while len(self._backoffs) > EVICTED_BACKOFFS_KEPT:
            self._backoffs.popitem(last=False)

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
