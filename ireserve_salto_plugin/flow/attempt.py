"""One open attempt: its id, what it concerns, and its result and log line, built once.

Its messages, for staff and for the guest, come from :mod:`.messages` in the park's and
the booking's language. Host values (park, booking, requester) are
read once as bounded, escaped text: nothing later can raise on them, and no log line can be
forged through them.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime, tzinfo
from typing import Any

from ireserve_salto_plugin.models import DENIED_REASONS, OpenResult, Outcome, Reason
from ireserve_salto_plugin.park.i18n import DEFAULT, when
from ireserve_salto_plugin.park.messages import guest_message, retry_advice, staff_message
from ireserve_salto_plugin.park.text import host_text, local_time
from ireserve_salto_plugin.salto.cache import Key, Push
from ireserve_salto_plugin.store.keys import (
    DOOR_LOG,
    DOOR_LOG_CAP,
    DOOR_LOG_SECONDS,
    LAST_OPEN,
    LAST_OPEN_SECONDS,
    OPENER,
    RECEIPT,
    RECEIPT_SECONDS,
)

log = logging.getLogger(__name__)

WINDOW_REASONS = frozenset({Reason.TOO_EARLY, Reason.TOO_LATE})


def exact_key(value: Any) -> str:
    """A digest of a host value exactly as the host passed it (any length, any character,
    its type): part of the duplicate guard's key. An escaped or cut text made
    ``guest:\\x00`` and ``guest:\x00``, or two long requesters, one key."""
    try:
        text = value if isinstance(value, str) else repr(value)
    except Exception:  # a host object whose repr fails: its type still tells it apart
        text = f"<{type(value).__name__} {id(value)}>"
    raw = f"{type(value).__name__}\x00{text}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(raw).hexdigest()


def _texts(value: Any) -> tuple[str, str]:
    """(as part of a key: a digest of the exact value, as shown in a log line)."""
    return exact_key(value), host_text(value)


class Attempt:
    """Builds the result and logs it once, without secrets."""

    __slots__ = (
        "answered_error",
        "attempt_id",
        "booking_id",
        "booking_key",
        "by_key",
        "command_sent",
        "guest_lang",
        "intent",
        "kind",
        "lang",
        "lock_id",
        "lock_name",
        "maybe_opened",
        "outcome",
        "park_id",
        "park_key",
        "reason",
        "requested_by",
        "result",
        "salto_at",
        "started",
        "waiting",
        "way_out",
        "why",
        "window",
        "zone",
    )

    def __init__(self, attempt_id: str, park_id: Any, booking_id: Any, requested_by: Any):
        self.attempt_id = attempt_id
        self.park_key, self.park_id = _texts(park_id)
        self.booking_key, self.booking_id = _texts(booking_id)
        self.by_key, self.requested_by = _texts(requested_by)
        self.lock_id: str | None = None
        self.lock_name: str | None = None
        self.command_sent = False  # the open command may have reached Salto
        self.intent = False  # the door log's intent may have been written (a result follows)
        self.maybe_opened = False  # no answer came after the command: the door may be open
        # Salto answered the command itself with a 5xx: it may have opened (said so), and a
        # retry stays as hookspecs.md documents salto_unavailable (retryable)
        self.answered_error = False
        self.waiting = False  # a repeat tap while the first attempt is still running
        self.salto_at: datetime | None = None  # Salto's time when it accepted the open
        self.kind = "guest"  # "guest" (a booking's open), "staff" or "test"
        self.why = ""  # a staff open's reason, as given
        self.result: OpenResult | None = None
        self.outcome: Outcome | None = None
        self.reason: Reason | None = None
        self.started = time.perf_counter()
        self.lang = self.guest_lang = DEFAULT  # staff's (park) and guest's (booking)
        self.zone: tzinfo = UTC  # the park's, for times shown to people
        self.window: tuple[datetime, datetime] | None = None  # the booking's, once read
        self.way_out = ""  # what the guest does when the door cannot open online

    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def fields(self) -> dict[str, Any]:
        """The attempt as structured fields (log ``extra``, span attributes): no secret."""
        return {
            "attempt_id": self.attempt_id,
            "park": self.park_id,
            "booking": self.booking_id,
            "requested_by": self.requested_by,
            "lock": self.lock_id,
            "outcome": self.outcome.value if self.outcome else None,
            "reason": self.reason.value if self.reason else None,
        }

    def done(
        self,
        reason: Reason,
        *,
        opened_at: datetime | None = None,
        booking_updates: dict[str, Any] | None = None,
        new_status: str | None = None,
        retry_after: float | None = None,
        outcome: Outcome | None = None,
        details: str = "",
        **fill: Any,
    ) -> OpenResult:
        if outcome is None:
            outcome = (
                Outcome.OPENED
                if reason is Reason.OPENED
                else Outcome.DENIED
                if reason in DENIED_REASONS
                else Outcome.FAILED
            )
        fill.setdefault("detail", "")
        fill["lock"] = self.lock_name or self.lock_id or "?"
        fill["attempt"] = self.attempt_id
        opens_at, closes_at = self.window or (None, None)
        guest = dict(fill)
        for name, moment in (("opens_at", opens_at), ("closes_at", closes_at)):
            if moment is not None and reason in WINDOW_REASONS:  # only they show times
                fill[name] = local_time(moment, self.zone)
                guest[name] = when(moment, self.zone, self.guest_lang)
        waiting = self.waiting
        maybe_opened = self.maybe_opened or self.answered_error  # the words
        message = staff_message(reason, self.lang, fill, maybe_opened=maybe_opened)
        guest_text = guest_message(
            reason,
            outcome,
            self.guest_lang,
            guest,
            maybe_opened=maybe_opened,
            waiting=waiting,
            way_out=self.way_out,
        )
        retryable, call_reception = retry_advice(
            reason, outcome, waiting=waiting, maybe_opened=self.maybe_opened
        )
        self.outcome, self.reason = outcome, reason
        if log.isEnabledFor(logging.INFO):  # the fields are built only when logged
            ms = self.seconds() * 1000
            log.info(
                "salto open attempt=%s park=%s booking=%s by=%s lock=%s outcome=%s "
                "reason=%s ms=%.1f",
                self.attempt_id,
                self.park_id,
                self.booking_id,
                self.requested_by,
                self.lock_id,
                outcome.value,
                reason.value,
                ms,
                extra={f"salto_{key}": value for key, value in self.fields().items()}
                | {"salto_ms": round(ms, 1)},
            )
        self.result = OpenResult(
            outcome=outcome,
            reason=reason,
            message=message,
            attempt_id=self.attempt_id,
            lock_id=self.lock_id,
            opened_at=opened_at,
            booking_updates=booking_updates or {},
            new_status=new_status,
            retry_after=retry_after,
            guest_message=guest_text,
            opens_at=opens_at,
            closes_at=closes_at,
            details=details,
            retryable=retryable,
            call_reception=call_reception,
        )
        return self.result


def receipt_writes(
    account: str, park: str, result: OpenResult, site_id: str | None, attempt: Attempt
) -> list[tuple[Key[Any], Any, float]]:
    """What ``status``, ``confirm_open`` and ``recent_opens`` need of an attempt, as store
    writes (the open sends them with its result in one round trip): the receipt, the last
    open, and who asked for an open at that second (as the host passed it, bounded and
    escaped), what kind of open it was (guest, staff, test) and a staff open's reason. The
    time is Salto's (``attempt.salto_at``, the clock its log and the codes use), so the
    receipt meets Salto's entry whatever this server's clock says. ``park``: the park's
    tag; parks that share a Salto account never see each other's."""
    at = attempt.salto_at or result.opened_at or datetime.now(UTC)
    who = {"requested_by": attempt.requested_by, "kind": attempt.kind, "why": attempt.why}
    summary = {
        "attempt_id": result.attempt_id,
        "reason": result.reason.value,
        "lock_id": result.lock_id,
        "site_id": site_id,
        "at": at.isoformat(),
        "booking": attempt.booking_id,
        "maybe_opened": attempt.maybe_opened or attempt.answered_error,
        **who,
    }
    if result.opened and result.reason is Reason.OPENED:
        writes: list[tuple[Key[Any], Any, float]] = [
            (RECEIPT(account, park, result.attempt_id), summary, RECEIPT_SECONDS),
            (LAST_OPEN(account, park, "success"), summary, LAST_OPEN_SECONDS),
        ]
        if result.lock_id:
            writes.append(
                (
                    OPENER(account, result.lock_id, str(int(at.timestamp()))),
                    {**who, "attempt_id": result.attempt_id, "park": park},
                    RECEIPT_SECONDS,
                )
            )
        return writes
    if not result.opened and result.reason is not Reason.DUPLICATE:
        return [(LAST_OPEN(account, park, "failure"), summary, LAST_OPEN_SECONDS)]
    return []


def door_log_push(
    account: str, park: str, result: OpenResult, attempt: Attempt, recorded: datetime
) -> list[Push]:
    """An open for the park's door log, after Salto's answer: who asked, when (Salto's
    time), which door, and whether it opened (``outcome``: opened, maybe, not_opened).
    Every attempt whose command left has one, replacing its intent (:func:`door_log_intent`)
    when the log is read (``store.keys.door_log_opens``); what Salto's log and stream say
    is joined then (``admin/doorlog.py``)."""
    if result.reason is Reason.DUPLICATE:
        return []
    maybe = attempt.maybe_opened or attempt.answered_error
    if not (result.opened or maybe or attempt.command_sent or attempt.intent):
        return []
    at = attempt.salto_at or result.opened_at or datetime.now(UTC)
    outcome = "opened" if result.opened else "maybe" if maybe else "not_opened"
    return _door_log(account, park, attempt, result.lock_id, at, recorded, outcome)


def door_log_intent(
    account: str, park: str, attempt: Attempt, lock_id: str, at: datetime, recorded: datetime
) -> list[Push]:
    """Written just before the command goes: a process that dies before Salto's answer
    is recorded leaves who asked in the door log (``outcome`` sending: it may have
    opened), never an open without a receipt."""
    return _door_log(account, park, attempt, lock_id, at, recorded, "sending")


def _door_log(
    account: str,
    park: str,
    attempt: Attempt,
    lock_id: str | None,
    at: datetime,
    recorded: datetime,
    outcome: str,
) -> list[Push]:
    record = {
        "attempt_id": attempt.attempt_id,
        "at": at.isoformat(),
        "recorded": recorded.isoformat(),  # our clock, to the microsecond (stream matching)
        "lock_id": lock_id,
        "lock_name": attempt.lock_name,
        "kind": attempt.kind,
        "requested_by": attempt.requested_by,
        "why": attempt.why,
        "booking": attempt.booking_id,
        "reason": attempt.reason.value if attempt.reason is not None else outcome,
        "outcome": outcome,
    }
    return [(DOOR_LOG(account, park), record, DOOR_LOG_SECONDS, DOOR_LOG_CAP)]
