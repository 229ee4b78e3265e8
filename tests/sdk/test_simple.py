"""`handler_sdk.simple.simple_dict` is `to_simple_dict`, value for value (property-based)."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from handler_sdk.simple import simple_dict


class Plain(Model):
    class Meta:
        table_name = "plain"

    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(null=True, attr_name="n")
    amount = NumberAttribute(null=True)
    flag = BooleanAttribute(null=True)


class Mixed(Model):
    class Meta:
        table_name = "mixed"

    id = UnicodeAttribute(hash_key=True)
    when = UTCDateTimeAttribute(null=True)
    tags = UnicodeSetAttribute(null=True)


class Loud(UnicodeAttribute):
    def serialize(self, value: Any) -> Any:
        return str(value).upper()


class Custom(Model):
    class Meta:
        table_name = "custom"

    id = Loud(hash_key=True)


numbers = st.one_of(st.none(), st.integers(), st.booleans(),
                    st.floats(allow_nan=False), st.decimals(allow_nan=False))
texts = st.one_of(st.none(), st.text())
flags = st.one_of(st.none(), st.booleans(), st.integers(), st.text())


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and str(a) == str(b))
    return type(a) is type(b) and a == b


@settings(max_examples=300, deadline=None)
@given(st.text(), texts, numbers, flags)
def test_equals_to_simple_dict(pk: str, name: Any, amount: Any, flag: Any) -> None:
    item = Plain(pk, name=name, amount=amount, flag=flag)
    try:
        expected = item.to_simple_dict()
    except Exception as err:
        with pytest.raises(type(err)):
            simple_dict(item)
        return
    got = simple_dict(item)
    assert list(got) == list(expected)
    assert all(same(got[k], expected[k]) for k in expected), (got, expected)


def test_other_attribute_types_and_overrides_use_to_simple_dict() -> None:
    mixed = Mixed("m", tags={"a"})
    with pytest.raises(ValueError):
        simple_dict(mixed)  # as to_simple_dict: sets are refused unless forced
    assert simple_dict(Mixed("m")) == Mixed("m").to_simple_dict() == {"id": "m"}
    assert simple_dict(Custom("x")) == Custom("x").to_simple_dict() == {"id": "X"}
    with pytest.raises(TypeError):  # as to_simple_dict: json cannot dump a Decimal
        simple_dict(Plain("p", amount=Decimal("1.5")))
