"""The SQS event source mapping stand-in against moto's SQS, invoking through awslambdaric.

Counts, not timings: every message ends either deleted after a successful delivery or in the
DLQ after `maxReceiveCount` receives, and a failed batch is delivered again, whole.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from emulators.lambda_runner import LambdaFunction
from emulators.moto_server import MotoServer
from emulators.sqs_event_source import SqsEventSource, batch_item_failures

HANDLERS = Path(__file__).parent / "handlers"
MAX_RECEIVE = 3


@pytest.fixture(scope="module")
def consumer() -> Iterator[LambdaFunction]:
    with LambdaFunction(
        "queue_probe.handler", HANDLERS, function_name="queue-probe", timeout_s=2.0
    ) as fn:
        yield fn


@pytest.fixture
def sqs(moto: MotoServer) -> Any:
    return boto3.client("sqs", endpoint_url=moto.url, region_name="us-east-1")


def make_queue(sqs: Any, name: str, visibility_s: int = 1) -> tuple[str, str]:
    """A queue with a DLQ after MAX_RECEIVE receives; returns (queue url, dlq url)."""
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility_s),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE)}
            ),
        },
    )["QueueUrl"]
    return queue, dlq


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message left in `url` (bounded)."""
    found: list[dict[str, Any]] = []
    for _ in range(100):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)
        if not got.get("Messages"):
            break
        found.extend(got["Messages"])
    return found


def deliveries(logs: str) -> Counter[str]:
    return Counter(line.split()[1] for line in logs.splitlines() if line.startswith("delivered "))


def send(sqs: Any, url: str, bodies: list[str]) -> dict[str, str]:
    """Send each body; return message id -> body."""
    return {sqs.send_message(QueueUrl=url, MessageBody=b)["MessageId"]: b for b in bodies}


def test_successes_deleted_reported_failures_redriven_to_the_dlq(
    sqs: Any, consumer: LambdaFunction
) -> None:
    queue, dlq = make_queue(sqs, "partial")
    sent = send(sqs, queue, ["ok"] * 23 + ["fail"] * 4)
    log_start = len(consumer.logs())
    mapping = SqsEventSource(queue, [consumer], endpoint_url=sqs.meta.endpoint_url, batch_size=10)
    stats = mapping.run(max_seconds=60)
    seen = deliveries(consumer.logs()[log_start:])

    assert stats.stopped_because == "drained"
    in_dlq = {m["MessageId"] for m in drain(sqs, dlq)}
    assert in_dlq == {mid for mid, body in sent.items() if body == "fail"}
    assert drain(sqs, queue) == []
    assert stats.messages_deleted == 23
    for mid, body in sent.items():
        assert seen[mid] == (MAX_RECEIVE if body == "fail" else 1), body
    assert stats.item_failures == 4 * MAX_RECEIVE and stats.batch_failures == 0


@pytest.mark.parametrize(
    ("body", "error_type"), [("first-error", "RuntimeError"), ("first-sleep", "Sandbox.Timedout")]
)
def test_a_failed_invocation_delivers_the_whole_batch_again(
    sqs: Any, consumer: LambdaFunction, body: str, error_type: str
) -> None:
    queue, dlq = make_queue(sqs, f"whole-{body}", visibility_s=3)
    sent = send(sqs, queue, ["ok"] * 4 + [body])
    log_start = len(consumer.logs())
    mapping = SqsEventSource(
        queue, [consumer], endpoint_url=sqs.meta.endpoint_url, batch_size=5, batching_window_s=1
    )
    stats = mapping.run(max_seconds=60)
    seen = deliveries(consumer.logs()[log_start:])

    assert stats.stopped_because == "drained"
    assert stats.batch_failures == 1 and list(stats.error_types) == [error_type]
    assert stats.messages_deleted == 5 and drain(sqs, dlq) == []
    assert all(seen[mid] == 2 for mid in sent if sent[mid] == "ok")


def test_an_id_not_in_the_batch_fails_the_whole_batch(sqs: Any, consumer: LambdaFunction) -> None:
    queue, dlq = make_queue(sqs, "foreign")
    sent = send(sqs, queue, ["ok", "foreign"])
    mapping = SqsEventSource(
        queue, [consumer], endpoint_url=sqs.meta.endpoint_url, batch_size=2, batching_window_s=1
    )
    stats = mapping.run(max_seconds=60)
    assert stats.messages_deleted == 0 and stats.batch_failures >= 1
    assert {m["MessageId"] for m in drain(sqs, dlq)} == set(sent)


def test_it_stops_by_itself_when_time_runs_out(sqs: Any, consumer: LambdaFunction) -> None:
    queue, _ = make_queue(sqs, "slow", visibility_s=30)
    send(sqs, queue, ["fail"])
    stats = SqsEventSource(queue, [consumer], endpoint_url=sqs.meta.endpoint_url).run(max_seconds=2)
    assert stats.stopped_because == "time" and stats.batches == 1


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "m1"}]}, {"m1"}),
        ('{"batchItemFailures": [{"itemIdentifier": "m2"}]}', {"m2"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, None),
        ({"batchItemFailures": [{"itemIdentifer": "m1"}]}, None),
        ({"batchItemFailures": "m1"}, None),
        ("not json", None),
        ([1], None),
    ],
)
def test_reading_a_report_batch_item_failures_response(payload: Any, expected: Any) -> None:
    assert batch_item_failures(payload) == expected


def test_it_stops_after_max_batches(sqs: Any, consumer: LambdaFunction) -> None:
    queue, _ = make_queue(sqs, "budget", visibility_s=30)
    send(sqs, queue, ["ok", "fail"])
    mapping = SqsEventSource(
        queue, [consumer], endpoint_url=sqs.meta.endpoint_url, batch_size=2, batching_window_s=1
    )
    stats = mapping.run(max_seconds=30, max_batches=1)
    assert stats.stopped_because == "batches" and stats.batches == 1
    assert (stats.messages_deleted, stats.item_failures) == (1, 1)
