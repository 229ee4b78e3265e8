"""botocore clients: one shared session and loader, Lambda-tuned settings, deadline hooks.

Every client partnerdb makes comes from here. Sharing one session shares its data loader, so a
new partner's DynamoDB client costs about 5 ms instead of about 100 ms for a fresh session.
In the layer, that session loads botocore's data for DynamoDB and STS pre-parsed
(`partnerdb.botocore_data`): the first client costs about 14 ms instead of 56. Clients of any
other service come from a second session with botocore's usual loader.
Partner clients are handed their credentials explicitly; they can never pick up the
function's own credentials from the default chain. DynamoDB clients parse their responses
with `partnerdb.response_parser` (same results, items not walked twice); a partner's session
signs them with `partnerdb.signing` (the same signature for less work).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.parsers import ResponseParserFactory

from partnerdb import botocore_data
from partnerdb.config import ClientSettings
from partnerdb.deadline import install_deadline_hooks
from partnerdb.endpoint_cache import cache_endpoints
from partnerdb.private_access import http_session_of, share_http_session, wrap_http_session
from partnerdb.response_parser import parser_factory
from partnerdb.watchdog import DeadlineHTTPSession

_NO_CREDENTIALS = object()


class _ClientSession(botocore.session.Session):  # type: ignore[misc]
    """A session whose credentials are whatever the client being built was given."""

    def __init__(self) -> None:
        super().__init__()
        self._credentials_for_next: Any = _NO_CREDENTIALS

    def get_credentials(self) -> Any:
        if self._credentials_for_next is _NO_CREDENTIALS:
            # Only the home (function) clients reach the default chain, resolved anew for each
            # (botocore's Session would keep the first result: a client rebuilt after a
            # SnapStart restore must not get the snapshot's credentials).
            return self.get_component("credential_provider").load_credentials()
        return self._credentials_for_next


class ClientFactory:
    """Builds deadline-hooked botocore clients on one shared session.

    botocore client creation is not thread-safe, so it happens under a lock; the clients
    themselves are thread-safe once built.
    """

    def __init__(self, settings: ClientSettings, *, botocore_data_dir: Path | None = None) -> None:
        self.settings = settings
        self._session = _ClientSession()
        self._prepared = botocore_data.install(self._session, botocore_data_dir)
        self._other_session: _ClientSession | None = None
        self._lock = threading.Lock()
        self._parsers = {"dynamodb": parser_factory()}
        self._default_parsers = ResponseParserFactory()
        self._http_sessions: dict[tuple[str, str], Any] = {}
        self._home_http_sessions: list[Any] = []
        self._config = Config(
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            max_pool_connections=settings.max_pool_connections,
            # botocore registers standard retries; the deadline hooks wrap them (and add the
            # adaptive rate limiter when asked for).
            retries={"mode": "standard", "total_max_attempts": settings.max_attempts},
            tcp_keepalive=True,
            parameter_validation=False,
        )

    def partner_client(self, service: str, region: str, credentials: Credentials) -> Any:
        """A client for `service` that signs with `credentials` and nothing else."""
        if credentials is None:
            raise ValueError("a partner client needs explicit credentials")
        with self._lock:
            session = self._session_for(service)
            session._credentials_for_next = credentials
            try:
                client = self._create(session, service, region)
            finally:
                session._credentials_for_next = _NO_CREDENTIALS
            share_http_session(
                client, self._http_sessions, (service, region), wrap=DeadlineHTTPSession
            )
        self._hook(client)
        cache_endpoints(client)  # one partner, one account: endpoints vary by table only
        return client

    def home_client(self, service: str, region: str) -> Any:
        """A client with the function's own credentials (used for STS only)."""
        with self._lock:
            client = self._create(self._session_for(service), service, region)
            wrap_http_session(client, DeadlineHTTPSession)
            pool = http_session_of(client)
            if pool is not None:
                self._home_http_sessions.append(pool)
        self._hook(client)
        return client

    def close_connections(self) -> None:
        """Close every pooled connection of the clients built so far; they stay usable and
        open new connections on their next request."""
        with self._lock:
            sessions = [*self._http_sessions.values(), *self._home_http_sessions]
        for http_session in sessions:
            http_session.close()

    def _create(self, session: _ClientSession, service: str, region: str) -> Any:
        """A client of `session` with partnerdb's settings and the service's response
        parsers (call with the lock held: botocore reads the parser factory at creation)."""
        parsers = self._parsers.get(service, self._default_parsers)
        session.register_component("response_parser_factory", parsers)
        return session.create_client(service, region, config=self._config)

    def _session_for(self, service: str) -> _ClientSession:
        """The session whose loader has `service`'s data (call with the lock held)."""
        if not self._prepared or service in self._prepared:
            return self._session
        if self._other_session is None:
            self._other_session = _ClientSession()
        return self._other_session

    def _hook(self, client: Any) -> None:
        install_deadline_hooks(
            client, retry_mode=self.settings.retry_mode, max_attempts=self.settings.max_attempts
        )
