"""Partners and PartnerDB: PynamoDB models bound to one partner's account and deadline.

`Partners` holds the configured partners, their cached sessions (`partnerdb.credentials`) and
their bound models (`partnerdb.binding`). `Partners.db()` hands out a `PartnerDB`, one
invocation's view of one partner. The deadline reaches the botocore hooks through a context
variable, which a `PartnerDB` sets when its scope is entered and resets when it is left.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterable, Mapping
from contextvars import Token
from types import TracebackType
from typing import Any, TypeVar

from pynamodb.models import Model
from pynamodb.transactions import TransactGet, TransactWrite

from partnerdb.assume_role import Clock, utc_now
from partnerdb.binding import Bindings, PartnerBinding, check_bindable, require_bound
from partnerdb.clients import ClientFactory
from partnerdb.config import (
    ClientSettings,
    PartnerConfig,
    check_distinct_tables,
    normalize_partner_id,
    partners_from_env,
)
from partnerdb.constants import FUNCTION_NAME_ENV, partner_variable
from partnerdb.credentials import PartnerSession, SessionCache
from partnerdb.deadline import Deadline, reset_deadline
from partnerdb.errors import ConfigError, UnknownPartner
from partnerdb.redact import REDACTOR, install_redaction
from partnerdb.registry import (
    Registry,
    RegistryCache,
    RegistrySettings,
    registry_from_env,
    registry_settings_from_env,
)
from partnerdb.stats import CacheStats, StsCounter, start_counting, stop_counting

M = TypeVar("M", bound=Model)

log = logging.getLogger("partnerdb")


class Partners:
    """The configured partners of this function, their sessions and their bound models."""

    def __init__(
        self,
        partners: Iterable[PartnerConfig],
        *,
        settings: ClientSettings | None = None,
        clock: Clock = utc_now,
        function_name: str | None = None,
        registry: Registry | None = None,
        registry_settings: RegistrySettings | None = None,
    ) -> None:
        self._configs: dict[str, PartnerConfig] = {}
        for config in partners:
            if not isinstance(config, PartnerConfig):
                raise TypeError(f"expected PartnerConfig, got {type(config).__name__}")
            if config.partner_id in self._configs:
                raise ConfigError(partner_variable(config.partner_id), "partner configured twice")
            self._configs[config.partner_id] = config
            REDACTOR.add(config.external_id)
        install_redaction()
        self.settings = settings if settings is not None else ClientSettings.from_env()
        check_distinct_tables(
            self._configs.values(), allow_shared=self.settings.allow_shared_tables
        )
        name = function_name
        if name is None:
            name = os.environ.get(FUNCTION_NAME_ENV, "")
        self._stats = CacheStats()
        factory = ClientFactory(self.settings)
        self._sessions = SessionCache(
            factory=factory,
            stats=self._stats,
            max_size=self.settings.cache_size,
            duration_seconds=self.settings.duration_seconds,
            clock=clock,
            function_name=name,
        )
        self._bindings = Bindings()
        self._models: list[type[Model]] = []
        #: The registry cache, when partners are also looked up in a registry.
        self.registry: RegistryCache | None = None
        if registry is not None:
            registry.attach(factory)
            self.registry = RegistryCache(
                registry,
                registry_settings or registry_settings_from_env(),
                # One injected clock drives credentials and registry TTLs; the default one
                # costs less as a monotonic float on the warm path.
                clock=time.monotonic if clock is utc_now else lambda: clock().timestamp(),
                on_drop=self._sessions.drop,
            )
            if self._configs:
                log.info(
                    "partners configured in the environment take precedence over registry %s: %s",
                    registry.describe(), ", ".join(sorted(self._configs)),
                )

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        settings: ClientSettings | None = None,
        clock: Clock = utc_now,
        **setting_overrides: Any,
    ) -> Partners:
        """Partners and settings from the environment, every variable validated now."""
        if settings is None:
            settings = ClientSettings.from_env(environ, **setting_overrides)
        elif setting_overrides:
            settings = settings.with_overrides(**setting_overrides)
        env = os.environ if environ is None else environ
        configs = partners_from_env(env)
        registry = registry_from_env(env)
        return cls(
            configs,
            settings=settings,
            clock=clock,
            function_name=env.get(FUNCTION_NAME_ENV, ""),
            registry=registry,
            registry_settings=registry_settings_from_env(env) if registry is not None else None,
        )

    @property
    def partner_ids(self) -> list[str]:
        """The partners configured in the environment (registry partners are looked up)."""
        return sorted(self._configs)

    def cached_partner_ids(self) -> list[str]:
        """Partners that have a cached session (credentials, client, bound models) now."""
        return self._sessions.cached_partner_ids()

    @property
    def stats(self) -> CacheStats:
        """STS calls, refreshes, cache hits, partners bound and evictions so far."""
        return self._stats

    def __contains__(self, partner_id: object) -> bool:
        try:
            return normalize_partner_id(partner_id) in self._configs
        except Exception:
            return False

    def register_models(self, *models: type[Model]) -> None:
        """Check `models` and bind them now for the first configured partner.

        That loads the DynamoDB service model and PynamoDB's schema work into the cold start
        (about 40 ms), so a partner's first request only pays its own binding (about 2 ms).
        Binding every partner up front would make the cold start grow with the number of
        partners. No network call is made.
        """
        for model in models:
            check_bindable(model)
            if model not in self._models:
                self._models.append(model)
        if self._configs and models:
            binding = self._binding(next(iter(self._configs.values())))
            for model in models:
                binding.model(model)

    def before_snapshot(self) -> None:
        """Warm-up safe to share between SnapStart copies: models bound for the first partner
        (as `register_models` does), the STS client built. No credentials, no connection."""
        if self._configs:
            first = next(iter(self._configs.values()))
            binding = self._binding(first)
            for model in self._models:
                binding.model(model)
            self._sessions.build_sts_clients([first.region])

    def after_restore(self) -> None:
        """Forget what a SnapStart snapshot holds that a copy must not share: assumed
        credentials, STS clients built with the function's credentials of then, pooled
        connections."""
        self._sessions.forget_credentials_and_connections()

    def db(self, partner_id: str, *, deadline: Deadline | None = None) -> PartnerDB:
        """The partner's DB for one invocation, bound to `deadline` (default: none).

        Use it as `with partners.db(pid, deadline=...) as db:` (see `PartnerDB`). Raises
        `InvalidPartnerId` or `UnknownPartner` before any network call. A partner not in the
        environment is looked up in the registry (one read per TTL, within `deadline`), which
        can also raise `RegistryUnavailable` or `RegistryEntryInvalid`.
        """
        deadline = deadline or Deadline.never()
        config = self._config(partner_id, deadline)
        return PartnerDB(binding=self._binding(config), deadline=deadline)

    def session(self, partner_id: str) -> PartnerSession:
        """The partner's cached session (role credentials and DynamoDB client), for
        diagnostics; built, without a network call to STS, on first use."""
        return self._session(self._config(partner_id, None))

    def _config(self, partner_id: str, deadline: Deadline | None) -> PartnerConfig:
        pid = normalize_partner_id(partner_id)
        config = self._configs.get(pid)
        if config is None:
            if self.registry is None:
                raise UnknownPartner(pid)
            config = self.registry.lookup(pid, deadline)
        return config

    def _session(self, config: PartnerConfig) -> PartnerSession:
        session = self._sessions.get(config)
        if session.config is not config and session.config != config:
            # The registry entry changed: assume the new role, bind models afresh.
            self._sessions.drop(config.partner_id)
            session = self._sessions.get(config)
        return session

    def _binding(self, config: PartnerConfig) -> PartnerBinding:
        return self._bindings.of(self._session(config))


class PartnerDB:
    """One invocation's view of one partner: bound models, transactions, the deadline.

    Its scope is what makes `deadline` the current one (the botocore hooks enforce it) and
    what counts the invocation's own STS calls (`sts_calls`). The scope is entered once and
    left once:

    - `with partners.db(pid, deadline=d) as db:` enters on `with` and leaves at its end,
      restoring whatever deadline was current before (the decorator does this);
    - used without `with`, the first `model()` or `transact_*()` enters it in the calling
      context and `close()` leaves it. Until `close()` the deadline stays current in that
      context, so prefer `with`.

    A PartnerDB belongs to one invocation in one thread.
    """

    __slots__ = ("_binding", "_counter_token", "_deadline_token", "_sts", "deadline")

    def __init__(self, *, binding: PartnerBinding, deadline: Deadline) -> None:
        self._binding = binding
        self.deadline = deadline
        self._sts = StsCounter()
        self._deadline_token: Token[Deadline | None] | None = None
        self._counter_token: Token[StsCounter | None] | None = None

    @property
    def partner_id(self) -> str:
        return self._binding.config.partner_id

    @property
    def account_id(self) -> str:
        return self._binding.config.account_id

    @property
    def region(self) -> str:
        return self._binding.config.region

    @property
    def sts_calls(self) -> int:
        """AssumeRole calls made inside this DB's scope (not other threads' or invocations')."""
        return self._sts.calls

    def remaining_ms(self) -> int:
        return self.deadline.remaining_ms()

    def model(self, model: type[M]) -> type[M]:
        """`model` bound to this partner's account and table prefix, under this deadline."""
        self._enter()
        return self._binding.model(model)

    def transact_write(self, **kwargs: Any) -> TransactWrite:
        """A PynamoDB `TransactWrite` on this partner's connection (bound models only)."""
        self._enter()
        connection = self._binding.transaction_connection()
        return _PartnerTransactWrite(self.partner_id, connection=connection, **kwargs)

    def transact_get(self, **kwargs: Any) -> TransactGet:
        """A PynamoDB `TransactGet` on this partner's connection (bound models only)."""
        self._enter()
        connection = self._binding.transaction_connection()
        return _PartnerTransactGet(self.partner_id, connection=connection, **kwargs)

    def close(self) -> None:
        """Leave the scope: the previous deadline becomes current again (idempotent)."""
        deadline_token, counter_token = self._deadline_token, self._counter_token
        self._deadline_token = self._counter_token = None
        # ValueError: left from another context than it was entered in; nothing to undo here.
        if counter_token is not None:
            with contextlib.suppress(ValueError):
                stop_counting(counter_token)
        if deadline_token is not None:
            with contextlib.suppress(ValueError):
                reset_deadline(deadline_token)

    def __enter__(self) -> PartnerDB:
        self._enter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _enter(self) -> None:
        """Enter the scope unless already in it (once: one token each, reset by `close`)."""
        if self._deadline_token is None:
            self._deadline_token = self.deadline.activate()
            self._counter_token = start_counting(self._sts)

    def __repr__(self) -> str:
        return f"PartnerDB(partner_id={self.partner_id!r}, remaining_ms={self.remaining_ms()})"


class _PartnerTransactWrite(TransactWrite):
    def __init__(self, partner_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._partner_id = partner_id

    def condition_check(self, model_cls: Any, *args: Any, **kwargs: Any) -> None:
        require_bound(self._partner_id, model_cls)
        super().condition_check(model_cls, *args, **kwargs)

    def delete(self, model: Any, *args: Any, **kwargs: Any) -> None:
        require_bound(self._partner_id, type(model))
        super().delete(model, *args, **kwargs)

    def save(self, model: Any, *args: Any, **kwargs: Any) -> None:
        require_bound(self._partner_id, type(model))
        super().save(model, *args, **kwargs)

    def update(self, model: Any, *args: Any, **kwargs: Any) -> None:
        require_bound(self._partner_id, type(model))
        super().update(model, *args, **kwargs)


class _PartnerTransactGet(TransactGet):
    def __init__(self, partner_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._partner_id = partner_id

    def get(self, model_cls: Any, *args: Any, **kwargs: Any) -> Any:
        require_bound(self._partner_id, model_cls)
        return super().get(model_cls, *args, **kwargs)
