"""Every use partnerdb makes of a private name of botocore or PynamoDB, in one place.

Neither library has a public hook for what partnerdb needs here; each function says why the
private name is unavoidable and what happens if a future version drops it. Nothing else in
partnerdb touches another library's private attributes.
"""

from __future__ import annotations

from typing import Any

from botocore.credentials import DeferredRefreshableCredentials


class RoleCredentials(DeferredRefreshableCredentials):  # type: ignore[misc]
    """Refreshable credentials with Lambda-sized refresh windows.

    botocore refreshes 15 minutes (advisory) and 10 minutes (mandatory) before expiry, which
    with one-hour role-chaining credentials is an AssumeRole every 45 minutes. Every request
    re-checks, and a signed request needs its credentials only until AWS receives it, so 3 and
    1 minutes are ample: one call per partner every 57 minutes. botocore reads the windows
    only from these (private) class attributes.
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
    client: Any, shared: dict[tuple[str, str], Any], key: tuple[str, str]
) -> None:
    """Let every partner client of one service and region use one connection pool.

    Each botocore client otherwise has its own pool and TLS context, and loading the CA
    bundle into a context costs about 1 MiB and 14 ms per partner. Requests are signed one
    by one, so sharing connections to the same AWS endpoint shares no credentials.
    botocore has no public setting for this; without the attribute nothing is shared.
    """
    endpoint = getattr(client, "_endpoint", None)
    if endpoint is None or not hasattr(endpoint, "http_session"):
        return
    pool = shared.setdefault(key, endpoint.http_session)
    if pool is not endpoint.http_session:
        endpoint.http_session.close()
        endpoint.http_session = pool


def rate_limiter_bucket(limiter: Any) -> Any:
    """The token bucket of botocore's adaptive-mode rate limiter, or None.

    botocore's limiter blocks without a time bound; partnerdb acquires from the bucket itself
    so the wait ends at the deadline. None (a botocore without it): no client-side limit.
    """
    return getattr(limiter, "_token_bucket", None)


def rate_limiter_enabled(limiter: Any) -> bool:
    """Whether the adaptive limiter has started limiting (after the first throttle)."""
    return bool(getattr(limiter, "_enabled", False))


def use_client_for_model(model: Any, client: Any) -> None:
    """Make a bound model class send through `client`: its cached PynamoDB connection is
    built now (no network call) and given the client (`_get_connection` has no public twin).
    """
    use_client(model._get_connection().connection, client)
