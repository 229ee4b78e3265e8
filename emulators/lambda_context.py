"""An in-process stand-in for awslambdaric's `LambdaContext`, for calling a handler directly.

It carries the attributes the SDK and Powertools read; the time left is fixed
(`remaining_ms`) unless a caller changes it. Functions run by `emulators.lambda_runner` get the
real `LambdaContext` from awslambdaric instead.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass
class FakeContext:
    """The attributes of awslambdaric's LambdaContext the SDK and Powertools read."""

    remaining_ms: int = 10_000
    function_name: str = "payments"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:payments"
    log_group_name: str = "/aws/lambda/payments"
    log_stream_name: str = "2024/11/26/[$LATEST]0123456789abcdef"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
