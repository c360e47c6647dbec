"""What each setting and admin action means, for people (see :mod:`.texts_reasons`): the
keys, secrets, params and written-back settings are the code's; these sentences are not."""

from __future__ import annotations

# settings key -> (type, required, meaning)
SETTINGS: dict[str, tuple[str, str, str]] = {
    "enabled": (
        "bool",
        "no (default `true`)",
        'the "integration active" toggle; `false` stops all opening',
    ),
    "environment": (
        '`"acceptance"` \\| `"production"`',
        "yes",
        "selects the platform's hosts and OAuth client for that environment",
    ),
    "username": ("str", "yes", "the Salto KS account (service account with rights on the site)"),
    "password": ("str, **secret**", "yes", "its password"),
    "site_uid": ("str", "yes", "two capital letters + 10 digits, e.g. `NL6254340082`"),
    "site_id": (
        "UUID",
        "no",
        "internal site id, filled by `resolve_site`; saves a call on a cold start",
    ),
    "iqs": (
        "object",
        "no",
        (
            'IQ id (UUID; every UUID here is stored in canonical lower-case form) → `{"secret":'
            ' str (secret), "pin": 4 digits (secret), "activated_at": ISO datetime or null}`; '
            "each part optional until the IQ is activated"
        ),
    ),
    "open_statuses": (
        "list of str",
        "yes (for opening)",
        "statuses at which opening is allowed; not empty",
    ),
    "minutes_before": (
        "int 0–1440",
        "no (default 0)",
        "minutes before arrival from which opening is allowed",
    ),
    "open_field": ("str", "no", "booking field that receives the open time (ISO 8601 UTC)"),
    "checkin_status": ("str", "no", "status the booking moves to after a successful open"),
    "guest_address": (
        '`"je"` or `"u"`',
        'no (default `"je"`)',
        (
            "how Dutch guest texts address the guest (`guest_message`, `guest_text`); German "
            'guest texts always say "Sie"'
        ),
    ),
    "mapping": (
        "object",
        "no",
        (
            "object id → lock id (UUID), or a list of 1–10 lock ids: the object's doors in "
            "order (the chalet, then its shed); the first is its own lock, the one "
            "`on_open_request` opens"
        ),
    ),
    "default_lock_id": ("UUID", "no", "lock for objects without their own mapping"),
    "common_locks": (
        "object",
        "no (default `{}`)",
        (
            'lock id (UUID) → label (may be empty, e.g. `{"<uuid>": "Slagboom"}`): doors every '
            "booking may open while it may open its own (the barrier, the sanitary building, "
            "the pool); at most 100"
        ),
    ),
    "minutes_after": (
        "int 0–1440",
        "no (default 0)",
        (
            "a grace after departure: opening is allowed until departure + this many minutes "
            "(window messages, `closes_at`, the guest message and the explainer use it)"
        ),
    ),
    "staff_open_enabled": (
        "bool",
        "no (default `true`)",
        "`false` switches the `staff_open` admin action off",
    ),
    "reception_phone": (
        "str",
        "no",
        (
            "digits, spaces, `+ ( ) . / -` (e.g. `+31 20 123 4567`): shown to a guest whose "
            "door cannot be opened online"
        ),
    ),
    "guest_fallback_text": (
        "object",
        "no (default `{}`)",
        (
            "language (`nl`, `en`, `de`) → what a guest should do when the door cannot be "
            "opened online (1–300 characters); replaces the reception phone's sentence in that "
            "language"
        ),
    ),
}

# admin action -> (params, what it does, settings_update on success)
ACTIONS: dict[str, tuple[str, str, str]] = {
    "test_connection": (
        "—",
        (
            "asks Salto every time it is pressed, never the cache: a new token (password "
            "grant), the site by its Site UID, the account as a site user "
            "(`/v1.2/sites/{site}/me`: `remote_access`, `blocked`, `subscription_state`) and "
            "its IQ activations (`/v1.2/me/{site}/activated_iqs`). `ok` only when the account "
            "can open: no remote-open right, blocked, or activated at an IQ whose secret is not"
            " stored here (the account was used in the Salto KS app, which rotates the secret) "
            "make it `false`, with what to do. `data.account`, `data.findings` (`[{code, "
            "message}]`); `subscription_state` is shown, not judged (its values are "
            "undocumented)"
        ),
        "—",
    ),
    "resolve_site": ("—", "Site UID → site UUID", '`{"site_id": …}`'),
    "get_pin": (
        "`iq_id`",
        (
            "fetches the IQ secret if none is stored, **or when the IQ was reset** "
            "(`restore_required`: the stored secret and PIN are dead; the new secret replaces "
            "them and the PIN is cleared), then asks Salto to e-mail the IQ PIN to the account;"
            " says so clearly when the IQ is already activated (or Salto refuses the secret: an"
            " account activated at the IQ elsewhere). The e-mail request is never resent "
            "automatically once it may have reached Salto (no second e-mail)"
        ),
        '`{"iqs": {iq_id: {"secret": …, "pin": null, "activated_at": null}}}` when fetched',
    ),
    "set_pin": (
        (
            "`iq_id`, `current_pin`, optional `new_pin`, optional `expert` (bool), `confirm` "
            "(bool; required when the IQ is activated here)"
        ),
        (
            "Set PIN signed with OTP(secret, current PIN), keeping the PIN (delta `0000`): the "
            "normal step. On an IQ already activated here it is **refused, nothing sent** (`ok`"
            " false, `data.reason` `confirm_required`) unless `confirm` is `true`: each try "
            "spends a real code against the IQ's OTP budget (this plugin asks for the "
            "confirmation itself, on purpose; for the other actions confirmation stays the "
            "caller's). It spends codes like an open (the same slots and window of rejections)."
            " A `new_pin` that differs is **refused, nothing sent**, unless `expert` is `true`:"
            " after a real PIN change Salto's cloud and the IQ can disagree "
            "(docs/salto-ks-api.md, `PUT pin` row) and no API call can check or repair it. An "
            "expert change is sent once, never called confirmed, and no `PUT pin` check follows"
            " (it would pass in exactly the broken state); `data.pin_changed` true, "
            "`data.verified` false, and the message asks for a real open of one lock at once. A"
            " success drops the cached lock list, so a cached `restore_required` is not trusted"
        ),
        '`{"iqs": {iq_id: {"pin": …, "activated_at": …}}}`; message "IQ is activated"',
    ),
    "forget_iq": (
        "`iq_id`, `confirm` (bool; required)",
        (
            "removes the IQ's stored secret and PIN here (sends nothing to Salto): the way back"
            " after an IQ reset or a broken activation; then GET PIN and Set PIN. Without "
            '`"confirm": true` nothing changes (`ok` false, `data.reason` `confirm_required`, '
            "the message says what follows: GET PIN is no longer possible until the IQ's PIN is"
            " reset in Salto KS); the web admin asks first, naming the IQ"
        ),
        (
            '`{"iqs": {iq_id: null}}`: the host\'s deep merge writes `null`, which the settings '
            'read as "not activated"'
        ),
    ),
    "refresh_locks": ("—", "reloads the lock list; `data.options` is the new dropdown", "—"),
    "status": (
        "—",
        (
            "everything read from Salto now: authentication, the site, and per IQ: name, "
            "activated here and at Salto, online, `restore_required`, locks online/offline, OTP"
            " budget (`ok`, `blocked` or `suspended` with `until`); the account as a site user "
            "(`data.account`); Salto's clock offset; the park's last successful and last failed"
            " open. `data.findings` lists every thing that stops a door (`paging_ignored`: "
            "Salto repeated a page, only the first is known; `nothing_mapped`, "
            "`lock_not_found`, `locks_unchecked`, `lock_offline`, `iq_not_activated`, "
            "`iq_reset`, `iq_offline`, `locks_offline`, `otp_blocked`, `otp_suspended`, "
            "`not_activated_at_salto`, `subscription_suspended`, `account_expired`, "
            "`account_no_remote_access`, `account_blocked`, `account_used_in_app`, "
            "`clock_skew`, `battery_critical`), `data.problems` their count (findings are "
            "grouped: one per code, its message with how many more and the first few names); "
            "`data.notes` what should be done soon but stops no door (`battery_low`; "
            '`battery_unknown`: a level Salto does not document, as sent), not counted; "all '
            'healthy" only when there is no problem. Each IQ row has `battery_critical`, '
            "`battery_low`, `battery_other` and, as settings of the locks (never a problem: "
            "alarms going off are incidents), `left_open_alarm_on` and `intrusion_alarm_on` "
            "(lock names). Every lock of a mapping and every common door is checked, on a list "
            "read to its end (a mapped lock missing from a list Salto did not page right is "
            "read directly). Incidents Salto's event stream reported that have not ended are "
            "findings too (`door_left_open`, `intrusion_alarm`, `tamper_alarm`, "
            "`low_battery_warning`, `lock_connection_lost`, `iq_connection_lost`). "
            "`data.events`: the stream's `state` (`live`, `live_own`, `connecting`, "
            "`not_permitted`, `failed`, `off`), `since`, `last_event_at` and its `meaning` "
            "for the park; information only, never a finding."
        ),
        "—",
    ),
    "list_iqs": (
        "—",
        (
            "the site's IQs with names and activation state (`data.iqs`), so GET PIN needs no "
            "UUID typed from the Salto web app"
        ),
        "—",
    ),
    "self_test": (
        "`iq_id`",
        (
            "Salto's side-effect-free OTP check (`PUT …/pin`, delta `0000`) with the stored "
            "secret and PIN. It is checked in **Salto's cloud, not by the IQ**: a pass is "
            "necessary, not sufficient (it shows the secret, PIN and clock are right for the "
            "cloud; only a real open shows the IQ agrees, and nothing about online). Goes "
            "through the OTP budget like an open: a rejection counts; a blocked or suspended IQ"
            " is not tested"
        ),
        "—",
    ),
    "test_open": (
        "`lock_id`, `requested_by` (who asks; required)",
        (
            "a **real** open of one lock the admin chose, without a booking: the only proof "
            "that the IQ itself takes the stored secret and PIN (the self-test is checked in "
            "Salto's cloud only). Same OTP budget, duplicate guard and receipt (`confirm_open` "
            "works on it) as any open; no booking updates; the log line and the receipt say it "
            "was a test open and who asked. Refused (`ok` false, `data.reason` "
            "`staff_open_disabled`) when the park sets `staff_open_enabled` false, like a staff"
            " open. `data.attempt_id`, `data.reason`, `data.opened_at`; `ok` only when the lock"
            " opened. Confirmation is the caller's: the CLI's `test-open` asks first"
        ),
        "—",
    ),
    "staff_open": (
        (
            "`lock_id`, `reason` (why: housekeeping, maintenance; required), `requested_by` "
            "(who; required)"
        ),
        (
            "reception opens any lock of the site without a booking. Same OTP budget, duplicate"
            " guard and receipt (`confirm_open` works on it) as any open; no booking updates; "
            "the log line and the receipt (`status`'s last open: `kind`, `why`; `recent_opens`:"
            " `open_kind`, `open_reason`) say it was a staff open, by whom and why. Refused "
            "(`ok` false, `data.reason` `staff_open_disabled`) when the park sets "
            "`staff_open_enabled` false. `data.attempt_id`, `data.reason`, `data.opened_at`; "
            "`ok` only when the lock opened. Confirmation is the caller's: the web admin's "
            '"Open a door" page and the CLI\'s `open` ask first'
        ),
        "—",
    ),
    "confirm_open": (
        "`attempt_id`, or `lock_id` and `time` (ISO 8601)",
        (
            "`confirmed` at once when Salto's event stream had the open's entry (an "
            "`EventListener` runs for the site; `data.source` `stream`); else looks for a remote"
            " `lock_opened` of the lock within 2 minutes of the open in Salto's entry log "
            "(`data.source` `log`): `data.receipt` is `confirmed` (with the entry), `not_yet` "
            "(less than 10 minutes ago: the log is not real-time) or `missing`; attempts are "
            "kept 7 days"
        ),
        "—",
    ),
    "recent_opens": (
        "optional `lock_id`, `count` (1–100, default 20)",
        (
            "the newest entries of the site's log, or of one lock (`data.entries`, as Salto "
            "sends them); a remote open the plugin made also carries `requested_by` (as the "
            "host passed it), `attempt_id`, `open_kind`, `open_reason` and `confirmed` "
            "(`stream` or `log`). `data.opens`: the park's own latest opens (the door log: "
            "`at`, `lock_id`, `lock_name`, `kind` guest/staff/test, `requested_by`, `why`, "
            "`booking`) each with `confirmed`: `stream`, `log`, `not_yet`, `missing` or "
            "`not_checked` (older than the entries read). Kept in the store the support desk "
            "shares only with Redis"
        ),
        "—",
    ),
    "door_log": (
        "`from`, `to` (ISO 8601; default the last day; at most 31 days)",
        (
            "the park's door log for the period, oldest first (`data.rows`: `time` park-local,"
            " `door`, `event`, `by`, `kind`, `requested_by`, `reason`, `confirmed`): each open"
            " the plugin sent, with Salto's confirmation (`stream`, `log`, `not_yet`, "
            "`missing`), and the other entries of Salto's log; `data.complete` false when "
            "Salto's log was not read back to `from` (its page limit)"
        ),
        "—",
    ),
}
