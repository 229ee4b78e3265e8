"""A local stand-in for Lambda's SQS event source mapping, against an SQS endpoint (moto).

One poller per execution environment (`functions`): receive up to `batch_size` messages
(gathering for at most `batching_window_s`), invoke the function with Lambda's SQS event, then
delete what succeeded. As on Lambda:

- a function error, crash or timeout deletes nothing: the whole batch comes back after the
  queue's visibility timeout;
- with `report_batch_item_failures`, a response ``{"batchItemFailures": [{"itemIdentifier":
  id}]}`` keeps exactly those messages; a response naming an id not in the batch (or malformed)
  fails the whole batch; without it, any normal return deletes everything;
- the queue's RedrivePolicy moves a message to its DLQ once received `maxReceiveCount` times.
  moto's SQS implements that move on receive (as SQS does), so the mapping does not.

It knows nothing of what the function does. `run()` stops by itself: when the queue is drained
(nothing visible or in flight), after `max_batches`, or after `max_seconds`.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import boto3

SQS_MAX_RECEIVE = 10  # ReceiveMessage returns at most 10 messages per call
_IDLE_SLEEP_S = 0.05


class InvokeOutcome(Protocol):
    """What the mapping reads of an invocation's result (`emulators` LambdaFunction's)."""

    @property
    def is_error(self) -> bool: ...

    @property
    def payload(self) -> Any: ...

    @property
    def error_type(self) -> str | None: ...


class Invoker(Protocol):
    """Something that runs one invocation synchronously, e.g. a started `LambdaFunction`."""

    def invoke(self, event: Any) -> InvokeOutcome: ...


@dataclass
class MappingStats:
    """What the mapping did, summed over its pollers."""

    batches: int = 0
    messages_received: int = 0
    messages_deleted: int = 0
    item_failures: int = 0  # messages kept because the function reported them failed
    batch_failures: int = 0  # invocations whose whole batch was kept
    error_types: dict[str, int] = field(default_factory=dict)
    deleted_ids: set[str] = field(default_factory=set)
    stopped_because: str = ""


@dataclass(frozen=True)
class QueueDepth:
    visible: int
    in_flight: int
    delayed: int

    @property
    def empty(self) -> bool:
        return self.visible == 0 and self.in_flight == 0 and self.delayed == 0


class SqsEventSource:
    """An event source mapping from one SQS queue to one function (one or more environments)."""

    def __init__(
        self,
        queue_url: str,
        functions: Sequence[Invoker],
        *,
        endpoint_url: str,
        region: str = "us-east-1",
        batch_size: int = 10,
        batching_window_s: float = 0.0,
        report_batch_item_failures: bool = True,
        visibility_timeout_s: int | None = None,
        credentials: dict[str, str] | None = None,
    ) -> None:
        if not functions:
            raise ValueError("functions must hold at least one execution environment")
        if not 1 <= batch_size <= 10_000:
            raise ValueError("batch_size must be 1..10000")
        if batch_size > SQS_MAX_RECEIVE and batching_window_s <= 0:
            raise ValueError("a batch_size over 10 needs a batching_window_s > 0 (as on Lambda)")
        if not 0 <= batching_window_s <= 300:
            raise ValueError("batching_window_s must be 0..300")
        self.queue_url = queue_url
        self.functions = list(functions)
        self.batch_size = batch_size
        self.batching_window_s = batching_window_s
        self.report_batch_item_failures = report_batch_item_failures
        keys = credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        self._sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name=region, **keys)
        attributes = self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])[
            "Attributes"
        ]
        self.queue_arn: str = attributes["QueueArn"]
        self.region = region
        self.fifo = queue_url.endswith(".fifo")
        self.visibility_timeout_s = (
            int(attributes.get("VisibilityTimeout", "30"))
            if visibility_timeout_s is None
            else visibility_timeout_s
        )
        self.stats = MappingStats()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    # running

    def run(self, *, max_seconds: float, max_batches: int = 100_000) -> MappingStats:
        """Poll until the queue is drained, `max_batches` batches ran, or `max_seconds` passed."""
        give_up = time.monotonic() + max_seconds
        self._stop.clear()
        budget = _Budget(max_batches)
        threads = [
            threading.Thread(
                target=self._poll, args=(fn, give_up, budget), name=f"esm-{i}", daemon=True
            )
            for i, fn in enumerate(self.functions)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(0.0, give_up - time.monotonic()) + 60.0)
        self._stop.set()
        with self._lock:
            if not self.stats.stopped_because:
                self.stats.stopped_because = "time" if time.monotonic() >= give_up else "batches"
            return self.stats

    def depth(self) -> QueueDepth:
        """The queue's approximate message counts (visible, in flight, delayed)."""
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        found = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=names)
        values = [int(found["Attributes"].get(name, "0")) for name in names]
        return QueueDepth(*values)

    def _poll(self, function: Invoker, give_up: float, budget: _Budget) -> None:
        # Bounded by give_up (time) and budget (batches); each turn receives or sleeps.
        while not self._stop.is_set() and time.monotonic() < give_up:
            if budget.exhausted():
                with self._lock:
                    self.stats.stopped_because = self.stats.stopped_because or "batches"
                self._stop.set()
                return
            messages = self._gather(give_up)
            if not messages:
                if self.depth().empty:
                    with self._lock:
                        self.stats.stopped_because = self.stats.stopped_because or "drained"
                    self._stop.set()
                    return
                time.sleep(_IDLE_SLEEP_S)
                continue
            if not budget.take():
                self._stop.set()
                return
            self._deliver(function, messages)

    def _gather(self, give_up: float) -> list[dict[str, Any]]:
        """Up to `batch_size` messages, receiving for at most the batching window."""
        window_ends = time.monotonic() + self.batching_window_s
        batch: list[dict[str, Any]] = []
        for _ in range(self.batch_size + 1000):  # each turn adds messages or ends the window
            want = min(SQS_MAX_RECEIVE, self.batch_size - len(batch))
            received = self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=want,
                VisibilityTimeout=self.visibility_timeout_s,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            batch.extend(received)
            now = time.monotonic()
            if len(batch) >= self.batch_size or now >= window_ends or now >= give_up:
                break
            if not received:
                time.sleep(min(_IDLE_SLEEP_S, max(0.0, window_ends - now)))
        return batch

    def _deliver(self, function: Invoker, messages: list[dict[str, Any]]) -> None:
        event = {"Records": [self.record(message) for message in messages]}
        outcome = function.invoke(event)
        ids = {m["MessageId"] for m in messages}
        keep = self._kept(outcome, ids)
        deleted = self._delete([m for m in messages if m["MessageId"] not in keep])
        with self._lock:
            self.stats.batches += 1
            self.stats.messages_received += len(messages)
            self.stats.messages_deleted += deleted
            if keep is ids:
                self.stats.batch_failures += 1
                kind = (outcome.error_type or "Unknown") if outcome.is_error else "InvalidResponse"
                self.stats.error_types[kind] = self.stats.error_types.get(kind, 0) + 1
            else:
                self.stats.item_failures += len(keep)

    def _kept(self, outcome: InvokeOutcome, ids: set[str]) -> set[str]:
        """The message ids to leave on the queue; `ids` itself when the whole batch failed."""
        if outcome.is_error:
            return ids
        if not self.report_batch_item_failures:
            return set()
        failed = batch_item_failures(outcome.payload)
        if failed is None or not failed <= ids:
            return ids  # Lambda treats an unreadable or foreign id as a failure of the batch
        return failed

    def _delete(self, messages: list[dict[str, Any]]) -> int:
        deleted: set[str] = set()
        for start in range(0, len(messages), SQS_MAX_RECEIVE):
            chunk = messages[start : start + SQS_MAX_RECEIVE]
            answer = self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
            deleted.update(chunk[int(ok["Id"])]["MessageId"] for ok in answer.get("Successful", []))
        with self._lock:
            self.stats.deleted_ids |= deleted
        return len(deleted)

    def record(self, message: dict[str, Any]) -> dict[str, Any]:
        """One message as a record of Lambda's SQS event."""
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                name: _record_attribute(value)
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.region,
        }


def batch_item_failures(payload: Any) -> set[str] | None:
    """The ids a ReportBatchItemFailures response names; None when the response is invalid.

    As documented for Lambda: no response, an absent, null or empty list mean "all succeeded"
    (empty set); a response that is not a JSON object, or an item without a non-empty string
    ``itemIdentifier``, fails the whole batch (None).
    """
    if payload is None:
        return set()
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return None
    if payload is None:
        return set()
    if not isinstance(payload, dict):
        return None
    failures = payload.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    ids: set[str] = set()
    for item in failures:
        if not isinstance(item, dict):
            return None
        item_id = item.get("itemIdentifier")
        if not isinstance(item_id, str) or not item_id:
            return None
        ids.add(item_id)
    return ids


def _record_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A ReceiveMessage attribute value in the event's camelCase form."""
    out: dict[str, Any] = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value.get("DataType", "String"),
    }
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return out


class _Budget:
    """A thread-safe count of batches still allowed."""

    def __init__(self, batches: int) -> None:
        self._left = batches
        self._lock = threading.Lock()

    def exhausted(self) -> bool:
        with self._lock:
            return self._left <= 0

    def take(self) -> bool:
        with self._lock:
            if self._left <= 0:
                return False
            self._left -= 1
            return True
