"""Composition with Powertools for AWS Lambda, without importing it (it is not in the layer).

- Event data classes: anything with a ``raw_event`` dict (Powertools' ``DictWrapper``) is read
  through that dict, and the handler still gets the object it was given (for batches, the data
  class's own record objects, one per call).
- ``@event_source(...)`` must sit above ``@with_partner_db``: below it, Powertools would call the
  handler without its DB. That order is refused when decorating, saying the right one.
- ``@idempotent`` works in either order. Below ``@with_partner_db`` it wraps the handler (the DB
  passes through its keyword arguments). Above it, Powertools stores whatever the handler
  returns, so a failure answered as a payload would be replayed forever: under it, failures
  are raised instead (Powertools then deletes its in-progress record and nothing is stored).
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

_MIDDLEWARE_FILE = "middleware_factory/factory.py"
_IDEMPOTENCY_FILE = "utilities/idempotency/base.py"
_IDEMPOTENCY_CALLER = "_get_function_response"
_DEPTH = 16


def raw_event(event: Any) -> Any:
    """The plain event: a Powertools data class's ``raw_event``, else `event` itself."""
    raw = getattr(event, "raw_event", None)
    return raw if isinstance(raw, dict) else event


def record_objects(event: Any, raw_records: list[Any]) -> list[Any]:
    """What the handler gets per record: the data class's record objects when `event` is a
    data class with one per raw record (``SQSEvent.records``, ...), else the raw records."""
    if event is raw_records or raw_event(event) is event:
        return raw_records
    records = getattr(event, "records", None)
    if records is None:
        return raw_records
    objects = list(records)
    if len(objects) != len(raw_records):
        return raw_records
    return objects


def middleware_name(fn: Any) -> str | None:
    """The Powertools middleware (``lambda_handler_decorator``) wrapping `fn`, if any."""
    code = getattr(fn, "__code__", None)
    if code is None or not code.co_filename.replace("\\", "/").endswith(_MIDDLEWARE_FILE):
        return None
    cells = dict(zip(code.co_freevars, fn.__closure__ or (), strict=False))
    decorator = cells.get("decorator")
    name = getattr(decorator.cell_contents, "__name__", None) if decorator else None
    return name if isinstance(name, str) else None


def check_inner(fn: Any) -> None:
    """Refuse, when decorating, a Powertools decorator that cannot work below ours."""
    name = middleware_name(fn)
    if name is not None and name.lstrip("_") == "event_source":
        raise TypeError(
            "@event_source(data_class=...) must be above @with_partner_db, not below it: "
            "below, Powertools calls the handler without its db. Write\n"
            "    @event_source(data_class=...)\n    @with_partner_db(...)\n    def handler(...)"
        )


def under_idempotency() -> bool:
    """Whether Powertools' ``@idempotent`` (above ``@with_partner_db``) is calling us now."""
    frame: FrameType | None = sys._getframe(1)
    for _ in range(_DEPTH):
        if frame is None:
            return False
        code = frame.f_code
        if code.co_name == _IDEMPOTENCY_CALLER and code.co_filename.replace("\\", "/").endswith(
            _IDEMPOTENCY_FILE
        ):
            return True
        frame = frame.f_back
    return False
