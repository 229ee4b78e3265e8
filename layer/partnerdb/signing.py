"""Signature Version 4 for partners' DynamoDB clients: botocore's signature, with less work.

botocore signs every request with a new `SigV4Auth`: it copies the headers into an
email-based header map twice (for the canonical request and again for the Authorization
header), splits the URL three times, prepares the whole request once more to read its body
and derives the signing key with four HMACs. That is about a third of a warm GetItem's own CPU.

`FastSigV4` computes the same signature from one pass over the headers, with the host and
path worked out once per endpoint URL and the signing key once per day, secret, region and
service. It signs only what it can sign exactly as botocore does: a request with bytes for a
body, no query string, the root path, no `Date` or `X-Amz-Content-SHA256` header, ASCII header
values and a signed payload. Anything else is signed by botocore's own `SigV4Auth`, as before.

It takes over through botocore's public events: `choose-signer` (for a request botocore would
sign with plain SigV4, it says "unsigned" and marks the request) and `before-sign`, last (where
the marked request is signed after every other handler has changed it). The credentials are
the client's own, read through `get_frozen_credentials()` on every request as botocore does,
so refreshes and partnerdb's refusal back-off behave as before. Nothing here logs.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import urlsplit

import botocore
from botocore.auth import SIGNED_HEADERS_BLACKLIST, SIGV4_TIMESTAMP, SigV4Auth
from botocore.compat import get_current_datetime
from botocore.exceptions import NoCredentialsError

#: the request context key marking a request this module signs (set by `choose-signer`)
MARK = "partnerdb_fast_sigv4"
_SKIPPED = frozenset(SIGNED_HEADERS_BLACKLIST)
#: headers signing removes and sets anew (the token only when the credentials have one)
_REPLACED = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")
_REPLACED_LOWER = frozenset(name.lower() for name in _REPLACED)
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: endpoint URLs remembered per signer (a partner's client has one, or one per table)
_URLS_KEPT = 64


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def _host_of(url: str) -> str | None:
    """The host header botocore signs for `url` (lower case, default port left out), when
    the URL is one this module signs: http(s), the root path, no query, not IPv6."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if (
        parts.scheme not in _DEFAULT_PORTS
        or not host
        or ":" in host
        or parts.path not in ("", "/")
        or parts.query
    ):
        return None
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        return f"{host}:{port}"
    return host


class FastSigV4:
    """Signs one client's requests as botocore's `SigV4Auth` would (see the module text)."""

    def __init__(self, credentials: Any) -> None:
        self._credentials = credentials
        self._hosts: dict[str, str | None] = {}
        #: (access key, hash of the secret key, date, region, service) -> signing key: one
        #: entry, replaced daily and when the credentials rotate; the secret itself is not kept
        self._key: tuple[tuple[Any, ...], bytes] | None = None

    @property
    def holds_key(self) -> bool:
        """Whether a signing key derived from the credentials is kept."""
        return self._key is not None

    def forget(self) -> None:
        """Drop the signing key derived from the credentials (a SnapStart restore: nothing
        obtained before the snapshot is used after it)."""
        self._key = None

    def install(self, client: Any) -> None:
        """Take over the signing of `client`'s plain SigV4 requests."""
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register_first(f"choose-signer.{service}", self.choose)
        # last: every other `before-sign` handler changes the request before it is signed,
        # as when botocore signs after them all
        client.meta.events.register_last(f"before-sign.{service}", self.before_sign)

    def choose(
        self, *, signing_name: str, region_name: str, signature_version: Any, context: Any,
        **_: Any,
    ) -> Any:
        """`choose-signer`: take a request botocore would sign with plain SigV4 (returning
        "unsigned" so botocore does not sign it too); leave every other request to botocore."""
        if (
            signature_version != "v4"
            or not isinstance(context, dict)
            or context.get("auth_type") not in (None, "v4")
            or context.get("unsigned_payload")
            or context.get("payload_signing_enabled", True) is not True
            or _special_signing(context.get("signing"))
        ):
            return None
        context[MARK] = (signing_name, region_name)
        return botocore.UNSIGNED

    def before_sign(self, *, request: Any, signature_version: Any = None, **_: Any) -> None:
        """`before-sign`: sign a request `choose` took."""
        context = getattr(request, "context", None)
        if signature_version is not botocore.UNSIGNED or not isinstance(context, dict):
            return
        names = context.pop(MARK, None)
        if names is not None:
            self.sign(request, *names)

    def sign(self, request: Any, signing_name: str, region: str) -> None:
        """Add the SigV4 headers to `request` (botocore's `SigV4Auth` when it is not a
        request this module signs)."""
        credentials = self._credentials.get_frozen_credentials()
        if credentials is None or credentials.access_key is None:
            raise NoCredentialsError()
        if not self._fast(request, credentials, signing_name, region):
            SigV4Auth(credentials, signing_name, region).add_auth(request)

    def _fast(self, request: Any, credentials: Any, signing_name: str, region: str) -> bool:
        body = request.data
        if request.params or not isinstance(body, bytes) or _streaming_checksum(request.context):
            return False
        host = self._host(request.url)
        if host is None:
            return False
        token = credentials.token
        found = _signed_headers(request.headers, token)
        if found is None:
            return False
        signed, present = found
        stamp = get_current_datetime().strftime(SIGV4_TIMESTAMP)
        date = stamp[:8]
        request.context["timestamp"] = stamp
        headers = request.headers
        for name in _REPLACED:  # what botocore replaces, in its order
            if name.lower() in present and (token or name != "X-Amz-Security-Token"):
                del headers[name]
        headers["X-Amz-Date"] = stamp
        signed["x-amz-date"] = [stamp]
        if token:
            headers["X-Amz-Security-Token"] = token
            signed["x-amz-security-token"] = [" ".join(token.split())]
        signed.setdefault("host", [host])
        names = sorted(signed)
        signed_headers = ";".join(names)
        canonical = "\n".join((
            request.method.upper(),
            "/",
            "",
            "\n".join(f"{n}:{','.join(signed[n])}" for n in names) + "\n",
            signed_headers,
            hashlib.sha256(body).hexdigest() if body else _EMPTY_SHA256,
        ))
        scope = f"{date}/{region}/{signing_name}/aws4_request"
        to_sign = "\n".join((
            "AWS4-HMAC-SHA256",
            stamp,
            scope,
            hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        ))
        key = self._signing_key(credentials, date, region, signing_name)
        signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        )
        return True

    def _host(self, url: str) -> str | None:
        """`_host_of(url)`, remembered (a lookup, then a store: another thread may clear the
        dict in between without this one failing)."""
        hosts = self._hosts
        try:
            return hosts[url]
        except KeyError:
            pass
        host = _host_of(url)
        if len(hosts) >= _URLS_KEPT:
            hosts.clear()
        hosts[url] = host
        return host

    def _signing_key(self, credentials: Any, date: str, region: str, service: str) -> bytes:
        secret = credentials.secret_key
        wanted = (credentials.access_key, hash(secret), date, region, service)
        known = self._key
        if known is not None and known[0] == wanted:
            return known[1]
        key = _hmac(f"AWS4{secret}".encode(), date)
        for part in (region, service, "aws4_request"):
            key = _hmac(key, part)
        self._key = (wanted, key)  # one tuple: threads swap it whole
        return key


def _signed_headers(
    headers: Any, token: str | None
) -> tuple[dict[str, list[str]], set[str]] | None:
    """The request's headers botocore signs (lower-case name -> trimmed values), leaving out
    those signing replaces, and every lower-case name present; None when botocore must sign
    (a `Date` or payload-hash header, a kept security token, a value not plain ASCII).

    `raw_items()` is the header map's list without its policy's parsing, which for ASCII
    strings returns them unchanged (it turns only undecodable bytes into `Header`s)."""
    items = list(headers.raw_items())
    present = {name.lower() for name, _ in items}
    if "date" in present or "x-amz-content-sha256" in present:
        return None
    if not token and "x-amz-security-token" in present:
        return None
    signed: dict[str, list[str]] = {}
    for name, value in items:
        lower = name.lower()
        if lower in _SKIPPED or lower in _REPLACED_LOWER:
            continue
        if not isinstance(value, str) or not value.isascii():
            return None
        signed.setdefault(lower, []).append(" ".join(value.split()))
    return signed, present


def _special_signing(signing: Any) -> bool:
    """Whether the request's signing context asks for more than a region and a name
    (per-request credentials, an identity cache, SigV4a's region set)."""
    if not signing:
        return False
    return not isinstance(signing, dict) or bool(set(signing) - {"region", "signing_name"})


def _streaming_checksum(context: Any) -> bool:
    algorithm = context.get("checksum", {}).get("request_algorithm")
    return isinstance(algorithm, dict) and algorithm.get("in") == "trailer"


def install_fast_signing(client: Any, credentials: Any) -> FastSigV4:
    """Sign `client`'s plain SigV4 requests with `FastSigV4` and `credentials` (the client's
    own)."""
    signer = FastSigV4(credentials)
    signer.install(client)
    return signer
