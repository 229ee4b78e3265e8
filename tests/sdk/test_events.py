"""Event shapes, partner id sources, bad events and the error statuses of partner lookup."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from handler_sdk import BadRequest, Conflict, NotFound, Shape, with_partner_db
from handler_sdk.events import detect_shape, partner_id_of
from partnerdb import InvalidPartnerId, PartnerDB, Partners
from tests.sdk.conftest import FakeSTS, body, load_event
from tests.support import FakeContext


def status_and_error(response: dict[str, Any]) -> tuple[int, str]:
    if "statusCode" in response:
        return response["statusCode"], body(response)["error"]
    assert response["success"] is False
    return response["status"], response["error"]


@pytest.fixture
def echo(partners: Partners) -> Any:
    @with_partner_db(partners=partners)
    def handler(event: Any, context: Any, db: PartnerDB) -> str:
        return db.partner_id

    return handler


def test_sample_events_have_their_shapes() -> None:
    assert detect_shape(load_event("direct")) is Shape.DIRECT
    assert detect_shape(load_event("apigw_v1")) is Shape.APIGW_V1
    assert detect_shape(load_event("apigw_v2")) is Shape.APIGW_V2
    odd_events: list[object] = [None, "acme", 42, {"httpMethod": "GET"}, {"version": "2.0"}]
    for odd in odd_events:
        assert detect_shape(odd) is Shape.DIRECT
    # no direct invoke sends an array or another source's markers: raised, not answered 400
    assert detect_shape([]) is detect_shape([{"partnerId": "acme"}]) is Shape.UNSUPPORTED
    assert detect_shape({"eventSource": "aws:kafka", "records": {}}) is Shape.UNSUPPORTED
    assert detect_shape({"partnerId": "acme", "triggerSource": "x"}) is Shape.DIRECT
    # an application's own eventSource field (a direct invoke read by partner_from) is no
    # AWS source: only AWS's "aws:..." values are
    assert detect_shape({"tenant": "acme", "eventSource": "checkout-service"}) is Shape.DIRECT


def v1(headers: Any = None, multi: Any = None, path: Any = None) -> dict[str, Any]:
    event = load_event("apigw_v1")
    event["headers"], event["multiValueHeaders"], event["pathParameters"] = headers, multi, path
    return event


def v2(headers: dict[str, str] | None = None, path: Any = None) -> dict[str, Any]:
    event = load_event("apigw_v2")
    event["headers"] = {**event["headers"], **(headers or {})}
    event["pathParameters"] = path
    return event


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"partnerId": "ACME"}, "acme"),
        (load_event("apigw_v1"), "acme"),
        (v1(headers={"x-partner-id": "Globex"}), "globex"),
        (v1(headers={"X-PARTNER-ID": "acme"}), "acme"),
        (v1(multi={"x-Partner-Id": ["acme"]}), "acme"),
        (v1(headers={"X-Partner-Id": "acme"}, multi={"X-Partner-Id": ["acme", "ACME"]}), "acme"),
        (v1(path={"partnerId": "globex"}), "globex"),
        (v1(headers={"X-Partner-Id": "acme"}, path={"partnerId": "ACME"}), "acme"),
        (load_event("apigw_v2"), "acme"),
        (v2(headers={"x-partner-id": "globex"}), "globex"),
        (v2(headers={"x-partner-id": "acme"}, path={"partnerId": "acme", "id": "p-1"}), "acme"),
    ],
)
def test_partner_id_sources(event: dict[str, Any], expected: str) -> None:
    assert partner_id_of(event, detect_shape(event)) == expected


BAD_IDS = [
    "ac me",
    " acme",
    'acme"',
    "acme'",
    "../acme",
    "acme/../globex",
    "acme%2F..",
    "a" * 500,
    "",
    "acmé",
    "acme\n",
    "acme,globex",
]


@pytest.mark.parametrize("pid", BAD_IDS)
def test_hostile_partner_ids_answer_400_in_every_shape(echo: Any, pid: str) -> None:
    for event in (
        {"partnerId": pid},
        v1(headers={"X-Partner-Id": pid}),
        v1(path={"partnerId": pid}),
        v2(headers={"x-partner-id": pid}, path={}),
        v2(path={"partnerId": pid}),
    ):
        status, error = status_and_error(echo(event, FakeContext()))
        assert status == 400, event
        assert error.startswith("invalid partner id")
        if len(pid) > 3:
            assert pid not in error  # never echoed


BAD_EVENTS: list[tuple[str, Any, str]] = [
    ("string", "acme", "event must be a JSON object"),
    ("none", None, "event must be a JSON object"),
    ("number", 42, "event must be a JSON object"),
    ("no partner", {"action": "getPayment"}, "partnerId is required"),
    ("int partner", {"partnerId": 7}, "invalid partner id: expected a string"),
    ("null partner", {"partnerId": None}, "invalid partner id: expected a string"),
    ("list partner", {"partnerId": ["acme"]}, "invalid partner id: expected a string"),
    ("v1 nothing", v1(), "the X-Partner-Id header or the partnerId path parameter is required"),
    ("v1 headers not a dict", v1(headers=["X-Partner-Id"]), "headers must be an object"),
    ("v1 header not a string", v1(headers={"X-Partner-Id": 5}), "must be a string"),
    ("v1 multi not a list", v1(multi={"X-Partner-Id": "acme"}), "values must be lists"),
    (
        "v1 two values",
        v1(multi={"X-Partner-Id": ["acme", "globex"]}),
        "more than once with different values",
    ),
    (
        "v1 two cases",
        v1(headers={"X-Partner-Id": "acme", "x-partner-id": "globex"}),
        "more than once with different values",
    ),
    ("v1 path not a dict", v1(path="acme"), "pathParameters must be an object"),
    (
        "v2 header and path disagree",
        v2(headers={"x-partner-id": "globex"}, path={"partnerId": "acme"}),
        "disagree",
    ),
    ("v2 nothing", v2(path=None), "the X-Partner-Id header or the partnerId path parameter"),
]


@pytest.mark.parametrize(("what", "event", "message"), BAD_EVENTS, ids=[b[0] for b in BAD_EVENTS])
def test_bad_events_answer_400(echo: Any, what: str, event: Any, message: str) -> None:
    response = echo(event, FakeContext())
    status, error = status_and_error(response)
    assert status == 400 and message in error
    is_api = isinstance(event, dict) and "requestContext" in event
    assert ("statusCode" in response) == is_api


@pytest.mark.parametrize("event", [{"partnerId": "initech"}, v2(path={"partnerId": "initech"})])
def test_unknown_partner_answers_403_without_listing_partners(echo: Any, event: Any) -> None:
    status, error = status_and_error(echo(event, FakeContext()))
    assert status == 403 and error == "unknown partner"
    response = str(echo(event, FakeContext()))
    for leak in ("acme", "globex", "PARTNER_", "arn:"):
        assert leak not in response


def test_partner_from_replaces_the_event_lookup(partners: Partners) -> None:
    @with_partner_db(partners=partners, partner_from=lambda e: e["detail"]["tenant"])
    def handler(event: Any, context: Any, db: PartnerDB) -> str:
        return db.partner_id

    def call(event: Any) -> tuple[int, str]:
        response = handler(event, FakeContext())
        return response["status"], response.get("data") or response.get("error")

    assert call({"detail": {"tenant": "Globex"}}) == (200, "globex")
    assert call({"detail": {}}) == (400, "no partner id in the event (KeyError)")
    assert call({"detail": {"tenant": None}}) == (400, "no partner id in the event")
    with pytest.raises(BadRequest):  # an array is no direct invoke: raised, not answered
        call(["not", "a", "dict"])
    assert call({"detail": {"tenant": "../x"}})[0] == 400
    assert call({"detail": {"tenant": "initech"}}) == (403, "unknown partner")


@pytest.mark.parametrize(
    ("raised", "status", "message"),
    [
        (BadRequest("amount must be positive"), 400, "amount must be positive"),
        (NotFound("payment p-9"), 404, "payment p-9"),
        (Conflict("payment p-1 exists"), 409, "payment p-1 exists"),
        (InvalidPartnerId("too odd"), 400, "invalid partner id: too odd"),
    ],
)
@pytest.mark.parametrize("shape", ["direct", "apigw_v1", "apigw_v2"])
def test_handler_errors_map_to_their_status(
    partners: Partners, raised: Exception, status: int, message: str, shape: str
) -> None:
    @with_partner_db(partners=partners)
    def handler(event: Any, context: Any, db: PartnerDB) -> None:
        raise raised

    assert status_and_error(handler(load_event(shape), FakeContext())) == (status, message)


@pytest.mark.parametrize(
    ("http_status", "code", "message"),
    [
        (403, "AccessDenied", "partner role could not be assumed"),
        (400, "Throttling", "partner role throttled: retry later"),
    ],
)
def test_a_refused_or_throttled_partner_role_answers_502(
    partners: Partners,
    monkeypatch: pytest.MonkeyPatch,
    http_status: int,
    code: str,
    message: str,
) -> None:
    with FakeSTS(http_status, code) as sts:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts.url)
        monkeypatch.setenv("PARTNERDB_MAX_ATTEMPTS", "1")
        fresh = Partners.from_env()

        @with_partner_db(models=[], partners=fresh)
        def handler(event: Any, context: Any, db: PartnerDB) -> Any:
            from tests.sdk.models import Payment

            return db.model(Payment).get("p-1")

        for event in (load_event("direct"), load_event("apigw_v1")):
            response = handler(event, FakeContext())
            assert status_and_error(response) == (502, message)
            assert "arn:" not in str(response) and "111111111111" not in str(response)


def test_an_unreachable_sts_answers_502(
    partners: Partners, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("PARTNERDB_MAX_ATTEMPTS", "1")

    @with_partner_db(partners=Partners.from_env())
    def handler(event: Any, context: Any, db: PartnerDB) -> Any:
        from tests.sdk.models import Payment

        return db.model(Payment).get("p-1")

    response = handler(load_event("apigw_v2"), FakeContext())
    assert status_and_error(response) == (502, "partner role could not be assumed")
