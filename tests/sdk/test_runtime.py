"""End to end: the sample function through the real awslambdaric and the local Runtime API.

The task root holds what the function's build ships (handler_sdk and the app); partnerdb and its
dependencies come from outside it, as from the layer.
"""

from __future__ import annotations

import json
import shutil
import sysconfig
from pathlib import Path
from typing import Any

from emulators.lambda_runner import LambdaFunction
from partnerdb import Partners
from tests.sdk.conftest import ROOT, load_event, secrets


def task_root(tmp_path: Path) -> Path:
    root = tmp_path / "task"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "handler_sdk", root / "handler_sdk", ignore=ignore)
    (root / "tests" / "sdk").mkdir(parents=True)
    for name in ("__init__.py", "app.py", "models.py"):
        shutil.copy(ROOT / "tests" / "sdk" / name, root / "tests" / "sdk" / name)
    return root


def sdk_lines(logs: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in logs.splitlines() if '"logger":"handler_sdk"' in line]


def test_the_decorated_function_under_awslambdaric(
    env: dict[str, str], partners: Partners, tmp_path: Path
) -> None:
    with LambdaFunction(
        "tests.sdk.app.handler",
        task_root(tmp_path),
        env={k: v for k, v in env.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")},
        extra_paths=[ROOT / "layer", sysconfig.get_paths()["purelib"]],
        function_name="payments",
        timeout_s=10.0,
    ) as function:
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

    lines = sdk_lines(logs)
    assert [(line["status"], line["cold_start"]) for line in lines] == [
        (200, True),
        (400, False),
        (403, False),
    ]
    assert lines[0]["function_name"] == "payments" and lines[0]["sts_calls"] == 1
    assert logs.count('"message":"invocation"') == 3  # awslambdaric's root handler adds none
    assert [s for s in secrets() if s in logs] == []
