"""DynamoDB responses parsed without walking every item a second time.

botocore decodes a response's JSON and then walks the decoded value along the output shape,
building a copy of it. For DynamoDB's items (`{"name": {"S": "..."}}`) the copy is equal to
what was decoded except where a value holds binary (`B`, `BS`: base64 decoded to bytes), yet
each attribute value is a structure of ten members that botocore looks up one by one: about
2 µs per attribute, 20 µs of a 10-attribute GetItem, milliseconds for a page of a Query.

`ITEM_SHORTCUT` answers for the item-shaped parts of a response (an attribute value, a map of
them, a list of such maps...) when every value in them is one botocore would copy unchanged:
exactly one of `S`, `N`, `BOOL`, `NULL`, `SS`, `NS`, `M`, `L`, not null, nested values alike.
It returns the decoded value itself. Anything else (binary, an unknown or missing type, a
value with two types, a null) is left to botocore, which parses it as always, so a response
parses to the same result either way. Everything that is not item-shaped (capacity, metadata,
timestamps, errors) is botocore's too.

`parser_factory()` is what the DynamoDB clients partnerdb builds parse with
(`partnerdb.clients`); it is meant for clients of DynamoDB's API only, where shape names are
unique: which shapes are item-shaped is worked out once per name from the service model and
kept (a few dozen names at most).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from partnerdb.private_access import json_parser_factory

#: An attribute value's types, and botocore's shape type for each (DynamoDB's service model).
ATTRIBUTE_TYPES = {
    "S": "string", "N": "string", "B": "blob", "SS": "list", "NS": "list", "BS": "list",
    "M": "map", "L": "list", "NULL": "boolean", "BOOL": "boolean",
}
_AS_DECODED = frozenset({"S", "N", "BOOL", "NULL"})
_SETS = frozenset({"SS", "NS"})

Check = Callable[[Any], bool]


def plain_value(value: Any) -> bool:
    """Whether botocore would parse this attribute value to an equal copy of itself."""
    if type(value) is not dict or len(value) != 1:
        return False
    ((kind, inner),) = value.items()
    if inner is None:
        return False
    if kind in _AS_DECODED:
        return True
    if kind == "M":
        return type(inner) is dict and all(map(plain_value, inner.values()))
    if kind == "L":
        return type(inner) is list and all(map(plain_value, inner))
    return kind in _SETS and type(inner) is list


def _map_of(check: Check) -> Check:
    return lambda node: type(node) is dict and all(map(check, node.values()))


def _list_of(check: Check) -> Check:
    return lambda node: type(node) is list and all(map(check, node))


def _is_attribute_value(shape: Any) -> bool:
    """DynamoDB's attribute value structure, member for member as this module expects."""
    members = shape.members
    return (
        shape.type_name == "structure"
        and not shape.is_document_type
        and {name: s.type_name for name, s in members.items()} == ATTRIBUTE_TYPES
        and all(not s.serialization for s in members.values())
    )


def item_check(shape: Any) -> Check | None:
    """The check that a value of `shape` parses to itself, or None if `shape` is not
    item-shaped (then botocore walks it, and its members come back here)."""
    kind = shape.type_name
    if kind == "structure":
        return plain_value if _is_attribute_value(shape) else None
    if kind == "map":
        if shape.key.type_name != "string":
            return None
        inner = item_check(shape.value)
        return None if inner is None else _map_of(inner)
    if kind == "list":
        inner = item_check(shape.member)
        return None if inner is None else _list_of(inner)
    return None


class ItemShortcut:
    """Answers botocore's parser for item-shaped values that parse to themselves."""

    def __init__(self) -> None:
        # Shape name -> its check (None: not item-shaped). Names are DynamoDB's, so bounded.
        self._checks: dict[str, Check | None] = {}

    def __call__(self, shape: Any, node: Any) -> Any:
        name = shape.name
        try:
            check = self._checks[name]
        except KeyError:
            check = self._checks[name] = item_check(shape)
        if check is not None and check(node):
            return node
        return NotImplemented


ITEM_SHORTCUT = ItemShortcut()


def parser_factory() -> Any:
    """A botocore response parser factory for DynamoDB clients, with `ITEM_SHORTCUT`."""
    return json_parser_factory(ITEM_SHORTCUT)
