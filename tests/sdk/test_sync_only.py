"""Handlers and actions must be plain functions: Lambda's Python runtime never awaits a
coroutine nor runs a generator, so an ``async def`` record handler would "succeed" without
running and its batch would be deleted. Refused when decorating; a coroutine or generator
returned at run time is a failure (and is closed, never left pending)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from handler_sdk import ActionRouter, with_partner_db
from partnerdb import PartnerDB, Partners
from tests.sdk.test_batch import sqs_record
from tests.support import FakeContext


async def async_handler(event: Any, context: Any, db: PartnerDB) -> None:
    raise RuntimeError("never runs")


def generator_handler(event: Any, context: Any, db: PartnerDB) -> Iterator[int]:
    yield 1


async def async_generator_handler(event: Any, context: Any, db: PartnerDB) -> Any:
    yield 1


@pytest.mark.parametrize("fn", [async_handler, generator_handler, async_generator_handler])
def test_async_and_generator_handlers_are_refused_when_decorating(
    partners: Partners, fn: Any
) -> None:
    with pytest.raises(TypeError, match="plain function"):
        with_partner_db(partners=partners)(fn)


def test_async_actions_are_refused_when_registering() -> None:
    router = ActionRouter()
    with pytest.raises(TypeError, match="plain function"):
        router.action("refund")(async_handler)


def _returns(value_of: Any) -> Any:
    def handler(event: Any, context: Any, db: PartnerDB) -> Any:
        return value_of()

    return handler


@pytest.mark.parametrize("make", [lambda: async_handler(None, None, None),  # type: ignore[arg-type]
                                  lambda: generator_handler(None, None, None)])  # type: ignore[arg-type]
def test_a_coroutine_or_generator_returned_fails_the_record(partners: Partners, make: Any) -> None:
    handler = with_partner_db(partners=partners)(_returns(make))
    event = {"Records": [sqs_record("m1", {"partnerId": "acme"})]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a coroutine never awaited would warn
        response = handler(event, FakeContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_a_coroutine_returned_to_a_direct_invoke_is_a_500(partners: Partners) -> None:
    handler = with_partner_db(partners=partners)(
        _returns(lambda: async_handler(None, None, None))  # type: ignore[arg-type]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        response = handler({"partnerId": "acme"}, FakeContext())
    assert response["success"] is False and response["status"] == 500
