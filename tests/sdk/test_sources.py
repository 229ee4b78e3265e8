"""Every event source through the decorator, on Powertools' own published sample events.

SQS, Kinesis and DynamoDB Streams answer ReportBatchItemFailures (records without a usable
partner are reported, never dropped); EventBridge raises by default, so the rule retries;
API Gateway v1/v2 and function URLs answer a proxy response; an event of a source the SDK does
not know fails naming it. ``errors="raise"`` re-raises failures as typed exceptions after the
log line is written.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from handler_sdk import BadRequest, UnsupportedEvent, failures, with_partner_db
from partnerdb import PartnerDB, Partners
from tests.sdk.conftest import EVENTS, body, log_lines
from tests.sdk.models import Payment
from tests.support import FakeContext

POWERTOOLS = EVENTS / "powertools"


def sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((POWERTOOLS / f"{name}.json").read_text())
    return event


class Seen:
    """A handler recording (partner, event) and reading p-1 of the partner."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def __call__(self, event: Any, context: Any, db: PartnerDB) -> Any:
        self.calls.append((db.partner_id, event))
        return {"amount": db.model(Payment).get("p-1").amount}


def decorated(partners: Partners, **options: Any) -> tuple[Seen, Any]:
    seen = Seen()
    return seen, with_partner_db(models=[Payment], partners=partners, **options)(seen)


def test_sqs_sample_without_partner_reports_every_record(
    partners: Partners, caplog: pytest.LogCaptureFixture
) -> None:
    seen, handler = decorated(partners)
    event = sample("sqsEvent")
    caplog.clear()
    assert handler(event, FakeContext()) == {
        "batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]
    }
    assert seen.calls == []
    lines = log_lines(caplog)
    (invocation,) = [x for x in lines if x["message"] == "invocation"]
    assert invocation["shape"] == "sqs"
    assert (invocation["records"], invocation["failed"], invocation["not_started"]) == (2, 2, 0)
    assert [x["item_id"] for x in lines if x["message"] == "record"] == [
        r["messageId"] for r in event["Records"]
    ]


def test_sqs_sample_with_partners_calls_the_handler_per_record(partners: Partners) -> None:
    seen, handler = decorated(partners)
    event = sample("sqsEvent")
    first, second = event["Records"]
    first["messageAttributes"]["partnerId"] = {"stringValue": "acme", "dataType": "String"}
    second["body"] = json.dumps({"partnerId": "globex", "message": "foo1"})
    assert handler(event, FakeContext()) == {"batchItemFailures": []}
    assert [(pid, rec["messageId"]) for pid, rec in seen.calls] == [
        ("acme", first["messageId"]),
        ("globex", second["messageId"]),
    ]


def test_kinesis_sample_not_json_stops_at_the_first_record(partners: Partners) -> None:
    seen, handler = decorated(partners)
    event = sample("kinesisStreamEvent")
    ids = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
    assert handler(event, FakeContext()) == {
        "batchItemFailures": [{"itemIdentifier": i} for i in ids]
    }
    good = copy.deepcopy(event)
    for record in good["Records"]:
        record["kinesis"]["data"] = base64.b64encode(b'{"partnerId": "globex"}').decode()
    assert handler(good, FakeContext()) == {"batchItemFailures": []}
    assert [pid for pid, _ in seen.calls] == ["globex", "globex"]


def test_dynamodb_streams_sample(partners: Partners) -> None:
    seen, handler = decorated(partners)
    event = sample("dynamoStreamEvent")
    assert handler(event, FakeContext()) == {
        "batchItemFailures": [{"itemIdentifier": "111"}, {"itemIdentifier": "222"}]
    }
    for record in event["Records"]:
        record["dynamodb"]["NewImage"]["partnerId"] = {"S": "acme"}
    assert handler(event, FakeContext()) == {"batchItemFailures": []}
    assert [pid for pid, _ in seen.calls] == ["acme", "acme"]


def test_eventbridge_sample_raises_by_default(
    partners: Partners, caplog: pytest.LogCaptureFixture
) -> None:
    seen, handler = decorated(partners)
    event = sample("eventBridgeEvent")
    caplog.clear()
    with pytest.raises(BadRequest, match="partnerId"):
        handler(event, FakeContext())
    (line,) = log_lines(caplog)  # written before raising
    assert (line["shape"], line["status"]) == ("eventbridge", 400)
    event["detail"]["partnerId"] = "globex"
    response = handler(event, FakeContext())
    assert response == {"success": True, "status": 200, "data": {"amount": 99}}
    with pytest.raises(failures.UnknownPartner):
        handler(event | {"detail": {"partnerId": "initech"}}, FakeContext())
    assert [pid for pid, _ in seen.calls] == ["globex"]


def test_eventbridge_errors_return_answers_instead(partners: Partners) -> None:
    _, handler = decorated(partners, errors="return")
    response = handler(sample("eventBridgeEvent"), FakeContext())
    assert response["success"] is False and response["status"] == 400


@pytest.mark.parametrize(
    "name", ["apiGatewayProxyEvent", "apiGatewayProxyV2Event", "lambdaFunctionUrlEvent"]
)
def test_http_samples(partners: Partners, name: str) -> None:
    seen, handler = decorated(partners)
    event = sample(name)
    response = handler(event, FakeContext())
    assert response["statusCode"] == 400
    assert "X-Partner-Id" in body(response)["error"]
    event["headers"]["X-Partner-Id"] = "acme"
    response = handler(event, FakeContext())
    assert response["statusCode"] == 200 and body(response) == {"data": {"amount": 10.5}}
    assert [pid for pid, _ in seen.calls] == ["acme"]


def test_an_unknown_shape_is_named_and_raised(partners: Partners) -> None:
    sns = {"Records": [{"EventSource": "aws:sns", "EventSubscriptionArn": "arn", "Sns": {}}]}
    seen, handler = decorated(partners)
    with pytest.raises(UnsupportedEvent, match="aws:sns"):
        handler(sns, FakeContext())
    _, returning = decorated(partners, errors="return")
    response = returning(sns, FakeContext())
    assert response["success"] is False and response["status"] == 400
    assert "aws:sns" in response["error"]
    assert seen.calls == []


OTHER_SOURCES = {
    "kafkaEventMsk": "aws:kafka",
    "kafkaEventSelfManaged": "aws:SelfManagedKafka",
    "activeMQEvent": "aws:amq",
    "rabbitMQEvent": "aws:rmq",
    "cloudWatchLogEvent": "CloudWatch Logs",
    "kinesisFirehosePutEvent": "Firehose",
    "s3BatchOperationEventSchemaV2": "S3 Batch Operations",
    "cognitoPreSignUpEvent": "Cognito",
    "cloudformationCustomResourceCreate": "CloudFormation",
}


@pytest.mark.parametrize(("name", "named"), sorted(OTHER_SOURCES.items()))
def test_events_of_other_sources_are_raised_not_answered(
    partners: Partners, name: str, named: str
) -> None:
    """Kafka, Amazon MQ, CloudWatch Logs and the rest retry (or fail visibly) only on a raised
    error: answered as a direct invoke's 400 they would count as processed."""
    seen, handler = decorated(partners)
    with pytest.raises(UnsupportedEvent, match=named):
        handler(sample(name), FakeContext())
    assert seen.calls == []


def test_an_eventbridge_pipes_batch_is_raised_not_answered(partners: Partners) -> None:
    """EventBridge Pipes hands a Lambda target a JSON array of the source's records."""
    seen, handler = decorated(partners)
    with pytest.raises(UnsupportedEvent, match="JSON array"):
        handler(sample("sqsEvent")["Records"], FakeContext())
    assert seen.calls == []


def test_errors_raise_on_a_direct_invoke(
    partners: Partners, caplog: pytest.LogCaptureFixture
) -> None:
    _, handler = decorated(partners, errors="raise")
    caplog.clear()
    with pytest.raises(failures.UnknownPartner) as raised:
        handler({"partnerId": "initech"}, FakeContext())
    assert str(raised.value) == "unknown partner" and raised.value.status == 403
    with pytest.raises(failures.DeadlineExceeded, match="lambda timeout exceeded"):
        handler({"partnerId": "acme"}, FakeContext(remaining_ms=500))
    lines = log_lines(caplog)
    assert [(x["status"], x.get("errorType")) for x in lines] == [
        (403, "UnknownPartner"),
        (504, "DeadlineExceeded"),
    ]
    assert handler({"partnerId": "acme"}, FakeContext())["data"] == {"amount": 10.5}


def test_the_errors_option_is_checked_when_decorating(partners: Partners) -> None:
    with pytest.raises(ValueError, match="errors"):
        with_partner_db(partners=partners, errors="ignore")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="keyword-only"):
        with_partner_db(lambda e, c, db: None, "raise")  # type: ignore[call-overload]


def test_partner_from_receives_each_record(partners: Partners) -> None:
    seen, handler = decorated(partners, partner_from=lambda record: record["messageId"][:4])
    event = sample("sqsEvent")
    event["Records"][0]["messageId"] = "acme-1"
    event["Records"][1]["messageId"] = "nope!"  # not a valid partner id: reported
    assert handler(event, FakeContext()) == {"batchItemFailures": [{"itemIdentifier": "nope!"}]}
    assert [(pid, rec["messageId"]) for pid, rec in seen.calls] == [("acme", "acme-1")]


def test_a_batch_that_fails_as_a_whole_is_raised_never_answered(partners: Partners) -> None:
    """An answer without batchItemFailures would make Lambda delete every record."""

    class BrokenContext(FakeContext):
        def get_remaining_time_in_millis(self) -> int:
            return "soon"  # type: ignore[return-value]

    event = sample("sqsEvent")
    for errors in (None, "return"):
        seen, handler = decorated(partners, errors=errors)
        with pytest.raises(failures.InternalError):
            handler(event, BrokenContext())
        assert seen.calls == []
