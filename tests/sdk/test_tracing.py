"""X-Ray: a sampled invocation sends an annotated subsegment over UDP; otherwise X-Ray is never
imported. Each case runs in a fresh interpreter, the daemon address set before import."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from handler_sdk import tracing
from partnerdb import ConfigError, Partners
from tests.sdk.conftest import run_python

ROOT_1 = "1-6745a1f0-0a1b2c3d4e5f60718293a4b5"
ROOT_2 = "1-6745a1f1-9f8e7d6c5b4a39281706f5e4"
PARENT = "53995c3f42cd8ad8"

APP = """
import json, os, sys
from emulators.lambda_context import FakeContext  # tests.support's, without moto's imports
from tests.sdk.app import handler

event = {"partnerId": "acme", "action": "getPayment", "data": {"id": "p-1"}}
statuses = [handler(event, FakeContext(aws_request_id="req-1"))["status"]]
if os.environ.get("SECOND_TRACE_HEADER"):
    os.environ["_X_AMZN_TRACE_ID"] = os.environ["SECOND_TRACE_HEADER"]  # as awslambdaric does
    statuses.append(handler(event, FakeContext(aws_request_id="req-2"))["status"])
print(json.dumps({"statuses": statuses, "xray_imported": "aws_xray_sdk" in sys.modules,
                  "boto3_imported": "boto3" in sys.modules}))
"""


def header(root: str, sampled: int) -> str:
    return f"Root={root};Parent={PARENT};Sampled={sampled}"


@pytest.fixture
def daemon() -> Iterator[socket.socket]:
    """A UDP socket standing in for the X-Ray daemon."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def received(sock: socket.socket, quiet_for: float = 0.5) -> list[dict[str, Any]]:
    """Every entity the daemon got, read until it stays quiet for `quiet_for` seconds."""
    sock.settimeout(quiet_for)
    entities = []
    for _ in range(1000):
        try:
            datagram = sock.recv(65535)
        except TimeoutError:
            break
        head, _, document = datagram.decode().partition("\n")
        assert json.loads(head) == {"format": "json", "version": 1}
        entities.append(json.loads(document))
    return entities


def run_app(env: dict[str, str], daemon: socket.socket, tmp_path: Path, **extra: str) -> Any:
    lambda_env = {
        "AWS_LAMBDA_FUNCTION_NAME": "payments",
        "LAMBDA_TASK_ROOT": str(tmp_path),
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
    }
    done = run_python(APP, {**env, **lambda_env, **extra})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def tables(partners: Partners) -> None:
    """The payments tables and p-1 exist in moto for the subprocess to read."""


def test_a_sampled_invocation_sends_an_annotated_subsegment(
    env: dict[str, str], tables: None, daemon: socket.socket, tmp_path: Path
) -> None:
    result = run_app(
        env,
        daemon,
        tmp_path,
        _X_AMZN_TRACE_ID=header(ROOT_1, 1),
        SECOND_TRACE_HEADER=header(ROOT_2, 1),
    )
    assert result == {"statuses": [200, 200], "xray_imported": True, "boto3_imported": False}
    entities = received(daemon)
    ours = [e for e in entities if e["name"] == "partnerdb ## payments"]
    assert [e["trace_id"] for e in ours] == [ROOT_1, ROOT_2]
    first, second = ours
    assert first["type"] == "subsegment" and first["parent_id"] == PARENT
    assert first["annotations"] == {
        "partner_id": "acme",
        "action": "getPayment",
        "cold_start": True,
        "status": 200,
    }
    assert second["annotations"]["cold_start"] is False
    dynamodb = [e for e in entities if e.get("namespace") == "aws" and e["name"] == "dynamodb"]
    # botocore patched once, PynamoDB not: exactly one DynamoDB subsegment per invocation,
    # each a child of that invocation's subsegment
    assert sorted(e["parent_id"] for e in dynamodb) == sorted(e["id"] for e in ours)
    first_get = next(e for e in dynamodb if e["parent_id"] == first["id"])
    sts = [e for e in entities if e["name"] == "sts"]
    # the role is assumed once, while the first GetItem is signed
    assert [(e["aws"]["operation"], e["parent_id"]) for e in sts] == [
        ("AssumeRole", first_get["id"])
    ]


@pytest.mark.parametrize(
    "extra",
    [
        {"_X_AMZN_TRACE_ID": header(ROOT_1, 0)},
        {"_X_AMZN_TRACE_ID": header(ROOT_1, 1), "PARTNERDB_TRACING": "false"},
        {"_X_AMZN_TRACE_ID": header(ROOT_1, 1), "POWERTOOLS_TRACE_DISABLED": "true"},
        {},
    ],
    ids=["not sampled", "PARTNERDB_TRACING=false", "POWERTOOLS_TRACE_DISABLED", "no header"],
)
def test_unsampled_or_disabled_never_imports_xray(
    env: dict[str, str],
    tables: None,
    daemon: socket.socket,
    tmp_path: Path,
    extra: dict[str, str],
) -> None:
    result = run_app(env, daemon, tmp_path, **extra)
    assert result == {"statuses": [200], "xray_imported": False, "boto3_imported": False}
    assert received(daemon) == []


def test_no_open_segment_is_harmless(
    env: dict[str, str], tables: None, daemon: socket.socket, tmp_path: Path
) -> None:
    """Forced on outside X-Ray's Lambda mode: no segment, in_subsegment would yield None."""
    done = run_python(
        APP,
        {
            **env,
            "PARTNERDB_TRACING": "true",
            "_X_AMZN_TRACE_ID": header(ROOT_1, 1),
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
        },
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["statuses"] == [200]
    assert "Traceback" not in done.stderr  # X-Ray only warns that no segment is open
    assert received(daemon) == []


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"AWS_LAMBDA_FUNCTION_NAME": "f"}, True),
        ({"AWS_LAMBDA_FUNCTION_NAME": "f", "PARTNERDB_TRACING": "false"}, False),
        ({"AWS_LAMBDA_FUNCTION_NAME": "f", "PARTNERDB_TRACING": "0"}, False),
        ({"AWS_LAMBDA_FUNCTION_NAME": "f", "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({"AWS_LAMBDA_FUNCTION_NAME": "f", "POWERTOOLS_TRACE_DISABLED": "false"}, True),
        ({"PARTNERDB_TRACING": "true"}, True),
        ({"PARTNERDB_TRACING": "TRUE", "POWERTOOLS_TRACE_DISABLED": "1"}, False),
    ],
)
def test_tracing_switch(environ: dict[str, str], expected: bool) -> None:
    assert tracing.enabled(environ) is expected


def test_tracing_switch_refuses_junk() -> None:
    with pytest.raises(ConfigError, match="PARTNERDB_TRACING"):
        tracing.enabled({"PARTNERDB_TRACING": "maybe"})


@pytest.mark.parametrize(
    ("value", "sampled"),
    [
        (None, False),
        (header(ROOT_1, 1), True),
        (header(ROOT_1, 0), False),
        (f"Root={ROOT_1};Sampled=1;Lineage=a:1", True),
        (f"Root={ROOT_1};Parent={PARENT}", False),
        (f"Root={ROOT_1};Parent={PARENT};Sampled=10", False),
    ],
)
def test_sampling_decision_from_the_trace_header(value: str | None, sampled: bool) -> None:
    assert tracing.is_sampled(value) is sampled


LEAKY_APP = """
import json, os
from handler_sdk import with_partner_db
from tests.sdk.models import Payment

class Context:
    function_name = "payments"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:payments"
    memory_limit_in_mb = 512
    aws_request_id = "req-1"
    def get_remaining_time_in_millis(self):
        return 10000

@with_partner_db(models=[Payment])
def handler(event, context, db):
    db.model(Payment).get("p-1")  # the role is assumed: real issued credentials exist
    # a library error that quotes the partner's ExternalId in its text
    raise RuntimeError("signing refused for " + os.environ["PARTNER_ACME_EXTERNAL_ID"])

response = handler({"partnerId": "acme", "action": "getPayment", "data": {}}, Context())
print(json.dumps({"statuses": [response["status"]]}))
"""


def test_a_5xx_exception_reaches_x_ray_redacted(
    env: dict[str, str], tables: None, daemon: socket.socket, tmp_path: Path
) -> None:
    """X-Ray records the exception's text: it gets the redaction of the log line."""
    lambda_env = {
        "AWS_LAMBDA_FUNCTION_NAME": "payments",
        "LAMBDA_TASK_ROOT": str(tmp_path),
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
        "_X_AMZN_TRACE_ID": header(ROOT_1, 1),
    }
    done = run_python(LEAKY_APP, {**env, **lambda_env})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"statuses": [500]}
    external_id = env["PARTNER_ACME_EXTERNAL_ID"]
    assert external_id not in done.stdout + done.stderr  # the log line, as before
    ours = [e for e in received(daemon) if e["name"] == "partnerdb ## handler"]
    assert len(ours) == 1 and ours[0]["fault"] is True
    (recorded,) = ours[0]["cause"]["exceptions"]
    assert recorded["type"] == "RuntimeError"
    assert recorded["message"] == "signing refused for ***"
    assert external_id not in json.dumps(ours)
