"""Counters: process-wide `CacheStats`, and the STS calls of one invocation.

`CacheStats` (and the registry's `RegistryStats`, both `Counters`) are shared by every thread
of the process, so each update and `snapshot()` take the object's one lock. The STS calls of
*one* invocation cannot be read off the process-wide counter (a parallel invocation would add
its own): each `PartnerDB` scope carries an `StsCounter` in a context variable, and every
AssumeRole counts into both (`count_sts_call`).
"""

from __future__ import annotations

import threading
from contextvars import ContextVar, Token
from dataclasses import dataclass, field, fields

_NAMES: dict[type, tuple[str, ...]] = {}


def _counter_names(kind: type) -> tuple[str, ...]:
    """The counter fields of a `Counters` class, in declaration order (computed once)."""
    names = _NAMES.get(kind)
    if names is None:
        names = _NAMES[kind] = tuple(f.name for f in fields(kind) if f.name != "lock")
    return names


@dataclass
class Counters:
    """Integer counters shared by threads: every update and `snapshot()` hold one lock.

    Subclasses declare their counters as `int` dataclass fields defaulting to 0. An owner that
    already updates them under a lock of its own passes it as `lock` (and then updates the
    fields directly under it, never through `increment`, which would wait for that lock).
    """

    lock: threading.Lock = field(
        default_factory=threading.Lock, repr=False, compare=False, kw_only=True
    )

    def increment(self, **counts: int) -> None:
        """Add to the named counters together, under the lock."""
        names = _counter_names(type(self))
        for name in counts:
            if name not in names:
                raise TypeError(f"unknown counter: {name}")
        with self.lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def snapshot(self) -> dict[str, int]:
        """Every counter, read at one instant (under the lock)."""
        with self.lock:
            return {name: getattr(self, name) for name in _counter_names(type(self))}


@dataclass
class CacheStats(Counters):
    """Counters for tests and metrics; read a consistent copy with `snapshot()`."""

    sts_calls: int = 0
    refreshes: int = 0
    cache_hits: int = 0
    partners_bound: int = 0
    evictions: int = 0

    def add(
        self,
        *,
        sts_calls: int = 0,
        refreshes: int = 0,
        cache_hits: int = 0,
        partners_bound: int = 0,
        evictions: int = 0,
    ) -> None:
        """Add to the counters, under the lock (field by field: this is on the warm path)."""
        with self.lock:
            self.sts_calls += sts_calls
            self.refreshes += refreshes
            self.cache_hits += cache_hits
            self.partners_bound += partners_bound
            self.evictions += evictions


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
