"""Kills its own process mid-invocation, as a crash (segfault, OOM kill, os._exit) would."""

from __future__ import annotations

import os
from typing import Any


def handler(event: dict[str, Any], context: Any) -> None:
    print("exits: about to die")
    os._exit(int(event.get("code", 3)))
