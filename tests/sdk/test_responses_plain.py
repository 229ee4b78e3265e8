"""`handler_sdk.responses.plain`: a handler's return value as plain JSON types, the value itself
when it is made of them already (no JSON round trip per invocation), else exactly what the
round trip makes of it."""

from __future__ import annotations

import datetime
import enum
import json
import random
from decimal import Decimal
from typing import Any

import pytest

from handler_sdk.responses import plain, to_json


def round_trip(value: object) -> Any:
    return json.loads(to_json(value))


class Colour(enum.IntEnum):
    RED = 1


class Tag(str):
    pass


PLAIN = [
    {},
    [],
    {"id": "pay_1", "amount": 1999, "ratio": 0.5, "ok": True, "none": None},
    {"payments": [{"id": f"p{i}", "tags": ["a", "b"], "n": i} for i in range(100)],
     "cursor": None},
    [[[["deep"]]]],
    {"é漢": "🙂", "nan": float("inf")},
]
FOREIGN = [
    {"amount": Decimal("19.99")},
    {"at": datetime.datetime(2026, 11, 30, 10, 0, tzinfo=datetime.UTC)},
    {"when": datetime.date(2026, 11, 30)},
    {"tags": {"b", "a"}},
    {"raw": b"\x00\x01"},
    {"pair": (1, 2)},
    {1: "int key", "x": [1, {2: "nested int key"}]},
    {"colour": Colour.RED},
    {Tag("sub"): Tag("classed")},
    [{"deep": [Decimal("1")]}],
]


@pytest.mark.parametrize("value", PLAIN)
def test_plain_values_are_returned_as_they_are(value: Any) -> None:
    assert plain(value) is value
    assert plain(value) == round_trip(value)


@pytest.mark.parametrize("value", FOREIGN)
def test_other_values_are_what_the_round_trip_makes_of_them(value: Any) -> None:
    converted = plain(value)
    assert converted is not value
    assert converted == round_trip(value)
    assert json.dumps(converted) == json.dumps(round_trip(value))


def test_deeper_than_the_walk_goes_is_the_round_trip() -> None:
    value: Any = "leaf"
    for _ in range(100):
        value = [value]
    assert plain(value) == round_trip(value)


def test_a_cycle_fails_as_the_round_trip_does() -> None:
    value: dict[str, Any] = {"a": []}
    value["a"].append(value)
    with pytest.raises(ValueError, match="Circular reference"):
        round_trip(value)
    with pytest.raises(ValueError, match="Circular reference"):
        plain(value)


def _random_value(rng: random.Random, depth: int) -> Any:
    leaves = [
        lambda: rng.choice(["", "a", "é", "x" * 20]),
        lambda: rng.randint(-(10**12), 10**12),
        lambda: rng.random(),
        lambda: rng.choice([True, False, None]),
        lambda: Decimal(rng.randint(0, 999)) / 10,
        lambda: (rng.randint(0, 3),),
        lambda: {rng.choice("ab")},
    ]
    if depth == 0 or rng.random() < 0.4:
        return rng.choice(leaves)()
    if rng.random() < 0.5:
        return [_random_value(rng, depth - 1) for _ in range(rng.randint(0, 4))]
    keys = [rng.choice(["k", "k2", "é"]) if rng.random() < 0.9 else rng.randint(0, 3)
            for _ in range(rng.randint(0, 4))]
    return {key: _random_value(rng, depth - 1) for key in keys}


def test_random_values_equal_the_round_trip() -> None:
    rng = random.Random(20261130)
    for _ in range(500):
        value = _random_value(rng, 4)
        assert json.dumps(plain(value), sort_keys=True) == json.dumps(
            round_trip(value), sort_keys=True
        )
