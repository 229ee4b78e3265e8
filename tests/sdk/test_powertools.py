"""Composition with Powertools: Logger.inject_lambda_context and Tracer.capture_lambda_handler
stacked over or under with_partner_db both keep working, and the handler gets our db."""

from __future__ import annotations

import io
import json
import logging
import uuid
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Tracer

from handler_sdk import ActionRouter, with_partner_db
from partnerdb import PartnerDB, Partners
from tests.sdk.conftest import body, load_event, log_lines
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
