"""Sleeps for `event["sleep_s"]` seconds, to run past the function timeout."""

from __future__ import annotations

import os
import time
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    print(f"sleepy start pid={os.getpid()}")
    time.sleep(float(event.get("sleep_s", 0)))
    return {"slept": event.get("sleep_s", 0), "pid": os.getpid()}
