"""Figure 4: how far past the deadline a hung DynamoDB call ends.

In a worker: partnerdb with STS answered by `bench.responder` and DynamoDB pointed at a
`emulators.fault_server.FaultServer(hang)` that accepts every request and never answers. Each run
binds a `Deadline.after(0.5)` and calls `db.model(Payment).get(id)`; the figure is the time
from the deadline to the call's end (the error it ends with is recorded too: it should be
`DeadlineExceeded`). Without the hooks the same call would end at the client's read timeout
times its attempts (partnerdb's default 10 s read timeout, 3 attempts).
"""

from __future__ import annotations

import os
import time
from typing import Any

from bench.cache import bench_payment_model
from bench.responder import Responder
from bench.stats import Summary
from bench.worker import worker_main
from emulators.fault_server import FaultServer, hang


def deadline_task(args: dict[str, Any]) -> dict[str, Any]:
    """Worker: `runs` hung GetItems each bound by `Deadline.after(deadline_s)`."""
    from partnerdb import ClientSettings, Deadline, PartnerConfig, Partners

    runs, deadline_s = int(args["runs"]), float(args["deadline_s"])
    over_ms: list[float] = []
    errors: dict[str, int] = {}
    with Responder() as responder, FaultServer(hang) as hung:
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
        "deadline_s": deadline_s,
        "past_deadline_ms": Summary.of(over_ms).to_json(),
        "samples_ms": [round(x, 2) for x in over_ms],
        "errors": errors,
        "hung_requests": requests,
        "sts_calls": partners.stats.sts_calls,
    }


if __name__ == "__main__":
    worker_main({"deadline": deadline_task})
