"""An embedded moto server on 127.0.0.1, shared by tests, the demo and benchmarks.

moto in server mode speaks real HTTP, so botocore, PynamoDB and our hooks run exactly as they
would against AWS. Assumed-role credentials map to the role's account, which is how partner
accounts are told apart.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from moto.server import ThreadedMotoServer

from .ports import free_port


@dataclass
class MotoServer:
    """A running moto server; `url` is what `AWS_ENDPOINT_URL` should hold."""

    server: ThreadedMotoServer
    url: str

    def reset(self) -> None:
        """Drop every resource in every account (moto's own reset endpoint)."""
        req = urllib.request.Request(f"{self.url}/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()

    def sts_assume_role_calls(self) -> list[dict[str, str]]:
        """What moto's STS backend recorded: one entry per AssumeRole it served."""
        return assumed_roles()

    def stop(self) -> None:
        self.server.stop()


def start_moto(port: int = 0) -> MotoServer:
    """Start moto on 127.0.0.1 (port 0 picks a free one) and return it once it answers."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, real_port = server.get_host_and_port()
    return MotoServer(server=server, url=f"http://{host}:{real_port}")


def assumed_roles() -> list[dict[str, str]]:
    """Every AssumeRole moto's STS backend served, read in-process.

    moto checks no ExternalId itself, so tests read back what reached it. This only sees a
    server running in this process (ThreadedMotoServer), which is how tests run it.
    """
    from moto.sts.models import sts_backends

    calls: list[dict[str, str]] = []
    for account_backends in sts_backends.values():
        for backend in account_backends.values():
            for role in getattr(backend, "assumed_roles", []):
                calls.append(
                    {
                        "role_arn": role.role_arn,
                        "session_name": role.session_name,
                        "external_id": getattr(role, "external_id", None) or "",
                    }
                )
    return calls


@contextmanager
def moto_process(timeout: float = 30.0) -> Iterator[str]:
    """A moto server in a process of its own on 127.0.0.1 (so it runs on another core,
    outside this process's GIL); yields its URL, and stops it (by its pid) afterwards."""
    port = free_port()
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto exited with {proc.returncode} before answering")
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=2) as resp:
                    resp.read()
                break
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()  # moto exits on SIGTERM unless a request thread holds it up
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
