"""ActionRouter: actions from direct and API Gateway events, data rules, DB error statuses."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from handler_sdk import ActionRouter, Conflict, NotFound, with_partner_db
from partnerdb import PartnerDB, Partners
from tests.sdk.conftest import body, load_event, log_lines
from tests.sdk.models import Payment
from tests.support import FakeContext


@pytest.fixture
def handler(partners: Partners) -> Any:
    router = ActionRouter()

    @router.action("getPayment")
    def get_payment(data: dict[str, Any], db: PartnerDB, context: Any) -> Payment:
        return db.model(Payment).get(data["id"])

    @router.action("createPayment")
    def create_payment(data: dict[str, Any], db: PartnerDB, context: Any) -> Payment:
        payment = db.model(Payment)(
            id=data["id"], amount=float(data["amount"]), currency=data["currency"]
        )
        payment.save(condition=Payment.id.does_not_exist())
        return payment

    @router.action("echo")
    def echo(data: dict[str, Any], db: PartnerDB, context: Any) -> Any:
        return {"data": data, "partner": db.partner_id, "request": context.aws_request_id}

    @router.action("missing")
    def missing(data: dict[str, Any], db: PartnerDB, context: Any) -> None:
        raise NotFound("no such thing")

    @router.action("clash")
    def clash(data: dict[str, Any], db: PartnerDB, context: Any) -> None:
        raise Conflict("already there")

    assert router.actions == ["clash", "createPayment", "echo", "getPayment", "missing"]
    return with_partner_db(models=[Payment], partners=partners)(router)


def direct(action: Any = None, data: Any = None, **extra: Any) -> dict[str, Any]:
    event = {"partnerId": "acme", **extra}
    if action is not None:
        event["action"] = action
    if data is not None:
        event["data"] = data
    return event


def v2_action(action: str, payload: Any) -> dict[str, Any]:
    event = load_event("apigw_v2")
    event["routeKey"] = "POST /partners/{partnerId}/actions/{action}"
    event["pathParameters"] = {"partnerId": "acme", "action": action}
    event["body"] = json.dumps(payload)
    return event


def test_direct_actions_create_then_read(handler: Any) -> None:
    created = handler(
        direct("createPayment", {"id": "p-2", "amount": "7.25", "currency": "USD"}), FakeContext()
    )
    assert created == {
        "success": True,
        "status": 200,
        "data": {"id": "p-2", "amount": 7.25, "currency": "USD"},
    }
    read = handler(direct("getPayment", {"id": "p-2"}), FakeContext())
    assert read["data"]["amount"] == 7.25


def test_api_gateway_v1_body_envelope(handler: Any, caplog: pytest.LogCaptureFixture) -> None:
    response = handler(load_event("apigw_v1"), FakeContext())
    assert response["statusCode"] == 200
    assert body(response) == {"data": {"id": "p-9", "amount": 12.5, "currency": "EUR"}}
    assert log_lines(caplog)[-1]["action"] == "createPayment"


def test_api_gateway_v2_action_path_parameter(handler: Any) -> None:
    response = handler(v2_action("echo", {"x": 1}), FakeContext(aws_request_id="r-1"))
    assert body(response) == {"data": {"data": {"x": 1}, "partner": "acme", "request": "r-1"}}


def test_base64_body(handler: Any) -> None:
    event = load_event("apigw_v1")
    event["body"] = base64.b64encode(b'{"action": "echo", "data": {"k": "v"}}').decode()
    event["isBase64Encoded"] = True
    assert body(handler(event, FakeContext()))["data"]["data"] == {"k": "v"}


def test_missing_data_is_an_empty_object(handler: Any) -> None:
    assert handler(direct("echo"), FakeContext())["data"]["data"] == {}
    assert body(handler(v2_action("echo", None), FakeContext()))["data"]["data"] == {}
    event = v2_action("echo", None)
    event["body"] = ""
    assert body(handler(event, FakeContext()))["data"]["data"] == {}


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (direct("nope"), "unknown action: nope"),
        (direct(), "unknown action: (none)"),
        (direct(5), "unknown action: 5"),
        (direct("x" * 300), "unknown action: " + "x" * 100),
        (direct("echo", [1, 2]), "data must be a JSON object"),
        (direct("echo", "text"), "data must be a JSON object"),
        (v2_action("nope", {}), "unknown action: nope"),
        (v2_action("echo", [1]), "data must be a JSON object"),
    ],
)
def test_unknown_actions_and_bad_data_answer_400(handler: Any, event: Any, message: str) -> None:
    response = handler(event, FakeContext())
    if "statusCode" in response:
        assert response["statusCode"] == 400 and body(response)["error"] == message
    else:
        assert response["status"] == 400 and response["error"] == message


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "body is not valid JSON"),
        ("[1, 2]", "unknown action: (none)"),
    ],
)
def test_bad_bodies_answer_400(handler: Any, raw: str, message: str) -> None:
    event = load_event("apigw_v1")
    event["body"] = raw
    response = handler(event, FakeContext())
    assert response["statusCode"] == 400 and body(response)["error"] == message
    event["body"], event["isBase64Encoded"] = "***", True
    assert body(handler(event, FakeContext()))["error"] == "body is not valid base64-encoded UTF-8"


def test_dynamodb_does_not_exist_answers_404(handler: Any) -> None:
    response = handler(direct("getPayment", {"id": "p-404"}), FakeContext())
    assert (response["status"], response["error"]) == (404, "not found")


def test_a_failed_write_condition_answers_409(handler: Any) -> None:
    event = direct("createPayment", {"id": "p-1", "amount": "1", "currency": "EUR"})
    response = handler(event, FakeContext())
    assert (response["status"], response["error"]) == (
        409,
        "conflict: a condition of the write failed",
    )


@pytest.mark.parametrize(("action", "status"), [("missing", 404), ("clash", 409)])
def test_handler_raised_errors(handler: Any, action: str, status: int) -> None:
    assert handler(direct(action), FakeContext())["status"] == status


def test_an_action_is_registered_once() -> None:
    router = ActionRouter()
    router.action("a")(lambda data, db, context: None)
    with pytest.raises(ValueError, match="already registered"):
        router.action("a")(lambda data, db, context: None)
    with pytest.raises(TypeError):
        router.action("")
    with pytest.raises(TypeError):
        router.action(None)  # type: ignore[arg-type]


def test_dispatch_from_a_handler_of_your_own(partners: Partners) -> None:
    router = ActionRouter()
    router.action("who")(lambda data, db, context: db.partner_id)

    @with_partner_db(partners=partners)
    def handler(event: Any, context: Any, db: PartnerDB) -> Any:
        return {"via": "own", "result": router.dispatch(event, context, db)}

    assert handler(direct("who"), FakeContext())["data"] == {"via": "own", "result": "acme"}
