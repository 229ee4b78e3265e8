"""The refunds queue in template.yaml: RefundsFunction is the payments build fed by RefundsQueue
with partial batch failures, and a message that keeps failing ends in a DLQ."""

from __future__ import annotations

from typing import Any

from tests.sam.templates import ROOT


def test_refunds_queue_function(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    payments = resources["PaymentsFunction"]["Properties"]
    refunds = resources["RefundsFunction"]["Properties"]
    assert resources["RefundsFunction"]["Metadata"]["BuildMethod"] == "makefile"
    assert refunds["Handler"] == "payments.refunds.handler"
    assert refunds["CodeUri"] == payments["CodeUri"]
    for same in ("Runtime", "Architectures", "Timeout", "Tracing", "Role", "Layers", "Environment"):
        assert refunds[same] == payments[same], same
    assert (ROOT / refunds["CodeUri"] / "refunds.py").is_file()
    makefile = (ROOT / refunds["CodeUri"] / "Makefile").read_text()
    assert "build-RefundsFunction" in makefile
    (event,) = refunds["Events"].values()
    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": ["RefundsQueue", "Arn"]}
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = resources["RefundsQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * refunds["Timeout"]
    redrive = queue["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["RefundsDeadLetterQueue", "Arn"]}
    assert 1 < redrive["maxReceiveCount"] <= 10
    dlq = resources["RefundsDeadLetterQueue"]["Properties"]
    assert dlq["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]
