"""Every use partnerdb makes of a private name of botocore or PynamoDB, in one place.

Neither library has a public hook for what partnerdb needs here; each function says why the
private name is unavoidable and what happens if a future version drops it. Nothing else in
partnerdb touches another library's private attributes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from botocore.awsrequest import AWSHTTPConnectionPool, AWSHTTPSConnectionPool
from botocore.credentials import DeferredRefreshableCredentials
from botocore.parsers import JSONParser, ResponseParserFactory
from pynamodb.attributes import AttributeContainer


class RoleCredentials(DeferredRefreshableCredentials):  # type: ignore[misc]
    """Refreshable credentials with Lambda-sized refresh windows, and public handles on the
    refresh machinery `partnerdb.refresh` drives.

    botocore refreshes 15 minutes (advisory) and 10 minutes (mandatory) before expiry, which
    with one-hour role-chaining credentials is an AssumeRole every 45 minutes. Every request
    re-checks, and a signed request needs its credentials only until AWS receives it, so 3 and
    1 minutes are ample: one call per partner every 57 minutes. botocore reads the windows
    only from these (private) class attributes, decides on a refresh in `_refresh` (every read
    of the credentials goes through it), and installs new ones with `_set_from_data` and
    `_publish_refresh` (botocore 1.31+; older ones set the expiry in `_set_from_data`).
    """

    _advisory_refresh_timeout = 3 * 60
    _mandatory_refresh_timeout = 60

    def __init__(self, *, refresh_using: Any, method: str, time_fetcher: Any) -> None:
        super().__init__(refresh_using=refresh_using, method=method, time_fetcher=time_fetcher)
        self._partnerdb_init = {"refresh_using": refresh_using, "method": method,
                                "time_fetcher": time_fetcher}

    def forget(self) -> None:
        """Back to never fetched, through botocore's own constructor (no private attribute
        set by hand): the next request fetches again. A SnapStart copy must not sign with the
        snapshot's credentials."""
        DeferredRefreshableCredentials.__init__(self, **self._partnerdb_init)

    def _refresh(self) -> None:
        self.check_refresh()

    def check_refresh(self) -> None:
        """Refresh if needed (botocore's own policy unless a subclass decides)."""
        super()._refresh()

    @property
    def refresh_lock(self) -> Any:
        """The lock a refresh holds (botocore's own)."""
        return self._refresh_lock

    def needs_refresh(self, *, mandatory: bool) -> bool:
        """Whether the credentials are missing or within the advisory / mandatory window."""
        window = self._mandatory_refresh_timeout if mandatory else self._advisory_refresh_timeout
        return bool(self.refresh_needed(window))

    def fetch(self) -> Any:
        """Call the refresher (AssumeRole) for new credentials' metadata."""
        return self._refresh_using()

    def install(self, metadata: Any) -> None:
        """Use the credentials in `metadata` from now on (the refresh lock is held)."""
        try:
            self._set_from_data(metadata)
            publish = getattr(self, "_publish_refresh", None)
            if publish is not None:
                publish()
        finally:
            self._staged_expiry_time = None

    @property
    def current_access_key(self) -> str | None:
        """The access key id in use, without triggering a refresh; None before the first."""
        return self._access_key if self._frozen_credentials is not None else None

    def expire_now(self, now: Any) -> None:
        """Treat the current credentials as expired at `now` (the refresh lock is held)."""
        if self._frozen_credentials is not None:
            self._expiry_time = now - timedelta(seconds=1)


def use_client(connection: Any, client: Any) -> None:
    """Make a PynamoDB `Connection` send through `client` (a partner's botocore client).

    PynamoDB builds its client from `Meta` credentials, static ones only (issues #204, #877,
    #889 ask for a hook); its `client` property returns `_client` when set. Building the
    Connection makes no network call.
    """
    connection._client = client


def http_session_of(client: Any) -> Any:
    """A botocore client's HTTP session (its connection pool), or None.

    partnerdb closes the pools of its clients after a SnapStart restore (a copy must not
    write to a connection the snapshot opened); botocore has no public accessor. None (a
    botocore without it): nothing is closed, and the copies share what the snapshot held.
    """
    endpoint = getattr(client, "_endpoint", None)
    return getattr(endpoint, "http_session", None)


def share_http_session(
    client: Any,
    shared: dict[tuple[str, str], Any],
    key: tuple[str, str],
    wrap: Callable[[Any], Any] = lambda session: session,
) -> None:
    """Let every partner client of one service and region use one connection pool.

    Each botocore client otherwise has its own pool and TLS context, and loading the CA
    bundle into a context costs about 1 MiB and 14 ms per partner. Requests are signed one
    by one, so sharing connections to the same AWS endpoint shares no credentials. The first
    client's HTTP session, passed through `wrap`, is the shared one.
    botocore has no public setting for this; without the attribute nothing is shared.
    """
    endpoint = getattr(client, "_endpoint", None)
    if endpoint is None or not hasattr(endpoint, "http_session"):
        return
    pool = shared.get(key)
    if pool is None:
        pool = shared[key] = wrap(endpoint.http_session)
    else:
        endpoint.http_session.close()
    endpoint.http_session = pool


def wrap_http_session(client: Any, wrap: Callable[[Any], Any]) -> None:
    """Replace a client's HTTP session by `wrap(session)` (botocore's `_endpoint`)."""
    endpoint = getattr(client, "_endpoint", None)
    if endpoint is not None and hasattr(endpoint, "http_session"):
        endpoint.http_session = wrap(endpoint.http_session)


def use_pool_classes(http_session: Any, classes: dict[str, type]) -> bool:
    """Make botocore's URLLib3Session build its connection pools from `classes`.

    Pools are built lazily, so connections made from here on use them (proxy managers too).
    botocore has no public setting; False (a botocore without the attributes): unchanged.
    """
    manager = getattr(http_session, "_manager", None)
    if manager is None or not hasattr(http_session, "_pool_classes_by_scheme"):
        return False
    http_session._pool_classes_by_scheme = classes
    manager.pool_classes_by_scheme = classes
    return True


def watched_pool_classes(
    on_get: Callable[[Any], None], on_put: Callable[[Any], None], timeout: Callable[[Any], Any]
) -> dict[str, type]:
    """botocore's pool classes, telling `on_get`/`on_put` which connection an attempt takes
    and gives back, and sending with `timeout(configured timeout)`.

    urllib3 has no public hook on the connection a request uses: `_get_conn` and `_put_conn`
    are where a pool hands it out and takes it back.
    """

    class Watched:
        timeout: Any

        def _get_conn(self, timeout: float | None = None) -> Any:
            conn = super()._get_conn(timeout)  # type: ignore[misc]
            try:
                on_get(conn)
            except BaseException:
                super()._put_conn(conn)  # type: ignore[misc]
                raise
            return conn

        def _put_conn(self, conn: Any) -> None:
            on_put(conn)
            super()._put_conn(conn)  # type: ignore[misc]

        def urlopen(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            kwargs["timeout"] = timeout(kwargs.get("timeout", self.timeout))
            return super().urlopen(method, url, *args, **kwargs)  # type: ignore[misc]

    return {
        "http": type("WatchedHTTPConnectionPool", (Watched, AWSHTTPConnectionPool), {}),
        "https": type("WatchedHTTPSConnectionPool", (Watched, AWSHTTPSConnectionPool), {}),
    }


def rate_limiter_bucket(limiter: Any) -> Any:
    """The token bucket of botocore's adaptive-mode rate limiter, or None.

    botocore's limiter blocks without a time bound; partnerdb acquires from the bucket itself
    so the wait ends at the deadline. None (a botocore without it): no client-side limit.
    """
    return getattr(limiter, "_token_bucket", None)


def rate_limiter_enabled(limiter: Any) -> bool:
    """Whether the adaptive limiter has started limiting (after the first throttle)."""
    return bool(getattr(limiter, "_enabled", False))


def model_table_connection(model: Any) -> Any:
    """A model class's PynamoDB `TableConnection`, built now if need be (no network call);
    `_get_connection` has no public twin."""
    return model._get_connection()


def model_connection(model: Any) -> Any:
    """A model class's PynamoDB `Connection` (see `model_table_connection`)."""
    return model_table_connection(model).connection


def wrap_api_calls(connection: Any, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]
                   ) -> None:
    """Route every call of a PynamoDB `Connection` through `wrap(call)`.

    Every operation of a Connection goes through `_make_api_call(operation, kwargs)`; PynamoDB
    has no public hook around a model's calls. Set on this one connection only.
    """
    connection._make_api_call = wrap(connection._make_api_call)


def serializes_as_pynamodb(cls: type) -> bool:
    """Whether a PynamoDB model class serializes its attributes with PynamoDB's own
    `_container_serialize` (the SDK's plain-JSON fast path holds only then). PynamoDB has no
    public name for it; False (a PynamoDB without it): the SDK uses `to_simple_dict`."""
    own = getattr(AttributeContainer, "_container_serialize", None)
    return own is not None and getattr(cls, "_container_serialize", None) is own


def wrap_endpoint_resolution(client: Any, wrap: Callable[[Callable[..., Any]], Any]) -> Any:
    """Route `client`'s per-request endpoint resolution through `wrap(resolve)`; returns what
    `wrap` returned, now in place.

    botocore resolves the endpoint ruleset on every request through the client's
    `_ruleset_resolver.construct_endpoint(operation_model, call_args, request_context)` and
    has no public hook around it. None (a botocore without it): nothing changes.
    """
    resolver: Any = getattr(client, "_ruleset_resolver", None)
    resolve = getattr(resolver, "construct_endpoint", None)
    if resolver is None or resolve is None:
        return None
    wrapped = wrap(resolve)
    resolver.construct_endpoint = wrapped
    return wrapped


def json_parser_factory(shortcut: Callable[[Any, Any], Any]) -> Any:
    """A botocore response parser factory whose JSON parsers first ask `shortcut(shape, node)`
    for each value, and keep its answer unless it is `NotImplemented`.

    botocore parses every value of a response through the parser's `_parse_shape(shape, node)`,
    one dispatch per value, and has no public hook between decoding the body and walking it.
    A botocore that renames it never calls the override: responses are parsed as before.
    Other protocols get botocore's own parsers.
    """

    class ShortcutJSONParser(JSONParser):  # type: ignore[misc]
        def _parse_shape(self, shape: Any, node: Any) -> Any:
            parsed = shortcut(shape, node)
            if parsed is NotImplemented:
                return super()._parse_shape(shape, node)
            return parsed

    class ShortcutParserFactory(ResponseParserFactory):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            #: what `set_parser_defaults` was given (a timestamp or blob parser), for ours too
            self.shortcut_defaults: dict[str, Any] = {}

        def set_parser_defaults(self, **kwargs: Any) -> None:
            super().set_parser_defaults(**kwargs)
            self.shortcut_defaults.update(kwargs)

        def create_parser(self, protocol_name: str) -> Any:
            if protocol_name == "json":
                return ShortcutJSONParser(**self.shortcut_defaults)
            return super().create_parser(protocol_name)

    return ShortcutParserFactory()
