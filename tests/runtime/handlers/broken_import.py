"""Fails at import, as a function with a broken configuration does during Lambda init."""

from __future__ import annotations

from typing import Any

raise RuntimeError("broken at import: PARTNER_X_ROLE_ARN is malformed")


def handler(event: Any, context: Any) -> None:  # never reached
    return None
