"""Echo handler: returns the event with the process id, and logs a marker line.

The pid tells warm invocations (same process) from cold ones; the marker lets tests find this
invocation's output in the captured logs.
"""

from __future__ import annotations

import os
from typing import Any

INIT_PID = os.getpid()
print(f"echo init pid={INIT_PID}")


def handler(event: Any, context: Any) -> dict[str, Any]:
    print(f"echo marker request_id={context.aws_request_id}")
    return {"event": event, "pid": os.getpid()}
