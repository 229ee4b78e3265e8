"""What the payments function prints, through awslambdaric: one JSON line per invocation, and
never a credential or an ExternalId."""

from __future__ import annotations

from emulators.fault_server import FaultServer, dynamodb_500
from emulators.lambda_runner import FunctionResult
from local.stack import DEMO_PARTNERS, HOME_CREDENTIALS, Stack
from tests.payments.helpers import Payments, moto_issued_secrets, sdk_lines

CREATE = {"customerId": "cust-1", "amount": 1000, "currency": "USD", "idempotencyKey": "k-1"}


def _secrets() -> dict[str, str]:
    """Every secret the logs must not hold, named for the failure message."""
    named = {
        "home secret key": HOME_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "home session token": HOME_CREDENTIALS["AWS_SESSION_TOKEN"],
    }
    for partner in DEMO_PARTNERS:
        named[f"{partner.partner_id} ExternalId"] = partner.external_id
    issued = sorted(moto_issued_secrets())
    assert issued, "moto issued no credentials: nothing was checked"
    for i, value in enumerate(issued):
        named[f"STS-issued secret #{i}"] = value
    return named


def _leaks(logs: str) -> list[str]:
    """The names of the secrets found in `logs`."""
    return [name for name, value in _secrets().items() if value in logs]


#: (partnerId, action, data) sent; then the partner_id, status and sts_calls the line shows.
CALLS: list[tuple[object, object, object, str | None, int, int]] = [
    ("acme", "createPayment", CREATE, "acme", 200, 1),
    ("globex", "createPayment", CREATE, "globex", 200, 1),
    ("ACME", "createPayment", CREATE, "acme", 200, 0),  # credentials cached: no STS call
    ("acme", "getPayment", {"id": "nope"}, "acme", 404, 0),
    ("acme", "createPayment", {**CREATE, "amount": 1.5}, "acme", 400, 0),
    ("acme", "createPayment", {**CREATE, "amount": 7}, "acme", 409, 0),
    ("acme", "fly", None, "acme", 400, 0),
    ("acme", None, None, "acme", 400, 0),
    ("initech", "getPayment", None, "initech", 403, 0),
    ("bad id", "getPayment", None, None, 400, 0),
]
PLATFORM_LINES = ("INIT_START ", "START ", "END ", "REPORT ")


def test_one_json_line_per_invocation_and_no_secret_in_any_line(stack: Stack) -> None:
    payments = Payments(stack.function())
    results: list[FunctionResult] = []
    for partner, action, data, partner_id, status, sts_calls in CALLS:
        event = {"partnerId": partner, "action": action, "data": data}
        result = payments.invoke({k: v for k, v in event.items() if v is not None})
        results.append(result)
        assert result.payload["status"] == status, (event, result.payload)
        [line] = sdk_lines(result.logs)  # Payments.invoke checked there is exactly one
        assert line["requestId"] == result.request_id
        shown = (line["partner_id"], line["action"], line["status"], line["sts_calls"])
        assert shown == (partner_id, action, status, sts_calls), event
        assert line["message"] == "invocation" and line["function_name"] == "payments"
        assert line["level"] == "INFO" and line["cold_start"] is (result is results[0])
        if status != 200:
            assert result.payload["requestId"] == result.request_id

    logs = payments.fn.logs()
    assert {line["requestId"] for line in sdk_lines(logs)} == {r.request_id for r in results}
    assert len(sdk_lines(logs)) == len(CALLS)
    # Nothing else is printed: only the platform's lines and the SDK's one line per call.
    others = [
        line
        for line in logs.splitlines()
        if line and not line.startswith(PLATFORM_LINES) and '"logger":"handler_sdk"' not in line
    ]
    assert others == []
    assert _leaks(logs) == []


def test_an_internal_error_logs_its_traceback_without_secrets(stack: Stack) -> None:
    """DynamoDB failing with 500s: the caller gets "internal error", the log line the
    traceback, and neither holds a credential or an ExternalId."""
    with FaultServer(dynamodb_500) as dynamodb:
        fn = stack.function(env={"AWS_ENDPOINT_URL_DYNAMODB": dynamodb.url})
        payments = Payments(fn)
        result = payments.invoke({"partnerId": "acme", "action": "createPayment", "data": CREATE})
        assert dynamodb.requests >= 1
    assert result.payload["status"] == 500 and result.payload["error"] == "internal error"
    [line] = sdk_lines(result.logs)
    assert line["level"] == "ERROR" and line["status"] == 500 and "stackTrace" in line
    assert "InternalServerError" in "\n".join(line["stackTrace"])
    assert _leaks(fn.logs()) == []
    assert not any(value in str(result.payload) for value in _secrets().values())
