"""The invocation deadline and the botocore hooks that enforce it.

A `Deadline` is a point on the monotonic clock. The deadline of the running invocation lives in
a context variable, so concurrent invocations in threads never see each other's. Hooks on every
client we build read it:

- `before-parameter-build` (once per call, before endpoint resolution and signing, which may
  fetch credentials): a call that would start after the deadline raises `DeadlineExceeded`
  before anything is fetched, signed or sent;
- `before-send` (each attempt): no attempt starts after the deadline; the attempt itself,
  connection to last byte, is cut at the deadline by `partnerdb.watchdog` (clients built by
  `partnerdb.clients` send through it);
- `needs-retry`: a retry whose backoff would not fit in the time left is not made.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any, Protocol

from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError
from botocore.httpsession import URLLib3Session
from botocore.retries import adaptive, bucket, standard

from partnerdb.constants import DEADLINE_BUFFER_MS
from partnerdb.errors import DeadlineExceeded
from partnerdb.private_access import rate_limiter_bucket, rate_limiter_enabled

#: True when botocore honours `request.context["read_timeout"]` (botocore 1.43.68 and newer).
PER_REQUEST_READ_TIMEOUT = hasattr(URLLib3Session, "_get_request_timeout")

#: A retry is only worth starting with this much time left after its backoff.
MIN_ATTEMPT_SECONDS = 0.05

_current: ContextVar[Deadline | None] = ContextVar("partnerdb_deadline", default=None)


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


class Deadline:
    """When the invocation must stop starting work, on the monotonic clock."""

    __slots__ = ("expires_at",)

    def __init__(self, expires_at: float) -> None:
        self.expires_at = expires_at

    @classmethod
    def from_context(
        cls, context: LambdaContext, buffer_ms: int = DEADLINE_BUFFER_MS
    ) -> Deadline:
        """The Lambda deadline minus `buffer_ms`, kept for logging and responses.

        A remaining time of 0 is 0 (already expired), never "unknown".
        """
        if buffer_ms < 0:
            raise ValueError("buffer_ms must be >= 0")
        remaining = context.get_remaining_time_in_millis()
        if not isinstance(remaining, int | float) or isinstance(remaining, bool):
            raise TypeError("context.get_remaining_time_in_millis() must return a number")
        return cls(time.monotonic() + (remaining - buffer_ms) / 1000.0)

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        """A deadline `seconds` from now (tests, scripts, work outside Lambda)."""
        return cls(time.monotonic() + seconds)

    @classmethod
    def never(cls) -> Deadline:
        """No deadline: calls are bounded only by the client timeouts and retries."""
        return cls(math.inf)

    def remaining(self) -> float:
        """Seconds left; negative once passed, `inf` for `never()`."""
        return self.expires_at - time.monotonic()

    def remaining_ms(self) -> int:
        """Whole milliseconds left, never negative (a large number for `never()`)."""
        left = self.remaining()
        if left == math.inf:
            return 2**31 - 1
        return max(0, int(left * 1000))

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0

    def check(self, what: str) -> None:
        """Raise `DeadlineExceeded` if no time is left to start `what`."""
        if self.remaining() <= 0:
            raise DeadlineExceeded(f"{what} not started, no time left")

    def activate(self) -> Token[Deadline | None]:
        """Make this the deadline of the current context (thread or task).

        Low level: pair it with `reset_deadline(token)`. `with partners.db(...)` does both.
        """
        return _current.set(self)

    def __repr__(self) -> str:
        return f"Deadline(remaining_ms={self.remaining_ms()})"


def current_deadline() -> Deadline | None:
    """The deadline of the running invocation, if one is active in this context."""
    return _current.get()


def reset_deadline(token: Token[Deadline | None]) -> None:
    """Undo `Deadline.activate()`."""
    _current.reset(token)


def _op_name(operation: Any) -> str:
    return str(getattr(operation, "name", operation))


def _before_call(model: Any = None, **_: Any) -> None:
    deadline = _current.get()
    if deadline is not None and deadline.remaining() <= 0:
        raise DeadlineExceeded(f"{_op_name(model)} not started, no time left")


def _before_send(**_: Any) -> None:
    """No attempt starts after the deadline. Its timeouts are set when it is actually sent
    (`partnerdb.watchdog`), after every wait other `before-send` handlers make."""
    deadline = _current.get()
    if deadline is not None and deadline.remaining() <= 0:
        raise DeadlineExceeded("request attempt not started, no time left")


class _DeadlineRetry:
    """Wraps botocore's standard retry decision: retry only when backoff plus a try fits."""

    def __init__(self, decide: Callable[..., float | None]) -> None:
        self._decide = decide

    def __call__(self, **kwargs: Any) -> float | None:
        caught = kwargs.get("caught_exception")
        if isinstance(caught, DeadlineExceeded):
            return None  # let botocore raise it as is
        delay = self._decide(**kwargs)
        deadline = _current.get()
        if deadline is None:
            return delay
        left = deadline.remaining()
        op = _op_name(kwargs.get("operation"))
        if delay is None:
            if left <= 0 and isinstance(caught, HTTPClientError | BotoConnectionError):
                # The read timeout was shrunk to the deadline: report the deadline, not a
                # generic timeout.
                raise DeadlineExceeded(f"{op} cut at the deadline")
            return delay
        if delay + MIN_ATTEMPT_SECONDS >= left:
            cause = type(caught).__name__ if caught is not None else _error_code(kwargs)
            raise DeadlineExceeded(
                f"{op} retry after {cause} would not fit in the {max(0, int(left * 1000))} ms left"
            )
        return delay


def _error_code(kwargs: dict[str, Any]) -> str:
    response = kwargs.get("response")
    if response is not None:
        code = response[1].get("Error", {}).get("Code")
        if code:
            return str(code)
    return "an error"


def _deadline_acquire(limiter: Any) -> Callable[..., None]:
    """Adaptive mode's client-side rate limiter, waiting no longer than the deadline."""
    token_bucket = rate_limiter_bucket(limiter)

    def acquire(**_: Any) -> None:
        if token_bucket is None or not rate_limiter_enabled(limiter):
            return
        while True:
            try:
                token_bucket.acquire(block=False)
                return
            except bucket.CapacityNotAvailableError:
                deadline = _current.get()
                left = math.inf if deadline is None else deadline.remaining()
                if left <= MIN_ATTEMPT_SECONDS:
                    raise DeadlineExceeded(
                        "the client-side rate limiter would wait past the deadline"
                    ) from None
                time.sleep(min(0.01, left))

    return acquire


def install_deadline_hooks(client: Any, *, retry_mode: str, max_attempts: int) -> None:
    """Register the deadline hooks on one botocore client built with standard retries.

    botocore's own retry handler is replaced by the same handler wrapped in the deadline
    check; in adaptive mode the rate limiter is added with a deadline-bounded wait.
    """
    events = client.meta.events
    svc = client.meta.service_model.service_id.hyphenize()
    events.register_first(f"before-parameter-build.{svc}", _before_call)
    events.register_first(f"before-send.{svc}", _before_send)

    uid = f"retry-config-{svc}"
    events.unregister(f"needs-retry.{svc}", unique_id=uid)
    handler = standard.register_retry_handler(client, max_attempts=max_attempts)
    events.unregister(f"needs-retry.{svc}", unique_id=uid)
    events.register(f"needs-retry.{svc}", _DeadlineRetry(handler.needs_retry), unique_id=uid)
    if retry_mode == "adaptive":
        limiter = adaptive.register_retry_handler(client)
        events.unregister("before-send", limiter.on_sending_request)
        events.register_first("before-send", _deadline_acquire(limiter))

