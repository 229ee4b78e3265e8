"""The invocation log line: one JSON object on stdout, its fields, no secret, no double log."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import pytest

from handler_sdk import with_partner_db
from partnerdb import PartnerDB, Partners
from tests.sdk.conftest import load_event, log_lines, secrets
from tests.sdk.models import Payment
from tests.support import FakeContext

FIELDS = {
    "timestamp",
    "level",
    "logger",
    "message",
    "function_name",
    "request_id",
    "partner_id",
    "action",
    "shape",
    "cold_start",
    "duration_ms",
    "status",
    "error_type",
    "sts_calls",
}


@pytest.fixture
def handler(partners: Partners) -> Any:
    @with_partner_db(models=[Payment], partners=partners)
    def handler(event: Any, context: Any, db: PartnerDB) -> Any:
        if event.get("action") == "boom":
            raise RuntimeError(f"boom with {os.environ['PARTNER_ACME_EXTERNAL_ID']} inside")
        return db.model(Payment).get("p-1")

    return handler


def test_one_line_per_invocation_with_cold_start_and_sts_delta(
    handler: Any, cold: None, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    contexts = [FakeContext(), FakeContext(), FakeContext()]
    handler({"partnerId": "acme", "action": "getPayment"}, contexts[0])
    handler({"partnerId": "acme", "action": "getPayment"}, contexts[1])
    handler({"partnerId": "globex", "action": "getPayment"}, contexts[2])
    out = capsys.readouterr().out
    lines = log_lines(out)
    assert len(lines) == 3 == len(out.splitlines())
    for line, context in zip(lines, contexts, strict=True):
        assert set(line) == FIELDS
        assert line["request_id"] == context.aws_request_id
        assert line["function_name"] == "payments"
        assert line["action"] == "getPayment"
        assert line["shape"] == "direct"
        assert line["status"] == 200 and line["error_type"] is None
        assert line["level"] == "INFO" and line["message"] == "invocation"
        assert line["duration_ms"] > 0
        assert line["timestamp"].endswith("Z")
    assert [line["cold_start"] for line in lines] == [True, False, False]
    assert [line["partner_id"] for line in lines] == ["acme", "acme", "globex"]
    assert [line["sts_calls"] for line in lines] == [1, 0, 1]  # one AssumeRole per partner


def test_failures_carry_status_error_type_and_the_traceback_at_error_level(
    handler: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    handler({"partnerId": "nobody"}, FakeContext())
    handler({"partnerId": "acme", "action": "boom"}, FakeContext())
    handler(load_event("apigw_v2") | {"pathParameters": None}, FakeContext())
    unknown, boom, bad = log_lines(capsys.readouterr().out)
    assert (unknown["status"], unknown["error_type"], unknown["level"]) == (
        403,
        "UnknownPartner",
        "INFO",
    )
    assert "PARTNER_NOBODY_ROLE_ARN" in unknown["error"]  # the operator's hint stays in the log
    assert (boom["status"], boom["error_type"], boom["level"]) == (500, "RuntimeError", "ERROR")
    assert "Traceback" in boom["traceback"] and "***" in boom["traceback"]
    assert (bad["status"], bad["error_type"], bad["shape"]) == (400, "BadRequest", "apigw_v2")
    assert bad["action"] == "GET /partners/{partnerId}/payments/{id}"
    assert bad["partner_id"] is None


def test_no_secret_in_logs_or_responses(
    handler: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    responses = []
    for event in (
        {"partnerId": "acme"},
        {"partnerId": "globex"},
        {"partnerId": "acme", "action": "boom"},
        {"partnerId": "initech"},
        {"partnerId": "../etc"},
        load_event("apigw_v1"),
        load_event("apigw_v2"),
    ):
        responses.append(handler(event, FakeContext()))
    captured = capsys.readouterr()
    text = captured.out + captured.err + repr(responses)
    leaked = [secret for secret in secrets() if secret in text]
    assert len(secrets()) >= 8  # home key and token, two ExternalIds, two assumed roles' keys
    assert leaked == []


def test_the_line_does_not_reach_the_root_logger(
    handler: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    root = logging.getLogger()
    collect = Collect()
    root.addHandler(collect)  # what awslambdaric does at bootstrap
    try:
        capsys.readouterr()
        handler({"partnerId": "acme"}, FakeContext())
    finally:
        root.removeHandler(collect)
    assert [r for r in records if r.name.startswith("handler_sdk")] == []
    assert len(log_lines(capsys.readouterr().out)) == 1


def test_the_line_can_be_silenced(handler: Any, capsys: pytest.CaptureFixture[str]) -> None:
    sdk_logger = logging.getLogger("handler_sdk")
    level = sdk_logger.level
    sdk_logger.setLevel(logging.WARNING)
    try:
        capsys.readouterr()
        handler({"partnerId": "acme"}, FakeContext())
        assert capsys.readouterr().out == ""
    finally:
        sdk_logger.setLevel(level)


def test_handlers_and_filters_added_to_the_logger_get_the_same_line(
    handler: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default set-up writes the line without a LogRecord; anything added to the logger
    makes it go through logging again, with the same text."""
    sdk_logger = logging.getLogger("handler_sdk")
    seen: list[str] = []

    class Keep(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            seen.append(record.getMessage())
            return True

    capsys.readouterr()
    handler({"partnerId": "acme"}, FakeContext())
    direct = capsys.readouterr().out
    keep = Keep()
    sdk_logger.addFilter(keep)
    try:
        handler({"partnerId": "acme"}, FakeContext())
    finally:
        sdk_logger.removeFilter(keep)
    through_logging = capsys.readouterr().out
    assert len(seen) == 1 and through_logging == seen[0] + "\n"
    first, second = log_lines(direct)[0], log_lines(through_logging)[0]
    assert set(first) == set(second) == FIELDS
    varying = ("timestamp", "request_id", "duration_ms", "cold_start", "sts_calls")
    assert {k: v for k, v in first.items() if k not in varying} == {
        k: v for k, v in second.items() if k not in varying}


def test_parallel_invocations_each_log_exactly_their_own_sts_calls(
    partners: Partners, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two invocations for two partners run at once in two threads, each assuming its
    partner's role while the other is in flight: each line counts its own AssumeRole only
    (a process-wide before/after difference would count both in both lines)."""
    started, assumed = threading.Barrier(2), threading.Barrier(2)

    @with_partner_db(models=[Payment], partners=partners)
    def handler(event: Any, context: Any, db: PartnerDB) -> Any:
        started.wait(timeout=10)  # both invocations are running before either calls STS
        item = db.model(Payment).get("p-1")  # this partner's first call: one AssumeRole
        assumed.wait(timeout=10)  # both AssumeRoles are done before either invocation ends
        return item

    capsys.readouterr()
    threads = [
        threading.Thread(target=handler, args=({"partnerId": pid}, FakeContext()))
        for pid in ("acme", "globex")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    lines = log_lines(capsys.readouterr().out)
    assert sorted((line["partner_id"], line["status"], line["sts_calls"]) for line in lines) == [
        ("acme", 200, 1),
        ("globex", 200, 1),
    ]
    assert partners.stats.sts_calls == 2
