"""The direct route of the invocation line: under the Lambda runtime's default text handler the
SDK writes that handler's exact text to its sink, without a LogRecord; anything else on the way
and the line goes through `logging` as before.

The handler here is built from awslambdaric's own classes the way its bootstrap builds it (the
runtime test in test_runtime.py checks the real bootstrap's setup is recognised)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from awslambdaric import bootstrap
from awslambdaric.bootstrap import LambdaLoggerFilter, LambdaLoggerHandler

from handler_sdk import with_partner_db
from handler_sdk.logs import RUNTIME_LOG
from handler_sdk.runtime_log import RUNTIME_DATE_FORMAT, RUNTIME_TEXT_FORMAT
from partnerdb import PartnerDB, Partners
from partnerdb.redact import install_redaction
from tests.sdk.conftest import LINE
from tests.sdk.models import Payment
from tests.support import FakeContext

#: what differs between two lines of the same outcome: times and durations
_VOLATILE = re.compile(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z|"duration_ms":[0-9.]+')


class Sink:
    """awslambdaric's log sink interface, keeping what it is given."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def log(self, msg: str, frame_type: Any = None) -> None:
        self.lines.append(msg)


class Runtime:
    """The root logger as awslambdaric's bootstrap leaves it under the text format."""

    def __init__(self) -> None:
        self.sink = Sink()
        self.handler = LambdaLoggerHandler(self.sink)
        formatter = logging.Formatter(RUNTIME_TEXT_FORMAT, RUNTIME_DATE_FORMAT)
        formatter.converter = time.gmtime  # the bootstrap sets it on the class
        self.handler.setFormatter(formatter)
        self.handler.addFilter(LambdaLoggerFilter())
        self.records = 0

    def alone(self) -> None:
        """Make the runtime's handler the root logger's only one. Called in the test itself:
        pytest adds its capturing handlers when the test's call starts, after fixtures."""
        logging.getLogger().handlers = [self.handler]


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    """The runtime's handler on the root logger (`alone()` takes pytest's off), partnerdb's
    redactor installed on it, and a count of the handler_sdk records made."""
    rt = Runtime()
    root = logging.getLogger()
    saved = root.handlers[:]
    sdk = logging.getLogger("handler_sdk")
    saved_sdk = (sdk.handlers[:], sdk.filters[:], sdk.propagate)
    factory = logging.getLogRecordFactory()

    def counting(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        if record.name == "handler_sdk":
            rt.records += 1
        return record

    monkeypatch.delenv("AWS_LAMBDA_LOG_FORMAT", raising=False)
    rt.alone()
    install_redaction()
    logging.setLogRecordFactory(counting)
    try:
        yield rt
    finally:
        logging.setLogRecordFactory(factory)
        root.handlers = saved
        sdk.handlers, sdk.filters, sdk.propagate = saved_sdk


@pytest.fixture
def handler(partners: Partners) -> Callable[..., Any]:
    @with_partner_db(models=[Payment], partners=partners)
    def handler(event: Any, context: Any, db: PartnerDB) -> Any:
        if event.get("action") == "boom":
            raise RuntimeError("boom")
        return db.model(Payment).get("p-1")

    return handler


def _masked(line: str) -> str:
    return _VOLATILE.sub("T", line)


def test_the_runtime_default_gets_its_handlers_exact_text_without_a_record(
    runtime: Runtime, handler: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime.alone()
    event = {"partnerId": "acme", "action": "getPayment"}
    handler(event, FakeContext())  # cold start and AssumeRole out of the way
    runtime.sink.lines.clear()
    # what the runtime's filter stamps on records: the id of the invocation it is serving
    monkeypatch.setattr(bootstrap, "_GLOBAL_AWS_REQUEST_ID", "req-direct")
    handler(event, FakeContext(aws_request_id="req-direct"))
    assert runtime.records == 0  # no LogRecord: the direct route
    [direct] = runtime.sink.lines

    # The same invocation through logging (an extra filter on the way turns the route off).
    runtime.handler.addFilter(lambda record: True)
    handler(event, FakeContext(aws_request_id="req-direct"))
    assert runtime.records == 1
    [_, through_logging] = runtime.sink.lines

    match = LINE.fullmatch(direct)
    assert match is not None, direct
    assert match["rid"] == "req-direct"
    assert _masked(direct) == _masked(through_logging)


def test_an_error_line_is_an_error_line(runtime: Runtime, handler: Callable[..., Any]) -> None:
    runtime.alone()
    handler({"partnerId": "acme", "action": "boom"}, FakeContext())
    assert runtime.records == 0
    [line] = runtime.sink.lines
    assert line.startswith("[ERROR]\t") and '"stackTrace":' in line


def test_a_secret_in_the_event_is_redacted_on_the_direct_route(
    runtime: Runtime, handler: Callable[..., Any], env: dict[str, str]
) -> None:
    runtime.alone()
    secret = env["PARTNER_ACME_EXTERNAL_ID"]
    handler({"partnerId": "acme", "action": f"{secret}-x"}, FakeContext())
    assert runtime.records == 0
    [line] = runtime.sink.lines
    assert secret not in line and '"action":"***-x"' in line


def _handler_on_our_logger(rt: Runtime, sdk: logging.Logger) -> None:
    sdk.addHandler(logging.NullHandler())


def _filter_on_our_logger(rt: Runtime, sdk: logging.Logger) -> None:
    sdk.addFilter(lambda record: True)


def _not_propagating(rt: Runtime, sdk: logging.Logger) -> None:
    sdk.propagate = False


def _second_root_handler(rt: Runtime, sdk: logging.Logger) -> None:
    logging.getLogger().addHandler(logging.NullHandler())


def _other_format(rt: Runtime, sdk: logging.Logger) -> None:
    rt.handler.setFormatter(logging.Formatter("%(levelname)s %(message)s\n"))


def _higher_level(rt: Runtime, sdk: logging.Logger) -> None:
    rt.handler.setLevel(logging.WARNING)


def _function_filter(rt: Runtime, sdk: logging.Logger) -> None:
    rt.handler.addFilter(logging.Filter())


CHANGES: dict[str, Callable[[Runtime, logging.Logger], None]] = {
    "a handler on handler_sdk's logger": _handler_on_our_logger,
    "a filter on handler_sdk's logger": _filter_on_our_logger,
    "handler_sdk's logger not propagating": _not_propagating,
    "a second root handler": _second_root_handler,
    "another formatter": _other_format,
    "the runtime handler at WARNING": _higher_level,
    "a filter of the function's on the runtime handler": _function_filter,
}


@pytest.mark.parametrize("change", CHANGES)
def test_anything_else_on_the_way_takes_the_logging_route(
    runtime: Runtime, change: str
) -> None:
    runtime.alone()
    sdk = logging.getLogger("handler_sdk")
    assert RUNTIME_LOG.sink(logging.INFO) is not None
    CHANGES[change](runtime, sdk)
    assert RUNTIME_LOG.sink(logging.INFO) is None
    assert not RUNTIME_LOG.write(logging.INFO, "2026-11-30T00:00:00.000Z", "r", "{}")
    assert runtime.sink.lines == []


def test_a_line_without_a_request_id_takes_the_logging_route(runtime: Runtime) -> None:
    runtime.alone()
    assert not RUNTIME_LOG.write(logging.INFO, "2026-11-30T00:00:00.000Z", None, "{}")
    assert RUNTIME_LOG.write(logging.INFO, "2026-11-30T00:00:00.000Z", "r-1", "{}")
    assert runtime.sink.lines == ["[INFO]\t2026-11-30T00:00:00.000Z\tr-1\t{}\n"]


def test_lambda_json_format_takes_the_logging_route(
    runtime: Runtime, handler: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime.alone()
    monkeypatch.setenv("AWS_LAMBDA_LOG_FORMAT", "JSON")
    handler({"partnerId": "acme", "action": "getPayment"}, FakeContext())
    assert runtime.records == 1
