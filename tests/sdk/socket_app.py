"""A function without SnapStart hooks that opens a connection at init (a module-level client
with a warm pool): the control case showing what restored copies share when nothing is
dropped after restore."""

from __future__ import annotations

import os
import random
import socket
from typing import Any
from urllib.parse import urlsplit

_endpoint = urlsplit(os.environ["AWS_ENDPOINT_URL"])
connection = socket.create_connection((_endpoint.hostname or "127.0.0.1", _endpoint.port or 80))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"random": random.getrandbits(64), "pid": os.getpid()}
