"""The decorator's warm-call overhead stays in the tens of microseconds (bound kept loose for
busy CI machines; the measured figure is printed with -s)."""

from __future__ import annotations

import io
import time
from contextlib import redirect_stdout
from typing import Any

from handler_sdk import with_partner_db
from partnerdb import Deadline, PartnerDB, Partners
from tests.sdk.conftest import FakeContext, load_event

CALLS = 3000


def per_call_us(fn: Any, event: Any, context: Any) -> float:
    """Best of 5 rounds, in microseconds per call."""
    for _ in range(200):
        fn(event, context)
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(CALLS):
            fn(event, context)
        best = min(best, (time.perf_counter() - started) / CALLS * 1e6)
    return best


def test_warm_call_overhead(env: dict[str, str]) -> None:
    partners = Partners.from_env()

    def handler(event: Any, context: Any, db: PartnerDB) -> dict[str, bool]:
        return {"ok": True}

    def core_only(event: Any, context: Any) -> Any:
        with partners.db(event["partnerId"], deadline=Deadline.from_context(context)) as db:
            return handler(event, context, db)

    decorated = with_partner_db(partners=partners)(handler)
    context = FakeContext()
    with redirect_stdout(io.StringIO()):
        core = per_call_us(core_only, {"partnerId": "acme"}, context)
        direct = per_call_us(decorated, {"partnerId": "acme"}, context)
        api = per_call_us(decorated, load_event("apigw_v2"), context)
    print(f"core {core:.1f} us, decorated direct {direct:.1f} us, API GW v2 {api:.1f} us")
    assert direct - core < 150 and api - core < 150
    assert partners.stats.sts_calls == 0
