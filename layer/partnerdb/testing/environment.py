"""Set process environment variables for a test and put back exactly what was there."""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import TracebackType

#: Variables removed while a test environment is active, so a developer's own AWS profile,
#: endpoint or partner configuration cannot leak into a test (or a test into AWS).
CLEARED_PREFIXES = ("AWS_", "PARTNER_")


class Environment:
    """A context manager: clear `CLEARED_PREFIXES`, set `values`; restore everything on exit."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self._saved: dict[str, str] | None = None

    @property
    def active(self) -> bool:
        return self._saved is not None

    def __enter__(self) -> Environment:
        if self._saved is not None:
            raise RuntimeError("this Environment is already active")
        self._saved = dict(os.environ)
        for key in [k for k in os.environ if k.startswith(CLEARED_PREFIXES)]:
            del os.environ[key]
        os.environ.update(self._values)
        return self

    def set(self, values: Mapping[str, str]) -> None:
        """Add variables while active (they are removed again on exit)."""
        if self._saved is None:
            raise RuntimeError("this Environment is not active")
        os.environ.update(values)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        saved, self._saved = self._saved, None
        if saved is None:
            return
        for key in [k for k in os.environ if k not in saved]:
            del os.environ[key]
        for key, value in saved.items():
            if os.environ.get(key) != value:
                os.environ[key] = value
