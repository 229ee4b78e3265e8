"""DynamoDB rejecting a partner's credentials: replace them once, retry the call once.

A partner that revokes its role's active sessions, or a clock step, makes DynamoDB answer
`ExpiredTokenException`, `UnrecognizedClientException` or "The security token included in the
request is invalid" with credentials that look valid for up to an hour. Such an attempt was
never executed, so it is safe to retry: the hooks here ask the partner's credentials to
replace themselves (one AssumeRole, under the deadline) and retry at once; rejected again,
the credentials are dropped and `PartnerCredentialsRejected` is raised.

"Revoke active sessions" works differently: AWS attaches a policy that denies every action to
tokens issued before then, so DynamoDB answers `AccessDeniedException`. A denial is also what a
role's permissions give, and the two cannot be told apart from the answer; so a denial replaces
the credentials once and retries too, and a denial of the new credentials is answered as it is
(the role's permissions), while denials do not assume the role again for the back-off (one
AssumeRole per back-off at most, whatever the denied traffic).
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from partnerdb.errors import PartnerCredentialsRejected

REJECTED_CODES = frozenset(
    {"ExpiredTokenException", "ExpiredToken", "UnrecognizedClientException",
     "InvalidClientTokenId"}
)
REJECTED_MESSAGE = "security token included in the request is invalid"
DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied"})
_SIGNED_WITH = "partnerdb_signed_with"
_RETRIED = "partnerdb_credentials_replaced"
_CREDENTIAL = re.compile(r"Credential=([^/\s,]+)/")


class Replaceable(Protocol):
    def replace(self, rejected_access_key: str | None) -> None: ...

    def rejected_again(self, code: str) -> PartnerCredentialsRejected: ...

    def replaces_after_denial(self) -> bool: ...

    def denied_again(self, code: str) -> None: ...


def rejection_code(error: dict[str, Any]) -> str | None:
    """The error code when a DynamoDB error says the request's credentials were rejected."""
    code = str(error.get("Code", ""))
    if code in REJECTED_CODES:
        return code
    if REJECTED_MESSAGE in str(error.get("Message", "")).lower():
        return code or "invalid security token"
    return None


def _access_key(authorization: object) -> str | None:
    """The access key id in a SigV4 Authorization header (str or bytes, as botocore has it)."""
    if isinstance(authorization, bytes):
        authorization = authorization.decode("ascii", "replace")
    match = _CREDENTIAL.search(authorization) if isinstance(authorization, str) else None
    return match.group(1) if match else None


def install_rejection_hooks(client: Any, credentials: Replaceable) -> None:
    """On `client` (a partner's DynamoDB client signed with `credentials`): remember what each
    attempt was signed with, and handle a rejection before botocore's retry decision."""

    def remember_signature(request: Any, **_: Any) -> None:
        context = getattr(request, "context", None)
        if isinstance(context, dict):
            context[_SIGNED_WITH] = request.headers.get("Authorization")

    def on_rejection(
        response: Any = None, request_dict: dict[str, Any] | None = None, **_: Any
    ) -> float | None:
        if response is None:
            return None
        error = response[1].get("Error")
        if not error:
            return None  # an answer, not an error: nothing to look at
        code = rejection_code(error)
        denied = code is None and error.get("Code") in DENIED_CODES
        if code is None and not denied:
            return None
        context = (request_dict or {}).setdefault("context", {})
        if code is not None:
            if context.get(_RETRIED):
                raise credentials.rejected_again(code)
        elif context.get(_RETRIED):
            credentials.denied_again(str(error["Code"]))
            return None  # the role's permissions deny the call: answered as it is
        elif not credentials.replaces_after_denial():
            return None
        context[_RETRIED] = True
        credentials.replace(_access_key(context.get(_SIGNED_WITH)))
        return 0.0  # retry now, signed with the new credentials

    svc = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(f"before-send.{svc}", remember_signature)
    client.meta.events.register_first(f"needs-retry.{svc}", on_rejection)
