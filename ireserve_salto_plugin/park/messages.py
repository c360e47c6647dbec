"""What an open's result says, to staff (one sentence per reason, with the cause and what
to do) and to the guest (short, no internals), in the park's and the booking's language
(:mod:`.i18n`). ``{…}`` parts are filled by the attempt.
"""

from __future__ import annotations

from typing import Any

from ireserve_salto_plugin.models import Outcome, Reason
from ireserve_salto_plugin.park.i18n import N_, translate

STAFF_MESSAGES: dict[Reason, str] = {
    Reason.OPENED: N_("Lock {lock} was opened."),
    Reason.INTEGRATION_INACTIVE: N_("Salto KS opening is switched off for this park."),
    Reason.STATUS_NOT_ALLOWED: N_("Booking status {status!r} does not allow opening."),
    Reason.TOO_EARLY: N_("Too early: opening is allowed from {opens_at}."),
    Reason.TOO_LATE: N_("Too late: opening was allowed until {closes_at}."),
    Reason.NO_LOCK_MAPPED: N_("No lock is mapped to this object and there is no default lock."),
    Reason.DOOR_NOT_ALLOWED: N_(
        "Lock {lock} is none of this booking's doors (its own locks and the park's common doors)."
    ),
    Reason.SETTINGS_INVALID: N_("The Salto KS settings are incomplete or invalid: {detail}"),
    Reason.BOOKING_INVALID: N_("The booking cannot be checked: {detail}"),
    Reason.LOCK_NOT_FOUND: N_("Lock {lock} is not on the Salto KS site; check the mapping."),
    Reason.SITE_NOT_FOUND: N_("The Salto KS site {site_uid} is not visible to account {account}."),
    Reason.IQ_NOT_ACTIVATED: (
        N_(
            "The IQ of lock {lock} is not activated for this account{detail}; run GET PIN and "
            "Set PIN."
        )
    ),
    Reason.IQ_OFFLINE: (
        N_("The IQ gateway of lock {lock} is offline: check its power and internet connection.")
    ),
    Reason.LOCK_OFFLINE: (
        N_(
            "Lock {lock} is not reachable from its IQ: check the lock's batteries and its "
            "distance to the IQ."
        )
    ),
    Reason.OTP_REJECTED: (
        N_(
            "Salto KS rejected the one-time code. Likely causes: the IQ PIN was changed outside "
            "i-Reserve, the account was activated in the Salto KS app, or the server clock is "
            "off.{detail}"
        )
    ),
    Reason.OTP_BLOCKED: (
        N_(
            "Salto KS has blocked one-time codes for this IQ after repeated failures; the "
            "plugin sends none until {until}. Then check the IQ's PIN (GET PIN, Set PIN)."
        )
    ),
    Reason.OTP_SUSPENDED: (
        N_(
            "Salto KS rejected two one-time codes for this IQ within 20 minutes, so the "
            "plugin sends none to it until {until} (a third could get the IQ blocked by Salto). "
            "Likely causes: the IQ PIN was changed outside i-Reserve, the account was "
            "activated in the Salto KS app, or the server clock is off. Check the IQ's PIN "
            "(GET PIN, then Set PIN after {until}), or wait."
        )
    ),
    Reason.IQ_BUSY: (
        N_(
            "Other one-time codes for the IQ of lock {lock} were being checked by Salto KS "
            "until this request's time ran out; nothing was sent. Try again in a few "
            "seconds."
        )
    ),
    Reason.AUTH_FAILED: N_("Salto KS refused the login: {detail}"),
    Reason.PERMISSION_DENIED: (
        N_(
            "The Salto KS account {account} may not do this: check its remote-open right, the "
            "site's subscription and that the site is released."
        )
    ),
    Reason.SALTO_REJECTED: N_("Salto KS refused the request; its own words are in the details."),
    Reason.SALTO_UNAVAILABLE: N_("Salto KS cannot be reached right now; try again shortly."),
    Reason.TIMEOUT: N_("Salto KS did not answer in time; {detail}"),
    Reason.STORE_UNAVAILABLE: (
        N_(
            "The plugin's shared store (Redis) is not answering, so no open command was sent; "
            "the host's operators must check it."
        )
    ),
    Reason.DUPLICATE: N_("The same request came a moment ago: {first}"),
    Reason.CLOCK_SKEW: N_("This server's clock differs from Salto's by more than a minute."),
    Reason.LOCK_BATTERY_LOW: N_(
        "The battery of lock {lock} is low: replace it before the guest arrives."
    ),
    Reason.LOCK_INCIDENT: N_("Salto's event stream reports: {detail}"),
    Reason.INTERNAL_ERROR: (
        N_("The Salto KS plugin hit an unexpected error (attempt {attempt}); the log has details.")
    ),
}

# Fixed details that complete a staff message (free text, e.g. Salto's, stays as it is).
MAY_HAVE_OPENED = N_("the lock may or may not have opened.")
NOT_SENT = N_("no open command was sent, so the lock did not open.")
STILL_RUNNING = N_("another request for this booking is still running; try again in a moment")
NOW_SUSPENDED = N_(
    " That is the second rejected code within 20 minutes: no code goes to "
    "this IQ until {until}. Check the IQ's PIN (GET PIN, Set PIN) or wait."
)
OTP_MISSING = N_(" (Salto KS asks for a one-time code at this IQ)")
# A 5xx answer to the open command itself: Salto had it, so the door may have opened.
ANSWERED_WITH_AN_ERROR = N_(
    "Salto KS answered the open of lock {lock} with an error: it may or may not have "
    "opened. Check Salto's log (confirm_open, or 'ireserve-salto entries') before trying "
    "again (attempt {attempt})."
)
FILLED_DETAILS = frozenset({NOW_SUSPENDED})

GUEST_OPEN = N_("The door is unlocked – push it open now.")  # it relocks in seconds
GUEST_TOO_EARLY = N_("You can open the door from {opens_at}.")
GUEST_FROM = N_("From {opens_at} you can open the door in the app.")  # the confirmation mail
# Warnings after which the guest is promised no time (staff must fix them first).
NO_PROMISE = frozenset(
    {
        Reason.SETTINGS_INVALID,
        Reason.INTEGRATION_INACTIVE,
        Reason.BOOKING_INVALID,
        Reason.NO_LOCK_MAPPED,
        Reason.LOCK_NOT_FOUND,
        Reason.IQ_NOT_ACTIVATED,
        Reason.SITE_NOT_FOUND,
        Reason.AUTH_FAILED,
        Reason.PERMISSION_DENIED,
    }
)
GUEST_TOO_LATE = N_("Your stay has ended; the door could be opened until {closes_at}.")
GUEST_STATUS = N_("Your booking does not allow opening the door (yet). Please contact reception.")
GUEST_LATER = N_(
    "The door cannot be opened right now. Please try again in a few minutes or contact reception."
)
GUEST_RECEPTION = N_("The door cannot be opened online. Please contact reception.")
GUEST_CANNOT = N_("The door cannot be opened online.")  # then the park's way out
GUEST_CALL = N_("Please call reception: {phone}.")
GUEST_WAIT = N_("Your request is being handled; please wait a moment.")
GUEST_MAYBE = N_("The door may have opened; please check it before trying again.")

# Passing problems a guest may simply retry; everything else needs the park's staff.
RETRY_LATER = frozenset(
    {
        Reason.IQ_BUSY,
        Reason.SALTO_UNAVAILABLE,
        Reason.STORE_UNAVAILABLE,
        Reason.OTP_BLOCKED,
        Reason.IQ_OFFLINE,
        Reason.LOCK_OFFLINE,
        Reason.INTERNAL_ERROR,
        Reason.DUPLICATE,
        Reason.TIMEOUT,
    }
)


# What the guest app may simply try again: Salto or the store away for a moment, a slow
# answer, or the same tap still running. Every denial and every failure staff must fix is
# not retryable (``OpenResult.retryable``).
RETRYABLE = frozenset(
    {Reason.SALTO_UNAVAILABLE, Reason.STORE_UNAVAILABLE, Reason.TIMEOUT, Reason.IQ_BUSY}
)


def retry_advice(
    reason: Reason, outcome: Outcome, *, waiting: bool, maybe_opened: bool
) -> tuple[bool, bool]:
    """(``retryable``, ``call_reception``) of a result."""
    if outcome is not Outcome.FAILED:
        return False, False
    retryable = (reason in RETRYABLE and not maybe_opened) or (
        reason is Reason.DUPLICATE and waiting
    )
    return retryable, not retryable and reason is not Reason.DUPLICATE


class Fill(dict[str, Any]):
    """Fills a message; a missing part shows as ``?``."""

    def __missing__(self, key: str) -> str:
        return "?"


# Why the identity server refused a login, by its OAuth error ({user}: the account).
AUTH_CAUSES = {
    "invalid_grant": N_("the username or password of account {user} is wrong"),
    "invalid_client": N_(
        "the platform OAuth client was refused: check the "
        "SALTO_KS_<ENVIRONMENT>_CLIENT_ID and _CLIENT_SECRET variables"
    ),
    "unauthorized_client": N_(
        "the platform OAuth client may not use the password grant: ask Salto to enable it"
    ),
}
AUTH_OTHER = N_("the identity server refused account {user}")


def auth_cause(code: str | None, user: str, lang: str) -> str:
    """Why a login failed, in ``lang``, naming the account (the OAuth code goes to the
    details, not here)."""
    text = AUTH_CAUSES.get(code or "", AUTH_OTHER)
    return translate(text, lang).format_map(Fill({"user": repr(user)}))


def staff_message(
    reason: Reason, lang: str, fill: dict[str, Any], *, maybe_opened: bool = False
) -> str:
    if maybe_opened and reason is Reason.SALTO_UNAVAILABLE:
        return translate(ANSWERED_WITH_AN_ERROR, lang).format_map(Fill(fill))
    detail = translate(fill.get("detail", ""), lang)
    if fill.get("detail") in FILLED_DETAILS:  # fixed texts with parts of their own
        detail = detail.format_map(Fill(fill))
    fill = {**fill, "detail": detail, "first": translate(fill.get("first", ""), lang)}
    return translate(STAFF_MESSAGES[reason], lang).format_map(Fill(fill))


# Failures the guest cannot fix: the guest is told what to do instead (the park's
# reception phone or its own text, ``way_out``), never a dead end.
NO_WAY_ONLINE = frozenset(
    {
        Reason.IQ_OFFLINE,
        Reason.LOCK_OFFLINE,
        Reason.SALTO_UNAVAILABLE,
        Reason.TIMEOUT,
        Reason.IQ_NOT_ACTIVATED,
        Reason.OTP_SUSPENDED,
        Reason.OTP_BLOCKED,
        Reason.OTP_REJECTED,
        Reason.STORE_UNAVAILABLE,
        Reason.LOCK_NOT_FOUND,
        Reason.AUTH_FAILED,
        Reason.PERMISSION_DENIED,
        Reason.SITE_NOT_FOUND,
        Reason.SETTINGS_INVALID,
        Reason.NO_LOCK_MAPPED,
        Reason.SALTO_REJECTED,
        Reason.INTERNAL_ERROR,
    }
)


def guest_message(
    reason: Reason,
    outcome: Outcome,
    lang: str,
    fill: dict[str, Any],
    *,
    maybe_opened: bool = False,
    waiting: bool = False,
    way_out: str = "",
) -> str:
    """The short sentence for the guest's screen; no cause, no internals. When the door
    cannot open for a reason the guest cannot fix, ``way_out`` (the park's reception
    phone or its own text, already in ``lang``) says what to do instead."""
    if (
        way_out
        and outcome is Outcome.FAILED
        and not maybe_opened
        and not waiting
        and (reason in NO_WAY_ONLINE)
    ):
        return f"{translate(GUEST_CANNOT, lang)} {way_out}"
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
    return translate(text, lang).format_map(Fill(fill))


# the explainer's OTP budget step when the budget refuses codes
BUDGET_MESSAGES = {
    Reason.OTP_BLOCKED: N_(
        "No code goes to the IQ until {until} (Salto's block); then check "
        "its PIN (GET PIN, Set PIN)."
    ),
    Reason.OTP_SUSPENDED: N_(
        "No code goes to the IQ until {until}: Salto rejected two within "
        "20 minutes. Check its PIN (GET PIN, Set PIN) or wait."
    ),
    Reason.STORE_UNAVAILABLE: N_(
        "The OTP budget cannot be read: the shared store does not answer."
    ),
}
