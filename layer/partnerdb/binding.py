"""Binding: PynamoDB models (and transactions) on one partner's client, made once per partner.

PynamoDB caches one connection per model class, so a model cannot safely serve two accounts.
A model is bound to a partner by a subclass made once per (model, partner): its own connection
on the partner's botocore client, the partner's table prefix, and the model's own
`DoesNotExist`. The user's model class is never touched. The binding state of a partner (its
bound subclasses and its transaction connection) lives here, kept as long as the partner's
`PartnerSession` is cached.
"""

from __future__ import annotations

import re
import threading
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from pynamodb.attributes import DiscriminatorAttribute
from pynamodb.connection import Connection
from pynamodb.models import Model

from partnerdb.config import PartnerConfig
from partnerdb.credentials import PartnerSession
from partnerdb.errors import ModelNotBindable
from partnerdb.model_settings import send_model_headers, warn_replaced_settings
from partnerdb.partner_connection import PartnerConnection
from partnerdb.private_access import model_connection, model_table_connection

M = TypeVar("M", bound=Model)

_BOUND_TO = "__partnerdb_partner__"
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")


class PartnerBinding:
    """One partner's bound model subclasses and transaction connection, built on first use."""

    def __init__(self, *, config: PartnerConfig, client: Any) -> None:
        self.config = config
        self._client = client
        self._models: dict[type, type] = {}
        self._transactions: Connection | None = None
        self._lock = threading.Lock()

    def model(self, model: type[M]) -> type[M]:
        """`model` bound to this partner (the same subclass every time)."""
        bound = self._models.get(model)
        if bound is None:
            with self._lock:
                bound = self._models.get(model)
                if bound is None:
                    check_bindable(model)
                    bound = _bind(model, self.config, self._client)
                    self._models[model] = bound
        return bound

    def transaction_connection(self) -> Connection:
        """The PynamoDB `Connection` this partner's transactions go through."""
        conn = self._transactions
        if conn is None:
            with self._lock:
                conn = self._transactions
                if conn is None:
                    conn = PartnerConnection(region=self.config.region, client=self._client)
                    self._transactions = conn
        return conn


class Bindings:
    """The `PartnerBinding` of each cached `PartnerSession`; dropped with the session."""

    def __init__(self) -> None:
        # Weak keys: a session evicted from the cache takes its bound models with it. A
        # PartnerBinding holds the session's client, never the session, so the key can go.
        self._by_session: WeakKeyDictionary[PartnerSession, PartnerBinding] = WeakKeyDictionary()
        self._lock = threading.Lock()

    def of(self, session: PartnerSession) -> PartnerBinding:
        with self._lock:
            binding = self._by_session.get(session)
            if binding is None:
                binding = PartnerBinding(config=session.config, client=session.dynamodb)
                self._by_session[session] = binding
            return binding


def check_bindable(model: Any) -> None:
    """Raise `ModelNotBindable` unless `model` is a PynamoDB model partnerdb can bind."""
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


def require_bound(partner_id: str, model_cls: type) -> None:
    """Raise `ModelNotBindable` unless `model_cls` is bound to `partner_id`."""
    owner = getattr(model_cls, _BOUND_TO, None)
    if owner != partner_id:
        where = f"partner {owner!r}" if owner else "no partner"
        raise ModelNotBindable(
            f"{model_cls.__name__} in a transaction of partner {partner_id!r} is bound to "
            f"{where}; use db.model({model_cls.__name__})"
        )


def _bind(model: type[M], config: PartnerConfig, client: Any) -> type[M]:
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
    # The partner's client replaces the one PynamoDB would have built from Meta; the model's
    # own extra headers go with its calls only, and Meta's other client settings are replaced.
    table_connection = model_table_connection(bound)
    table_connection.connection = PartnerConnection(
        region=config.region, client=client, table=table_connection.get_meta_table()
    )
    send_model_headers(client, model_connection(bound), getattr(base_meta, "extra_headers", None))
    warn_replaced_settings(model, base_meta)
    return bound
