"""Partners and PartnerDB: PynamoDB models bound to one partner's account and deadline.

PynamoDB caches one connection per model class, so a model cannot safely serve two accounts.
`db.model(M)` returns a subclass of `M` made once per (model, partner): its own connection on
the partner's botocore client, the partner's table prefix, and `M`'s own `DoesNotExist`. The
global `M` is never touched. The invocation's deadline reaches the client through a context
variable that `Partners.db()` and `PartnerDB.model()` set.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterable, Mapping
from contextvars import Token
from types import TracebackType
from typing import Any, TypeVar

from pynamodb.attributes import DiscriminatorAttribute
from pynamodb.connection import Connection
from pynamodb.models import Model
from pynamodb.transactions import TransactGet, TransactWrite

from partnerdb.clients import ClientFactory
from partnerdb.config import ClientSettings, PartnerConfig, normalize_partner_id, partners_from_env
from partnerdb.credentials import CacheStats, Clock, PartnerSession, SessionCache, utc_now
from partnerdb.deadline import Deadline, current_deadline, reset_deadline
from partnerdb.errors import ConfigError, ModelNotBindable, UnknownPartner
from partnerdb.redact import REDACTOR, install_redaction

M = TypeVar("M", bound=Model)

_BOUND_TO = "__partnerdb_partner__"
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")


class Partners:
    """The configured partners of this function and the cache of their sessions."""

    def __init__(
        self,
        partners: Iterable[PartnerConfig],
        *,
        settings: ClientSettings | None = None,
        clock: Clock = utc_now,
        function_name: str | None = None,
    ) -> None:
        self._configs: dict[str, PartnerConfig] = {}
        for config in partners:
            if not isinstance(config, PartnerConfig):
                raise TypeError(f"expected PartnerConfig, got {type(config).__name__}")
            if config.partner_id in self._configs:
                raise ConfigError(
                    f"PARTNER_{config.partner_id.upper()}", "partner configured twice"
                )
            self._configs[config.partner_id] = config
            REDACTOR.add(config.external_id)
        install_redaction()
        self.settings = settings if settings is not None else ClientSettings.from_env()
        name = function_name
        if name is None:
            name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self._sessions = SessionCache(
            ClientFactory(self.settings),
            max_size=self.settings.cache_size,
            duration_seconds=self.settings.duration_seconds,
            clock=clock,
            function_name=name,
        )
        self._models: list[type[Model]] = []
        self._bind_lock = threading.Lock()

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
        return cls(
            partners_from_env(env),
            settings=settings,
            clock=clock,
            function_name=env.get("AWS_LAMBDA_FUNCTION_NAME", ""),
        )

    @property
    def partner_ids(self) -> list[str]:
        return sorted(self._configs)

    @property
    def stats(self) -> CacheStats:
        """STS calls, refreshes, cache hits, partners bound and evictions so far."""
        return self._sessions.stats

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
            _check_bindable(model)
            if model not in self._models:
                self._models.append(model)
        if self._configs and models:
            session = self._sessions.get(next(iter(self._configs.values())))
            for model in models:
                self._bound(model, session)

    def before_snapshot(self) -> None:
        """Warm-up safe to share between SnapStart copies: models bound for the first partner
        (as `register_models` does), the STS client built. No credentials, no connection."""
        if self._configs:
            first = next(iter(self._configs.values()))
            session = self._sessions.get(first)
            for model in self._models:
                self._bound(model, session)
            self._sessions.build_sts_clients([first.region])

    def after_restore(self) -> None:
        """Forget what a SnapStart snapshot holds that a copy must not share: assumed
        credentials, STS clients built with the function's credentials of then, pooled
        connections."""
        self._sessions.forget_credentials_and_connections()

    def db(self, partner_id: str, *, deadline: Deadline | None = None) -> PartnerDB:
        """The partner's DB, bound to `deadline` (which becomes the current context's).

        Raises `InvalidPartnerId` or `UnknownPartner` before any network call.
        """
        pid = normalize_partner_id(partner_id)
        config = self._configs.get(pid)
        if config is None:
            raise UnknownPartner(pid)
        return PartnerDB(self, self._sessions.get(config), deadline or Deadline.never())

    def _bound(self, model: type[M], session: PartnerSession) -> type[M]:
        bound = session.bound_models.get(model)
        if bound is None:
            with self._bind_lock:
                bound = session.bound_models.get(model)
                if bound is None:
                    _check_bindable(model)
                    bound = _bind(model, session)
                    session.bound_models[model] = bound
        return bound


class PartnerDB:
    """One invocation's view of one partner: bound models, transactions, the deadline."""

    __slots__ = ("_partners", "_session", "_token", "deadline")

    def __init__(self, partners: Partners, session: PartnerSession, deadline: Deadline) -> None:
        self._partners = partners
        self._session = session
        self.deadline = deadline
        self._token: Token[Deadline | None] | None = deadline.activate()

    @property
    def partner_id(self) -> str:
        return self._session.config.partner_id

    @property
    def account_id(self) -> str:
        return self._session.config.account_id

    @property
    def region(self) -> str:
        return self._session.config.region

    def remaining_ms(self) -> int:
        return self.deadline.remaining_ms()

    def model(self, model: type[M]) -> type[M]:
        """`model` bound to this partner's account, table prefix and this deadline."""
        if current_deadline() is not self.deadline:
            self.deadline.activate()
        return self._partners._bound(model, self._session)

    def transact_write(self, **kwargs: Any) -> TransactWrite:
        """A PynamoDB `TransactWrite` on this partner's connection (bound models only)."""
        return _PartnerTransactWrite(self.partner_id, connection=self._connection(), **kwargs)

    def transact_get(self, **kwargs: Any) -> TransactGet:
        """A PynamoDB `TransactGet` on this partner's connection (bound models only)."""
        return _PartnerTransactGet(self.partner_id, connection=self._connection(), **kwargs)

    def close(self) -> None:
        """Stop being the current context's deadline (the decorator does this for you)."""
        if self._token is not None:
            # ValueError: reset from another context; the deadline then simply stays.
            with contextlib.suppress(ValueError):
                reset_deadline(self._token)
            self._token = None

    def __enter__(self) -> PartnerDB:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _connection(self) -> Connection:
        if current_deadline() is not self.deadline:
            self.deadline.activate()
        session = self._session
        conn: Connection | None = session.transaction_connection
        if conn is None:
            conn = Connection(region=session.config.region)
            conn._client = session.dynamodb
            session.transaction_connection = conn
        return conn

    def __repr__(self) -> str:
        return f"PartnerDB(partner_id={self.partner_id!r}, remaining_ms={self.remaining_ms()})"


def _check_bindable(model: Any) -> None:
    if not (isinstance(model, type) and issubclass(model, Model)):
        raise ModelNotBindable(f"{model!r} is not a PynamoDB Model class")
    if getattr(model, _BOUND_TO, None) is not None:
        raise ModelNotBindable(
            f"{model.__name__} is already bound to partner {getattr(model, _BOUND_TO)!r}; "
            "pass the model class you defined"
        )
    meta = getattr(model, "Meta", None)
    if meta is None or not getattr(meta, "table_name", None):
        raise ModelNotBindable(f"{model.__name__} needs a Meta class with a table_name")
    if any(isinstance(a, DiscriminatorAttribute) for a in model.get_attributes().values()):
        raise ModelNotBindable(
            f"{model.__name__} uses a DiscriminatorAttribute; polymorphic models cannot be "
            "bound per partner yet"
        )


def _bind(model: type[M], session: PartnerSession) -> type[M]:
    config = session.config
    base_meta: Any = model.Meta
    table_name = config.table_prefix + base_meta.table_name
    if not _TABLE_NAME.fullmatch(table_name):
        raise ModelNotBindable(
            f"table name {table_name!r} of {model.__name__} for partner {config.partner_id!r} "
            "is not a DynamoDB table name (3-255 letters, digits, _ . -)"
        )
    meta = type(
        "Meta",
        (base_meta,),
        {
            "table_name": table_name,
            "region": config.region,
            "aws_access_key_id": None,
            "aws_secret_access_key": None,
            "aws_session_token": None,
        },
    )
    namespace = {
        "Meta": meta,
        "__module__": model.__module__,
        "__qualname__": model.__qualname__,
        "__doc__": model.__doc__,
        "DoesNotExist": model.DoesNotExist,
        "_connection": None,
        _BOUND_TO: config.partner_id,
    }
    metaclass: Any = type(model)
    bound: type[M] = metaclass(model.__name__, (model,), namespace)
    # Building the TableConnection makes no network call; the partner's client replaces the
    # one PynamoDB would have built from Meta.
    bound._get_connection().connection._client = session.dynamodb
    return bound


def _require_bound(partner_id: str, model_cls: type) -> None:
    owner = getattr(model_cls, _BOUND_TO, None)
    if owner != partner_id:
        where = f"partner {owner!r}" if owner else "no partner"
        raise ModelNotBindable(
            f"{model_cls.__name__} in a transaction of partner {partner_id!r} is bound to "
            f"{where}; use db.model({model_cls.__name__})"
        )


class _PartnerTransactWrite(TransactWrite):
    def __init__(self, partner_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._partner_id = partner_id

    def condition_check(self, model_cls: Any, *args: Any, **kwargs: Any) -> None:
        _require_bound(self._partner_id, model_cls)
        super().condition_check(model_cls, *args, **kwargs)

    def delete(self, model: Any, *args: Any, **kwargs: Any) -> None:
        _require_bound(self._partner_id, type(model))
        super().delete(model, *args, **kwargs)

    def save(self, model: Any, *args: Any, **kwargs: Any) -> None:
        _require_bound(self._partner_id, type(model))
        super().save(model, *args, **kwargs)

    def update(self, model: Any, *args: Any, **kwargs: Any) -> None:
        _require_bound(self._partner_id, type(model))
        super().update(model, *args, **kwargs)


class _PartnerTransactGet(TransactGet):
    def __init__(self, partner_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._partner_id = partner_id

    def get(self, model_cls: Any, *args: Any, **kwargs: Any) -> Any:
        _require_bound(self._partner_id, model_cls)
        return super().get(model_cls, *args, **kwargs)
