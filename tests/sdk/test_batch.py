"""Batches of SQS, Kinesis and DynamoDB Streams records: one partner and DB per record, and a
ReportBatchItemFailures answer naming every record that must be delivered again."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from handler_sdk.batch import (
    is_ordered,
    item_id,
    partner_id_of,
    record_data,
    run_batch,
    source_of,
)
from handler_sdk.errors import BadRequest
from handler_sdk.events import Shape
from partnerdb import Deadline, PartnerDB, Partners
from tests.sdk.conftest import EVENTS, log_lines
from tests.sdk.models import Payment

POWERTOOLS = EVENTS / "powertools"


def sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((POWERTOOLS / f"{name}.json").read_text())
    return event


def sqs_record(message_id: str, body: object, *, attribute: str | None = None) -> dict[str, Any]:
    """A record shaped as in Powertools' sqsEvent.json, with our body and attribute."""
    record = copy.deepcopy(sample("sqsEvent")["Records"][1])
    record["messageId"] = message_id
    record["body"] = body if isinstance(body, str) else json.dumps(body)
    if attribute is not None:
        record["messageAttributes"] = {
            "partnerId": {
                "stringValue": attribute,
                "dataType": "String",
                "stringListValues": [],
                "binaryListValues": [],
            }
        }
    return record


def kinesis_record(sequence: str, data: object) -> dict[str, Any]:
    record = copy.deepcopy(sample("kinesisStreamEvent")["Records"][0])
    record["kinesis"]["sequenceNumber"] = sequence
    record["kinesis"]["data"] = base64.b64encode(json.dumps(data).encode()).decode()
    return record


def stream_record(sequence: str, partner: str | None) -> dict[str, Any]:
    record = copy.deepcopy(sample("dynamoStreamEvent")["Records"][0])
    record["dynamodb"]["SequenceNumber"] = sequence
    if partner is not None:
        record["dynamodb"]["NewImage"]["partnerId"] = {"S": partner}
    return record


class Recorder:
    """A record handler that notes (item, partner) and fails on request."""

    def __init__(self, source: Shape) -> None:
        self.source = source
        self.calls: list[tuple[str | None, str]] = []

    def __call__(self, record: dict[str, Any], db: PartnerDB) -> None:
        self.calls.append((item_id(record, self.source), db.partner_id))
        data = record_data(record)
        if isinstance(data, dict) and data.get("explode"):
            raise RuntimeError("handler failure")
        if isinstance(data, dict) and data.get("read"):
            db.model(Payment).get("p-1")


def run(event: dict[str, Any], partners: Partners, **kwargs: Any) -> Any:
    shape = source_of(event)
    assert shape is not None
    handler = Recorder(shape)
    deadline = kwargs.pop("deadline", Deadline.after(30))
    lookup = kwargs.pop("lookup", lambda raw, given: partner_id_of(raw, shape))
    records = event["Records"]
    result = run_batch(
        records,
        records,
        shape,
        handler,
        lookup,
        partners=partners,
        deadline=deadline,
        request_id="req-1",
        skip_group_on_error=kwargs.pop("skip_group_on_error", False),
    )
    assert not kwargs, kwargs
    return result, handler


def test_powertools_sample_shapes_are_recognised() -> None:
    assert source_of(sample("sqsEvent")) is Shape.SQS
    assert source_of(sample("kinesisStreamEvent")) is Shape.KINESIS
    assert source_of(sample("dynamoStreamEvent")) is Shape.DYNAMODB_STREAMS
    for other in ("eventBridgeEvent", "apiGatewayProxyEvent", "lambdaFunctionUrlEvent"):
        assert source_of(sample(other)) is None
    mixed = {"Records": sample("sqsEvent")["Records"] + sample("kinesisStreamEvent")["Records"]}
    assert source_of(mixed) is None
    kinesis = sample("kinesisStreamEvent")["Records"][0]
    assert item_id(kinesis, Shape.KINESIS) == kinesis["kinesis"]["sequenceNumber"]
    assert item_id(sample("dynamoStreamEvent")["Records"][1], Shape.DYNAMODB_STREAMS) == "222"


def test_default_partner_lookup_per_source() -> None:
    assert partner_id_of(sqs_record("m", {"x": 1}, attribute="ACME"), Shape.SQS) == "acme"
    assert partner_id_of(sqs_record("m", {"partnerId": "globex"}), Shape.SQS) == "globex"
    # the attribute wins over the body
    both = sqs_record("m", {"partnerId": "globex"}, attribute="acme")
    assert partner_id_of(both, Shape.SQS) == "acme"
    assert partner_id_of(kinesis_record("1", {"partnerId": "acme"}), Shape.KINESIS) == "acme"
    assert partner_id_of(stream_record("1", "globex"), Shape.DYNAMODB_STREAMS) == "globex"
    for bad, source in [
        (sample("sqsEvent")["Records"][0], Shape.SQS),  # "Test message." is not JSON
        (sample("sqsEvent")["Records"][1], Shape.SQS),  # JSON without partnerId
        (sample("kinesisStreamEvent")["Records"][0], Shape.KINESIS),  # text, not JSON
        (sample("dynamoStreamEvent")["Records"][0], Shape.DYNAMODB_STREAMS),
    ]:
        with pytest.raises(BadRequest):
            partner_id_of(bad, source)


def test_each_record_gets_its_own_partner_and_failures_are_reported(
    partners: Partners, caplog: pytest.LogCaptureFixture
) -> None:
    event = {
        "Records": [
            sqs_record("m1", {"partnerId": "acme", "read": True}),
            sqs_record("m2", {"partnerId": "initech"}),  # unknown partner
            sqs_record("m3", "not json at all"),  # malformed
            sqs_record("m4", {"partnerId": "globex", "read": True}),
            sqs_record("m5", {"partnerId": "acme", "explode": True}),
            sqs_record("m6", {"x": 1}, attribute="globex"),
        ]
    }
    caplog.clear()
    result, handler = run(event, partners)
    assert handler.calls == [("m1", "acme"), ("m4", "globex"), ("m5", "acme"), ("m6", "globex")]
    assert result.response() == {
        "batchItemFailures": [{"itemIdentifier": i} for i in ("m2", "m3", "m5")]
    }
    assert (len(result.results), result.failed, result.not_started) == (6, 3, 0)
    lines = [line for line in log_lines(caplog) if line["message"] == "record"]
    assert [(x["item_id"], x["partner_id"], x["outcome"], x["status"]) for x in lines] == [
        ("m1", "acme", "ok", 200),
        ("m2", "initech", "failed", 403),
        ("m3", None, "failed", 400),
        ("m4", "globex", "ok", 200),
        ("m5", "acme", "failed", 500),
        ("m6", "globex", "ok", 200),
    ]
    assert lines[4]["level"] == "ERROR" and lines[4]["errorType"] == "RuntimeError"


def test_fifo_and_streams_stop_at_the_first_failure(partners: Partners) -> None:
    fifo_arn = "arn:aws:sqs:us-east-1:123456789012:payments.fifo"
    fifo = {"Records": [sqs_record(f"m{i}", {"partnerId": "acme"}) for i in range(4)]}
    fifo["Records"][1]["body"] = "{broken"
    for record in fifo["Records"]:
        record["eventSourceARN"] = fifo_arn
    assert is_ordered(fifo["Records"], Shape.SQS)
    result, handler = run(fifo, partners)
    assert handler.calls == [("m0", "acme")]
    assert result.reported == ["m1", "m2", "m3"]
    assert (result.failed, result.not_started) == (1, 2)

    kinesis = {
        "Records": [
            kinesis_record("1", {"partnerId": "acme"}),
            kinesis_record("2", {"partnerId": "acme", "explode": True}),
            kinesis_record("3", {"partnerId": "globex"}),
        ]
    }
    result, handler = run(kinesis, partners)
    assert handler.calls == [("1", "acme"), ("2", "acme")]
    assert result.reported == ["2", "3"]

    streams = {
        "Records": [
            stream_record("1", "globex"),
            stream_record("2", None),
            stream_record("3", "acme"),
        ]
    }
    result, handler = run(streams, partners)
    assert handler.calls == [("1", "globex")] and result.reported == ["2", "3"]


def test_records_the_deadline_cannot_fit_are_not_started(partners: Partners) -> None:
    event = {"Records": [sqs_record(f"m{i}", {"partnerId": "acme"}) for i in range(3)]}
    result, handler = run(event, partners, deadline=Deadline.after(0))
    assert handler.calls == []
    assert result.reported == ["m0", "m1", "m2"] and result.not_started == 3


def test_a_failing_partner_lookup_reports_the_record(partners: Partners) -> None:
    event = {"Records": [sqs_record("m1", {"who": "GLOBEX"}), sqs_record("m2", {"nobody": 1})]}

    def who(raw: dict[str, Any], given: Any) -> str:
        return str(record_data(given)["who"]).lower()

    result, handler = run(event, partners, lookup=who)
    assert handler.calls == [("m1", "globex")]
    assert result.reported == ["m2"]


def test_stream_records_without_a_new_image_take_the_partner_from_the_old_image_or_keys(
    partners: Partners, caplog: pytest.LogCaptureFixture
) -> None:
    """A REMOVE (a TTL delete too) has no NewImage, a KEYS_ONLY stream only Keys: the partner
    comes from OldImage, else Keys, so such records reach the handler instead of failing
    for ever at the head of their shard. A record with no partner anywhere is reported and
    logged at WARNING: it will fail again on every delivery."""
    removed = stream_record("1", None)
    removed["eventName"] = "REMOVE"
    del removed["dynamodb"]["NewImage"]
    removed["dynamodb"]["OldImage"] = {"partnerId": {"S": "globex"}, "Id": {"N": "101"}}
    keys_only = stream_record("2", None)
    del keys_only["dynamodb"]["NewImage"]
    keys_only["dynamodb"]["Keys"]["partnerId"] = {"S": "acme"}
    nowhere = stream_record("3", None)
    del nowhere["dynamodb"]["NewImage"]

    calls: list[tuple[str, str]] = []

    def handle(record: dict[str, Any], db: PartnerDB) -> None:
        calls.append((record["dynamodb"]["SequenceNumber"], db.partner_id))
        if record["eventName"] == "REMOVE":
            with pytest.raises(BadRequest, match="REMOVE"):
                record_data(record)

    records = [removed, keys_only, nowhere]
    result = run_batch(
        records,
        records,
        Shape.DYNAMODB_STREAMS,
        handle,
        lambda raw, given: partner_id_of(raw, Shape.DYNAMODB_STREAMS),
        partners=partners,
        deadline=Deadline.after(30),
    )
    assert calls == [("1", "globex"), ("2", "acme")]
    assert result.reported == ["3"]
    warned = [
        r for r in caplog.records if r.levelname == "WARNING" and '"item_id":"3"' in r.getMessage()
    ]
    assert warned
