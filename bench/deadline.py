"""Figure 4: how far past the deadline a hung, or trickling, DynamoDB call ends.

In a worker: partnerdb with STS answered by `bench.responder` and DynamoDB pointed at a
`emulators.fault_server.FaultServer` that either accepts every request and never answers (mode
`hang`) or answers with a body sent one byte every 0.3 s (mode `trickle`: each socket read
gets a byte in time, so only a cut of the whole attempt stops it). Each run binds a
`Deadline.after(deadline_s)` and calls `db.model(Payment).get(id)`; the figure is the time
from the deadline to the call's end (the error it ends with is recorded too: it should be
`DeadlineExceeded`). Without the hooks a hung call would end at the client's read timeout
times its attempts (partnerdb's default 10 s read timeout, 3 attempts), a trickling one when
its last byte arrives (12 s here).
"""

from __future__ import annotations

import os
import time
from typing import Any

from bench.cache import bench_payment_model
from bench.responder import Responder
from bench.stats import Summary
from bench.worker import worker_main
from emulators.fault_server import Behaviour, FaultServer, Reply, hang, trickle

#: 40 bytes of valid JSON: 12 s at one byte every 0.3 s.
_SLOW_BODY = b'{"Item": {}' + b" " * 28 + b"}"


def _empty_item(path: str, headers: dict[str, str], body: bytes) -> Reply:
    return 200, {"Content-Type": "application/x-amz-json-1.0"}, _SLOW_BODY


MODES: dict[str, Behaviour] = {"hang": hang, "trickle": trickle(_empty_item, interval=0.3)}


def deadline_task(args: dict[str, Any]) -> dict[str, Any]:
    """Worker: `runs` hung (or trickling) GetItems each bound by `Deadline.after(deadline_s)`."""
    from partnerdb import ClientSettings, Deadline, PartnerConfig, Partners

    runs, deadline_s = int(args["runs"]), float(args["deadline_s"])
    mode = str(args.get("mode", "hang"))
    over_ms: list[float] = []
    errors: dict[str, int] = {}
    with Responder() as responder, FaultServer(MODES[mode]) as hung:
        os.environ["AWS_ENDPOINT_URL_STS"] = responder.url
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = hung.url
        payment = bench_payment_model()
        config = PartnerConfig(
            partner_id="acme",
            role_arn="arn:aws:iam::111111111111:role/partnerdb-access",
            external_id="acme-7Hq2-external",
            region="us-east-1",
            table_prefix="acme_",
        )
        partners = Partners([config], settings=ClientSettings(), function_name="bench")
        partners.register_models(payment)
        for _ in range(runs):
            deadline = Deadline.after(deadline_s)
            try:
                with partners.db("acme", deadline=deadline) as db:
                    db.model(payment).get("pay_bench")
                name = "no error"
            except Exception as exc:  # the figure records whatever the call ended with
                name = type(exc).__name__
            over_ms.append((time.monotonic() - deadline.expires_at) * 1000.0)
            errors[name] = errors.get(name, 0) + 1
        requests = hung.requests
    return {
        "runs": runs,
        "mode": mode,
        "deadline_s": deadline_s,
        "past_deadline_ms": Summary.of(over_ms).to_json(),
        "samples_ms": [round(x, 2) for x in over_ms],
        "errors": errors,
        "hung_requests": requests,
        "sts_calls": partners.stats.sts_calls,
    }


if __name__ == "__main__":
    worker_main({"deadline": deadline_task})
