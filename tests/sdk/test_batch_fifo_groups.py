"""``skip_group_on_error``: in an SQS FIFO batch a failure stops only its message group.

SQS keeps order within a message group, never across groups, so a partner whose records fail
(a revoked role, a poisoned message) need not send every other group's records back to the
queue, and towards its DLQ. Default: the whole batch stops (issue 12's contract).
"""

from __future__ import annotations

from typing import Any

import pytest

from handler_sdk import with_partner_db
from handler_sdk.batch import WHOLE_BATCH, stop_scope
from handler_sdk.events import Shape
from partnerdb import Deadline, PartnerDB, Partners
from tests.sdk.test_batch import kinesis_record, run, sqs_record
from tests.support import FakeContext

FIFO_ARN = "arn:aws:sqs:us-east-1:123456789012:refunds.fifo"


def fifo(*records: tuple[str, str | None, dict[str, Any]]) -> dict[str, Any]:
    """A FIFO batch of (message id, group, body) as Lambda delivers it."""
    batch = []
    for number, (message_id, group, body) in enumerate(records, start=1):
        record = sqs_record(message_id, body)
        record["eventSourceARN"] = FIFO_ARN
        record["attributes"]["SequenceNumber"] = str(18849496460467696128 + number)
        record["attributes"]["MessageDeduplicationId"] = message_id
        if group is not None:
            record["attributes"]["MessageGroupId"] = group
        batch.append(record)
    return {"Records": batch}


FAIL = {"partnerId": "globex", "explode": True}
ACME = {"partnerId": "acme"}
GLOBEX = {"partnerId": "globex"}


def mixed() -> dict[str, Any]:
    return fifo(
        ("a1", "acme", ACME),
        ("g1", "globex", FAIL),
        ("a2", "acme", ACME),
        ("g2", "globex", GLOBEX),
        ("u1", "initech", {"partnerId": "initech"}),
        ("a3", "acme", ACME),
        ("u2", "initech", ACME),
        ("g3", "globex", GLOBEX),
    )


def test_a_failure_stops_only_its_group(partners: Partners) -> None:
    result, handler = run(mixed(), partners, skip_group_on_error=True)
    assert handler.calls == [("a1", "acme"), ("g1", "globex"), ("a2", "acme"), ("a3", "acme")]
    assert result.reported == ["g1", "g2", "u1", "u2", "g3"]
    outcomes = {r.item_id: (r.outcome, r.error_type) for r in result.results}
    assert outcomes["g1"] == ("failed", "RuntimeError")
    assert outcomes["u1"] == ("failed", "UnknownPartner")
    assert outcomes["g2"] == outcomes["u2"] == outcomes["g3"] == ("not_started", None)


def test_by_default_the_whole_batch_stops(partners: Partners) -> None:
    result, handler = run(mixed(), partners)
    assert handler.calls == [("a1", "acme"), ("g1", "globex")]
    assert result.reported == ["g1", "a2", "g2", "u1", "a3", "u2", "g3"]


def test_a_record_without_a_group_stops_the_whole_batch(partners: Partners) -> None:
    event = fifo(("a1", "acme", ACME), ("x1", None, FAIL), ("g1", "globex", GLOBEX))
    result, handler = run(event, partners, skip_group_on_error=True)
    assert handler.calls == [("a1", "acme"), ("x1", "globex")]
    assert result.reported == ["x1", "g1"]


def test_unordered_and_stream_batches_are_as_without_it(partners: Partners) -> None:
    standard = {"Records": [sqs_record("m1", FAIL), sqs_record("m2", ACME)]}
    for record in standard["Records"]:
        record["attributes"]["MessageGroupId"] = "globex"  # ignored: not a FIFO queue
    result, handler = run(standard, partners, skip_group_on_error=True)
    assert len(handler.calls) == 2 and result.reported == ["m1"]

    kinesis = {"Records": [kinesis_record("1", FAIL), kinesis_record("2", ACME)]}
    result, handler = run(kinesis, partners, skip_group_on_error=True)
    assert len(handler.calls) == 1 and result.reported == ["1", "2"]


def test_records_the_deadline_cannot_fit_are_not_started_in_any_group(
    partners: Partners,
) -> None:
    result, handler = run(mixed(), partners, skip_group_on_error=True, deadline=Deadline.after(0))
    assert handler.calls == [] and result.not_started == 8
    first_of_each_group = {"a1", "g1", "u1"}
    for r in result.results:  # the others are held back by their group
        assert r.error_type == ("DeadlineExceeded" if r.item_id in first_of_each_group else None)


def test_stop_scope() -> None:
    record = fifo(("a1", "acme", ACME))["Records"][0]
    assert stop_scope(record, Shape.SQS, ordered=True, by_group=True) == "acme"
    assert stop_scope(record, Shape.SQS, ordered=True, by_group=False) == WHOLE_BATCH
    assert stop_scope(record, Shape.SQS, ordered=False, by_group=True) is None
    record["attributes"]["MessageGroupId"] = ""
    assert stop_scope(record, Shape.SQS, ordered=True, by_group=True) == WHOLE_BATCH
    assert stop_scope(object(), Shape.SQS, ordered=True, by_group=True) == WHOLE_BATCH


@pytest.mark.parametrize(("option", "reported"), [(True, ["g1", "g2"]), (False, None)])
def test_through_the_decorator(
    partners: Partners, option: bool, reported: list[str] | None
) -> None:
    seen: list[str] = []

    @with_partner_db(partners=partners, skip_group_on_error=option)
    def handler(record: dict[str, Any], context: Any, db: PartnerDB) -> None:
        seen.append(record["messageId"])
        if "explode" in record["body"]:
            raise RuntimeError("handler failure")

    event = fifo(("g1", "globex", FAIL), ("a1", "acme", ACME), ("g2", "globex", GLOBEX))
    response = handler(event, FakeContext())
    expected = reported if reported is not None else ["g1", "a1", "g2"]
    assert response == {"batchItemFailures": [{"itemIdentifier": i} for i in expected]}
    assert seen == (["g1", "a1"] if option else ["g1"])
