"""An instant AWS stand-in on 127.0.0.1: canned STS AssumeRole and DynamoDB GetItem answers.

In-process figures use it so they measure the client side only: the answer is ready before
the request is parsed. It speaks plain HTTP, or HTTPS with a throwaway self-signed certificate
for 127.0.0.1 (`tls_material`) so the memory figure can count what a real TLS connection per
partner client costs. AssumeRole answers are counted per role ARN.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import ssl
import subprocess
import threading
import urllib.parse
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

#: The payment every GetItem returns (the seeded item of the runtime figures).
ITEM = {
    "id": {"S": "pay_bench"},
    "customer_id": {"S": "cust-42"},
    "amount": {"N": "1999"},
    "currency": {"S": "EUR"},
    "status": {"S": "captured"},
    "refunded": {"N": "0"},
    "created_at": {"S": "2024-11-26T10:00:00.000000+00:00"},
    "idempotency_key": {"S": "order-1"},
    "request_hash": {"S": "0" * 64},
}
_GET_ITEM_BODY = json.dumps({"Item": ITEM}).encode()
_JSON = "application/x-amz-json-1.0"
_OPENSSL_TIMEOUT_S = 60
THREAD_NAME = "bench-responder"


def tls_material(directory: Path, ca_bundle: Path) -> tuple[Path, Path, Path]:
    """A self-signed certificate and key for 127.0.0.1, and `ca_bundle` plus that
    certificate as one bundle (what `AWS_CA_BUNDLE` should name). Returns (cert, key, bundle).
    """
    cert, key, bundle = directory / "cert.pem", directory / "key.pem", directory / "bundle.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=_OPENSSL_TIMEOUT_S,
    )
    bundle.write_bytes(ca_bundle.read_bytes() + b"\n" + cert.read_bytes())
    return cert, key, bundle


class Responder:
    """A threaded loopback server answering AssumeRole and GetItem at once.

    `tls=(cert, key)` serves HTTPS. A context manager; `stop()` closes every connection.
    """

    def __init__(self, *, duration_s: int = 3600, tls: tuple[Path, Path] | None = None) -> None:
        self.duration_s = duration_s
        self.assume_role_calls: Counter[str] = Counter()
        self.requests = 0
        self._lock = threading.Lock()
        responder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, content_type, payload = responder.answer(
                    self.headers.get("X-Amz-Target", ""), body
                )
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
            self.scheme = "https"
        # No polling: a thread that wakes ten times a second makes every GIL release of the
        # code being timed (a log line's write, botocore's uuid4) about 20 µs dearer in CPU
        # time; a Lambda runtime process has no such thread. `stop` wakes it instead.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": None},
            name=THREAD_NAME, daemon=True,
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"

    def answer(self, target: str, body: bytes) -> tuple[int, str, bytes]:
        """(status, content type, body) for one request."""
        with self._lock:
            self.requests += 1
        if target.endswith(".GetItem"):
            return 200, _JSON, _GET_ITEM_BODY
        if target:
            message = f"the bench responder does not answer {target}"
            return 400, _JSON, json.dumps(
                {"__type": "com.amazon.coral.validate#ValidationException", "message": message}
            ).encode()
        form = urllib.parse.parse_qs(body.decode())
        if form.get("Action") == ["AssumeRole"]:
            role = form.get("RoleArn", [""])[0]
            with self._lock:
                self.assume_role_calls[role] += 1
            return 200, "text/xml", self._assume_role_xml(role)
        return 400, "text/xml", b"<ErrorResponse/>"

    def _assume_role_xml(self, role_arn: str) -> bytes:
        expires = datetime.now(UTC) + timedelta(seconds=self.duration_s)
        parts = role_arn.split(":")
        account = parts[4] if len(parts) > 4 else "000000000000"
        return (
            '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            "<AssumeRoleResult><AssumedRoleUser>"
            f"<AssumedRoleId>AROABENCH:{secrets.token_hex(4)}</AssumedRoleId>"
            f"<Arn>arn:aws:sts::{account}:assumed-role/bench/session</Arn>"
            "</AssumedRoleUser><Credentials>"
            f"<AccessKeyId>ASIA{secrets.token_hex(8).upper()}</AccessKeyId>"
            f"<SecretAccessKey>{secrets.token_hex(20)}</SecretAccessKey>"
            f"<SessionToken>{secrets.token_hex(32)}</SessionToken>"
            f"<Expiration>{expires.strftime('%Y-%m-%dT%H:%M:%SZ')}</Expiration>"
            "</Credentials></AssumeRoleResult>"
            "<ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId>"
            "</ResponseMetadata></AssumeRoleResponse>"
        ).encode()

    def start(self) -> Responder:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: ask for the shutdown, then connect until the blocked loop has seen it
        (bounded: 50 tries, 0.1 s apart)."""
        if self._thread.is_alive():
            stopping = threading.Thread(target=self._httpd.shutdown, daemon=True)
            stopping.start()
            address = ("127.0.0.1", int(self._httpd.server_address[1]))
            for _ in range(50):
                with contextlib.suppress(OSError):
                    socket.create_connection(address, timeout=1).close()
                stopping.join(0.1)
                if not stopping.is_alive():
                    break
        self._httpd.server_close()
        if self._thread.ident is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Responder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
