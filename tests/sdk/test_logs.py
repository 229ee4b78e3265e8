"""The invocation log line: one key schema (Lambda JSON + Powertools keys), a library logger that
propagates and writes by itself only when nothing is configured, levels from the standard
variables, and no secret in any route."""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any

import pytest

from handler_sdk import with_partner_db
from partnerdb import PartnerDB, Partners
from tests.sdk.conftest import load_event, log_lines, run_python, secrets
from tests.sdk.models import Payment
from tests.support import FakeContext

FIELDS = {
    "timestamp",
    "level",
    "message",
    "logger",
    "requestId",
    "service",
    "function_name",
    "cold_start",
    "partner_id",
    "action",
    "shape",
    "status",
    "duration_ms",
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
    handler: Any, cold: None, caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    caplog.clear()
    contexts = [FakeContext(), FakeContext(), FakeContext()]
    handler({"partnerId": "acme", "action": "getPayment"}, contexts[0])
    handler({"partnerId": "acme", "action": "getPayment"}, contexts[1])
    handler({"partnerId": "globex", "action": "getPayment"}, contexts[2])
    lines = log_lines(caplog)
    assert len(lines) == 3
    assert log_lines(capsys.readouterr().out) == []  # propagated, not written a second time
    for line, context in zip(lines, contexts, strict=True):
        assert set(line) == FIELDS
        assert line["requestId"] == context.aws_request_id
        assert line["function_name"] == "payments"
        assert line["service"] == "service_undefined"
        assert line["action"] == "getPayment"
        assert line["shape"] == "direct"
        assert line["status"] == 200 and "errorType" not in line
        assert line["level"] == "INFO" and line["message"] == "invocation"
        assert line["logger"] == "handler_sdk"
        assert line["duration_ms"] > 0
        assert line["timestamp"].endswith("Z")
    assert [line["cold_start"] for line in lines] == [True, False, False]
    assert [line["partner_id"] for line in lines] == ["acme", "acme", "globex"]
    assert [line["sts_calls"] for line in lines] == [1, 0, 1]  # one AssumeRole per partner


def test_failures_carry_status_error_type_and_the_traceback_at_error_level(
    handler: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.clear()
    handler({"partnerId": "nobody"}, FakeContext())
    handler({"partnerId": "acme", "action": "boom"}, FakeContext())
    handler(load_event("apigw_v2") | {"pathParameters": None}, FakeContext())
    unknown, boom, bad = log_lines(caplog)
    assert (unknown["status"], unknown["errorType"], unknown["level"]) == (
        403,
        "UnknownPartner",
        "INFO",
    )
    assert "PARTNER_NOBODY_ROLE_ARN" in unknown["errorMessage"]  # the operator's hint stays
    assert "stackTrace" not in unknown
    assert (boom["status"], boom["errorType"], boom["level"]) == (500, "RuntimeError", "ERROR")
    trace = "\n".join(boom["stackTrace"])
    assert "Traceback" in trace and "***" in trace
    assert (bad["status"], bad["errorType"], bad["shape"]) == (400, "BadRequest", "apigw_v2")
    assert bad["action"] == "GET /partners/{partnerId}/payments/{id}"
    assert bad["partner_id"] is None
    assert [r.levelno for r in caplog.records if r.name == "handler_sdk"] == [20, 40, 20]


def test_no_secret_in_logs_or_responses(
    handler: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.clear()
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
    extras = [str(vars(r)) for r in caplog.records]  # the fields also ride as attributes
    text = captured.out + captured.err + caplog.text + "".join(extras) + repr(responses)
    leaked = [secret for secret in secrets() if secret in text]
    assert len(secrets()) >= 8  # home key and token, two ExternalIds, two assumed roles' keys
    assert leaked == []


def test_the_line_propagates_to_what_the_function_configured(
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
    (record,) = [r for r in records if r.name == "handler_sdk"]
    assert json.loads(record.getMessage())["partner_id"] == "acme"
    assert record.partner_id == "acme" and record.requestId  # type: ignore[attr-defined]
    assert logging.getLogger("handler_sdk").handlers == []
    assert logging.getLogger("handler_sdk").propagate is True
    assert capsys.readouterr().out == ""


def test_the_line_can_be_silenced(handler: Any, caplog: pytest.LogCaptureFixture) -> None:
    sdk_logger = logging.getLogger("handler_sdk")
    level = sdk_logger.level
    sdk_logger.setLevel(logging.WARNING)
    try:
        caplog.clear()
        handler({"partnerId": "acme"}, FakeContext())
        assert log_lines(caplog) == []
    finally:
        sdk_logger.setLevel(level)


def test_handlers_and_filters_added_to_the_logger_get_the_same_line(
    handler: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A filter added to the handler_sdk logger sees each line once, with the same text that
    propagates to the function's logging, and the line keeps its fields with it."""
    sdk_logger = logging.getLogger("handler_sdk")
    seen: list[str] = []

    class Keep(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            seen.append(record.getMessage())
            return True

    caplog.clear()
    handler({"partnerId": "acme"}, FakeContext())
    (plain,) = log_lines(caplog)
    caplog.clear()
    keep = Keep()
    sdk_logger.addFilter(keep)
    try:
        handler({"partnerId": "acme"}, FakeContext())
    finally:
        sdk_logger.removeFilter(keep)
    (record,) = [r for r in caplog.records if r.name == "handler_sdk"]
    assert seen == [record.getMessage()]
    first, second = plain, json.loads(seen[0])
    assert set(first) == set(second) == FIELDS
    varying = ("timestamp", "requestId", "duration_ms", "cold_start", "sts_calls")
    assert {k: v for k, v in first.items() if k not in varying} == {
        k: v for k, v in second.items() if k not in varying}


# A fresh interpreter: handler_sdk imported with a given environment and logging setup.
SCRIPT = """
import logging, sys
{setup}
from handler_sdk import with_partner_db
from partnerdb import Partners
partners = Partners.from_env()

@with_partner_db(partners=partners)
def handler(event, context, db):
    if event.get("boom"):
        raise RuntimeError("boom " + {secret!r})
    return "ok"

{after}
handler({{"partnerId": "acme"}}, None)
handler({{"partnerId": "acme", "boom": True}}, None)
"""


def run_script(env: dict[str, str], setup: str = "", after: str = "", secret: str = "x") -> Any:
    result = run_python(SCRIPT.format(setup=setup, after=after, secret=secret), env)
    assert result.returncode == 0, result.stderr
    return result


def test_nothing_configured_writes_json_lines_to_stdout(env: dict[str, str]) -> None:
    result = run_script(env, secret=env["PARTNER_ACME_EXTERNAL_ID"])
    ok, boom = log_lines(result.stdout)
    assert len(result.stdout.splitlines()) == 2
    assert set(ok) == FIELDS and ok["requestId"] is None and ok["status"] == 200
    assert boom["errorType"] == "RuntimeError" and "***" in boom["errorMessage"]
    assert env["PARTNER_ACME_EXTERNAL_ID"] not in result.stdout + result.stderr


def test_configured_logging_gets_each_line_once_even_when_configured_late(
    env: dict[str, str],
) -> None:
    fmt = "logging.basicConfig(stream=sys.stdout, format='CONFIGURED %(message)s')"
    for setup, after in ((fmt, ""), ("", fmt)):
        result = run_script(env, setup=setup, after=after)
        lines = result.stdout.splitlines()
        assert len(lines) == 2, result.stdout
        assert all(line.startswith("CONFIGURED {") for line in lines)


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ({}, ["INFO", "ERROR"]),
        ({"POWERTOOLS_LOG_LEVEL": "ERROR"}, ["ERROR"]),
        ({"AWS_LAMBDA_LOG_LEVEL": "ERROR", "POWERTOOLS_LOG_LEVEL": "DEBUG"}, ["ERROR"]),
        ({"AWS_LAMBDA_LOG_LEVEL": "TRACE"}, ["INFO", "ERROR"]),
        ({"AWS_LAMBDA_LOG_LEVEL": "bogus", "POWERTOOLS_LOG_LEVEL": "ERROR"}, ["ERROR"]),
    ],
)
def test_levels_from_the_standard_variables(
    env: dict[str, str], levels: dict[str, str], expected: list[str]
) -> None:
    result = run_script({**env, **levels})
    assert [line["level"] for line in log_lines(result.stdout)] == expected


def test_service_from_powertools_service_name(env: dict[str, str]) -> None:
    result = run_script({**env, "POWERTOOLS_SERVICE_NAME": "payments-api"})
    assert {line["service"] for line in log_lines(result.stdout)} == {"payments-api"}


def test_lambda_json_format_gets_flat_fields_and_a_redacted_error(env: dict[str, str]) -> None:
    """The formatter Lambda uses with LogFormat JSON, as a root handler: one flat object."""
    setup = (
        "from awslambdaric.lambda_runtime_log_utils import JsonFormatter\n"
        "h = logging.StreamHandler(sys.stdout); h.setFormatter(JsonFormatter())\n"
        "logging.getLogger().addHandler(h); logging.getLogger().setLevel(logging.INFO)"
    )
    secret = env["PARTNER_ACME_EXTERNAL_ID"]
    result = run_script({**env, "AWS_LAMBDA_LOG_FORMAT": "JSON"}, setup=setup, secret=secret)
    parsed = [json.loads(line) for line in result.stdout.splitlines() if line]
    ok, boom = (line for line in parsed if line["logger"] == "handler_sdk")
    assert ok["message"] == "invocation" and ok["logger"] == "handler_sdk"
    assert ok["partner_id"] == "acme" and ok["status"] == 200 and ok["level"] == "INFO"
    assert boom["errorType"] == "RuntimeError" and boom["errorMessage"] == "boom ***"
    assert isinstance(boom["stackTrace"], list) and boom["level"] == "ERROR"
    assert secret not in result.stdout + result.stderr


def test_parallel_invocations_each_log_exactly_their_own_sts_calls(
    partners: Partners, caplog: pytest.LogCaptureFixture
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

    caplog.clear()
    threads = [
        threading.Thread(target=handler, args=({"partnerId": pid}, FakeContext()))
        for pid in ("acme", "globex")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    lines = log_lines(caplog)
    assert sorted((line["partner_id"], line["status"], line["sts_calls"]) for line in lines) == [
        ("acme", 200, 1),
        ("globex", 200, 1),
    ]
    assert partners.stats.sts_calls == 2


@pytest.mark.parametrize("log_format", ["Text", "JSON"])
def test_outside_text_in_the_line_is_redacted_once_by_the_sdk(
    env: dict[str, str], log_format: str
) -> None:
    """An action is the event's text: a secret in it is redacted in the line in both of
    Lambda's formats, and the record is marked redacted, so partnerdb's filter on the root
    handler does not scan it again."""
    secret = env["PARTNER_ACME_EXTERNAL_ID"]
    setup = (
        "from awslambdaric.lambda_runtime_log_utils import JsonFormatter\n"
        "from partnerdb.redact import REDACTOR\n"
        "h = logging.StreamHandler(sys.stdout)\n"
        "h.setFormatter(JsonFormatter() if "
        f"{log_format!r} == 'JSON' else logging.Formatter('%(message)s'))\n"
        "logging.getLogger().addHandler(h); logging.getLogger().setLevel(logging.INFO)\n"
        "marks = []\n"
        "h.addFilter(lambda r: r.name != 'handler_sdk'"
        " or marks.append(getattr(r, 'partnerdb_redacted', None)) or True)"
    )
    script = (
        SCRIPT.replace('handler({{"partnerId": "acme", "boom": True}}, None)',
                       'handler({{"partnerId": "acme", "action": {secret!r} + "-x"}}, None)')
        + "print('MARKS', marks)\n"
    )
    result = run_python(script.format(setup=setup, after="", secret=secret),
                        {**env, "AWS_LAMBDA_LOG_FORMAT": log_format})
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [line.get("action") for line in lines if line["logger"] == "handler_sdk"] == [
        None, "***-x"]
    assert secret not in result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "MARKS [True, True]"
