"""Figure 3: the credential cache. STS calls per partner, binding a new partner, memory kept.

- STS calls per partner through the runtime: 1000 warm invocations (round-robin over 10
  partners) of `ours` and of `handwritten`, counted by what moto's STS backend served (by role
  and session name). Expect exactly 1 per partner.
- STS calls per partner per hour: in a worker, partnerdb with an injected clock that advances
  6 s per invocation over several simulated hours (10 partners, AssumeRole and GetItem from
  `bench.responder`): how often each partner's role is assumed again, and when.
- STS calls for a partner whose role is refused: in a worker, 1000 requests to one partner
  whose AssumeRole a loopback STS refuses (`emulators.fault_server.sts_refuse`), an injected clock
  advancing 0.1 s per request (100 s, four 30 s back-off periods begun): how many AssumeRole
  calls reached STS. Expect at most one per back-off period.
- Binding a never-seen partner: `partners.db(pid).model(Payment)` timed for partners of a
  `Partners` configured with more partners than it prebinds (no network: STS is deferred).
- Memory per cached partner: 100 partners each bound, their role assumed and one GetItem
  done, divided by 100: tracemalloc (Python allocations) and RSS (everything, OpenSSL
  included). Twice: with GetItem answered in memory (no connection), and over real HTTPS to a
  loopback responder verified with botocore's CA bundle, as on AWS (each partner client has
  its own TLS context, into which urllib3 loads the CA bundle on its first connection).
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bench.overhead import FUNCTIONS, answer_instantly, load_module
from bench.responder import Responder
from bench.stats import Summary
from bench.worker import worker_main

if TYPE_CHECKING:  # the rig imports moto: kept out of the worker processes
    from bench.rig import Rig

TOP_FILES = 8
SESSION_PREFIX = {"ours": "partnerdb-bench-ours-", "handwritten": "handwritten-"}


def _sts_by_partner(variant: str) -> Counter[str]:
    """AssumeRole calls moto served for `variant`, by partner id (from the session name)."""
    from emulators.moto_server import assumed_roles

    prefix = SESSION_PREFIX[variant]
    return Counter(
        call["session_name"][len(prefix):]
        for call in assumed_roles()
        if call["session_name"].startswith(prefix)
    )


def run_sts_runtime(
    rig: Rig, variants: tuple[str, ...], invocations: int, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """STS calls per partner over `invocations` warm invocations across 10 partners."""
    from bench.rig import CACHE_PARTNERS, check, event

    out: dict[str, Any] = {"invocations": invocations, "partners": len(CACHE_PARTNERS),
                           "variants": {}}
    for variant in variants:
        before = _sts_by_partner(variant)
        fn = rig.function(variant, partners=CACHE_PARTNERS)
        try:
            for i in range(invocations):
                partner = CACHE_PARTNERS[i % len(CACHE_PARTNERS)].partner_id
                check(variant, fn.invoke(event(partner)))
            processes = fn.processes_started
        finally:
            fn.stop()
            rig.started.remove(fn)
        after = _sts_by_partner(variant)
        per_partner = {p.partner_id: after[p.partner_id] - before[p.partner_id]
                       for p in CACHE_PARTNERS}
        out["variants"][variant] = {"sts_calls_per_partner": per_partner,
                                    "processes_started": processes}
        log(f"    sts: {variant} {sorted(set(per_partner.values()))} per partner")
    return out


def _configs(count: int, prefix: str = "p") -> list[Any]:
    from partnerdb import PartnerConfig

    return [
        PartnerConfig(
            partner_id=f"{prefix}{i}",
            role_arn=f"arn:aws:iam::{400000000000 + i}:role/partnerdb-access",
            external_id=f"bench-external-{i}",
            region="us-east-1",
            table_prefix=f"{prefix}{i}_",
        )
        for i in range(count)
    ]


def bench_payment_model() -> Any:
    """The `Payment` model of the `ours` benchmark function (bench/functions/ours/models.py)."""
    return load_module(FUNCTIONS / "ours" / "models.py", "bench_ours_models").Payment


def hourly_task(args: dict[str, Any]) -> dict[str, Any]:
    """Worker: simulated hours of traffic over 10 partners; AssumeRole calls per partner."""
    from partnerdb import ClientSettings, Deadline, Partners

    hours, step_s, count = float(args["hours"]), float(args["step_s"]), int(args["partners"])
    now = [datetime.now(UTC)]
    start = now[0]
    first_calls: list[float] = []  # minutes at which partner p0 assumed its role
    with Responder() as responder:
        os.environ["AWS_ENDPOINT_URL"] = responder.url
        payment = bench_payment_model()
        partners = Partners(_configs(count), settings=ClientSettings(), clock=lambda: now[0],
                            function_name="bench")
        partners.register_models(payment)
        invocations = int(hours * 3600 / step_s)
        for i in range(invocations):
            now[0] = start + timedelta(seconds=i * step_s)
            pid = f"p{i % count}"
            before = partners.stats.sts_calls
            with partners.db(pid, deadline=Deadline.after(10)) as db:
                db.model(payment).get("pay_bench")
            if pid == "p0" and partners.stats.sts_calls > before:
                first_calls.append(round(i * step_s / 60.0, 1))
        per_role = dict(responder.assume_role_calls)
    per_partner = [per_role.get(c.role_arn, 0) for c in _configs(count)]
    return {
        "simulated_hours": hours,
        "invocations": invocations,
        "partners": count,
        "sts_calls_per_partner": per_partner,
        "sts_calls_per_partner_per_hour": [round(n / hours, 3) for n in per_partner],
        "p0_assume_role_at_minutes": first_calls,
        "stats": partners.stats.snapshot(),
    }


def refused_task(args: dict[str, Any]) -> dict[str, Any]:
    """Worker: `requests` requests to a partner whose role STS refuses; STS calls made."""
    from emulators.fault_server import FaultServer, sts_refuse
    from partnerdb import ClientSettings, Deadline, PartnerRoleRefused, Partners

    requests, step_s = int(args["requests"]), float(args["step_s"])
    now = [datetime.now(UTC)]
    start = now[0]
    settings = ClientSettings()
    outcomes: Counter[str] = Counter()
    with Responder() as responder, FaultServer(sts_refuse) as sts:
        os.environ["AWS_ENDPOINT_URL"] = responder.url  # DynamoDB: never reached
        os.environ["AWS_ENDPOINT_URL_STS"] = sts.url
        payment = bench_payment_model()
        partners = Partners(_configs(1), settings=settings, clock=lambda: now[0],
                            function_name="bench")
        partners.register_models(payment)
        for i in range(requests):
            now[0] = start + timedelta(seconds=i * step_s)
            try:
                with partners.db("p0", deadline=Deadline.after(10)) as db:
                    db.model(payment).get("pay_bench")
                outcomes["no error"] += 1
            except PartnerRoleRefused:
                outcomes["PartnerRoleRefused"] += 1
        sts_requests = sts.requests
    simulated = (requests - 1) * step_s
    return {
        "requests": requests,
        "simulated_s": simulated,
        "backoff_s": settings.backoff_seconds,
        "periods": int(simulated // settings.backoff_seconds) + 1,
        "sts_calls": sts_requests,
        "outcomes": dict(outcomes),
    }


def bind_task(args: dict[str, Any]) -> dict[str, Any]:
    """Worker: ms to bind a never-seen partner (`partners.db(pid).model(M)`), no network."""
    from partnerdb import ClientSettings, Deadline, Partners

    os.environ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"  # never contacted: STS is deferred
    configured, measured = int(args["configured"]), int(args["measured"])
    payment = bench_payment_model()
    partners = Partners(_configs(configured), settings=ClientSettings(), function_name="bench")
    partners.register_models(payment)  # binds p0 only; every other partner binds on first use
    times: list[float] = []
    for i in range(measured + 1):
        started = time.perf_counter()
        with partners.db(f"p{i}", deadline=Deadline.after(10)) as db:
            db.model(payment)
        times.append((time.perf_counter() - started) * 1000.0)
    return {
        "configured": configured,
        "first_ms": round(times[0], 3),
        "bind_ms": Summary.of(times[1:]).to_json(),
        "sts_calls": partners.stats.sts_calls,
    }


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_task(args: dict[str, Any]) -> dict[str, Any]:
    """Worker: bytes kept per cached partner (bound, role assumed, one GetItem done).

    `mode` "canned": GetItem answered in memory (no DynamoDB connection), STS from an in-worker
    responder. "tls": STS and DynamoDB over HTTPS to `endpoint` (a responder in the driver's
    process), verified against `ca_bundle` (botocore's CA bundle plus the responder's
    certificate), so each partner client opens a real TLS connection as it would on AWS.
    "tls-shared": "tls" with every partner client sending through the first one's HTTP session
    (one TLS context and connection pool for all), done by hand: since partnerdb shares one
    HTTP session per service and region itself, "tls" and "tls-shared" should now agree.
    """
    from partnerdb import ClientSettings, Deadline, Partners

    per_phase, warm, mode = int(args["partners"]), 10, str(args["mode"])
    with contextlib.ExitStack() as stack:
        if mode.startswith("tls"):
            os.environ["AWS_ENDPOINT_URL"] = str(args["endpoint"])
            os.environ["AWS_CA_BUNDLE"] = str(args["ca_bundle"])
        else:
            os.environ["AWS_ENDPOINT_URL_STS"] = stack.enter_context(Responder()).url
            os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = "https://127.0.0.1:9"  # never contacted
        payment = bench_payment_model()
        partners = Partners(_configs(warm + 2 * per_phase), settings=ClientSettings(),
                            function_name="bench")
        partners.register_models(payment)

        shared: list[Any] = []

        def use(i: int) -> None:
            with partners.db(f"p{i}", deadline=Deadline.after(10)) as db:
                model = db.model(payment)
                client = model._get_connection().connection.client
                if mode == "canned":
                    answer_instantly(client)
                elif mode == "tls-shared":
                    if not shared:
                        shared.append(client._endpoint.http_session)
                    client._endpoint.http_session = shared[0]
                model.get("pay_bench")

        for i in range(warm):
            use(i)
        gc.collect()
        rss_before = _rss_bytes()
        first_call_ms: list[float] = []
        for i in range(warm, warm + per_phase):
            started = time.perf_counter()
            use(i)
            first_call_ms.append((time.perf_counter() - started) * 1000.0)
        gc.collect()
        rss_per = (_rss_bytes() - rss_before) / per_phase
        tracemalloc.start()
        gc.collect()
        traced_before = tracemalloc.get_traced_memory()[0]
        snapshot = tracemalloc.take_snapshot()
        for i in range(warm + per_phase, warm + 2 * per_phase):
            use(i)
        gc.collect()
        traced_per = (tracemalloc.get_traced_memory()[0] - traced_before) / per_phase
        top = tracemalloc.take_snapshot().compare_to(snapshot, "filename")[:TOP_FILES]
        tracemalloc.stop()
    return {
        "mode": mode,
        "partners_measured": per_phase,
        "tracemalloc_bytes_per_partner": round(traced_per),
        "rss_bytes_per_partner": round(rss_per),
        "sts_calls": partners.stats.sts_calls,
        "new_partner_first_call_ms": Summary.of(first_call_ms).to_json(),
        "top_files_bytes_per_partner": {
            _short(stat.traceback[0].filename): round(stat.size_diff / per_phase)
            for stat in top
        },
    }


def _short(filename: str) -> str:
    """`botocore/client.py` from a full path (the part after site-packages or the repo)."""
    for marker in ("site-packages/", "/layer/", "/lib/python"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


if __name__ == "__main__":
    worker_main({"refused": refused_task, "hourly": hourly_task, "bind": bind_task,
                 "memory": memory_task})
