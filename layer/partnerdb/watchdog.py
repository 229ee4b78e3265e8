"""Cut a whole HTTP attempt, connection to last byte, at the invocation's deadline.

A socket read timeout bounds each read, not the attempt: a server sending one byte every
0.3 s keeps a call alive for as long as it likes. So every attempt made under a deadline is
watched: its connect and read timeouts are clamped to the time left when it is actually sent
(after every wait of the retry handler and the adaptive rate limiter), and one watchdog thread
shuts the attempt's socket down at the deadline. An attempt the watchdog cut raises
`DeadlineExceeded`, whatever part of the response had arrived: botocore would otherwise parse
the truncated body as a complete answer (a missing item, for a GetItem).

The connection an attempt uses is learnt from the connection pool when it is handed out and
forgotten when it goes back (`partnerdb.private_access.watched_pool_classes`), so the watchdog
never touches a connection that another attempt has picked up since.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import socket
import threading
import time
from typing import Any

from urllib3.util.timeout import Timeout

from partnerdb.deadline import current_deadline
from partnerdb.errors import DeadlineExceeded
from partnerdb.private_access import use_pool_classes, watched_pool_classes

#: The shortest timeout handed to a socket (urllib3 refuses 0 and negative values).
_MIN_TIMEOUT = 0.001


class Attempt:
    """One HTTP attempt under a deadline: the connection it holds and whether it was cut."""

    __slots__ = ("_conn", "_lock", "cut", "expires_at")

    def __init__(self, expires_at: float) -> None:
        self.expires_at = expires_at
        self.cut = False
        self._conn: Any = None
        self._lock = threading.Lock()

    def left(self) -> float:
        return self.expires_at - time.monotonic()

    def attach(self, conn: Any) -> None:
        with self._lock:
            self._conn = conn

    def detach(self, conn: Any) -> None:
        with self._lock:
            if self._conn is conn:
                self._conn = None

    def finish(self) -> None:
        """The attempt is over: its connection (maybe back in the pool) is no longer its own."""
        with self._lock:
            self._conn = None

    def fire(self) -> None:
        """The deadline passed: mark the attempt cut and shut its socket down."""
        with self._lock:
            self.cut = True
            sock = getattr(self._conn, "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class Watchdog:
    """One daemon thread that fires attempts whose deadline has passed.

    It is woken only when an attempt is due before the time it already sleeps until (once
    per invocation, typically: later attempts share the invocation's deadline).
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Attempt]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._wake_at = math.inf

    def watch(self, attempt: Attempt) -> None:
        with self._cond:
            heapq.heappush(self._heap, (attempt.expires_at, next(self._order), attempt))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="partnerdb-watchdog", daemon=True
                )
                self._thread.start()
            if attempt.expires_at < self._wake_at:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._heap:
                    self._wake_at = math.inf
                    self._cond.wait()
                    continue
                expires_at, _, attempt = self._heap[0]
                wait = expires_at - time.monotonic()
                if wait > 0:
                    self._wake_at = expires_at
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
            attempt.fire()

    def forget(self, attempt: Attempt) -> None:
        """Drop a finished attempt (cheap; the heap is tiny: one entry per attempt in flight)."""
        with self._cond:
            for i, (_, _, other) in enumerate(self._heap):
                if other is attempt:
                    self._heap[i] = self._heap[-1]
                    self._heap.pop()
                    heapq.heapify(self._heap)
                    return


WATCHDOG = Watchdog()
_local = threading.local()


def _current_attempt() -> Attempt | None:
    return getattr(_local, "attempt", None)


def _attach(conn: Any) -> None:
    attempt = _current_attempt()
    if attempt is not None:
        if attempt.cut:
            raise DeadlineExceeded("request attempt not started, no time left")
        attempt.attach(conn)


def _detach(conn: Any) -> None:
    attempt = _current_attempt()
    if attempt is not None:
        attempt.detach(conn)


def _clamped(timeout: Any) -> Any:
    """The attempt's timeouts: the configured ones, never past the deadline."""
    attempt = _current_attempt()
    if attempt is None:
        return timeout
    left = max(attempt.left(), _MIN_TIMEOUT)
    connect = timeout.connect_timeout if isinstance(timeout, Timeout) else None
    read = timeout.read_timeout if isinstance(timeout, Timeout) else None
    return Timeout(
        connect=min(connect, left) if isinstance(connect, int | float) else left,
        read=min(read, left) if isinstance(read, int | float) else left,
    )


WATCHED_POOLS = watched_pool_classes(_attach, _detach, _clamped)


class DeadlineHTTPSession:
    """botocore's HTTP session with every attempt under a deadline watched.

    `send` runs after every `before-send` handler (so after the retry backoff and the adaptive
    rate limiter have waited): the time left is read there, once per attempt.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        #: False on a botocore whose pools cannot be replaced: only the read timeout applies
        self.watched = use_pool_classes(inner, WATCHED_POOLS)

    def send(self, request: Any) -> Any:
        deadline = current_deadline()
        if deadline is None or deadline.expires_at == float("inf"):
            return self._inner.send(request)
        attempt = Attempt(deadline.expires_at)
        if attempt.left() <= 0:
            raise DeadlineExceeded("request attempt not started, no time left")
        context = getattr(request, "context", None)
        if isinstance(context, dict):
            context["read_timeout"] = max(attempt.left(), _MIN_TIMEOUT)
        _local.attempt = attempt
        WATCHDOG.watch(attempt)
        try:
            response = self._inner.send(request)
        except Exception as err:
            if attempt.cut or attempt.left() <= 0:  # the watchdog, or a timeout clamped to it
                raise DeadlineExceeded("request cut at the deadline") from err
            raise
        finally:
            WATCHDOG.forget(attempt)
            attempt.finish()
            _local.attempt = None
        if attempt.cut:
            raise DeadlineExceeded("request cut at the deadline, its response incomplete")
        return response

    def close(self) -> None:
        self._inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
