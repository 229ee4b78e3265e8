"""`ActionRouter`: one Lambda function, several actions, each a plain function.

    router = ActionRouter()

    @router.action("getPayment")
    def get_payment(data, db, context):
        return db.model(Payment).get(data["id"])

    handler = with_partner_db(models=[Payment])(router)

An action is called ``fn(data, db, context)``: ``data`` is the event's data object (``{}`` when
absent), ``db`` the partner's `PartnerDB`, ``context`` the Lambda context. The action comes from
the event (see `handler_sdk.events.action_and_data`); an unknown or missing one answers
400 "unknown action: X", a data that is not an object 400.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from handler_sdk import logs
from handler_sdk.errors import ECHO_MAX, BadRequest, UnknownAction
from handler_sdk.invocation import check_plain_function, parsed_event
from partnerdb import PartnerDB

#: fn(data, db, context) -> a dict, list, PynamoDB model, None or a proxy response
Action = Callable[[dict[str, Any], PartnerDB, Any], Any]
A = TypeVar("A", bound=Action)


class ActionRouter:
    """Dispatches an event to the function registered for its action.

    The router is itself a ``(event, context, db)`` handler: decorate it with
    ``with_partner_db(...)(router)``, or call ``router.dispatch(event, context, db)`` from a
    handler of your own.
    """

    def __init__(self, name: str = "router") -> None:
        #: the handler name logs and traces show (``partnerdb ## <name>``)
        self.__name__ = name
        self._actions: dict[str, Action] = {}

    def action(self, name: str) -> Callable[[A], A]:
        """Register the decorated function for action `name` (each name once)."""
        if not isinstance(name, str) or not name:
            raise TypeError("an action name must be a non-empty string")

        def register(fn: A) -> A:
            if name in self._actions:
                raise ValueError(f"action {name!r} is already registered")
            if not callable(fn):
                raise TypeError(f"action {name!r} must be a callable(data, db, context)")
            check_plain_function(fn, f"action {name!r}")
            self._actions[name] = fn
            return fn

        return register

    @property
    def actions(self) -> list[str]:
        """The registered action names, sorted."""
        return sorted(self._actions)

    def dispatch(self, event: Any, context: Any, db: PartnerDB) -> Any:
        """Run the action the event names with its data; return what the action returns.

        Under `with_partner_db` the event was parsed once for the whole invocation and the
        router reads that parse; called on its own it parses the event itself.
        """
        action, data = parsed_event(event).action_and_data()
        fn = self._actions.get(action) if isinstance(action, str) else None
        if isinstance(action, str):
            logs.note_action(action[:ECHO_MAX])
        if fn is None:
            raise UnknownAction(action)
        if data is None:
            data = {}
        elif not isinstance(data, dict):
            raise BadRequest("data must be a JSON object")
        return fn(data, db, context)

    def __call__(self, event: Any, context: Any, db: PartnerDB) -> Any:
        return self.dispatch(event, context, db)

    def __repr__(self) -> str:
        return f"ActionRouter({self.__name__!r}, actions={self.actions})"
