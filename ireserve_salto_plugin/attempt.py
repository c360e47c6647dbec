"""One open attempt: its id, what it concerns, and its result and log line, built once.

The staff message for each reason lives here too (one sentence per reason, for staff at the
desk; ``{…}`` parts are filled by the attempt). Host values (park, booking, requester) are
read once as bounded, escaped text: nothing later can raise on them, and no log line can be
forged through them.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from .models import DENIED_REASONS, OpenResult, Outcome, Reason
from .text import LOG_VALUE_CHARS, host_text

log = logging.getLogger("ireserve_salto_plugin")

KEY_CHARS = 1000  # host values as part of the duplicate guard's key

STAFF_MESSAGES: dict[Reason, str] = {
    Reason.OPENED: "Lock {lock} was opened.",
    Reason.INTEGRATION_INACTIVE: "Salto KS opening is switched off for this park.",
    Reason.STATUS_NOT_ALLOWED: "Booking status {status!r} does not allow opening.",
    Reason.TOO_EARLY: "Too early: opening is allowed from {opens_at}.",
    Reason.TOO_LATE: "Too late: opening was allowed until {closes_at}.",
    Reason.NO_LOCK_MAPPED: "No lock is mapped to this object and there is no default lock.",
    Reason.SETTINGS_INVALID: "The Salto KS settings are incomplete or invalid: {detail}",
    Reason.BOOKING_INVALID: "The booking cannot be checked: {detail}",
    Reason.LOCK_NOT_FOUND: "Lock {lock} is not on the Salto KS site; check the mapping.",
    Reason.SITE_NOT_FOUND: "The Salto KS site was not found for this account: {detail}",
    Reason.IQ_NOT_ACTIVATED: (
        "The IQ of lock {lock} is not activated for this account{detail}; run GET PIN and "
        "Set PIN."
    ),
    Reason.IQ_OFFLINE: (
        "The IQ gateway of lock {lock} is offline: check its power and internet connection."
    ),
    Reason.LOCK_OFFLINE: (
        "Lock {lock} is not reachable from its IQ: check the lock's batteries and its "
        "distance to the IQ."
    ),
    Reason.OTP_REJECTED: (
        "Salto KS rejected the one-time code. Likely causes: the IQ PIN was changed outside "
        "i-Reserve, the account was activated in the Salto KS app, or the server clock is "
        "off.{detail}"
    ),
    Reason.OTP_BLOCKED: (
        "Salto KS has blocked one-time codes for this IQ after repeated failures; "
        "try again in about {minutes} minutes."
    ),
    Reason.OTP_SUSPENDED: (
        "One-time codes for this IQ were rejected twice in a row, so the plugin stopped "
        "sending them (to avoid Salto's 20-minute block). Likely causes: the IQ PIN was "
        "changed outside i-Reserve, the account was activated in the Salto KS app, or the "
        "server clock is off. An admin must re-activate the IQ (GET PIN, Set PIN); "
        "otherwise it is retried in about {minutes} minutes."
    ),
    Reason.AUTH_FAILED: "Salto KS refused the login: {detail}",
    Reason.PERMISSION_DENIED: (
        "The Salto KS account may not do this (remote opening right, subscription or "
        "released site): {detail}"
    ),
    Reason.SALTO_REJECTED: "Salto KS refused the request: {detail}",
    Reason.SALTO_UNAVAILABLE: "Salto KS cannot be reached right now; try again shortly.",
    Reason.TIMEOUT: "Salto KS did not answer in time; {detail}",
    Reason.STORE_UNAVAILABLE: (
        "The plugin's shared store (Redis) is not answering, so no open command was sent; "
        "the host's operators must check it."
    ),
    Reason.DUPLICATE: "Already handled a moment ago ({first}).",
    Reason.CLOCK_SKEW: "This server's clock differs from Salto's by more than a minute.",
    Reason.INTERNAL_ERROR: (
        "The Salto KS plugin hit an unexpected error (attempt {attempt}); the log has details."
    ),
}


def _texts(value: Any) -> tuple[str, str]:
    """(as part of a key, as shown in a log line): one conversion when it is short."""
    key = host_text(value, KEY_CHARS)
    return key, key if len(key) <= LOG_VALUE_CHARS else host_text(value)


class Attempt:
    """Builds the result and logs it once, without secrets."""

    __slots__ = ("attempt_id", "booking_id", "booking_key", "by_key", "command_sent",
                 "lock_id", "lock_name", "outcome", "park_id", "park_key", "reason",
                 "requested_by", "result", "started")

    def __init__(self, attempt_id: str, park_id: Any, booking_id: Any, requested_by: Any):
        self.attempt_id = attempt_id
        self.park_key, self.park_id = _texts(park_id)
        self.booking_key, self.booking_id = _texts(booking_id)
        self.by_key, self.requested_by = _texts(requested_by)
        self.lock_id: str | None = None
        self.lock_name: str | None = None
        self.command_sent = False  # the open command may have reached Salto
        self.result: OpenResult | None = None
        self.outcome: Outcome | None = None
        self.reason: Reason | None = None
        self.started = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def fields(self) -> dict[str, Any]:
        """The attempt as structured fields (log ``extra``, span attributes): no secret."""
        return {"attempt_id": self.attempt_id, "park": self.park_id,
                "booking": self.booking_id, "requested_by": self.requested_by,
                "lock": self.lock_id,
                "outcome": self.outcome.value if self.outcome else None,
                "reason": self.reason.value if self.reason else None}

    def done(
        self,
        reason: Reason,
        *,
        opened_at: datetime | None = None,
        booking_updates: dict[str, Any] | None = None,
        new_status: str | None = None,
        retry_after: float | None = None,
        outcome: Outcome | None = None,
        **fill: Any,
    ) -> OpenResult:
        if outcome is None:
            outcome = (Outcome.OPENED if reason is Reason.OPENED else
                       Outcome.DENIED if reason in DENIED_REASONS else Outcome.FAILED)
        fill.setdefault("detail", "")
        fill["lock"] = self.lock_name or self.lock_id or "?"
        fill["attempt"] = self.attempt_id
        message = STAFF_MESSAGES[reason].format_map(_Default(fill))
        self.outcome, self.reason = outcome, reason
        if log.isEnabledFor(logging.INFO):  # the fields are built only when logged
            ms = self.seconds() * 1000
            log.info(
                "salto open attempt=%s park=%s booking=%s by=%s lock=%s outcome=%s "
                "reason=%s ms=%.1f", self.attempt_id, self.park_id, self.booking_id,
                self.requested_by, self.lock_id, outcome.value, reason.value, ms,
                extra={f"salto_{key}": value for key, value in self.fields().items()}
                | {"salto_ms": round(ms, 1)},
            )
        self.result = OpenResult(
            outcome=outcome, reason=reason, message=message, attempt_id=self.attempt_id,
            lock_id=self.lock_id, opened_at=opened_at, booking_updates=booking_updates or {},
            new_status=new_status, retry_after=retry_after,
        )
        return self.result


class _Default(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"
