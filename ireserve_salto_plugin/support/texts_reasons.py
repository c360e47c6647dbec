"""What each reason code and platform variable means, for people: ``./dev docs`` writes
hookspecs.md's tables from the code (names, outcomes, defaults, ranges) and these sentences,
and fails when the code has an item without a sentence here or this module one for no item."""

from __future__ import annotations

# reason code -> meaning, and what staff should do
REASONS: dict[str, str] = {
    "opened": "Salto accepted the remote open; the lock blinks green and relocks by itself",
    "integration_inactive": "`enabled` is false for the park (the rollback switch)",
    "status_not_allowed": "the booking's status is not in `open_statuses`",
    "too_early": "before arrival − `minutes_before`; the message gives the time, park-local",
    "too_late": "after departure + `minutes_after` (the grace)",
    "no_lock_mapped": "the object has no mapping and there is no `default_lock_id`",
    "door_not_allowed": (
        "`on_open_door` was asked for a lock that is none of the booking's doors "
        "(`access_doors`: its object's own locks and the park's `common_locks`)"
    ),
    "settings_invalid": (
        "the park's settings do not validate, `park.timezone` is unknown, or the platform's "
        "`SALTO_KS_<ENV>_CLIENT_ID/_SECRET` is missing; the message names the field or variable"
    ),
    "booking_invalid": (
        "the booking lacks a usable arrival, departure, status or object id, or departs before "
        "it arrives"
    ),
    "lock_not_found": (
        "the mapped lock is not on the site (even after reloading the list): fix the mapping"
    ),
    "site_not_found": "no site with the Site UID is visible to the account",
    "iq_not_activated": (
        "no secret and PIN stored for the lock's IQ, Salto says the activation is incomplete "
        "(`pin_not_changed`), or the IQ was reset (Salto's `restore_required`: the stored "
        "secret and PIN are dead; no code is sent): run GET PIN and Set PIN. An IQ with "
        "`otp_enabled: false` needs no activation: it is opened without a code"
    ),
    "iq_offline": "the lock's IQ gateway is offline: check its power and internet",
    "lock_offline": "the lock does not reach its IQ: check batteries and distance",
    "otp_rejected": (
        "Salto rejected the one-time code (`otp_invalid`): PIN changed outside i-Reserve, "
        "account activated in the Salto app, or clock skew"
    ),
    "otp_blocked": (
        "Salto blocks codes for the IQ after repeated failures (about 20 min). The plugin then "
        "sends no code to that IQ for 25 minutes (`SALTO_KS_OTP_BLOCK_SECONDS`) and answers at "
        "once; `retry_after` says when to try again"
    ),
    "otp_suspended": (
        "Salto rejected two codes for this IQ within the last 20 minutes (opens, Set PIN, the "
        "self-test and test opens together: Salto counts per account and IQ, whichever PIN "
        "signed them, and blocked an IQ after three once), so the plugin sends no code to it "
        "until the first of the two is 20 minutes old (`SALTO_KS_OTP_WINDOW_SECONDS`, never "
        "less than 1200); an accepted code in between does not erase a rejection. Set PIN is "
        "refused too in that time. The message says until when and what to do (check the PIN: "
        "GET PIN, Set PIN; or wait); `retry_after` says when"
    ),
    "iq_busy": (
        "other codes for the IQ were in flight until this request's deadline was nearly spent: "
        "at most two codes per IQ are in flight at once, across workers, and one at a time "
        "while a rejection is in the window or no code is known to work with the stored secret "
        "and PIN. Nothing was sent; retryable (`retry_after` a few seconds)"
    ),
    "auth_failed": (
        "the identity server refused the account or the platform client, or the API refused a "
        "fresh token"
    ),
    "permission_denied": (
        "the account lacks the remote-opening right, the subscription, or the site is not released"
    ),
    "salto_rejected": "any other refusal by Salto (4xx); the message carries Salto's error code",
    "salto_unavailable": (
        "Salto answered 5xx/429, sent something that is not the documented JSON, or could not "
        "be reached"
    ),
    "timeout": (
        "Salto did not answer in time (the open's deadline bounds the whole open, body reads "
        'included). The message says whether the open command may have reached Salto ("may or '
        'may not have opened") or was never sent ("did not open")'
    ),
    "store_unavailable": (
        "the plugin's shared store (Redis, `SALTO_KS_REDIS_URL`) failed or did not answer, so "
        "no open command was sent: the host's operators must check it. A store failure *after* "
        "a successful command never changes an `opened` result"
    ),
    "internal_error": "a bug in the plugin; the log line with the attempt id has the traceback",
    "duplicate": (
        "the same park, booking and lock was asked to open **by the same `requested_by`** less "
        "than 10 s ago (`SALTO_KS_DEDUP_SECONDS`) and it opened or may have (its command "
        "left and no answer came), or less than 2 s ago and it failed otherwise, or that "
        "attempt is still running (its claim lasts at least the open's deadline"
        " plus 5 s), in this or another worker: no second command is sent; the result carries "
        "the first attempt's outcome, `opened_at` and message (its `booking_updates` and "
        "`new_status` were already returned to the first caller). A different `requested_by` "
        "(staff opening for a guest who just tapped) is a new command, still under the OTP "
        "budget"
    ),
    "clock_skew": (
        "in `AccessInfo.warnings`: this server's clock differs from Salto's (learned from its "
        "`Date` header) by more than 60 s; OTPs are signed with Salto's time, but fix NTP"
    ),
    "lock_battery_low": (
        "in `AccessInfo.warnings`: the booking's lock reports a low or critical battery "
        "(Salto's `battery_level`): replace it before the guest arrives"
    ),
    "lock_incident": (
        "in `AccessInfo.warnings` and an explainer step (never an open's reason): Salto's "
        "event stream reports an incident at the booking's lock that has not ended (a door "
        "left open, an intrusion or tamper alarm, a low-battery warning, the lock or its IQ "
        "without connection); `warning_texts` names it and since when"
    ),
}

# platform variables read whenever a park's settings are used -> meaning
PLATFORM: dict[str, str] = {
    "`SALTO_KS_<ENV>_CLIENT_ID`, `SALTO_KS_<ENV>_CLIENT_SECRET`": (
        "the platform OAuth client per environment (`<ENV>` is `ACCEPTANCE` or `PRODUCTION`); "
        "required"
    ),
    "`SALTO_KS_<ENV>_API_URL`, `SALTO_KS_<ENV>_IDENTITY_URL`": (
        "host overrides (the sandbox, the demo and the tests set them); https, or http on a "
        "loopback host only; no credentials, query or fragment"
    ),
    "`SALTO_KS_<ENV>_EVENTS_URL`": (
        "Salto's event streaming service, read by the event listener only (default "
        "`https://eventstreaming-connect-accept.saltoks.com` and "
        "`https://eventstreaming-connect-production.saltoks.com`); same rules as the hosts above"
    ),
}

# SALTO_KS_* variable read once at start -> meaning (its default and range are the code's)
TUNING: dict[str, str] = {
    "SALTO_KS_OPEN_DEADLINE": "the whole open",
    "SALTO_KS_STATUS_DEADLINE": "`on_booking_status`'s lock lookup",
    "SALTO_KS_OPTIONS_DEADLINE": "`mapping_options`, all pages",
    "SALTO_KS_ADMIN_DEADLINE": "one admin action",
    "SALTO_KS_DEDUP_SECONDS": "duplicate-tap window (0: off)",
    "SALTO_KS_OTP_BLOCK_SECONDS": "no codes to an IQ after `otp_blocked`",
    "SALTO_KS_OTP_WINDOW_SECONDS": (
        "at most two rejected codes per IQ within this sliding window (Salto blocks after as "
        "few as three)"
    ),
    "SALTO_KS_REDIS_URL": "the shared store",
}
