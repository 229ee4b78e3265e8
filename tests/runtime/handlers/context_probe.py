"""Reports what the handler sees: context fields, remaining time, trace id, environment."""

from __future__ import annotations

import os
import sys
import time
from typing import Any


def handler(event: Any, context: Any) -> dict[str, Any]:
    first = context.get_remaining_time_in_millis()
    time.sleep(0.05)
    second = context.get_remaining_time_in_millis()
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "invoked_function_arn": context.invoked_function_arn,
        "remaining_ms": [first, second],
        "client_context_custom": (
            context.client_context.custom if context.client_context is not None else None
        ),
        "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
        "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
        "handler": os.environ.get("_HANDLER"),
        "region": os.environ.get("AWS_REGION"),
        "custom_env": os.environ.get("PROBE_SETTING"),
        "sys_path": sys.path,
    }
