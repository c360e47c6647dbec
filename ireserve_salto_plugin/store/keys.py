"""The guards' keys: OTP budget, duplicate guard, receipts and the last open of each
account. Same rules as the client's keys (:mod:`ireserve_salto_plugin.salto.cache`): a
typed value, a JSON codec with a format version, and the account as the hash tag."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from ireserve_salto_plugin.salto.cache import NUMBER, Codec, KeySpec, checked

DedupValue = str | dict[str, Any]  # PENDING while the first attempt runs, then its result
DEDUP: Codec[DedupValue] = checked(str, dict)
RECORD: Codec[dict[str, Any]] = checked(dict)

OTP_BLOCK = KeySpec("otpblock", NUMBER)  # (account, iq): blocked until (epoch s)
OTP_REJECT = KeySpec("otpreject", NUMBER)  # (account, iq, "1"|"2"): a rejection at (epoch s)
OTP_GOOD = KeySpec("otpgood", NUMBER)  # (account, iq): the credentials of an accepted code
OTP_SLOT = KeySpec("otpslot", NUMBER)  # (account, iq, "1"|"2"): a code in flight since
DUPLICATE = KeySpec("dedup", DEDUP)  # (account, hash of park, booking, lock, requester)
# Parks may share one Salto account: what one park did is kept under its own tag too.
RECEIPT = KeySpec("receipt", RECORD)  # (account, park tag, attempt id): lock, time, site
LAST_OPEN = KeySpec("lastopen", RECORD)  # (account, park tag, "success" | "failure")
# (account, lock id, epoch second of the open): who asked for it and for which park, to
# name them beside Salto's log entry of that open (to that park only)
OPENER = KeySpec("opener", RECORD)
# (account, park tag): the park's opens, newest last, for the door log (a Redis list)
DOOR_LOG = KeySpec("doorlog", RECORD)
DOOR_LOG_CAP = 2000  # records kept per park: ~1,000 opens (an intent and a result each)
DOOR_LOG_SECONDS = 31 * 86400.0
RECEIPT_SECONDS = 7 * 86400.0  # how long an open's receipt can be confirmed
LAST_OPEN_SECONDS = 30 * 86400.0


def park_tag(park_id: Any) -> str:
    """A park's part of a key: a digest of its exact id (any length, any character)."""
    return hashlib.sha256(f"{type(park_id).__name__}:{park_id}".encode()).hexdigest()[:20]


def door_log_opens(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The opens in a park's door log records, oldest first: one per attempt, its last
    record (the result replaces the intent written before the command), without those
    that were sent and did not open. An attempt with its intent only (``outcome``
    sending: the process stopped before Salto's answer was recorded) may have opened."""
    last: dict[str, dict[str, Any]] = {}
    for record in records:
        last[str(record.get("attempt_id"))] = record  # keeps the first one's place
    return [r for r in last.values() if r.get("outcome") != "not_opened"]
