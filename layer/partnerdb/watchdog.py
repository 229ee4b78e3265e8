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
import math
import os
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

    Attempts in flight are a set (one or two per invocation thread): adding and dropping one
    is a set operation under the lock. The thread is woken only when an attempt is due before
    the time it already sleeps until (once per invocation, typically: later attempts share
    the invocation's deadline); it finds the due attempts and the next wake-up by a scan.
    """

    def __init__(self) -> None:
        self._live: set[Attempt] = set()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._wake_at = math.inf

    def watch(self, attempt: Attempt) -> None:
        with self._cond:
            self._live.add(attempt)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="partnerdb-watchdog", daemon=True
                )
                self._thread.start()
            if attempt.expires_at < self._wake_at:
                self._wake_at = attempt.expires_at
                self._cond.notify()

    def forget(self, attempt: Attempt) -> None:
        """Drop a finished attempt (the thread may still wake for it: it then finds nothing)."""
        with self._cond:
            self._live.discard(attempt)

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                due = [a for a in self._live if a.expires_at <= now]
                self._live.difference_update(due)
                self._wake_at = min((a.expires_at for a in self._live), default=math.inf)
                if not due:
                    wait = self._wake_at - now
                    self._cond.wait(None if wait == math.inf else wait)
                    continue
            for attempt in due:
                attempt.fire()

    def after_fork(self) -> None:
        """In a forked child (a local SnapStart copy) the thread is gone: start afresh."""
        self._live = set()
        self._cond = threading.Condition()
        self._thread = None
        self._wake_at = math.inf


WATCHDOG = Watchdog()
os.register_at_fork(after_in_child=WATCHDOG.after_fork)
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
        if deadline is None or deadline.expires_at == math.inf:
            return self._inner.send(request)
        attempt = Attempt(deadline.expires_at)
        left = attempt.left()
        if left <= 0:
            raise DeadlineExceeded("request attempt not started, no time left")
        if not self.watched:  # else the pool clamps both timeouts (`_clamped`)
            context = getattr(request, "context", None)
            if isinstance(context, dict):
                context["read_timeout"] = max(left, _MIN_TIMEOUT)
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
