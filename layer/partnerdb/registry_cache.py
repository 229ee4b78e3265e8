"""The per-process cache of registry lookups: TTLs, a bounded LRU, single-flight, stale-if-error.

- An active entry is served for `ttl` seconds, an unknown or disabled id for `negative_ttl`,
  a malformed entry's error for `ttl` (logged once each time it is read).
- Concurrent first lookups of one id make one read; the others wait for it, bounded by the
  read timeout.
- A read that fails (down, throttled, refused, hung past `timeout`) serves an active entry
  already cached, even past its TTL, for up to `max_stale` seconds beyond it, and tries the
  registry again no sooner than `negative_ttl` later. With nothing usable cached it raises
  `RegistryUnavailable`, never `UnknownPartner`.
- Back-off, so an outage is not a read storm: after a failed read an id is not read again for
  `failure_backoff` seconds (it answers `RegistryUnavailable`, or its stale entry, at once);
  after `circuit_failures` failed reads in a row, whatever the ids, no id is read for
  `failure_backoff` seconds, then one read probes the registry (success closes the circuit,
  failure re-arms it). The failure memory is its own LRU of `cache_size` ids, so an outage
  never evicts the entries that serve stale.
- Active partners and the other answers (unknown, disabled, malformed) are kept in two LRUs of
  `cache_size` ids each, so ids anyone can send (unknown ones) never push a partner in use out.
- ExternalIds of cached entries are in the log redactor; they leave it when their entry is
  replaced, disabled or evicted, and `on_drop(partner_id, evicted)` is called so the partner's
  session (credentials and bound models) goes too (an evicted one keeps its back-off).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from partnerdb.config import PartnerConfig
from partnerdb.constants import (
    REGISTRY_CACHE_SIZE,
    REGISTRY_CIRCUIT_FAILURES,
    REGISTRY_FAILURE_BACKOFF,
    REGISTRY_MAX_STALE,
    REGISTRY_NEGATIVE_TTL,
    REGISTRY_SETTINGS_PREFIX,
    REGISTRY_TIMEOUT,
    REGISTRY_TTL,
)
from partnerdb.deadline import Deadline, current_deadline, reset_deadline
from partnerdb.errors import (
    ConfigError,
    DeadlineExceeded,
    RegistryEntryInvalid,
    RegistryError,
    RegistryUnavailable,
    UnknownPartner,
)
from partnerdb.redact import REDACTOR
from partnerdb.registry_store import Registry, RegistryRecord
from partnerdb.stats import Counters

log = logging.getLogger("partnerdb.registry")

#: A read cut at its caller's deadline after this share of the read timeout without an answer
#: counts as a failed read (a healthy registry answers in milliseconds).
CUT_READ_EVIDENCE = 0.25

#: Seconds on a monotonic-like clock (injectable for tests).
SecondsClock = Callable[[], float]


#: Bounds of each `RegistrySettings` field: (low, high), inclusive.
_BOUNDS: dict[str, tuple[float, float]] = {
    "ttl": (1, 86_400),
    "negative_ttl": (1, 86_400),
    "max_stale": (0, 7 * 86_400),
    "cache_size": (1, 1_000_000),
    "timeout": (0.05, 30),
    "failure_backoff": (0, 3600),
    "circuit_failures": (1, 1_000_000),
}


@dataclass(frozen=True)
class RegistrySettings:
    """How registry lookups are cached; each field has a `PARTNERDB_REGISTRY_<FIELD>` variable.

    Out-of-bounds values raise `ConfigError` naming that variable, whether they came from the
    environment or from code.
    """

    ttl: float = REGISTRY_TTL
    negative_ttl: float = REGISTRY_NEGATIVE_TTL
    max_stale: float = REGISTRY_MAX_STALE
    cache_size: int = REGISTRY_CACHE_SIZE
    timeout: float = REGISTRY_TIMEOUT
    failure_backoff: float = REGISTRY_FAILURE_BACKOFF
    circuit_failures: int = REGISTRY_CIRCUIT_FAILURES

    def __post_init__(self) -> None:
        for name, (low, high) in _BOUNDS.items():
            if not low <= getattr(self, name) <= high:
                raise ConfigError(
                    f"{REGISTRY_SETTINGS_PREFIX}{name.upper()}", f"must be in [{low:g}, {high:g}]"
                )


@dataclass
class RegistryStats(Counters):
    """Counters for tests, metrics and the benchmark; `snapshot()` reads them at one instant
    (a `RegistryCache` shares its lock with them and updates them under it).

    `backed_off` counts lookups answered without a read because of a back-off (per id or
    registry-wide); `circuit_opened` how often failures in a row stopped all reads.
    """

    reads: int = 0
    hits: int = 0
    stale_served: int = 0
    failures: int = 0
    evictions: int = 0
    backed_off: int = 0
    circuit_opened: int = 0


class _Entry:
    """One cached outcome: a config, an unknown id (None), or a malformed-entry error."""

    __slots__ = ("config", "error", "expires_at", "stale_until")

    def __init__(
        self,
        config: PartnerConfig | None,
        error: RegistryEntryInvalid | None,
        expires_at: float,
        stale_until: float,
    ) -> None:
        self.config = config
        self.error = error
        self.expires_at = expires_at
        self.stale_until = stale_until

    def result(self, partner_id: str, registry: str) -> PartnerConfig:
        if self.config is not None:
            return self.config
        if self.error is not None:
            raise self.error.fresh()
        raise UnknownPartner(partner_id, registry)


class _Flight:
    __slots__ = ("done", "entry", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.entry: _Entry | None = None
        self.error: BaseException | None = None


class RegistryCache:
    """Looks partners up in a `Registry` and caches the answers (see the module docstring)."""

    def __init__(
        self,
        registry: Registry,
        settings: RegistrySettings | None = None,
        *,
        clock: SecondsClock = time.monotonic,
        on_drop: Callable[[str, bool], object] | None = None,
    ) -> None:
        self.registry = registry
        self._where = registry.describe()
        self.settings = settings or RegistrySettings()
        self._lock = threading.Lock()
        self.stats = RegistryStats(lock=self._lock)  # updated below under self._lock
        self._clock = clock
        self._on_drop = on_drop
        self._entries: OrderedDict[str, _Entry] = OrderedDict()  # active partners
        self._absent: OrderedDict[str, _Entry] = OrderedDict()  # unknown, disabled, malformed
        self._flights: dict[str, _Flight] = {}
        self._retry_at: OrderedDict[str, float] = OrderedDict()  # id -> no read before then
        self._failed_in_a_row = 0
        self._circuit_until = 0.0

    def __len__(self) -> int:
        return len(self._entries) + len(self._absent)

    def lookup(self, partner_id: str, deadline: Deadline | None = None) -> PartnerConfig:
        """The active partner's config; `partner_id` must already be normalized.

        Raises `UnknownPartner` (no entry, or disabled), `RegistryEntryInvalid`,
        `RegistryUnavailable` or `DeadlineExceeded`.
        """
        now = self._clock()
        with self._lock:
            entry = self._entries.get(partner_id) or self._absent.get(partner_id)
            if entry is not None and now < entry.expires_at:
                self._lru(entry).move_to_end(partner_id)
                self.stats.hits += 1
                return entry.result(partner_id, self._where)
            flight = self._flights.get(partner_id)
            leader = flight is None
            if flight is None:
                flight = self._flights[partner_id] = _Flight()
        if not leader:
            return self._follow(partner_id, flight, deadline)
        try:
            entry = self._refresh(partner_id, entry, now, deadline)
            flight.entry = entry
        except BaseException as err:
            flight.error = err
            raise
        finally:
            with self._lock:
                self._flights.pop(partner_id, None)
            flight.done.set()
        return entry.result(partner_id, self._where)

    def drop(self, partner_id: str) -> None:
        """Forget a partner now (its ExternalId leaves the redactor, its session is dropped)."""
        with self._lock:
            old = self._entries.pop(partner_id, None)
            self._absent.pop(partner_id, None)
        self._forget(partner_id, old, None)

    def _follow(self, partner_id: str, flight: _Flight, deadline: Deadline | None) -> PartnerConfig:
        """Wait for the read another thread is making, no longer than a read may take."""
        wait = self.settings.timeout + 1.0
        outer = deadline or current_deadline()
        if outer is not None:
            wait = max(0.0, min(wait, outer.remaining()))
        if not flight.done.wait(wait):
            raise RegistryUnavailable(partner_id, "registry lookup still running, gave up waiting")
        if flight.entry is not None:
            return flight.entry.result(partner_id, self._where)
        if isinstance(flight.error, RegistryError):
            raise flight.error.fresh()
        if flight.error is not None:
            raise flight.error
        raise RegistryUnavailable(partner_id, "registry lookup failed")

    def _refresh(
        self, partner_id: str, old: _Entry | None, now: float, deadline: Deadline | None
    ) -> _Entry:
        s = self.settings
        try:
            record = self._read(partner_id, now, deadline)
        except (RegistryUnavailable, DeadlineExceeded) as err:
            if old is not None and old.config is not None and now < old.stale_until:
                old.expires_at = min(now + s.negative_ttl, old.stale_until)
                with self._lock:
                    self.stats.stale_served += 1
                log.warning(
                    "partner registry %s failed for %r (%s); serving its cached entry",
                    self.registry.describe(), partner_id, type(err).__name__,
                )
                return old
            raise
        except RegistryEntryInvalid as err:
            log.error("partner registry %s: %s", self.registry.describe(), err)
            entry = _Entry(None, err, now + s.ttl, now + s.ttl)
        else:
            if record is None or not record.active:
                entry = _Entry(None, None, now + s.negative_ttl, now + s.negative_ttl)
            else:
                config = record.config
                if old is not None and old.config == config:
                    config = old.config  # keep identity: the session check stays an `is`
                entry = _Entry(config, None, now + s.ttl, now + s.ttl + s.max_stale)
        self._store(partner_id, entry, old)
        return entry

    def _read(
        self, partner_id: str, now: float, deadline: Deadline | None
    ) -> RegistryRecord | None:
        """One registry read under min(invocation deadline, now + timeout), unless backing off."""
        outer = deadline or current_deadline() or Deadline.never()
        outer.check("partner registry lookup")
        self.registry.ready()
        started = time.monotonic()
        limit = Deadline(min(outer.expires_at, started + self.settings.timeout))
        self._admit(partner_id, now)
        token = limit.activate()
        try:
            record = self.registry.read(partner_id)
        except DeadlineExceeded:
            if outer.expired:
                # Cut at the caller's deadline: a failed read too if it hung long enough to
                # say so, or requests with little time left would each hang on the registry.
                if time.monotonic() - started >= self.settings.timeout * CUT_READ_EVIDENCE:
                    self._failed(partner_id)
                raise
            self._failed(partner_id)
            raise RegistryUnavailable(
                partner_id, f"registry gave no answer within {self.settings.timeout:g} s"
            ) from None
        except RegistryUnavailable:
            self._failed(partner_id)
            raise
        except RegistryEntryInvalid:
            self._answered(partner_id)
            raise
        finally:
            reset_deadline(token)
        self._answered(partner_id)
        return record

    def _admit(self, partner_id: str, now: float) -> None:
        """Count a read about to start, or raise `RegistryUnavailable` while backing off.

        When the registry-wide back-off is over, the read admitted here is the probe: the
        back-off is re-armed first so that concurrent lookups of other ids do not read too.
        """
        s = self.settings
        with self._lock:
            retry_at = self._retry_at.get(partner_id, 0.0)
            circuit_open = self._failed_in_a_row >= s.circuit_failures
            if now < retry_at or (circuit_open and now < self._circuit_until):
                wait = max(retry_at, self._circuit_until if circuit_open else 0.0) - now
                self.stats.backed_off += 1
                raise RegistryUnavailable(
                    partner_id,
                    f"registry reads are failing, next try in {wait:.3g} s (back-off)",
                )
            if circuit_open:
                self._circuit_until = now + s.failure_backoff
            self.stats.reads += 1

    def _failed(self, partner_id: str) -> None:
        """Remember a failed read: the id backs off, and the circuit opens after enough."""
        s = self.settings
        now = self._clock()
        with self._lock:
            self.stats.failures += 1
            self._retry_at[partner_id] = now + s.failure_backoff
            self._retry_at.move_to_end(partner_id)
            while len(self._retry_at) > s.cache_size:
                self._retry_at.popitem(last=False)
            self._failed_in_a_row += 1
            opened = self._failed_in_a_row == s.circuit_failures
            if self._failed_in_a_row >= s.circuit_failures:
                self._circuit_until = now + s.failure_backoff
            if opened:
                self.stats.circuit_opened += 1
        if opened:
            log.warning(
                "partner registry %s: %d reads failed in a row; no reads for %g s",
                self._where, s.circuit_failures, s.failure_backoff,
            )

    def _answered(self, partner_id: str) -> None:
        """The registry answered: the id and the circuit stop backing off."""
        with self._lock:
            self._retry_at.pop(partner_id, None)
            self._failed_in_a_row = 0
            self._circuit_until = 0.0

    def _store(self, partner_id: str, entry: _Entry, old: _Entry | None) -> None:
        evicted: list[tuple[str, _Entry]] = []
        with self._lock:
            current = self._entries.pop(partner_id, None) or self._absent.pop(partner_id, old)
            lru = self._lru(entry)
            lru[partner_id] = entry
            while len(lru) > self.settings.cache_size:
                evicted.append(lru.popitem(last=False))
                self.stats.evictions += 1
        # The redactor counts references: add an ExternalId once per entry that brings it,
        # so the `_forget` of the entry that held it last takes it out again.
        if entry.config is not None and _external_id(current) != entry.config.external_id:
            REDACTOR.add(entry.config.external_id)
        if current is not entry:
            self._forget(partner_id, current, entry)
        for pid, gone in evicted:
            self._forget(pid, gone, None, evicted=True)

    def _lru(self, entry: _Entry) -> OrderedDict[str, _Entry]:
        return self._entries if entry.config is not None else self._absent

    def _forget(
        self, partner_id: str, old: _Entry | None, new: _Entry | None, *, evicted: bool = False
    ) -> None:
        """Drop what `old` held once `new` (or nothing) replaces it."""
        if old is None or old.config is None:
            return
        new_config = new.config if new is not None else None
        if new_config is old.config:
            return
        if _external_id(new) != old.config.external_id:
            REDACTOR.discard(old.config.external_id)
        if self._on_drop is not None:
            self._on_drop(partner_id, evicted)


def _external_id(entry: _Entry | None) -> str | None:
    """The ExternalId an entry holds, if it holds a partner."""
    return entry.config.external_id if entry is not None and entry.config is not None else None
