"""Figure: an SQS batch of 100 records over 10 partners, decorator against a hand-written loop.

Both variants run in one warm execution environment each (`batch_app.handler` of
bench/functions/ours and bench/functions/handwritten) and take turns batch by batch. Each record
is one GetItem in its partner's `payments` table (partner and id in the JSON body); `ours` goes
through `@with_partner_db` (per-record partner, DB, deadline, log line, ReportBatchItemFailures),
`handwritten` through a loop with per-record try/except building `batchItemFailures`. Kept per
batch: Lambda's Duration; per variant: the runtime process's RSS after the warm-up and after
every batch (memory must stay flat).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from bench.rig import CACHE_PARTNERS, PAYMENT_ID, BenchError, Rig, rotations
from bench.stats import Summary
from emulators.lambda_runner import FunctionResult, LambdaFunction

WARMUP_BATCHES = 3
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:bench-refunds"


def sqs_batch(records: int, partners: Sequence[str], batch_no: int) -> dict[str, Any]:
    """An SQS event of `records` messages, partners round-robin, all naming the bench payment."""
    return {
        "Records": [
            {
                "messageId": f"b{batch_no}-m{n}",
                "receiptHandle": f"rh-{batch_no}-{n}",
                "body": json.dumps({"partnerId": partners[n % len(partners)], "id": PAYMENT_ID}),
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE_ARN,
                "awsRegion": "us-east-1",
            }
            for n in range(records)
        ]
    }


def rss_kib(pid: int) -> int:
    """Resident set size of process `pid` (KiB)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _checked(variant: str, result: FunctionResult) -> FunctionResult:
    if result.is_error or result.payload != {"batchItemFailures": []}:
        raise BenchError(f"{variant} batch answered {result.payload!r}\n{result.logs[-2000:]}")
    return result


def run_batch(
    rig: Rig,
    variants: Sequence[str],
    batches: int,
    records: int,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """`batches` batches of `records` records per variant, interleaved batch by batch."""
    partners = [p.partner_id for p in CACHE_PARTNERS]
    functions: dict[str, LambdaFunction] = {
        v: rig.function(v, partners=CACHE_PARTNERS, handler="batch_app.handler", timeout_s=30.0)
        for v in variants
    }
    duration: dict[str, list[float]] = {v: [] for v in variants}
    rss: dict[str, list[int]] = {v: [] for v in variants}
    try:
        for variant, fn in functions.items():
            for n in range(WARMUP_BATCHES):
                pid = _checked(variant, fn.invoke(sqs_batch(records, partners, -1 - n))).pid
            assert pid is not None
            rss[variant].append(rss_kib(pid))
        for batch_no, order in enumerate(rotations(variants, batches)):
            for variant in order:
                fn = functions[variant]
                result = _checked(variant, fn.invoke(sqs_batch(records, partners, batch_no)))
                if result.cold_start or result.pid is None:
                    raise BenchError(f"{variant}: a warm batch started a process")
                duration[variant].append(result.duration_ms or 0.0)
                rss[variant].append(rss_kib(result.pid))
            if (batch_no + 1) % 10 == 0:
                log(f"    batch: {batch_no + 1}/{batches}")
        processes = {v: fn.processes_started for v, fn in functions.items()}
    finally:
        for fn in functions.values():
            fn.stop()
            rig.started.remove(fn)
    return {
        "batches": batches,
        "records": records,
        "partners": len(partners),
        "processes_started": processes,
        "variants": {
            v: {
                "duration_ms": {"summary": Summary.of(duration[v]).to_json()},
                "rss_kib": {"after_warmup": rss[v][0], "after_last": rss[v][-1],
                            "max": max(rss[v]), "series": rss[v]},
            }
            for v in variants
        },
    }
