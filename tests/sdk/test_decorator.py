"""with_partner_db: forms, options checked at decoration, the DB and deadline of a call."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from handler_sdk import decorator, with_partner_db
from partnerdb import ConfigError, ModelNotBindable, PartnerDB, Partners, current_deadline
from tests.sdk.conftest import body, fresh_partners, load_event
from tests.sdk.models import Payment
from tests.support import FakeContext


def direct(pid: str = "acme", **extra: Any) -> dict[str, Any]:
    return {"partnerId": pid, **extra}


def test_bare_decorator_uses_the_process_partners(
    partners: Partners, default_partners: None
) -> None:
    @with_partner_db
    def handler(event: Any, context: Any, db: PartnerDB) -> dict[str, Any]:
        """Doc kept."""
        return {"partner": db.partner_id, "amount": db.model(Payment).get("p-1").amount}

    assert handler.__name__ == "handler" and handler.__doc__ == "Doc kept."
    assert handler.__wrapped__ is not None  # type: ignore[attr-defined]
    response = handler(direct(), FakeContext())
    assert response == {"success": True, "status": 200, "data": {"partner": "acme", "amount": 10.5}}
    assert decorator._default_partners.get() is decorator._default_partners.get()


def test_factory_binds_models_at_decoration_without_network(partners: Partners) -> None:
    fresh = fresh_partners()

    @with_partner_db(models=[Payment], partners=fresh)
    def handler(event: Any, context: Any, db: PartnerDB) -> None:
        return None

    # The first partner is bound at import (service model loaded); the others on first use.
    assert fresh.stats.partners_bound == 1
    assert fresh.stats.sts_calls == 0


def test_a_model_that_cannot_be_bound_fails_at_decoration(partners: Partners) -> None:
    with pytest.raises(ModelNotBindable):
        with_partner_db(models=[dict], partners=partners)  # type: ignore[list-item]


@pytest.mark.parametrize(
    "call",
    [
        lambda: with_partner_db([Payment]),  # type: ignore[call-overload]
        lambda: with_partner_db(Payment),
        lambda: with_partner_db(lambda e, c, d: None, [Payment]),  # type: ignore[call-overload]
        lambda: with_partner_db("models"),  # type: ignore[call-overload]
    ],
)
def test_positional_options_are_refused(call: Any) -> None:
    with pytest.raises(TypeError, match="with_partner_db options are keyword-only"):
        call()


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"models": Payment}, TypeError),
        ({"partner_from": "partnerId"}, TypeError),
        ({"buffer_ms": -1}, ValueError),
        ({"buffer_ms": 1.5}, ValueError),
        ({"partners": object()}, TypeError),
        ({"skip_group_on_error": "yes"}, TypeError),
        ({"skip_group_on_error": 1}, TypeError),
    ],
)
def test_bad_options_fail_at_decoration(
    partners: Partners, options: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        with_partner_db(**{"partners": partners, **options})


def test_malformed_configuration_fails_at_decoration_naming_the_variable(
    env: dict[str, str], default_partners: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARTNER_ACME_ROLE_ARN", "not-an-arn")
    with pytest.raises(ConfigError, match="PARTNER_ACME_ROLE_ARN"):
        with_partner_db(models=[Payment])


def test_bad_tracing_switch_fails_at_decoration(
    partners: Partners, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARTNERDB_TRACING", "sometimes")
    with pytest.raises(ConfigError, match="PARTNERDB_TRACING"):
        with_partner_db(partners=partners)


def test_default_partners_are_built_once_across_threads(
    env: dict[str, str], default_partners: None
) -> None:
    seen: list[Partners] = []
    threads = [
        threading.Thread(target=lambda: seen.append(decorator._default_partners.get()))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(seen) == 8 and all(p is seen[0] for p in seen)


def test_db_carries_the_deadline_and_it_is_reset_after_the_call(partners: Partners) -> None:
    seen: dict[str, Any] = {}

    @with_partner_db(partners=partners, buffer_ms=2000)
    def handler(event: Any, context: Any, db: PartnerDB) -> None:
        seen["current"] = current_deadline()
        seen["db"] = db
        seen["remaining"] = db.remaining_ms()

    before = current_deadline()  # None, unless an earlier test left a db open
    handler(direct(), FakeContext(remaining_ms=10_000))
    assert seen["current"] is seen["db"].deadline is not before
    assert 7000 < seen["remaining"] <= 8000
    assert current_deadline() is before


@pytest.mark.parametrize("event", [direct(), load_event("apigw_v2")])
def test_deadline_inside_the_buffer_answers_504(partners: Partners, event: Any) -> None:
    calls: list[str] = []

    @with_partner_db(partners=partners, buffer_ms=1000)
    def handler(event: Any, context: Any, db: PartnerDB) -> Any:
        calls.append(db.partner_id)
        return db.model(Payment).get("p-1")

    response = handler(event, FakeContext(remaining_ms=500))
    assert calls == ["acme"]
    if "statusCode" in response:
        assert response["statusCode"] == 504
        assert body(response)["error"] == "lambda timeout exceeded"
    else:
        assert response["status"] == 504 and response["error"] == "lambda timeout exceeded"
    assert partners.stats.sts_calls == 0  # nothing was sent


def test_db_goes_by_position_when_the_parameter_has_another_name(partners: Partners) -> None:
    @with_partner_db(partners=partners)
    def handler(event: Any, context: Any, partner_db: PartnerDB) -> str:
        return partner_db.partner_id

    assert handler(direct("GLOBEX"), FakeContext())["data"] == "globex"


def test_each_partner_reads_its_own_account(partners: Partners) -> None:
    @with_partner_db(models=[Payment], partners=partners)
    def handler(event: Any, context: Any, db: PartnerDB) -> Any:
        return db.model(Payment).get("p-1")

    assert handler(direct("acme"), FakeContext())["data"]["amount"] == 10.5
    assert handler(direct("globex"), FakeContext())["data"]["amount"] == 99


def test_context_none_means_no_deadline(partners: Partners) -> None:
    @with_partner_db(partners=partners)
    def handler(event: Any, context: Any, db: PartnerDB) -> int:
        return db.remaining_ms()

    assert handler(direct(), None)["data"] == 2**31 - 1


RETURNS: list[tuple[str, Any, Any]] = [
    ("dict", {"a": 1}, {"a": 1}),
    ("list", [1, "two", None], [1, "two", None]),
    ("none", None, None),
    ("str", "ok", "ok"),
    (
        "rich",
        {
            "price": Decimal("12.50"),
            "count": Decimal("3"),
            "at": datetime(2024, 11, 26, 10, 0, tzinfo=UTC),
            "tags": {"b", "a"},
            "raw": b"\x00\x01",
        },
        {
            "price": 12.5,
            "count": 3,
            "at": "2024-11-26T10:00:00+00:00",
            "tags": ["a", "b"],
            "raw": "AAE=",
        },
    ),
]


@pytest.mark.parametrize(("kind", "value", "expected"), RETURNS, ids=[r[0] for r in RETURNS])
@pytest.mark.parametrize("shape", ["direct", "apigw_v1", "apigw_v2"])
def test_return_values_become_json_data(
    partners: Partners, kind: str, value: Any, expected: Any, shape: str
) -> None:
    @with_partner_db(partners=partners)
    def handler(event: Any, context: Any, db: PartnerDB) -> Any:
        return value

    response = handler(load_event(shape), FakeContext())
    if shape == "direct":
        assert response == {"success": True, "status": 200, "data": expected}
    else:
        assert response["statusCode"] == 200
        assert response["headers"] == {"Content-Type": "application/json"}
        assert body(response) == {"data": expected}


@pytest.mark.parametrize("shape", ["direct", "apigw_v1", "apigw_v2"])
def test_a_model_instance_and_a_list_of_them_are_serialized(
    partners: Partners, shape: str
) -> None:
    @with_partner_db(models=[Payment], partners=partners)
    def one(event: Any, context: Any, db: PartnerDB) -> Any:
        return db.model(Payment).get("p-1")

    @with_partner_db(models=[Payment], partners=partners)
    def many(event: Any, context: Any, db: PartnerDB) -> Any:
        return list(db.model(Payment).scan())

    expected = {"id": "p-1", "amount": 10.5, "currency": "EUR"}
    first, second = one(load_event(shape), FakeContext()), many(load_event(shape), FakeContext())
    if shape == "direct":
        assert first["data"] == expected and second["data"] == [expected]
    else:
        assert body(first) == {"data": expected} and body(second) == {"data": [expected]}


def test_a_proxy_response_passes_through_for_api_gateway(partners: Partners) -> None:
    proxy = {"statusCode": 201, "headers": {"Location": "/payments/p-2"}, "body": ""}

    @with_partner_db(partners=partners)
    def handler(event: Any, context: Any, db: PartnerDB) -> Any:
        return proxy

    assert handler(load_event("apigw_v1"), FakeContext()) is proxy
    assert handler(load_event("apigw_v2"), FakeContext()) is proxy
    assert handler(direct(), FakeContext())["data"] == proxy  # direct callers get data


@pytest.mark.parametrize("shape", ["direct", "apigw_v1", "apigw_v2"])
def test_a_raising_handler_answers_500_without_internals(
    partners: Partners, shape: str, caplog: pytest.LogCaptureFixture
) -> None:
    @with_partner_db(partners=partners)
    def handler(event: Any, context: Any, db: PartnerDB) -> Any:
        raise RuntimeError("table layout v2 missing in /var/task/app.py")

    context = FakeContext()
    response = handler(load_event(shape), context)
    text = str(response)
    assert "layout" not in text and "RuntimeError" not in text and "/var/task" not in text
    expected = {"error": "internal error", "requestId": context.aws_request_id}
    if shape == "direct":
        assert response == {"success": False, "status": 500, **expected}
    else:
        assert response["statusCode"] == 500 and body(response) == expected
    out = caplog.text
    assert "RuntimeError: table layout v2 missing" in out  # the traceback went to the log


def test_an_unserializable_return_value_answers_500(partners: Partners) -> None:
    @with_partner_db(partners=partners)
    def handler(event: Any, context: Any, db: PartnerDB) -> Any:
        return {"thing": object()}

    assert handler(direct(), FakeContext())["status"] == 500
    assert handler(load_event("apigw_v2"), FakeContext())["statusCode"] == 500
