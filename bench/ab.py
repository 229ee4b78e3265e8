"""Before/after of the per-call changes of issue 15, in one worker process, interleaved.

Each pair times the code as it was (`before`, reproduced here) against the SDK's code now
(`after`) on the same input, in alternating rounds, CPU time per call:

- `log_line`: the invocation line with `json.dumps` with options and `strftime` per call
  (before) vs `handler_sdk.logs.emit` (after), on the same route; stdout is /dev/null;
- `model_json`: `Model.to_simple_dict()` (before) vs `handler_sdk.simple.simple_dict` (after)
  on the benchmark's payment item;
- `endpoint`: a GetItem, answered in memory, on a partner client resolving its endpoint on
  every request (before) vs once per (operation, table) (`partnerdb.endpoint_cache`, after);
  no endpoint override, so the ruleset resolves the account-based DynamoDB endpoint as on AWS;
- `runtime_log`: the line through awslambdaric's text handler set up as its bootstrap does
  (its sink writing to /dev/null), through `logging` (before) vs straight to the handler's
  sink (`handler_sdk.runtime_log`, after);
- `dispatch`: a bound model's `get`, answered in memory, through PynamoDB's `Connection`
  (before) vs `partnerdb.partner_connection.PartnerConnection` (after);
- `parse_get_item`, `parse_query_100`: the benchmark's GetItem response, and a Query page of
  100 such items, parsed by botocore's JSON parser (before) vs the parser of partnerdb's
  DynamoDB clients (`partnerdb.response_parser`, after);
- `signing`: a partner client's GetItem, answered in memory, signed by botocore's `SigV4Auth`
  (before) vs `partnerdb.signing.FastSigV4` (after); their signed headers are checked equal.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench.overhead import FUNCTIONS, load_module
from bench.responder import ITEM
from bench.worker import worker_main


def _old_emit(logs: Any, record: Any) -> None:
    """The log line as the SDK wrote it before: `strftime` and `json.dumps` with options per
    line, then the same routes as `handler_sdk.logs.emit` (its own stdout when nothing is
    configured, else a LogRecord through the logger with the fields as attributes)."""
    level = logging.ERROR if record.status >= 500 else logging.INFO
    if not logs.logger.isEnabledFor(level):
        return
    fields = record.line()
    now = time.time()
    fields["timestamp"] = (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
                           + f".{int(now % 1 * 1000):03d}Z")
    text = json.dumps(fields, default=str, separators=(",", ":"))
    if not logs.configured():
        logs.write_stdout(text)
        return
    extra = {k: v for k, v in fields.items() if k not in _FORMATTER_KEYS}
    logs.logger.log(level, text, extra=extra)


#: the keys `handler_sdk.logs` leaves out of a record's attributes (Lambda's formatter's own)
_FORMATTER_KEYS = frozenset({"timestamp", "level", "message", "logger"})


def _pair(before: Callable[[], Any], after: Callable[[], Any], rounds: int,
          calls: int) -> dict[str, float]:
    times: dict[str, list[float]] = {"before": [], "after": []}
    for fn in (before, after):
        for _ in range(calls):
            fn()
    for round_no in range(rounds):
        order = (("before", before), ("after", after))
        for name, fn in order if round_no % 2 == 0 else order[::-1]:
            started = time.process_time()
            for _ in range(calls):
                fn()
            times[name].append((time.process_time() - started) / calls * 1e6)
    return {k: round(statistics.median(v), 2) for k, v in times.items()}


def ab_task(args: dict[str, Any]) -> dict[str, Any]:
    rounds, calls = int(args["rounds"]), int(args["calls"])
    from handler_sdk import logs
    from handler_sdk.simple import simple_dict

    models = load_module(FUNCTIONS / "ours" / "models.py", "bench_ab_models")
    item = models.Payment.from_raw_data({**ITEM, "id": {"S": "pay_bench"}})
    record = logs.InvocationRecord("bench-ours", "8d5b2a4e-0000-4000-8000-000000000000", "direct")
    record.partner_id, record.action, record.status = "acme", "getPayment", 200
    record.duration_ms = 3.21
    out: dict[str, Any] = {"rounds": rounds, "calls_per_round": calls}
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        out["log_line_us"] = _pair(lambda: _old_emit(logs, record),
                                   lambda: logs.emit(record), rounds, calls)
    if simple_dict(item) != item.to_simple_dict():
        raise AssertionError("simple_dict differs from to_simple_dict")
    out["model_json_us"] = _pair(item.to_simple_dict, lambda: simple_dict(item), rounds, calls)
    out["endpoint_us"] = _endpoint_pair(rounds, calls)
    out["runtime_log_us"] = _runtime_log_pair(logs, record, rounds, calls)
    out["dispatch_us"] = _dispatch_pair(rounds, calls)
    out.update(_parse_pairs(rounds, calls))
    out["signing_us"] = _signing_pair(rounds, calls)
    return out


class _Declining:
    """A `RuntimeLog` that never writes: the line takes the logging route."""

    def write(self, *_: Any) -> bool:
        return False


def _runtime_log_pair(logs: Any, record: Any, rounds: int, calls: int) -> dict[str, float]:
    """The invocation line under awslambdaric's own text handler, via logging and direct."""
    from awslambdaric.bootstrap import LambdaLoggerFilter, LambdaLoggerHandler

    from handler_sdk.runtime_log import RUNTIME_DATE_FORMAT, RUNTIME_TEXT_FORMAT

    root = logging.getLogger()
    saved = root.handlers[:]
    direct = logs.RUNTIME_LOG
    with open(os.devnull, "w") as sink:

        class DevNull:
            def log(self, msg: str, frame_type: Any = None) -> None:
                sink.write(msg)
                sink.flush()

        handler = LambdaLoggerHandler(DevNull())
        formatter = logging.Formatter(RUNTIME_TEXT_FORMAT, RUNTIME_DATE_FORMAT)
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
        handler.addFilter(LambdaLoggerFilter())
        root.handlers = [handler]

        def through_logging() -> None:
            logs.RUNTIME_LOG = _Declining()
            logs.emit(record)

        def straight() -> None:
            logs.RUNTIME_LOG = direct
            logs.emit(record)

        try:
            return _pair(through_logging, straight, rounds, calls)
        finally:
            logs.RUNTIME_LOG = direct
            root.handlers = saved


def _dispatch_pair(rounds: int, calls: int) -> dict[str, float]:
    """A model's GetItem answered in memory through PynamoDB's Connection and ours."""
    from pynamodb.connection import Connection

    from partnerdb.partner_connection import PartnerConnection
    from partnerdb.private_access import model_table_connection, use_client

    client = _partner_client()
    payment: Any = load_module(FUNCTIONS / "ours" / "models.py", "bench_ab_dispatch").Payment

    def bound(connection_of: Callable[[Any], Any]) -> Any:
        class Bound(payment):  # type: ignore[misc, valid-type]
            _connection = None

            class Meta:
                table_name = "acme_payments"
                region = "us-east-1"

        table = model_table_connection(Bound)
        table.connection = connection_of(table)
        return Bound

    def pynamodbs(table: Any) -> Any:
        connection = Connection(region="us-east-1")
        use_client(connection, client)
        connection.add_meta_table(table.get_meta_table())
        return connection

    before = bound(pynamodbs)
    after = bound(lambda table: PartnerConnection(
        region="us-east-1", client=client, table=table.get_meta_table()))
    return _pair(lambda: before.get("pay_bench"), lambda: after.get("pay_bench"), rounds, calls)


def _partner_client(*, fast_signing: bool = False) -> Any:
    """A partner's DynamoDB client as partnerdb's factory builds it, its GetItem answered in
    memory; no endpoint override, so the ruleset resolves the account-based endpoint as on
    AWS. `fast_signing`: signed by `partnerdb.signing`, as a partner's session does."""
    from botocore.credentials import Credentials

    from bench.overhead import answer_instantly
    from partnerdb import ClientSettings
    from partnerdb.clients import ClientFactory

    for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[key]
    credentials = Credentials("ASIABENCHBENCHBENCH0", "s" * 40, "t" * 40,
                              account_id="111111111111")
    client = ClientFactory(ClientSettings()).partner_client("dynamodb", "us-east-1", credentials)
    if fast_signing:
        from partnerdb.signing import install_fast_signing

        install_fast_signing(client, credentials)
    answer_instantly(client)
    return client


def _get(client: Any) -> Callable[[], Any]:
    return lambda: client.get_item(TableName="acme_payments", Key={"id": {"S": "pay_bench"}})


def _signing_pair(rounds: int, calls: int) -> dict[str, float]:
    """A partner client's GetItem signed by botocore's SigV4Auth and by `FastSigV4`; the two
    Authorization headers of one request, at one instant, are checked equal first."""
    before, after = _partner_client(), _partner_client(fast_signing=True)
    sent: dict[str, str] = {}
    for name, client in (("before", before), ("after", after)):
        def keep(request: Any, name: str = name, **_: Any) -> None:
            value = request.headers["Authorization"]  # encoded by now
            sent[name] = value.decode() if isinstance(value, bytes) else value

        client.meta.events.register_first("before-send.dynamodb.GetItem", keep)
        _get(client)()
        client.meta.events.unregister("before-send.dynamodb.GetItem", keep)
    same_day = sent["before"].split("/")[1] == sent["after"].split("/")[1]
    if same_day and sent["before"].split("Signature=")[0] != sent["after"].split(
            "Signature=")[0]:
        raise AssertionError("FastSigV4 signs other headers than botocore")
    return _pair(_get(before), _get(after), rounds, calls)


def _endpoint_pair(rounds: int, calls: int) -> dict[str, float]:
    """A partner client's GetItem with botocore's per-request resolution and with the cache."""
    from partnerdb.private_access import wrap_endpoint_resolution

    before, after = _partner_client(), _partner_client()
    wrap_endpoint_resolution(before, lambda cache: cache.resolve)  # botocore's own, per call
    return _pair(_get(before), _get(after), rounds, calls)


def _parse_pairs(rounds: int, calls: int) -> dict[str, dict[str, float]]:
    """One GetItem response and one 100-item Query page, parsed by botocore and by ours."""
    import botocore.parsers
    import botocore.session

    from partnerdb.response_parser import parser_factory

    service = botocore.session.get_session().get_service_model("dynamodb")
    ours = parser_factory()
    item = {**ITEM, "id": {"S": "pay_bench"}}
    out = {}
    for name, operation, body in (
        ("parse_get_item_us", "GetItem", {"Item": item}),
        ("parse_query_100_us", "Query", {"Items": [item] * 100, "Count": 100}),
    ):
        shape = service.operation_model(operation).output_shape
        response = {"body": json.dumps(body).encode(), "status_code": 200,
                    "headers": {"x-amzn-requestid": "bench"}}

        def parse(factory: Any, shape: Any = shape, response: Any = response) -> Callable[[], Any]:
            return lambda: factory.create_parser("json").parse(response, shape)

        if parse(ours)() != parse(botocore.parsers.ResponseParserFactory())():
            raise AssertionError(f"{operation}: partnerdb's parser differs from botocore's")
        out[name] = _pair(parse(botocore.parsers.ResponseParserFactory()), parse(ours),
                          rounds, calls)
    return out


if __name__ == "__main__":
    worker_main({"ab": ab_task})
