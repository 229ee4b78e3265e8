"""Counters: process-wide `CacheStats`, and the STS calls of one invocation.

`CacheStats` is shared by every thread of the process, so each update and `snapshot()` take
its one lock. The STS calls of *one* invocation cannot be read off the process-wide counter
(a parallel invocation would add its own): each `PartnerDB` scope carries an `StsCounter` in a
context variable, and every AssumeRole counts into both (`count_sts_call`).
"""

from __future__ import annotations

import threading
from contextvars import ContextVar, Token
from dataclasses import dataclass, field, fields


@dataclass
class CacheStats:
    """Counters for tests and metrics; read a consistent copy with `snapshot()`."""

    sts_calls: int = 0
    refreshes: int = 0
    cache_hits: int = 0
    partners_bound: int = 0
    evictions: int = 0
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def add(
        self,
        *,
        sts_calls: int = 0,
        refreshes: int = 0,
        cache_hits: int = 0,
        partners_bound: int = 0,
        evictions: int = 0,
    ) -> None:
        """Add to the counters, under the lock."""
        with self._lock:
            self.sts_calls += sts_calls
            self.refreshes += refreshes
            self.cache_hits += cache_hits
            self.partners_bound += partners_bound
            self.evictions += evictions

    def snapshot(self) -> dict[str, int]:
        """Every counter, read at one instant (under the lock)."""
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if f.init}


class StsCounter:
    """The AssumeRole calls made in one scope (one invocation), whatever other threads do."""

    __slots__ = ("_calls", "_lock")

    def __init__(self) -> None:
        self._calls = 0
        self._lock = threading.Lock()

    @property
    def calls(self) -> int:
        return self._calls

    def add(self) -> None:
        with self._lock:  # an invocation may fan out to its own threads (copied contexts)
            self._calls += 1


_current: ContextVar[StsCounter | None] = ContextVar("partnerdb_sts_counter", default=None)


def start_counting(counter: StsCounter) -> Token[StsCounter | None]:
    """Make `counter` the current context's; pair with `stop_counting(token)`."""
    return _current.set(counter)


def stop_counting(token: Token[StsCounter | None]) -> None:
    _current.reset(token)


def count_sts_call(stats: CacheStats, *, refresh: bool) -> None:
    """One AssumeRole: into the process-wide stats and the current scope's counter."""
    stats.add(sts_calls=1, refreshes=1 if refresh else 0)
    counter = _current.get()
    if counter is not None:
        counter.add()
