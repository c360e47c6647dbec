"""What the admin buttons answer (``AdminResult.message``), in the park's language
(:mod:`.i18n`); ``{…}`` parts are filled by the action, counted texts in the plural form
their count asks for."""

from __future__ import annotations

from typing import Any

from ireserve_salto_plugin.park.i18n import N_, NN_, plural, translate
from ireserve_salto_plugin.park.messages import Fill

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
    # Salto's subscription_state values (tests/samples): said in words; others as sent
    "subscribed": N_("subscribed"),
    # the support desk's CLI: prompts, lines and table headers
    "cli_pin": N_("PIN from the e-mail"),
    "cli_open_now": N_("Open lock {lock} now?"),
    "cli_check": N_("clock offset to Salto: {offset} s; last open: {last}; last failure: {failed}"),
    "cli_none_kept": N_("none kept"),
    "cli_last": N_("{at} ({reason}, lock {lock})"),
    "cli_offline": N_("{locks}, {offline} offline"),
    "cli_booking": N_("booking {id}: {object} -> lock {lock}, judged at {at}"),
    "cli_now": N_("now"),
    "cli_verdict": N_("verdict: {verdict}: {message}"),
    "cli_door": N_("door"),
    "state_ok": N_("ok"),
    "state_fail": N_("fail"),
    "state_unknown": N_("unknown"),
    "column_name": N_("name"),
    "column_id": N_("id"),
    "column_online": N_("online"),
    "column_activated": N_("activated here"),
    "column_salto_activated": N_("activated at Salto"),
    "column_restore_required": N_("reset"),
    "column_locks_online": N_("locks online"),
    "column_locks_offline": N_("locks offline"),
    "column_budget": N_("code budget"),
    "column_iq": N_("IQ"),
    "column_battery": N_("battery"),
    "column_left_open_alarm": N_("left-open alarm"),
    "column_intrusion_alarm": N_("intrusion alarm"),
    "column_time": N_("time"),
    "column_event": N_("event"),
    "column_by": N_("by"),
    "column_requested_by": N_("requested by"),
    "column_confirmed": N_("confirmed"),
    "column_kind": N_("asked as"),
    "column_why": N_("reason"),
    "column_door": N_("door"),
    "column_reason": N_("reason"),
    "cli_events": N_("event stream: {state}. {meaning}"),
    "cli_opens": N_("The park's own opens, newest first:"),
    # the support desk's readiness table
    "ready": N_("ready"),
    "column_booking_id": N_("booking"),
    "column_arrival": N_("arrival"),
    "column_object": N_("object"),
    "column_lock": N_("lock"),
    "column_label": N_("verdict"),
    "column_message": N_("why"),
    "suspended": N_("suspended (its seats are used up)"),
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
        "Account {username} is activated at {iqs} in Salto KS, but no IQ secret is stored "
        "in these settings. Either the secret lives in another copy of them (the i-Reserve "
        "integration page, another settings file of the CLI): copy its IQ entry here; or "
        "the account was used in the Salto KS app, which changes the secret, and Salto will "
        "not hand it out again: then use a dedicated service account that is never used in "
        "the app."
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
        "stored secret and PIN at Salto's time (a check that changes nothing). "
        "This is necessary, not sufficient: the IQ itself was not "
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
    "confirmed_stream": N_("Confirmed: Salto's event stream reported the remote open at {at}."),
    "door_log": N_("Door log: {count} rows."),
    "log_period": N_(
        "The period is not usable ({field}): give from and to as ISO 8601 times, from before "
        "to, at most 31 days apart."
    ),
    "listen_opened": N_("{at}  {lock}: opened ({by}){who}"),
    "listen_entry": N_("{at}  {lock}: {event} ({by})"),
    "listen_incident": N_("{at}  {lock}: incident {incident}"),
    "listen_state": N_("Event stream of site {site}: {state}. {meaning}"),
    "listen_who": N_(", asked by {who} ({kind}), attempt {attempt}"),
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
