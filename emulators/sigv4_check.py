"""The Signature Version 4 check AWS makes, in front of a stand-in on 127.0.0.1.

moto and DynamoDB Local accept any signature. `SignatureCheck` is a behaviour for
`emulators.fault_server.FaultServer` that does what AWS does with each request: it reads the
access key, scope and signed header names from the Authorization header, recomputes the
signature over exactly those headers with the secret key issued for that access key (botocore's
own `SigV4Auth` does the arithmetic) and answers a mismatch with 403
InvalidSignatureException, an unknown key with 400 UnrecognizedClientException. Requests that
pass go on to the wrapped behaviour (typically `forward_to(moto)`).

It learns secrets the way a test can: given outright (`learn`), or read from the AssumeRole
answers of an STS it sits in front of (`issuing`).
"""

from __future__ import annotations

import hmac
import re
import threading

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from emulators.fault_server import Behaviour, Reply, json_error

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[^,]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)
_ISSUED = re.compile(
    r"<AccessKeyId>(?P<key>[^<]+)</AccessKeyId>\s*<SecretAccessKey>(?P<secret>[^<]+)"
    r"</SecretAccessKey>"
)


class SignatureCheck:
    """`FaultServer(SignatureCheck(forward_to(moto_url)))`: SigV4 checked, then forwarded."""

    def __init__(self, behaviour: Behaviour) -> None:
        self._behaviour = behaviour
        self._secrets: dict[str, str] = {}
        self._lock = threading.Lock()
        self.checked = 0
        self.rejected: list[str] = []

    def learn(self, access_key: str, secret_key: str) -> None:
        """Accept `access_key`, signing with `secret_key`."""
        with self._lock:
            self._secrets[access_key] = secret_key

    def issuing(self, sts: Behaviour) -> Behaviour:
        """`sts`, learning the credentials of every AssumeRole answer it gives."""

        def learn_issued(path: str, headers: dict[str, str], body: bytes) -> Reply | None:
            reply = sts(path, headers, body)
            if reply is not None:
                for found in _ISSUED.finditer(reply[2].decode("utf-8", "replace")):
                    self.learn(found["key"], found["secret"])
            return reply

        return learn_issued

    def __call__(self, path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        problem = self.problem(path, headers, body)
        with self._lock:
            self.checked += 1
            if problem is not None:
                self.rejected.append(problem)
        if problem == "unknown access key":
            return json_error(400, "UnrecognizedClientException",
                               "The security token included in the request is invalid.")
        if problem is not None:
            return json_error(403, "InvalidSignatureException", problem)
        return self._behaviour(path, headers, body)

    def problem(self, path: str, headers: dict[str, str], body: bytes) -> str | None:
        """What is wrong with the request's signature; None when AWS would accept it."""
        by_name = {name.lower(): value for name, value in headers.items()}
        found = _AUTHORIZATION.match(by_name.get("authorization", ""))
        if found is None:
            return "no SigV4 Authorization header"
        with self._lock:
            secret = self._secrets.get(found["key"])
        if secret is None:
            return "unknown access key"
        stamp = by_name.get("x-amz-date", "")
        if stamp[:8] != found["date"]:
            return "the scope's date is not the request's X-Amz-Date"
        names = found["signed"].split(";")
        if "host" not in names or any(name not in by_name for name in names):
            return "a signed header is missing"
        request = AWSRequest(
            method="POST",
            url=f"http://{by_name['host']}{path}",
            data=body,
            headers={name: by_name[name] for name in names},
        )
        request.context["timestamp"] = stamp
        auth = SigV4Auth(
            Credentials(found["key"], secret, by_name.get("x-amz-security-token")),
            found["service"],
            found["region"],
        )
        if auth.signed_headers(auth.headers_to_sign(request)) != found["signed"]:
            return "the signed header names are not canonical"
        canonical = auth.canonical_request(request)
        expected = auth.signature(auth.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected, found["signature"]):
            return "signature mismatch"
        return None
