"""What an open's result says, to staff (one sentence per reason, with the cause and what
to do) and to the guest (short, no internals), in the park's and the booking's language
(:mod:`.i18n`). ``{…}`` parts are filled by the attempt.
"""

from __future__ import annotations

from typing import Any

from .i18n import translate
from .models import Outcome, Reason

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

# Fixed details that complete a staff message (free text, e.g. Salto's, stays as it is).
MAY_HAVE_OPENED = "the lock may or may not have opened."
NOT_SENT = "no open command was sent, so the lock did not open."
STILL_RUNNING = ("another request for this booking is still running; try again in a "
                 "moment")
NOW_SUSPENDED = (" OTP use for this IQ is now suspended until an admin re-activates it "
                 "(GET PIN and Set PIN).")

GUEST_OPEN = "The door is open."
GUEST_TOO_EARLY = "You can open the door from {opens_at}."
GUEST_TOO_LATE = "Your stay has ended; the door could be opened until {closes_at}."
GUEST_STATUS = "Your booking does not allow opening the door (yet). Please contact reception."
GUEST_LATER = ("The door cannot be opened right now. Please try again in a few minutes or "
               "contact reception.")
GUEST_RECEPTION = "The door cannot be opened online. Please contact reception."
GUEST_WAIT = "Your request is being handled; please wait a moment."
GUEST_MAYBE = "The door may have opened; please check it before trying again."

# Passing problems a guest may simply retry; everything else needs the park's staff.
RETRY_LATER = frozenset({
    Reason.SALTO_UNAVAILABLE, Reason.STORE_UNAVAILABLE, Reason.OTP_BLOCKED,
    Reason.IQ_OFFLINE, Reason.LOCK_OFFLINE, Reason.INTERNAL_ERROR, Reason.DUPLICATE,
    Reason.TIMEOUT,
})


class _Default(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def staff_message(reason: Reason, lang: str, fill: dict[str, Any]) -> str:
    fill = {**fill, "detail": translate(fill.get("detail", ""), lang),
            "first": translate(fill.get("first", ""), lang)}
    return translate(STAFF_MESSAGES[reason], lang).format_map(_Default(fill))


def guest_message(reason: Reason, outcome: Outcome, lang: str, fill: dict[str, Any],
                  *, maybe_opened: bool = False, waiting: bool = False) -> str:
    """The short sentence for the guest's screen; no cause, no internals."""
    if outcome is Outcome.OPENED:
        text = GUEST_OPEN
    elif reason is Reason.TOO_EARLY:
        text = GUEST_TOO_EARLY
    elif reason is Reason.TOO_LATE:
        text = GUEST_TOO_LATE
    elif reason is Reason.STATUS_NOT_ALLOWED:
        text = GUEST_STATUS
    elif maybe_opened:
        text = GUEST_MAYBE
    elif waiting:
        text = GUEST_WAIT
    else:
        text = GUEST_LATER if reason in RETRY_LATER else GUEST_RECEPTION
    return translate(text, lang).format_map(_Default(fill))
