"""Composition with Powertools: Logger.inject_lambda_context and Tracer.capture_lambda_handler
stacked over or under with_partner_db both keep working, and the handler gets our db;
@event_source works above us and is refused below; @idempotent works in either order and
stores successes only."""

from __future__ import annotations

import io
import json
import logging
import uuid
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes import (
    APIGatewayProxyEventV2,
    EventBridgeEvent,
    SQSEvent,
    event_source,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent,
)

from handler_sdk import ActionRouter, failures, with_partner_db
from partnerdb import PartnerDB, Partners
from tests.sdk.conftest import EVENTS, body, load_event, log_lines
from tests.sdk.models import Payment
from tests.support import FakeContext


@pytest.fixture
def powertools(monkeypatch: pytest.MonkeyPatch) -> tuple[Logger, Tracer, io.StringIO]:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    stream = io.StringIO()
    service = f"payments-{uuid.uuid4().hex[:8]}"  # Powertools loggers are process-global
    logger = Logger(service=service, logger_handler=logging.StreamHandler(stream))
    return logger, Tracer(service=service, disabled=True), stream


def powertools_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize("order", ["powertools outside", "powertools inside"])
def test_both_orders_keep_both_working(
    partners: Partners,
    powertools: tuple[Logger, Tracer, io.StringIO],
    caplog: pytest.LogCaptureFixture,
    order: str,
) -> None:
    logger, tracer, stream = powertools

    def handler(event: Any, context: Any, db: PartnerDB) -> Any:
        logger.info("reading", extra={"partner": db.partner_id})
        return db.model(Payment).get("p-1")

    ours = with_partner_db(models=[Payment], partners=partners)
    if order == "powertools outside":
        wrapped = logger.inject_lambda_context(tracer.capture_lambda_handler(ours(handler)))
    else:
        wrapped = ours(logger.inject_lambda_context(tracer.capture_lambda_handler(handler)))
    assert wrapped.__name__ == "handler"

    caplog.clear()
    context = FakeContext()
    response = wrapped(load_event("apigw_v2"), context)
    assert response["statusCode"] == 200
    assert body(response)["data"]["amount"] == 10.5

    (line,) = powertools_lines(stream)
    assert line["message"] == "reading" and line["partner"] == "acme"
    assert line["function_request_id"] == context.aws_request_id
    assert line["function_name"] == "payments"
    assert "cold_start" in line
    (ours_line,) = log_lines(caplog)
    assert ours_line["requestId"] == context.aws_request_id and ours_line["status"] == 200


def test_a_router_under_powertools(
    partners: Partners, powertools: tuple[Logger, Tracer, io.StringIO]
) -> None:
    logger, tracer, _ = powertools
    router = ActionRouter("payments")
    router.action("who")(lambda data, db, context: db.partner_id)
    handler = logger.inject_lambda_context(
        tracer.capture_lambda_handler(with_partner_db(partners=partners)(router))
    )
    assert handler({"partnerId": "globex", "action": "who"}, FakeContext())["data"] == "globex"


def test_errors_still_become_responses_under_powertools(
    partners: Partners, powertools: tuple[Logger, Tracer, io.StringIO]
) -> None:
    logger, tracer, _ = powertools

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    @with_partner_db(partners=partners)
    def handler(event: Any, context: Any, db: PartnerDB) -> Any:
        raise RuntimeError("internal detail")

    response = handler({"partnerId": "acme"}, FakeContext())
    assert response["status"] == 500 and response["error"] == "internal error"


# ---------------------------------------------------------------------------------------------
# Event data classes (@event_source) and Idempotency (@idempotent), in each order


def sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "powertools" / f"{name}.json").read_text())
    return event


def test_event_source_above_gives_the_handler_data_class_records(partners: Partners) -> None:
    seen: list[tuple[str, Any]] = []

    @event_source(data_class=SQSEvent)
    @with_partner_db(partners=partners)
    def handler(record: SQSRecord, context: Any, db: PartnerDB) -> None:
        seen.append((db.partner_id, record.message_id))

    event = sample("sqsEvent")
    event["Records"][0]["body"] = '{"partnerId": "acme"}'
    assert handler(event, FakeContext()) == {
        "batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]
    }
    assert seen == [("acme", event["Records"][0]["messageId"])]


@pytest.mark.parametrize(
    ("data_class", "name"),
    [(EventBridgeEvent, "eventBridgeEvent"), (APIGatewayProxyEventV2, "apiGatewayProxyV2Event")],
)
def test_event_source_above_single_events(partners: Partners, data_class: Any, name: str) -> None:
    got: list[Any] = []

    @event_source(data_class=data_class)
    @with_partner_db(models=[Payment], partners=partners)
    def handler(event: Any, context: Any, db: PartnerDB) -> Any:
        got.append(event)
        return db.model(Payment).get("p-1").amount

    event = sample(name)
    if data_class is EventBridgeEvent:
        event["detail"]["partnerId"] = "globex"
        assert handler(event, FakeContext())["data"] == 99
    else:
        event["headers"]["x-partner-id"] = "globex"
        assert body(handler(event, FakeContext())) == {"data": 99}
    (seen,) = got
    assert isinstance(seen, data_class)  # the handler gets the object it was given


def test_event_source_below_is_refused_when_decorating(partners: Partners) -> None:
    with pytest.raises(TypeError, match=r"@event_source\(data_class=...\) must be above"):

        @with_partner_db(partners=partners)
        @event_source(data_class=SQSEvent)
        def handler(event: Any, context: Any, db: PartnerDB) -> None: ...


@pytest.fixture
def idempotency(env: dict[str, str]) -> DynamoDBPersistenceLayer:
    """Powertools' DynamoDB persistence in the function's own account (moto)."""
    import boto3

    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName="idempotency",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return DynamoDBPersistenceLayer(table_name="idempotency")


class Flaky:
    """A handler that fails its first call, then reads p-1."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, event: Any, context: Any, db: PartnerDB) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("transient")
        return db.model(Payment).get("p-1").amount


@pytest.mark.parametrize("order", ["idempotent above", "idempotent below"])
def test_idempotent_in_either_order_stores_only_successes(
    partners: Partners, idempotency: DynamoDBPersistenceLayer, order: str
) -> None:
    flaky = Flaky()
    ours = with_partner_db(models=[Payment], partners=partners)
    config = IdempotencyConfig(event_key_jmespath="data")
    if order == "idempotent above":
        handler = idempotent(config=config, persistence_store=idempotency)(ours(flaky))
    else:

        def inner(event: Any, context: Any, db: PartnerDB) -> Any:
            return flaky(event, context, db)

        handler = ours(idempotent(config=config, persistence_store=idempotency)(inner))
    event = {"partnerId": "acme", "data": {"id": "p-1"}}

    if order == "idempotent above":  # a failure is raised, so Powertools stores nothing
        with pytest.raises(failures.InternalError):
            handler(event, FakeContext())
    else:  # the failure reaches us through Powertools, which deleted its record
        assert handler(event, FakeContext())["status"] == 500
    first = handler(event, FakeContext())
    again = handler(event, FakeContext())
    assert first["data"] == again["data"] == 10.5
    assert flaky.calls == 2  # the failure was not replayed; the success was
