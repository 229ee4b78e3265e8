"""End to end: the sample function through the real awslambdaric and the local Runtime API.

The task root holds what the function's build ships (handler_sdk and the app); partnerdb and its
dependencies come from outside it, as from the layer.
"""

from __future__ import annotations

import json
import shutil
import sysconfig
from pathlib import Path

import pytest

from emulators.lambda_runner import LambdaFunction
from partnerdb import Partners
from tests.sdk.conftest import LINE, ROOT, load_event, log_lines, secrets


def task_root(tmp_path: Path) -> Path:
    root = tmp_path / "task"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "handler_sdk", root / "handler_sdk", ignore=ignore)
    (root / "tests" / "sdk").mkdir(parents=True)
    for name in ("__init__.py", "app.py", "models.py"):
        shutil.copy(ROOT / "tests" / "sdk" / name, root / "tests" / "sdk" / name)
    return root


def sdk_function(
    handler: str, env: dict[str, str], tmp_path: Path, **extra_env: str
) -> LambdaFunction:
    """`tests.sdk.app.<handler>` as Lambda runs it; partnerdb from outside the task root."""
    function_env = {k: v for k, v in env.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    return LambdaFunction(
        f"tests.sdk.app.{handler}",
        task_root(tmp_path),
        env={**function_env, **extra_env},
        extra_paths=[ROOT / "layer", sysconfig.get_paths()["purelib"]],
        function_name="payments",
        timeout_s=10.0,
    )


@pytest.mark.parametrize("log_format", ["Text", "JSON"])
def test_the_decorated_function_under_awslambdaric(
    env: dict[str, str], partners: Partners, tmp_path: Path, log_format: str
) -> None:
    """Lambda's text format prefixes the JSON line; its JSON format writes one flat object
    whose requestId is the runtime's own."""
    with sdk_function("handler", env, tmp_path, AWS_LAMBDA_LOG_FORMAT=log_format) as function:
        first = function.invoke(
            {"partnerId": "acme", "action": "getPayment", "data": {"id": "p-1"}}
        )
        second = function.invoke(load_event("apigw_v2") | {"body": None}, request_id="req-2")
        unknown = function.invoke({"partnerId": "initech", "action": "getPayment"})
        logs = function.logs()

    assert first.cold_start and not second.cold_start
    assert first.payload == {
        "success": True,
        "status": 200,
        "data": {"id": "p-1", "amount": 10.5, "currency": "EUR"},
    }
    assert not second.is_error and second.payload["statusCode"] == 400  # no action in route
    assert json.loads(second.payload["body"]) == {
        "error": "unknown action: (none)",
        "requestId": "req-2",
    }
    assert not unknown.is_error and unknown.payload["status"] == 403

    lines = log_lines(logs)
    assert [(line["status"], line["cold_start"]) for line in lines] == [
        (200, True),
        (400, False),
        (403, False),
    ]
    assert lines[0]["function_name"] == "payments" and lines[0]["sts_calls"] == 1
    assert lines[1]["requestId"] == "req-2"
    assert lines[2]["errorType"] == "UnknownPartner"
    if log_format == "JSON":
        assert all(line.startswith("{") for line in logs.splitlines() if "invocation" in line)
    else:  # the runtime's text prefix, with each invocation's own request id
        text = [line + "\n" for line in logs.splitlines() if "invocation" in line]
        prefixed = [LINE.fullmatch(line) for line in text]
        assert [m["rid"] if m else None for m in prefixed] == [
            first.request_id, "req-2", unknown.request_id
        ]

    # once each, through awslambdaric's root handler
    assert sum('"invocation"' in line for line in logs.splitlines()) == 3
    assert [s for s in secrets() if s in logs] == []


@pytest.mark.parametrize(("log_format", "direct"), [("Text", True), ("JSON", False)])
def test_the_runtime_text_handler_is_recognised_for_the_direct_route(
    env: dict[str, str], tmp_path: Path, log_format: str, direct: bool
) -> None:
    """awslambdaric's own setup, as its bootstrap makes it, is the one `RuntimeLog` writes to
    directly (test_runtime_log.py proves the bytes are the same)."""
    with sdk_function("log_route", env, tmp_path, AWS_LAMBDA_LOG_FORMAT=log_format) as function:
        result = function.invoke({})
    assert result.payload == {"direct": direct}


def test_errors_raise_is_a_lambda_error_with_the_typed_class_name(
    env: dict[str, str], partners: Partners, tmp_path: Path
) -> None:
    with sdk_function("raising", env, tmp_path) as function:
        unknown = function.invoke({"partnerId": "initech", "action": "getPayment"})
        missing = function.invoke({"partnerId": "acme", "action": "getPayment", "data": {}})
        ok = function.invoke({"partnerId": "acme", "action": "getPayment", "data": {"id": "p-1"}})
        logs = function.logs()

    assert unknown.is_error and unknown.error_type == "UnknownPartner"
    assert unknown.error_message == "unknown partner"
    assert missing.is_error and missing.error_type == "BadRequest"
    assert not ok.is_error and ok.payload["data"]["id"] == "p-1"
    # the log line of each failure was written before the error went back
    invocations = [line for line in log_lines(logs) if line["message"] == "invocation"]
    assert [line.get("errorType") for line in invocations] == [
        "UnknownPartner",
        "BadRequest",
        None,
    ]
    assert [s for s in secrets() if s in logs] == []
