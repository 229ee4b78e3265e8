"""Figure 2b: our warm overhead per invocation without network, and the deadline hooks' cost.

Runs in a worker process (`bench.worker`). DynamoDB "answers instantly": each arm's DynamoDB
client gets a last `before-send` handler that returns a canned GetItem response, which botocore
then uses instead of sending (everything else runs: parameter build, serialization, our hooks,
signing, parsing, retry handler). AssumeRole, once per arm, goes to `bench.responder` on
loopback. Arms, each the same GetItem, timed in interleaved rounds (order rotating):

- `plain`: `client.get_item(...)` on a plain botocore client (the floor);
- `pynamodb`: the same model, unbound, `Payment.get(id)` (PynamoDB's own cost);
- `core`: `partners.db(pid, deadline=...)` + `db.model(Payment).get(id)` (partnerdb, no SDK);
- `handwritten`: the handwritten baseline's handler, in-process;
- `ours`: the `@with_partner_db` handler (event, DB, response, JSON log line to /dev/null);
- `ours_without_line`: the same, its rounds run with the SDK's logger at WARNING (no line),
  which puts a figure on the line's own share of `ours`.

Differences are taken per round (same round, same machine state) and then summarized.

Hooks: a GetItem on a client with and without `install_deadline_hooks` (same canned answer),
and the three hooked events (`before-parameter-build`, `before-send`, `needs-retry`) replayed
directly from one real call's arguments on both clients. The canned answer ends a call before
its HTTP send, so a third pair times the whole deadline guarantee where it also works on the
send path: a partner's GetItem over loopback HTTP with and without a deadline.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.responder import ITEM, Responder
from bench.stats import Summary
from bench.worker import ROOT, worker_main
from emulators.lambda_context import FakeContext

FUNCTIONS = ROOT / "bench" / "functions"
PARTNER = {
    "PARTNER_ACME_ROLE_ARN": "arn:aws:iam::111111111111:role/partnerdb-access",
    "PARTNER_ACME_EXTERNAL_ID": "acme-7Hq2-external",
    "PARTNER_ACME_REGION": "us-east-1",
    "PARTNER_ACME_TABLE_PREFIX": "acme_",
}
EVENT = {"partnerId": "acme", "action": "getPayment", "data": {"id": "pay_bench"}}
ARMS = ("plain", "pynamodb", "core", "handwritten", "ours", "ours_without_line")
#: what the overhead figure subtracts: ours minus each of these
BASELINES = ("plain", "handwritten", "pynamodb", "core", "ours_without_line")
_GET_ITEM = json.dumps({"Item": ITEM}).encode()


def bench_context() -> FakeContext:
    """The Lambda context the handlers read (10 s left, always), named for the bench."""
    return FakeContext(
        function_name="bench-ours",
        memory_limit_in_mb=128,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:bench-ours",
        log_group_name="/aws/lambda/bench-ours",
        log_stream_name="2024/11/26/[$LATEST]bench",
    )


class _Body:
    """The raw stream of a canned response."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def answer_instantly(client: Any) -> None:
    """Make `client`'s GetItem answer from memory: a last `before-send` handler returns it."""
    from botocore.awsrequest import AWSResponse, HeadersDict

    def canned(request: Any, **_: Any) -> Any:
        headers = HeadersDict(
            {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "bench",
             "Content-Length": str(len(_GET_ITEM))}
        )
        return AWSResponse(request.url, 200, headers, _Body(_GET_ITEM))

    client.meta.events.register("before-send.dynamodb.GetItem", canned)


def load_module(path: Path, name: str) -> ModuleType:
    """Import a file under a private module name, with its folder importable."""
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(path.parent))


def build_arms() -> dict[str, Callable[[], Any]]:
    """One zero-argument call per arm, each the same GetItem answered from memory."""
    import botocore.session

    from handler_sdk import with_partner_db
    from partnerdb import Deadline, PartnerDB, Partners

    models = load_module(FUNCTIONS / "ours" / "models.py", "bench_ours_models")
    payment: Any = models.Payment
    handwritten = load_module(FUNCTIONS / "handwritten" / "app.py", "bench_handwritten_app")
    context = bench_context()

    plain_client = botocore.session.get_session().create_client("dynamodb", "us-east-1")
    answer_instantly(plain_client)

    class PlainPayment(payment):  # type: ignore[misc]
        """The same model, unbound: PynamoDB's own connection and credentials."""

        _connection = None

        class Meta:
            table_name = "acme_payments"
            region = "us-east-1"

    answer_instantly(PlainPayment._get_connection().connection.client)

    partners = Partners.from_env()
    partners.register_models(payment)
    with partners.db("acme") as db:
        answer_instantly(db.model(payment)._get_connection().connection.client)

    def ours_handler(event: Any, context: Any, db: PartnerDB) -> Any:
        return db.model(payment).get(event["data"]["id"])

    ours = with_partner_db(models=[payment], partners=partners)(ours_handler)

    def core() -> Any:
        with partners.db("acme", deadline=Deadline.from_context(context)) as db:
            return db.model(payment).get("pay_bench").to_simple_dict()

    handwritten_client, _ = handwritten.partner_client("acme")  # AssumeRole once
    answer_instantly(handwritten_client)  # then answer its client from memory
    return {
        "plain": lambda: plain_client.get_item(
            TableName="acme_payments", Key={"id": {"S": "pay_bench"}}
        ),
        "pynamodb": lambda: PlainPayment.get("pay_bench").to_simple_dict(),
        "core": core,
        "handwritten": lambda: handwritten.handler(EVENT, context),
        "ours": lambda: ours(EVENT, context),
        "ours_without_line": lambda: ours(EVENT, context),
    }


@contextlib.contextmanager
def round_of(arm: str) -> Iterator[None]:
    """What a round of `arm` runs under: the SDK's logger at WARNING for `ours_without_line`
    (set once per round: setting a level clears every logger's cache)."""
    if arm != "ours_without_line":
        yield
        return
    sdk_logger = logging.getLogger("handler_sdk")
    level = sdk_logger.level
    sdk_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        sdk_logger.setLevel(level)


def time_calls(call: Callable[[], Any], calls: int) -> float:
    """Mean microseconds of CPU per call over `calls` calls.

    CPU time, not wall time: nothing here waits on I/O (answers come from memory), and on a
    shared machine wall time also counts the time this process waits for a core.
    """
    started = time.process_time()
    for _ in range(calls):
        call()
    return (time.process_time() - started) / calls * 1e6


def overhead_task(args: dict[str, Any]) -> dict[str, Any]:
    """Worker task: per-call µs of each arm, `rounds` interleaved rounds of `calls` calls."""
    rounds, calls = int(args["rounds"]), int(args["calls"])
    with Responder() as responder, open(os.devnull, "w") as sink, \
            contextlib.redirect_stdout(sink):
        os.environ["AWS_ENDPOINT_URL"] = responder.url
        os.environ.update(PARTNER)
        arms = build_arms()
        for name, call in arms.items():  # lazy imports, caches, first AssumeRole
            with round_of(name):
                for _ in range(100):
                    call()
        per_round: dict[str, list[float]] = {arm: [] for arm in ARMS}
        for round_no in range(rounds):
            for i in range(len(ARMS)):
                arm = ARMS[(round_no + i) % len(ARMS)]
                with round_of(arm):
                    per_round[arm].append(time_calls(arms[arm], calls))
        sts_calls = sum(responder.assume_role_calls.values())
    deltas = {
        base: [o - b for o, b in zip(per_round["ours"], per_round[base], strict=True)]
        for base in BASELINES
    }
    return {
        "rounds": rounds,
        "calls_per_round": calls,
        "assume_role_calls": sts_calls,
        "arms_us": {arm: Summary.of(v).to_json() for arm, v in per_round.items()},
        "ours_minus_us": {base: Summary.of(v).to_json() for base, v in deltas.items()},
        "samples_us": {arm: [round(x, 2) for x in v] for arm, v in per_round.items()},
    }


def _capture_events(client: Any, names: list[str]) -> dict[str, dict[str, Any]]:
    """The keyword arguments botocore emits `names` with during one GetItem."""
    seen: dict[str, dict[str, Any]] = {}

    def capture(name: str) -> Callable[..., None]:
        def handler(**kwargs: Any) -> None:
            seen.setdefault(name, {k: v for k, v in kwargs.items() if k != "event_name"})

        return handler

    for name in names:
        client.meta.events.register_first(name, capture(name))
    client.get_item(TableName="acme_payments", Key={"id": {"S": "pay_bench"}})
    return seen


def hooks_task(args: dict[str, Any]) -> dict[str, Any]:
    """Worker task: µs per call the deadline hooks add, end to end and replayed directly."""
    import botocore.session
    from botocore.config import Config

    from partnerdb import Deadline
    from partnerdb.deadline import install_deadline_hooks

    rounds, calls, replays = int(args["rounds"]), int(args["calls"]), int(args["replays"])
    os.environ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"  # never reached: answered in memory
    session = botocore.session.get_session()
    config = Config(retries={"mode": "standard", "total_max_attempts": 3})
    clients = {name: session.create_client("dynamodb", "us-east-1", config=config)
               for name in ("plain", "hooked", "probe")}
    install_deadline_hooks(clients["hooked"], retry_mode="standard", max_attempts=3)
    for client in clients.values():
        answer_instantly(client)
    names = [f"{e}.dynamodb.GetItem"
             for e in ("before-parameter-build", "before-send", "needs-retry")]
    captured = _capture_events(clients["probe"], names)
    Deadline.after(3600).activate()

    def replay(client: Any) -> Callable[[], None]:
        emit = client.meta.events.emit

        def run() -> None:
            for name in names:
                emit(name, **captured[name])

        return run

    def get(client: Any) -> Callable[[], Any]:
        return lambda: client.get_item(TableName="acme_payments", Key={"id": {"S": "pay_bench"}})

    direct: dict[str, list[float]] = {"plain": [], "hooked": []}
    e2e: dict[str, list[float]] = {"plain": [], "hooked": []}
    for arm in e2e:
        time_calls(get(clients[arm]), 200)
        time_calls(replay(clients[arm]), 200)
    for round_no in range(rounds):
        for arm in ("plain", "hooked") if round_no % 2 == 0 else ("hooked", "plain"):
            direct[arm].append(time_calls(replay(clients[arm]), replays))
            e2e[arm].append(time_calls(get(clients[arm]), calls))

    def delta(pairs: dict[str, list[float]]) -> dict[str, Any]:
        diffs = [h - p for h, p in zip(pairs["hooked"], pairs["plain"], strict=True)]
        return Summary.of(diffs).to_json()

    http = _deadline_over_http(rounds, calls)
    return {
        "rounds": rounds,
        "replays_per_round": replays,
        "calls_per_round": calls,
        "direct_us": {k: Summary.of(v).to_json() for k, v in direct.items()},
        "direct_delta_us": delta(direct),
        "e2e_us": {k: Summary.of(v).to_json() for k, v in e2e.items()},
        "e2e_delta_us": delta(e2e),
        "http_us": {k: Summary.of(v).to_json() for k, v in http.items()},
        "http_delta_us": Summary.of(
            [d - n for d, n in zip(http["deadline"], http["no_deadline"], strict=True)]
        ).to_json(),
    }


def _deadline_over_http(rounds: int, calls: int) -> dict[str, list[float]]:
    """A partner's bound-model GetItem over loopback HTTP (`bench.responder`) in a DB scope
    with no deadline and with one: what the whole deadline guarantee costs per call (the
    hooks, and on the send path, which the canned figures never reach, the watchdog's
    bookkeeping, the clamped timeouts and the pool's connection tracking).

    CPU time of the calling thread only (`time.thread_time()`): the responder answers from a
    thread of this process, and its work is not the client's.
    """
    from partnerdb import Deadline, Partners

    def timed(call: Callable[[], Any]) -> float:
        started = time.thread_time()
        for _ in range(calls):
            call()
        return (time.thread_time() - started) / calls * 1e6

    with Responder() as responder:
        os.environ["AWS_ENDPOINT_URL"] = responder.url
        os.environ.update(PARTNER)
        models = load_module(FUNCTIONS / "ours" / "models.py", "bench_http_models")
        payment: Any = models.Payment
        partners = Partners.from_env()
        partners.register_models(payment)

        def get(deadline: Callable[[], Deadline]) -> Callable[[], Any]:
            def call() -> Any:
                with partners.db("acme", deadline=deadline()) as db:
                    return db.model(payment).get("pay_bench")

            return call

        arms = {"no_deadline": get(Deadline.never), "deadline": get(lambda: Deadline.after(60))}
        per_round: dict[str, list[float]] = {arm: [] for arm in arms}
        for call in arms.values():
            timed(call)
        for round_no in range(rounds):
            for arm in arms if round_no % 2 == 0 else reversed(arms):
                per_round[arm].append(timed(arms[arm]))
    return per_round


if __name__ == "__main__":
    worker_main({"overhead": overhead_task, "hooks": hooks_task})
