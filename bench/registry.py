"""Figure 6: the partner registry. Warm lookup, first use, memory per entry, reads per TTL.

All in one worker process. STS comes from `bench.responder`; DynamoDB from the project's
fault server (`emulators.fault_server`) answering the registry table's GetItem with the asked
partner's entry (and counting reads per partner) and any other GetItem with the bench payment.

- Warm: `partners.db(pid).model(Payment)` for an env-configured partner and for a registry
  partner of the same `Partners`, both cached, interleaved rounds: µs per call and the
  difference (target: registry ≤ env + 5 µs).
- First use: `partners.db(new_pid).model(Payment)` for never-seen registry partners: one
  registry read over loopback HTTP plus binding (ms).
- Memory per cached entry: tracemalloc across 1,000 registry lookups of new partners (the
  cache entry, its PartnerConfig and the redactor's copy of its ExternalId).
- Reads: 100,000 lookups over 1,000 partners drawn with Zipf popularity (s = 1.1, fixed
  seed), the injected clock spanning one hour (12 TTLs of 300 s): total registry reads and
  the most any partner was read per TTL window (target: 1).
"""

from __future__ import annotations

import gc
import json
import os
import random
import re
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.overhead import FUNCTIONS, load_module
from bench.responder import ITEM, Responder
from bench.stats import Summary
from bench.worker import worker_main

TABLE = "partnerdb-bench-registry"
_KEY = re.compile(rb'"partner_id":\s*\{"S":\s*"([a-z0-9_]+)"\}')
_JSON = {"Content-Type": "application/x-amz-json-1.0"}


def _role(i: int) -> str:
    return f"arn:aws:iam::{500000000000 + i}:role/partnerdb-access"


class RegistryStandIn:
    """A fault-server behaviour: registry GetItem answered from `r<i>` ids, payments otherwise."""

    def __init__(self) -> None:
        self.reads: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, path: str, headers: dict[str, str], body: bytes) -> Any:
        if TABLE.encode() not in body:
            return 200, _JSON, json.dumps({"Item": ITEM}).encode()
        match = _KEY.search(body)
        pid = match[1].decode() if match else ""
        with self._lock:
            self.reads[pid] += 1
        if not pid.startswith("r"):
            return 200, _JSON, b"{}"
        i = int(pid[1:])
        item = {"partner_id": pid, "role_arn": _role(i), "external_id": f"bench-registry-{i:06d}",
                "table_prefix": f"{pid}_", "status": "active"}
        return 200, _JSON, json.dumps({"Item": {k: {"S": v} for k, v in item.items()}}).encode()


@contextmanager
def _stand_ins() -> Iterator[RegistryStandIn]:
    from emulators.fault_server import FaultServer

    behaviour = RegistryStandIn()
    with Responder() as sts, FaultServer(behaviour) as dynamodb:
        os.environ["AWS_ENDPOINT_URL_STS"] = sts.url
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = dynamodb.url
        yield behaviour


def registry_task(args: dict[str, Any]) -> dict[str, Any]:
    """Worker: every registry figure (see the module docstring)."""
    from partnerdb import ClientSettings, Deadline, DynamoDBRegistry, PartnerConfig, Partners
    from partnerdb.registry import RegistryCache, RegistrySettings

    rounds, calls = int(args["rounds"]), int(args["calls"])
    first_uses, entries = int(args["first_uses"]), int(args["entries"])
    invocations, partners_n = int(args["invocations"]), int(args["partners"])
    payment = load_module(FUNCTIONS / "ours" / "models.py", "bench_ours_models").Payment
    out: dict[str, Any] = {}
    with _stand_ins() as stand_in:
        env_partner = PartnerConfig(partner_id="e0", role_arn=_role(999_999),
                                    external_id="bench-env-external", region="us-east-1")
        partners = Partners([env_partner], settings=ClientSettings(), function_name="bench",
                            registry=DynamoDBRegistry(table=TABLE))
        partners.register_models(payment)

        def call(pid: str) -> None:
            with partners.db(pid, deadline=Deadline.after(10)) as db:
                db.model(payment)

        for pid in ("e0", "r0"):
            call(pid)
        arms: dict[str, list[float]] = {"env": [], "registry": []}
        for r in range(rounds):
            order = ("e0", "r0") if r % 2 else ("r0", "e0")
            for pid in order:
                started = time.perf_counter()
                for _ in range(calls):
                    call(pid)
                per_call = (time.perf_counter() - started) / calls * 1e6
                arms["env" if pid == "e0" else "registry"].append(per_call)
        deltas = [b - a for a, b in zip(arms["env"], arms["registry"], strict=True)]
        out["warm_us"] = {k: Summary.of(v).to_json() for k, v in arms.items()}
        out["warm_delta_us"] = Summary.of(deltas).to_json()

        first: list[float] = []
        for i in range(1, first_uses + 1):
            started = time.perf_counter()
            call(f"r{i}")
            first.append((time.perf_counter() - started) * 1000.0)
        out["first_use_ms"] = Summary.of(first).to_json()

        cache = RegistryCache(DynamoDBRegistry(table=TABLE), RegistrySettings(
            cache_size=entries + 10))
        cache.lookup("r0")
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(10_000, 10_000 + entries):
            cache.lookup(f"r{i}")
        gc.collect()
        out["bytes_per_entry"] = round((tracemalloc.get_traced_memory()[0] - before) / entries)
        tracemalloc.stop()

        out["zipf"] = _zipf_reads(stand_in, invocations, partners_n)
    return out


def _zipf_reads(stand_in: RegistryStandIn, invocations: int, partners_n: int) -> dict[str, Any]:
    """Registry reads of `invocations` lookups over `partners_n` Zipf-popular partners."""
    from partnerdb import DynamoDBRegistry
    from partnerdb.registry import RegistryCache, RegistrySettings

    ttl, span_s = 300.0, 3600.0
    rng = random.Random(7)
    weights = [1.0 / (k ** 1.1) for k in range(1, partners_n + 1)]
    ids = [f"r{200_000 + k}" for k in range(partners_n)]
    chosen = rng.choices(ids, weights=weights, k=invocations)
    now = [0.0]
    cache = RegistryCache(DynamoDBRegistry(table=TABLE), RegistrySettings(ttl=ttl),
                          clock=lambda: now[0])
    step = span_s / invocations
    windows: Counter[tuple[str, int]] = Counter()
    reads_before = cache.stats.reads
    for n, pid in enumerate(chosen):
        now[0] = n * step
        before = cache.stats.reads
        cache.lookup(pid)
        if cache.stats.reads > before:
            windows[(pid, int(now[0] // ttl))] += 1
    reads = cache.stats.reads - reads_before
    served = sum(stand_in.reads[pid] for pid in set(ids))
    return {
        "invocations": invocations,
        "partners": partners_n,
        "partners_seen": len(set(chosen)),
        "ttl_s": ttl,
        "span_s": span_s,
        "reads": reads,
        "reads_served": served,
        "max_reads_per_partner_per_ttl": max(windows.values()),
        "reads_most_popular": stand_in.reads[ids[0]],
    }


if __name__ == "__main__":
    worker_main({"registry": registry_task})
