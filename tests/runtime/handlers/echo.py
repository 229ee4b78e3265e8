"""Echo handler: returns the event with the process id, and logs a marker line.

The pid tells warm invocations (same process) from cold ones; the marker lets tests find this
invocation's output in the captured logs. `{"print_bytes": n}` also prints n bytes.
"""

from __future__ import annotations

import os
from typing import Any

INIT_PID = os.getpid()
print(f"echo init pid={INIT_PID}")


def handler(event: Any, context: Any) -> dict[str, Any]:
    print(f"echo marker request_id={context.aws_request_id}")
    if isinstance(event, dict) and isinstance(event.get("print_bytes"), int):
        print("x" * event["print_bytes"], flush=True)  # more than a pipe holds, if asked
    return {"event": event, "pid": os.getpid()}
