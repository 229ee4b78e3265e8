"""A Lambda context for tests: the attributes awslambdaric's context has, with a real deadline."""

from __future__ import annotations

import time
import uuid
from typing import Any


class LambdaContext:
    """What Lambda passes as `context`, with a deadline of `timeout_s`.

    The clock starts at the first `get_remaining_time_in_millis()` (when the handler's
    decorator reads the deadline: Lambda starts it when it hands out the event), so a test's
    setup does not eat into it; from then on it counts down on the monotonic clock, and
    partnerdb's deadline (and `db.remaining_ms()`) behaves as it does deployed. Use a new
    context per invocation, as Lambda does.
    """

    def __init__(
        self,
        *,
        timeout_s: float = 3.0,
        function_name: str = "test-function",
        memory_mb: int = 128,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        request_id: str | None = None,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")
        self.timeout_s = timeout_s
        self._deadline: float | None = None
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        self.memory_limit_in_mb = str(memory_mb)  # a string, as awslambdaric sets it
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"2026/01/01/[$LATEST]{uuid.uuid4().hex}"
        self.identity: Any = None
        self.client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds until the deadline, never below 0."""
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now + self.timeout_s
        return max(0, int((self._deadline - now) * 1000))
