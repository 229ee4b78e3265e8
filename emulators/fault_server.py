"""A misbehaving AWS endpoint on 127.0.0.1 for fault tests and benchmarks.

It speaks just enough of the DynamoDB (JSON) and STS (query/XML) protocols for botocore to
parse its answers: it can hang (accept and never answer), throttle, refuse an AssumeRole,
fail with 500s, trickle a reply one byte at a time, play behaviours in sequence, or forward
to a real server (moto). It counts the requests it received.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Trickle(bytes):
    """A reply body the server writes `chunk` bytes at a time, `interval` seconds apart."""

    interval: float = 0.3
    chunk: int = 1

    def __new__(cls, payload: bytes, interval: float = 0.3, chunk: int = 1) -> Trickle:
        body = super().__new__(cls, payload)
        body.interval, body.chunk = interval, chunk
        return body


Reply = tuple[int, dict[str, str], bytes]
#: A behaviour sees (path, headers, body) and returns a reply, or None to hang.
Behaviour = Callable[[str, dict[str, str], bytes], Reply | None]

HANG_LIMIT_SECONDS = 30.0


def json_error(status: int, code: str, message: str) -> Reply:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message})
    return status, {"Content-Type": "application/x-amz-json-1.0"}, body.encode()


def _sts_error(status: int, code: str, message: str) -> Reply:
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    )
    return status, {"Content-Type": "text/xml"}, body.encode()


def sts_error(status: int, code: str) -> Behaviour:
    """STS answering every request with the error `code` (e.g. 403 AccessDenied)."""

    def answer(path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        return _sts_error(status, code, code)

    return answer


def hang(path: str, headers: dict[str, str], body: bytes) -> Reply | None:
    """Accept the request and never answer."""
    return None


def dynamodb_throttle(path: str, headers: dict[str, str], body: bytes) -> Reply | None:
    return json_error(400, "ProvisionedThroughputExceededException", "Rate exceeded")


def dynamodb_500(path: str, headers: dict[str, str], body: bytes) -> Reply | None:
    return json_error(500, "InternalServerError", "Internal server error")


def sts_refuse(path: str, headers: dict[str, str], body: bytes) -> Reply | None:
    return _sts_error(403, "AccessDenied", "Not authorized to perform sts:AssumeRole")


def sts_throttle(path: str, headers: dict[str, str], body: bytes) -> Reply | None:
    return _sts_error(400, "Throttling", "Rate exceeded")


def dynamodb_json(payload: dict[str, object]) -> Reply:
    """A 200 DynamoDB answer with `payload` as its JSON body."""
    return 200, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(payload).encode()


def trickle(behaviour: Behaviour, interval: float = 0.3, chunk: int = 1) -> Behaviour:
    """`behaviour`'s reply, its body sent `chunk` bytes every `interval` seconds."""

    def slow(path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        reply = behaviour(path, headers, body)
        if reply is None:
            return None
        status, reply_headers, payload = reply
        return status, reply_headers, Trickle(payload, interval, chunk)

    return slow


def sequence(*steps: tuple[int, Behaviour], then: Behaviour) -> Behaviour:
    """Answer the first requests with each step's behaviour for its count, then `then`."""
    plan = [behaviour for count, behaviour in steps for _ in range(count)]
    lock = threading.Lock()

    def play(path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        with lock:
            behaviour = plan.pop(0) if plan else then
        return behaviour(path, headers, body)

    return play


class HeaderLog:
    """A behaviour that keeps each request's target and headers, then defers to `behaviour`."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()

    def __call__(self, path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        with self._lock:
            self.requests.append((headers.get("X-Amz-Target", path), dict(headers)))
        return self.behaviour(path, headers, body)


_CREDENTIAL = re.compile(r"Credential=([^/\s,]+)/")
#: What DynamoDB answers for a session token that is expired, revoked or unknown.
TOKEN_REJECTIONS: dict[str, tuple[str, str]] = {
    "expired": ("ExpiredTokenException", "The security token included in the request is expired"),
    "unrecognized": (
        "UnrecognizedClientException", "The security token included in the request is invalid."
    ),
    # "Revoke active sessions": a policy denying every action to tokens issued before then
    "denied": (
        "AccessDeniedException",
        "User: arn:aws:sts::111111111111:assumed-role/partnerdb-access/session is not "
        "authorized to perform: dynamodb:* with an explicit deny in an identity-based policy",
    ),
}


def access_key_of(headers: dict[str, str]) -> str | None:
    """The access key id a SigV4 request was signed with, from its Authorization header."""
    for key, value in headers.items():
        if key.lower() == "authorization":
            match = _CREDENTIAL.search(value)
            return match.group(1) if match else None
    return None


class TokenGate:
    """DynamoDB in front of `behaviour` that rejects requests signed with revoked credentials,
    as AWS does after "Revoke active sessions" on a role or once a token has expired.

    `revoke_seen()` revokes every access key seen so far; `revoke_all` rejects every key,
    including ones issued later. Rejected requests are counted and never reach `behaviour`.
    """

    def __init__(self, behaviour: Behaviour, rejection: str = "expired") -> None:
        self.behaviour = behaviour
        self.code, self.message = TOKEN_REJECTIONS[rejection]
        self.revoke_all = False
        self.seen: list[str | None] = []
        self.rejected = 0
        self._revoked: set[str | None] = set()
        self._lock = threading.Lock()

    def revoke_seen(self) -> None:
        with self._lock:
            self._revoked.update(self.seen)

    def __call__(self, path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        key = access_key_of(headers)
        with self._lock:
            self.seen.append(key)
            refused = self.revoke_all or key in self._revoked
            if refused:
                self.rejected += 1
        if refused:
            return json_error(400, self.code, self.message)
        return self.behaviour(path, headers, body)


def forward_to(url: str) -> Behaviour:
    """Pass requests through to a real server (for faults injected part-way)."""

    def forward(path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        skip = {"host", "content-length", "connection"}
        req = urllib.request.Request(
            url + path,
            data=body,
            headers={k: v for k, v in headers.items() if k.lower() not in skip},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, dict(resp.headers.items()), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers.items()), err.read()

    return forward


class FaultServer:
    """A threaded HTTP server on 127.0.0.1 whose behaviour can change between requests."""

    def __init__(self, behaviour: Behaviour = hang, *, port: int = 0) -> None:
        """`port` 0 picks a free one; a given port lets a server come back where one was."""
        self.behaviour = behaviour
        self.requests = 0
        self.connections = 0
        self.targets: list[str] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with server._lock:
                    server.connections += 1

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = {k: v for k, v in self.headers.items()}
                with server._lock:
                    server.requests += 1
                    server.targets.append(headers.get("X-Amz-Target", self.path))
                reply = server.behaviour(self.path, headers, body)
                if reply is None:
                    server._stopping.wait(HANG_LIMIT_SECONDS)
                    self.close_connection = True
                    return
                status, reply_headers, payload = reply
                self.send_response(status)
                for key, value in reply_headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if isinstance(payload, Trickle):
                    server._trickle(self, payload)
                else:
                    self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def _trickle(self, handler: BaseHTTPRequestHandler, payload: Trickle) -> None:
        """Write `payload` slowly; stop (bounded) when the server stops or the client leaves."""
        handler.wfile.flush()
        started = time.monotonic()
        for start in range(0, len(payload), payload.chunk):
            if self._stopping.is_set() or time.monotonic() - started > HANG_LIMIT_SECONDS:
                break
            try:
                handler.wfile.write(payload[start : start + payload.chunk])
                handler.wfile.flush()
            except OSError:
                break
            self._stopping.wait(payload.interval)
        handler.close_connection = True

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll `predicate` every 10 ms for at most `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
