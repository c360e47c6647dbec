"""What an open's result says, to staff (one sentence per reason, with the cause and what
to do) and to the guest (short, no internals), in the park's and the booking's language
(:mod:`.i18n`). ``{…}`` parts are filled by the attempt.
"""

from __future__ import annotations

from typing import Any

from ireserve_salto_plugin.models import Outcome, Reason
from ireserve_salto_plugin.park.i18n import N_, NN_, plural, translate

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
    Reason.DUPLICATE: N_("Already handled a moment ago: {first}"),
    Reason.CLOCK_SKEW: N_("This server's clock differs from Salto's by more than a minute."),
    Reason.LOCK_BATTERY_LOW: N_(
        "The battery of lock {lock} is low: replace it before the guest arrives."
    ),
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


def staff_message(reason: Reason, lang: str, fill: dict[str, Any]) -> str:
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


# The admin buttons' answers (``AdminResult.message``), in the park's language.
ADMIN_MESSAGES: dict[str, str] = {
    "unknown_action": N_("Unknown action {action}; known: {known}."),
    "staff_open_off": N_(
        'Staff opens and test opens are switched off for this park (setting "Staff opens").'
    ),
    "confirm_set_pin": N_(
        "Nothing was sent: this IQ is activated here already, and each Set "
        "PIN spends a one-time code (two rejected codes stop codes to the "
        'IQ for 20 minutes). Confirm to go ahead ("confirm": true).'
    ),
    "confirm_forget": N_(
        "Nothing was changed: forgetting the IQ deletes its secret and PIN "
        "here, and GET PIN is then no longer possible until the IQ's PIN is "
        'reset in Salto KS. Confirm to go ahead ("confirm": true).'
    ),
    "staff_open_reason": N_(
        "reason: say why the door is opened (housekeeping, maintenance, ...); it is logged."
    ),
    "params": N_("params must be an object."),
    "settings": N_("Settings: {detail}"),
    "login": N_("Login failed: {detail}"),
    "unexpected": N_("{action} failed with an unexpected error; the log has details."),
    "connected": N_(
        "Connected to Salto KS {environment} as {username}; site {site_uid}{name} found."
    ),
    "site": N_("Site {site_uid} has site ID {site_id}."),
    "iq_unknown": N_(
        "IQ {iq_id} is not on site {site_uid}; check the IQ id in the Salto KS web app."
    ),
    "secret_gone": N_(
        "Salto KS has already activated account {username} at {iq} and will not "
        "hand out its secret again. Reset this user's IQ PIN in the Salto KS web "
        "app (or ask Salto support), then run GET PIN again."
    ),
    "no_pin_mail": N_(
        "{iq} is already activated for account {username}; Salto sends no PIN "
        "after activation. If the PIN is lost, reset it in the Salto KS web app."
    ),
    "get_pin_failed": N_("GET PIN failed: {detail}"),
    "pin_mailed": N_(
        "Salto KS e-mailed the current PIN of {iq} to {username}. Enter it as the "
        "current PIN and press Set PIN."
    ),
    "secret_stored": N_(" The IQ secret was fetched and is stored now."),
    "no_secret": N_("No IQ secret is stored for this IQ yet: run GET PIN first."),
    "pin_rejected": N_(
        "Salto KS rejected the code: the current PIN does not match the PIN Salto "
        "e-mailed for this IQ (or the server clock is off). Check the PIN and try "
        "again; repeated failures block the IQ for about 20 minutes."
    ),
    "activated": N_("IQ is activated: opens for this park can now be signed."),
    "iq_forgotten": N_(
        "The IQ's secret and PIN were removed here; it counts as not "
        "activated. Run GET PIN (it fetches a new secret) and Set PIN to activate "
        "it again."
    ),
    "pin_change_refused": N_(
        "Nothing was sent: changing the IQ PIN is not a normal step. After "
        "a PIN change Salto's cloud and the IQ can disagree on the PIN, and "
        'no API call can check or repair that. Leave "new PIN" empty to '
        "keep the PIN (recommended); an expert who must change it sends "
        '"expert": true.'
    ),
    "pin_changed_unverified": N_(
        "The PIN change was sent and Salto KS's cloud accepted it, but "
        "this cannot be verified: the IQ itself may still use the old "
        "PIN. Try a real open of one lock of this IQ now; if it fails "
        "with otp_rejected, the IQ kept the old PIN and only a PIN reset "
        "in the Salto KS web app repairs it."
    ),
    "budget_otp_blocked": N_(
        "Salto KS has blocked one-time codes for this IQ after repeated "
        "failures: nothing is sent to it until {until}. Then check the "
        "IQ's PIN (GET PIN, Set PIN)."
    ),
    "budget_otp_suspended": N_(
        "Nothing was sent: Salto KS rejected two codes for this IQ within "
        "20 minutes, so no code goes to it until {until} (a third could "
        "get the IQ blocked by Salto). Check the PIN (GET PIN) and press "
        "Set PIN after {until}, or wait."
    ),
    "iq_busy": N_(
        "Nothing was sent: other codes for this IQ were being checked by Salto KS. Try "
        "again in a few seconds."
    ),
    "locks_loaded": N_("{count} locks loaded from Salto KS ({offline} offline)."),
    "status": N_(
        "Connected to Salto KS {environment} as {username}; site {site_uid}: {iqs}, "
        "{locks}, {verdict}"
    ),
    "subscription": N_(" Subscription state at Salto: {state}."),
    "account_no_remote": N_(
        "Account {username} has no remote-open right on this site "
        "(remote_access is false): grant it in the Salto KS web app."
    ),
    "subscription_suspended": N_(
        "Salto KS has suspended account {username} on this site "
        "(subscription_state: suspended, as when every seat of the "
        "site's subscription is taken): its doors refuse without an "
        "error. Free a seat or extend the subscription in the Salto KS "
        "web app."
    ),
    "account_expired": N_(
        "The access of account {username} to this site ended at {at} "
        "(expires_at): extend it in the Salto KS web app."
    ),
    "account_blocked": N_(
        "Account {username} is blocked on this site: unblock it in the Salto KS web app."
    ),
    "account_in_app": N_(
        "Account {username} is activated at {iqs} in Salto KS, but no IQ "
        "secret is stored here: it was probably used in the Salto KS app, which "
        "changes the secret, and Salto will not hand it out again. Use a "
        "dedicated service account that is never used in the app."
    ),
    "paging_ignored": N_(
        "Salto KS ignores paging: only the first {count} locks are known (a "
        "second page repeated the first). Mapped locks not among them are "
        "read one by one; the lock dropdown shows only these."
    ),
    "locks_unchecked": N_(
        "{count} mapped locks are not among the locks Salto listed and were "
        "not read one by one: they are not checked here."
    ),
    "nothing_mapped": N_(
        "No object is mapped to a lock and there is no default lock, so no "
        'door can open yet (tab "Mapping").'
    ),
    "mapped_lock_missing": N_(
        "Lock {lock} is mapped (for {objects}) but is not on site "
        "{site_uid}: map a lock of the site."
    ),
    "mapped_lock_offline": N_("Mapped lock {lock} is offline (not reachable from its IQ)."),
    "mapped_iq_reset": N_(
        "{iq} was reset (restore_required): its stored secret and PIN no "
        "longer work. Run GET PIN (it fetches a new secret) and Set PIN."
    ),
    "iq_offline": N_("{iq} is offline: no lock on it can be opened remotely."),
    "iq_budget_blocked": N_("Salto KS blocks codes to {iq} until {until}."),
    "iq_budget_suspended": N_(
        "Codes to {iq} are suspended until {until}: Salto KS rejected two "
        "within 20 minutes. Check its PIN (GET PIN, Set PIN) or wait."
    ),
    "iq_here_not_salto": N_("{iq} is activated here but not at Salto: run GET PIN and Set PIN."),
    "clock_off": N_(
        "This server's clock is {offset} s off Salto's (codes are signed with "
        "Salto's time anyway; check NTP)."
    ),
    "healthy": N_("all healthy."),
    "note": N_("Note:"),
    "battery_critical": N_("{iq}: the battery of {locks} is critical: replace it now."),
    "battery_low": N_("{iq}: the battery of {locks} is low: replace it soon."),
    "battery_unknown": N_(
        "{iq}: battery level as Salto KS reports it (a value it does not document): {locks}."
    ),
    "not_activated": N_("This IQ is not activated here: run GET PIN and Set PIN first."),
    "test_rejected": N_(
        "Salto KS rejected the code: the stored PIN or secret is no longer right "
        "(PIN changed elsewhere, account activated in the Salto KS app, IQ "
        "reset) or the clock is off. Re-activate the IQ (GET PIN, Set PIN)."
    ),
    "now_suspended": N_(
        " That is the second rejected code within 20 minutes: no code goes to "
        "this IQ until {until}. Check the PIN (GET PIN) or wait."
    ),
    "test_passed": N_(
        "Cloud check passed: Salto KS's cloud accepted a code signed with the "
        "stored secret and PIN at Salto's time (PUT pin with delta 0000, which "
        "changes nothing). This is necessary, not sufficient: the IQ itself was not "
        "asked, and nothing says a lock is online. Only a test open of one lock "
        "proves the IQ takes these codes."
    ),
    "no_receipt": N_(
        "No open with that attempt id is known (only opens of the last 7 days are kept)."
    ),
    "confirm_args": N_("Give attempt_id, or lock_id and time (ISO 8601)."),
    "lock_id": N_("lock_id must be the lock's id."),
    "confirmed": N_("Confirmed: Salto KS logged the remote open at {at}."),
    "not_yet": N_("Not in Salto's log yet (it is not real-time); look again in a few minutes."),
    "missing": N_("Salto's log has no remote open of this lock near that time."),
    "log_too_long": N_(
        "Not found in the newest {count} entries of Salto's log, the most "
        "read for one question; the log holds more since the open. Look in "
        "the Salto KS web app."
    ),
    "entries": N_("Recent entries: {count}."),
    "lock_entries": N_("Recent entries of lock {lock}: {count}."),
}


# Messages with plural forms ("1 IQ", "3 IQs"): the forms, and the fill that counts.
PLURALS: dict[str, tuple[tuple[str, str], str]] = {
    "and_more": (
        NN_(
            "{first} And 1 more of the same: {names}.",
            "{first} And {count} more of the same: {names}.",
        ),
        "count",
    ),
    "iqs_listed": (NN_("1 IQ on site {site_uid}.", "{count} IQs on site {site_uid}."), "count"),
    "n_iqs": (NN_("1 IQ", "{count} IQs"), "count"),
    "n_locks": (NN_("1 lock", "{count} locks"), "count"),
    "look_at": (NN_("1 thing to look at:", "{problems} things to look at:"), "problems"),
    "mapped_iq_not_activated": (
        NN_(
            "{iq} is not activated here and 1 mapped lock is on it: run GET PIN and Set PIN for "
            "it.",
            "{iq} is not activated here and {count} mapped locks are on it: run GET PIN and Set "
            "PIN for it.",
        ),
        "count",
    ),
    "iq_locks_offline": (NN_("{iq}: 1 lock offline.", "{iq}: {count} locks offline."), "count"),
}


def say(lang: str, key: str, /, **fill: Any) -> str:
    """Admin message ``key`` in ``lang``, filled (in the plural form its count asks for)."""
    if key in PLURALS:
        forms, counted = PLURALS[key]
        count = fill.get(counted)
        return plural(forms, count if isinstance(count, int) else 2, lang).format_map(Fill(fill))
    return translate(ADMIN_MESSAGES[key], lang).format_map(Fill(fill))
