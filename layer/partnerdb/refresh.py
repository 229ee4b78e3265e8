"""A partner's role credentials: when to ask STS again, how long to wait, when not to ask.

botocore's refreshable credentials, with four changes a Lambda serving many partners needs:

- an early (advisory) refresh gets a small time budget (`refresh_budget`, never more than a
  quarter of the time left); past it the request goes on with the current, still valid
  credentials, and the refresh is tried again `ADVISORY_RETRY_SECONDS` later, not on the
  request's second read of its credentials nor on the next request. Only a mandatory refresh
  (credentials about to expire) may use the whole deadline;
- waiting for another thread's refresh ends at the waiter's deadline (`DeadlineExceeded`);
- a refused AssumeRole is remembered for `backoff` seconds: `PartnerRoleRefused` again without
  calling STS, one log line per refusal; a throttled one for `THROTTLE_BACKOFF_SECONDS` (a
  moment: throttling passes, and STS's quota is shared by every partner of the account), so
  the next requests and the threads waiting on that refresh do not each ask STS again;
- credentials DynamoDB rejects are replaced once (`replace`); rejected again, they are dropped
  and `PartnerCredentialsRejected` is answered for `backoff` seconds without calling STS;
- credentials DynamoDB denies access to (`AccessDeniedException`, which is how a revoked
  session's requests fail) are replaced once too; denied again, the denial is the role's
  permissions, answered as it is, and no denial asks STS again for `backoff` seconds.

Time is read from the injected clock, so tests move it instead of sleeping.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NamedTuple

from partnerdb.constants import THROTTLE_BACKOFF_SECONDS
from partnerdb.deadline import Deadline, current_deadline, reset_deadline
from partnerdb.errors import (
    DeadlineExceeded,
    PartnerCredentialsRejected,
    PartnerDBError,
    PartnerRoleRefused,
    PartnerRoleThrottled,
)
from partnerdb.private_access import RoleCredentials

_log = logging.getLogger("partnerdb.credentials")

#: After an early refresh that did not finish in its budget, try again this much later.
ADVISORY_RETRY_SECONDS = 10.0
#: An early refresh never takes more than this share of the time the request has left.
ADVISORY_SHARE = 0.25

Clock = Callable[[], datetime]


class Backoff(NamedTuple):
    """A back-off in force: no AssumeRole until `until`; meanwhile `error()` is raised."""

    until: datetime
    error: Callable[[], PartnerDBError]


class PartnerCredentials(RoleCredentials):
    """A partner's role credentials: budgets, bounded waits and back-offs around refreshes."""

    def __init__(
        self,
        refresh_using: Callable[[], dict[str, str]],
        *,
        partner_id: str,
        clock: Clock,
        backoff: float,
        refresh_budget: float,
    ) -> None:
        super().__init__(refresh_using=refresh_using, method="assume-role", time_fetcher=clock)
        self._partner_id = partner_id
        self._clock = clock
        self._backoff = timedelta(seconds=backoff)
        self._budget = refresh_budget
        self._advisory_retry_at: datetime | None = None
        self._blocked_until: datetime | None = None
        self._blocked: Callable[[], PartnerDBError] | None = None
        self._denied_until: datetime | None = None

    def forget(self) -> None:
        """Back to never fetched, with no back-off or early-refresh retry remembered: after a
        SnapStart restore the copy assumes the role anew on its next request."""
        super().forget()
        self._advisory_retry_at = None
        self._blocked_until = self._blocked = None
        self._denied_until = None

    # -- botocore's entry point (every read of the credentials) -------------------------

    def check_refresh(self) -> None:
        mandatory = self._wanted()
        if mandatory is None:
            return
        if not mandatory and self._advisory_retry_at is not None and (
            self._clock() < self._advisory_retry_at
        ):
            return  # an early refresh ran out of budget a moment ago: not again yet
        if self.refresh_lock.acquire(False):
            try:
                self._refresh_locked()
            finally:
                self.refresh_lock.release()
        elif mandatory:
            self._wait_for_lock()
            try:
                self._refresh_locked()
            finally:
                self.refresh_lock.release()

    def _wanted(self) -> bool | None:
        """None: no refresh to try now; else whether it is mandatory. Raises the remembered
        error (a back-off) when a mandatory refresh may not ask STS."""
        if not self.needs_refresh(mandatory=False):
            return None
        mandatory = self.needs_refresh(mandatory=True)
        blocked = self._remembered()
        if blocked is not None:
            if mandatory:
                raise blocked
            return None
        return mandatory

    def _refresh_locked(self) -> None:
        """Refresh if still needed once the lock is held (another thread may have done it,
        or had its AssumeRole refused meanwhile)."""
        mandatory = self._wanted()
        if mandatory is None:
            return
        if mandatory:
            self._fetch(mandatory=True)
            return
        budget = self._budget
        deadline = current_deadline()
        if deadline is not None and deadline.expires_at != math.inf:
            budget = min(budget, max(0.0, deadline.remaining()) * ADVISORY_SHARE)
        token = Deadline.after(budget).activate()
        try:
            refreshed = self._fetch(mandatory=False)
        finally:
            reset_deadline(token)
        if refreshed:
            self._advisory_retry_at = None
        else:
            self._advisory_retry_at = self._clock() + timedelta(seconds=ADVISORY_RETRY_SECONDS)

    def _wait_for_lock(self) -> None:
        """Wait for another thread's refresh, no longer than this request's deadline."""
        deadline = current_deadline()
        left = math.inf if deadline is None else deadline.remaining()
        if left == math.inf:
            self.refresh_lock.acquire()
            return
        if left <= 0 or not self.refresh_lock.acquire(timeout=left):
            raise DeadlineExceeded(
                f"partner {self._partner_id!r}: waiting for another request's credential "
                "refresh"
            )

    def _fetch(self, *, mandatory: bool) -> bool:
        """Assume the role (the lock is held); True when new credentials are in place.

        botocore's own refresh logs every failure with a traceback; the typed errors raised
        here say what happened, and a refusal is logged once, when it is remembered.
        """
        try:
            metadata = self.fetch()
        except PartnerRoleRefused as err:
            partner_id, role_arn, seconds = err.partner_id, err.role_arn, self._backoff.seconds
            self._remember(lambda: PartnerRoleRefused(
                partner_id, role_arn,
                f"STS refused it a moment ago; not asked again for {seconds} s",
            ))
            _log.warning("%s; not asked again for %d s", err, seconds)
            if mandatory:
                raise
            return False
        except PartnerRoleThrottled as err:
            pid, arn, wait = err.partner_id, err.role_arn, self._throttle_backoff()
            self._remember(lambda: PartnerRoleThrottled(
                pid, arn, f"STS throttled it a moment ago; not asked again for {wait:g} s",
            ), timedelta(seconds=wait))
            if mandatory:
                raise
            return False
        except PartnerDBError:
            if mandatory:
                raise
            return False
        self.install(metadata)
        return True

    # -- back-offs ----------------------------------------------------------------------

    def backoff(self) -> Backoff | None:
        """The back-off in force now, or None (to carry it over to a later session)."""
        until, error = self._blocked_until, self._blocked
        if until is None or error is None or self._clock() >= until:
            return None
        return Backoff(until, error)

    def resume(self, backoff: Backoff) -> None:
        """Keep to `backoff`, taken from an earlier session of this partner: no AssumeRole
        before it ends (it ends on its own time, whenever that is)."""
        self._blocked_until, self._blocked = backoff.until, backoff.error

    def _remember(
        self, error: Callable[[], PartnerDBError], duration: timedelta | None = None
    ) -> None:
        """Answer `error()` instead of calling STS for `duration` (default: the back-off)."""
        duration = self._backoff if duration is None else duration
        if duration.total_seconds() > 0:
            self._blocked_until = self._clock() + duration
            self._blocked = error

    def _throttle_backoff(self) -> float:
        return min(THROTTLE_BACKOFF_SECONDS, self._backoff.total_seconds())

    def _remembered(self) -> PartnerDBError | None:
        """The error to answer without calling STS, while a back-off lasts."""
        backoff = self.backoff()
        return None if backoff is None else backoff.error()

    # -- credentials DynamoDB rejected ----------------------------------------------------

    def replace(self, rejected_access_key: str | None) -> None:
        """DynamoDB rejected a request signed with `rejected_access_key`: assume the role
        again (once for any number of requests rejected together), under the deadline."""
        blocked = self._remembered()
        if blocked is not None:
            raise blocked
        self._wait_for_lock()
        try:
            current = self.current_access_key
            if current is not None and current != rejected_access_key:
                return  # another request replaced them already
            self._fetch(mandatory=True)
        finally:
            self.refresh_lock.release()

    def rejected_again(self, code: str) -> PartnerCredentialsRejected:
        """Fresh credentials were rejected too: drop them and back off; the error to raise."""
        seconds = int(self._backoff.total_seconds())
        try:
            self._wait_for_lock()
        except DeadlineExceeded:
            pass  # not dropped now: the next use is rejected and answered from the back-off
        else:
            try:
                self.expire_now(self._clock())
            finally:
                self.refresh_lock.release()
        partner_id = self._partner_id  # the error outlives these credentials (`backoff`)
        self._remember(lambda: PartnerCredentialsRejected(
            partner_id,
            f"DynamoDB rejected newly issued credentials a moment ago; the role is not assumed "
            f"again for {seconds} s",
        ))
        _log.warning(
            "partner %r: DynamoDB rejected newly issued credentials too (%s); the role is not "
            "assumed again for %d s", self._partner_id, code, seconds,
        )
        return PartnerCredentialsRejected(
            self._partner_id,
            f"DynamoDB answered {code} again after the role was assumed anew; the role is not "
            f"assumed again for {seconds} s",
        )

    # -- access DynamoDB denied -------------------------------------------------------------

    def replaces_after_denial(self) -> bool:
        """Whether a denial may be a revoked session, worth assuming the role again: not while
        newly assumed credentials' denial is `backoff` seconds old or less, nor during a
        back-off (the denial is then answered as it is, not as the back-off's error)."""
        if self.backoff() is not None:
            return False
        return self._denied_until is None or self._clock() >= self._denied_until

    def denied_again(self, code: str) -> None:
        """Newly assumed credentials were denied too: the role's permissions deny the call
        (no revoked session); denials do not ask STS again for `backoff` seconds."""
        if self._backoff.total_seconds() <= 0:
            return
        self._denied_until = self._clock() + self._backoff
        _log.warning(
            "partner %r: DynamoDB denied newly issued credentials too (%s): the partner's role "
            "does not allow the call; denials do not assume the role again for %d s",
            self._partner_id, code, int(self._backoff.total_seconds()),
        )
