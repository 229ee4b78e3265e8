"""Raises from the handler, to check how an unhandled function error comes back."""

from __future__ import annotations

from typing import Any


class PartnerRefused(Exception):
    """A custom exception type, so the errorType is ours and not a builtin."""


def handler(event: Any, context: Any) -> None:
    raise PartnerRefused(f"partner refused request {context.aws_request_id}")
