"""The bench's instant AWS stand-in: it answers, it sleeps between requests (a polling thread
would make every GIL release of the code a figure times dearer), and it stops promptly."""

from __future__ import annotations

import threading
import time
import urllib.request
from pathlib import Path

import botocore.httpsession
import pytest

from bench.responder import THREAD_NAME, Responder, tls_material


def serving_thread() -> threading.Thread:
    (thread,) = [t for t in threading.enumerate() if t.name == THREAD_NAME]
    return thread


def context_switches(thread: threading.Thread) -> int:
    """How often the kernel has switched `thread` out (Linux: /proc)."""
    status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
    counts = [line.split()[1] for line in status.splitlines() if "ctxt_switches" in line]
    return sum(int(c) for c in counts)


def assume_role(url: str) -> bytes:
    body = b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A111111111111%3Arole%2Fr"
    with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=5) as response:
        data: bytes = response.read()
    return data


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads through /proc")
def test_the_server_thread_sleeps_until_a_request_comes() -> None:
    with Responder() as responder:
        assert b"<AccessKeyId>ASIA" in assume_role(responder.url)
        thread = serving_thread()
        before = context_switches(thread)
        time.sleep(0.6)  # a loop polling every 0.1 s would wake about 6 times
        assert context_switches(thread) - before <= 1
        assert responder.assume_role_calls == {"arn:aws:iam::111111111111:role/r": 1}


def test_stop_ends_the_server_thread_at_once() -> None:
    responder = Responder().start()
    thread = serving_thread()
    started = time.monotonic()
    responder.stop()
    assert not thread.is_alive()
    assert time.monotonic() - started < 3


def test_a_responder_never_started_stops() -> None:
    Responder().stop()


@pytest.mark.slow
def test_a_tls_responder_stops_too(tmp_path: Path) -> None:
    cert, key, _ = tls_material(tmp_path, Path(botocore.httpsession.DEFAULT_CA_BUNDLE))
    responder = Responder(tls=(cert, key)).start()
    thread = serving_thread()
    responder.stop()
    assert not thread.is_alive()
