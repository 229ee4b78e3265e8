"""Refunds from a FIFO queue whose message groups are partners, with ``skip_group_on_error``.

A partner that cannot be served (unknown here; revoked or refusing its role in production) and
a poisoned message in a healthy partner's group must hold back only their own group: every
other partner's refunds are made once, in send order, and never reach the DLQ. The refunds
function runs in the real awslambdaric behind the local Runtime API; the queue is moto's SQS
FIFO (which holds back a group while any of its messages is in flight) with a FIFO DLQ.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import boto3

from emulators.sqs_event_source import SqsEventSource
from local.seed import scan_items
from local.stack import DEMO_PARTNERS, Stack
from tests.payments.conftest import Built
from tests.payments.helpers import Payments, drain_queue, sdk_lines

HANDLERS = Path(__file__).parent / "handlers"
MAX_RECEIVE = 2
VISIBILITY_S = 3  # above the function timeout, as Lambda requires
REFUNDS_PER_PARTNER = 5
POISON_AFTER = 2  # acme's third message is malformed


def test_a_failing_group_holds_back_only_itself(stack: Stack, built: Built, tmp_path: Path) -> None:
    payments = Payments(stack.function())
    paid = {
        p.partner_id: payments.create(f"{p.partner_id}-pay", amount=10_000, partner=p.partner_id)[
            "payment"
        ]["id"]
        for p in DEMO_PARTNERS
    }
    task_root = tmp_path / "task"
    shutil.copytree(built.task_root, task_root)
    shutil.copy(HANDLERS / "fifo_refunds.py", task_root / "fifo_refunds.py")
    sqs = boto3.client("sqs", endpoint_url=stack.moto.url, region_name="us-east-1")
    queue, dlq = _fifo_queues(sqs)
    sent = _send(sqs, queue, paid)

    fifo = Stack(moto=stack.moto, opt=built.opt, task_root=task_root, started=stack.started)
    refunds = fifo.function(handler="fifo_refunds.handler", timeout_s=2.0)
    mapping = SqsEventSource(queue, [refunds], endpoint_url=stack.moto.url, batch_size=10)
    stats = mapping.run(max_seconds=120)
    logs = refunds.logs()

    assert stats.stopped_because == "drained", stats
    good = {mid for mid, (_, kind) in sent.items() if kind == "refund"}
    held = set(sent) - good
    records = [line for line in sdk_lines(logs) if line["message"] == "record"]
    done = [r["item_id"] for r in records if r["outcome"] == "ok"]

    # every good refund made exactly once, each group's in send order, and deleted
    assert Counter(done) == Counter(good)
    for partner in DEMO_PARTNERS:
        mine = _group(sent, partner.partner_id)
        assert [mid for mid in done if mid in mine] == [m for m in mine if m in good]
        table = f"{partner.table_prefix}transactions"
        items = scan_items(table, partner.account_id, stack.moto.url)
        assert sum(1 for i in items if i["kind"]["S"] == "refund") == REFUNDS_PER_PARTNER
    assert stats.deleted_ids == good

    # globex's group was never held back: each of its messages delivered once
    delivered = Counter(r["item_id"] for r in records)
    assert all(delivered[mid] == 1 for mid in _group(sent, "globex"))
    # the unknown partner's group and acme's poisoned message went to the DLQ, nothing else
    dead = drain_queue(sqs, dlq)
    assert {m["MessageId"] for m in dead} == held
    assert all(int(m["Attributes"]["ApproximateReceiveCount"]) >= MAX_RECEIVE for m in dead)
    # acme's messages after the poison waited for it, reported as not started, never failed
    after_poison = _group(sent, "acme")[POISON_AFTER + 1 :]
    stopped = [r for r in records if r["item_id"] in after_poison and r["outcome"] != "ok"]
    assert stopped and {r["outcome"] for r in stopped} == {"not_started"}


def _fifo_queues(sqs: Any) -> tuple[str, str]:
    dlq = sqs.create_queue(QueueName="refunds-dlq.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]
    redrive = {"deadLetterTargetArn": arn["QueueArn"], "maxReceiveCount": str(MAX_RECEIVE)}
    queue = sqs.create_queue(
        QueueName="refunds.fifo",
        Attributes={
            "FifoQueue": "true",
            "VisibilityTimeout": str(VISIBILITY_S),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    return queue, dlq


def _send(sqs: Any, queue: str, paid: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Interleave the groups: acme, globex and the unknown initech; returns message id ->
    (group, kind) in send order."""
    sent: dict[str, tuple[str, str]] = {}
    for n in range(REFUNDS_PER_PARTNER + 1):
        for group in ("acme", "initech", "globex"):
            if group == "initech" and n >= 3:
                continue
            if group != "acme" and n == REFUNDS_PER_PARTNER:
                continue
            kind = "refund"
            body: Any = {
                "partnerId": group,
                "id": paid.get(group, "pay_x"),
                "amount": 3,
                "idempotencyKey": f"{group}-refund-{n}",
            }
            if group == "initech":
                kind = "unknown partner"
            if group == "acme" and n == POISON_AFTER:
                kind, body = "malformed", ["not", "an", "object"]
            message = sqs.send_message(
                QueueUrl=queue,
                MessageBody=json.dumps(body),
                MessageGroupId=group,
                MessageDeduplicationId=f"{group}-{n}",
            )
            sent[message["MessageId"]] = (group, kind)
    return sent


def _group(sent: dict[str, tuple[str, str]], group: str) -> list[str]:
    return [mid for mid, (g, _) in sent.items() if g == group]
