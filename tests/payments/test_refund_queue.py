"""1,000 refund messages over 8 partners through the local SQS event source mapping, with faults.

The refunds function (functions/payments/refunds.py) runs in the real awslambdaric behind the
local Runtime API; the queue is moto's SQS with a DLQ after MAX_RECEIVE receives; DynamoDB is
reached through a fault server that forwards to moto, except when it injects: bursts of 500s
and of throttling, a hung call (cut by the deadline), a connection killed after the write went
through, and one function timeout after a batch committed. Then the three counts:

- every good message's refund exists exactly once in its partner's account (and the payments'
  refunded totals add up);
- every bad message (unknown partner, malformed body, missing payment) is in the DLQ, received
  MAX_RECEIVE times;
- nothing was deleted that was not processed: the deleted messages are exactly the good ones,
  each with a successful record line in the function's log.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest

from emulators.fault_server import FaultServer, Reply, dynamodb_500, dynamodb_throttle, forward_to
from emulators.moto_server import MotoServer
from emulators.sqs_event_source import SqsEventSource
from local.seed import PartnerAccount, scan_items
from local.stack import Stack, seed_partners
from tests.payments.conftest import Built
from tests.payments.helpers import Payments, drain_queue, sdk_lines

HANDLERS = Path(__file__).parent / "handlers"
PARTNERS = tuple(
    PartnerAccount(f"p{i}", f"3{i:011d}", f"p{i}-external-{i * 7919}", table_prefix=f"p{i}_")
    for i in range(8)
)
MAX_RECEIVE = 6
VISIBILITY_S = 4  # above the function timeout, as Lambda requires
FUNCTION_TIMEOUT_S = 3.0
PAYMENTS_PER_PARTNER = 4
REFUND = 7
GOOD_PER_PARTNER = 110  # 880 good messages
BAD = 120  # 40 unknown partners, 40 malformed bodies, 40 refunds of missing payments


class FaultPlan:
    """DynamoDB through a fault server: forward to moto, with faults at fixed request counts.

    Each fault fires at the first matching request at or after its position; `fired` counts
    what was injected.
    """

    def __init__(self, moto_url: str) -> None:
        self.forward = forward_to(moto_url)
        self.lock = threading.Lock()
        self.requests = 0
        self.fired: Counter[str] = Counter()
        self.plan: list[tuple[int, str, int]] = []
        for base in (150, 1650):
            self.plan += [
                (base, "500", 8),
                (base + 300, "throttle", 8),
                (base + 600, "hang", 1),
                (base + 900, "kill-after-write", 1),
            ]

    def __call__(self, path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        target = headers.get("X-Amz-Target", "")
        with self.lock:
            self.requests += 1
            kind = self._due(target)
        if kind == "500":
            return dynamodb_500(path, headers, body)
        if kind == "throttle":
            return dynamodb_throttle(path, headers, body)
        if kind == "hang":
            return None
        reply = self.forward(path, headers, body)
        if kind == "kill-after-write":
            raise ConnectionAbortedError("fault: connection killed after the write")
        return reply

    def _due(self, target: str) -> str | None:
        for i, (at, kind, left) in enumerate(self.plan):
            if self.requests < at or left <= 0:
                continue
            if kind == "kill-after-write" and not target.endswith("TransactWriteItems"):
                continue
            self.plan[i] = (at, kind, left - 1)
            self.fired[kind] += 1
            return kind
        return None


def refund_id(key: str) -> str:
    return "refund_" + hashlib.sha256(key.encode()).hexdigest()[:24]


@pytest.mark.slow
def test_a_thousand_messages_with_faults_nothing_lost_nothing_twice(
    moto: MotoServer, built: Built, payment_models: tuple[Any, ...], tmp_path: Path
) -> None:
    seed_partners(moto, PARTNERS, payment_models)
    task_root = tmp_path / "task"
    shutil.copytree(built.task_root, task_root)
    shutil.copy(HANDLERS / "stall_once.py", task_root / "stall_once.py")
    stack = Stack(moto=moto, opt=built.opt, task_root=task_root, partners=PARTNERS)
    plan = FaultPlan(moto.url)
    faults = FaultServer(plan).start()
    try:
        payments = Payments(stack.function())
        targets = {
            p.partner_id: [
                payments.create(f"{p.partner_id}-pay-{n}", amount=100_000, partner=p.partner_id)[
                    "payment"
                ]["id"]
                for n in range(PAYMENTS_PER_PARTNER)
            ]
            for p in PARTNERS
        }
        sqs = boto3.client("sqs", endpoint_url=moto.url, region_name="us-east-1")
        queue, dlq = _queues(sqs)
        good, bad = _send_all(sqs, queue, targets)

        refunds = stack.function(
            handler="stall_once.handler",
            timeout_s=FUNCTION_TIMEOUT_S,
            env={"AWS_ENDPOINT_URL_DYNAMODB": faults.url},
        )
        mapping = SqsEventSource(queue, [refunds], endpoint_url=moto.url, batch_size=10)
        stats = mapping.run(max_seconds=600)
        logs = refunds.logs()
    finally:
        stack.stop_functions()
        faults.stop()

    assert stats.stopped_because == "drained", stats
    # the faults did happen, each kind
    assert set(plan.fired) == {"500", "throttle", "hang", "kill-after-write"}, plan.fired
    assert stats.error_types.get("Sandbox.Timedout") == 1, stats.error_types
    records = [line for line in sdk_lines(logs) if line["message"] == "record"]
    assert any(r.get("errorType") == "DeadlineExceeded" for r in records)

    # 1. every good message's refund exactly once, in its partner's account
    for partner in PARTNERS:
        mine = {mid: m for mid, m in good.items() if m["partnerId"] == partner.partner_id}
        items = scan_items(f"{partner.table_prefix}transactions", partner.account_id, moto.url)
        refunds_made = Counter(i["id"]["S"] for i in items if i["kind"]["S"] == "refund")
        assert refunds_made == Counter(refund_id(m["idempotencyKey"]) for m in mine.values())
        per_payment = Counter(m["id"] for m in mine.values())
        for item in scan_items(f"{partner.table_prefix}payments", partner.account_id, moto.url):
            assert int(item["refunded"]["N"]) == REFUND * per_payment[item["id"]["S"]]

    # 2. every bad message in the DLQ, after MAX_RECEIVE receives
    dead = drain_queue(sqs, dlq)
    assert {m["MessageId"] for m in dead} == set(bad)
    assert all(int(m["Attributes"]["ApproximateReceiveCount"]) >= MAX_RECEIVE for m in dead)

    # 3. nothing deleted unprocessed: deleted == good, each with a successful record line
    succeeded = {r["item_id"] for r in records if r["outcome"] == "ok"}
    assert stats.deleted_ids == set(good)
    assert set(good) <= succeeded and not succeeded & set(bad)
    assert drain_queue(sqs, queue) == []
    assert (len(good), len(bad), len(good) + len(bad)) == (880, BAD, 1000)


def _queues(sqs: Any) -> tuple[str, str]:
    dlq = sqs.create_queue(QueueName="refunds-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]
    redrive = {"deadLetterTargetArn": arn["QueueArn"], "maxReceiveCount": str(MAX_RECEIVE)}
    queue = sqs.create_queue(
        QueueName="refunds",
        Attributes={"VisibilityTimeout": str(VISIBILITY_S), "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    return queue, dlq


def _send_all(
    sqs: Any, queue: str, targets: dict[str, list[str]]
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Send the 1,000 messages, interleaved; return (good id -> refund, bad id -> why)."""
    entries: list[tuple[dict[str, Any], dict[str, Any] | None, str | None]] = []
    for n in range(GOOD_PER_PARTNER):
        for p, partner in enumerate(PARTNERS):
            pid = partner.partner_id
            refund = {
                "partnerId": pid,
                "id": targets[pid][n % PAYMENTS_PER_PARTNER],
                "amount": REFUND,
                "idempotencyKey": f"{pid}-refund-{n}",
            }
            attributes: dict[str, Any] = {}
            body = dict(refund)
            if (n + p) % 2:  # half name the partner in a message attribute only
                del body["partnerId"]
                attributes["partnerId"] = {"DataType": "String", "StringValue": pid}
            if n == 50 and p == 3:
                attributes["stall"] = {"DataType": "String", "StringValue": "once"}
            entries.append(
                ({"MessageBody": json.dumps(body), "MessageAttributes": attributes}, refund, None)
            )
    malformed = ["{not json", "[]", '"a string"', '{"partnerId": 42}']
    for n in range(BAD // 3):
        unknown = {
            "partnerId": f"initech{n % 3}",
            "id": "pay_x",
            "amount": 1,
            "idempotencyKey": f"u{n}",
        }
        missing = {
            "partnerId": PARTNERS[n % 8].partner_id,
            "id": f"pay_missing_{n}",
            "amount": 1,
            "idempotencyKey": f"m{n}",
        }
        entries.insert(n * 23, ({"MessageBody": json.dumps(unknown)}, None, "unknown partner"))
        entries.insert(n * 23 + 7, ({"MessageBody": malformed[n % 4]}, None, "malformed"))
        entries.insert(n * 23 + 15, ({"MessageBody": json.dumps(missing)}, None, "no payment"))
    good: dict[str, dict[str, Any]] = {}
    bad: dict[str, str] = {}
    for start in range(0, len(entries), 10):
        chunk = entries[start : start + 10]
        answer = sqs.send_message_batch(
            QueueUrl=queue,
            Entries=[{"Id": str(i), **message} for i, (message, _, _) in enumerate(chunk)],
        )
        assert not answer.get("Failed"), answer
        for sent in answer["Successful"]:
            _, refund, why = chunk[int(sent["Id"])]
            if refund is not None:
                good[sent["MessageId"]] = refund
            else:
                bad[sent["MessageId"]] = str(why)
    return good, bad
