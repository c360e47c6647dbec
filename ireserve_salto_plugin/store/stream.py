"""What the event stream leaves in the store for the hooks (the listener writes, every
process's ``status``, ``confirm_open``, ``on_booking_status`` and explainer read):

- the stream's state per (account, site): ``live``, ``live_own``, ``connecting``,
  ``not_permitted`` or ``failed``, with the last event's time; kept while the listener
  renews it, so a listener that died reads as ``off`` within :data:`STATE_SECONDS`;
- which entries a park was told of (each entry once per park, across reconnects, replays
  and listener processes: an atomic ``add``);
- the stream's confirmation of an open (by attempt id, per park);
- the incidents going on at each lock of a site (a door left open until its end event).

Keys carry the account as hash tag, as every key of the plugin (:mod:`.keys`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ireserve_salto_plugin.salto.cache import NUMBER, Key, KeySpec, Store
from ireserve_salto_plugin.salto.errors import StoreUnavailable
from ireserve_salto_plugin.salto.types import entry_lock, entry_time
from ireserve_salto_plugin.store.keys import OPENER, RECEIPT_SECONDS, RECORD

STREAM_STATE = KeySpec("streamstate", RECORD)  # (account, site)
SEEN = KeySpec("streamseen", NUMBER)  # (account, park tag, entry id)
CONFIRMED = KeySpec("streamconfirmed", RECORD)  # (account, park tag, attempt id)
INCIDENTS = KeySpec("incidents", RECORD)  # (account, site): lock id -> incident -> info
OPENER_SLACK = 5  # seconds between our clock at the open and Salto's entry time
STATE_SECONDS = 90.0  # a state not renewed for this long is "off" (the listener is gone)
SEEN_SECONDS = 3 * 86400.0  # Salto's replays and our backfill reach back less than this
INCIDENT_SECONDS = 30 * 86400.0
LOW_BATTERY_SECONDS = 7 * 86400.0  # a low-battery warning without a new one is dropped
# incident types (Salto's Clay API, docs §6b): the start of each alarm and what ends it;
# low_battery_warning has no end event: it is dropped after LOW_BATTERY_SECONDS
ENDS = {
    "door_left_open_alarm": "end_of_door_left_open_alarm",
    "intrusion_alarm": "end_of_intrusion_alarm",
    "tamper_alarm": "end_of_tamper_alarm",
    "lock_connection_lost": "lock_connection_restored",
    "iq_connection_lost": "iq_connection_restored",
}
ENDED_BY = {end: start for start, end in ENDS.items()}
ALARMS = (*ENDS, "low_battery_warning")
STATES = ("live", "live_own", "connecting", "not_permitted", "failed", "off")


class StreamBook:
    """The stream's records in one store. Stateless; thread-safe as the store is."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- state -----------------------------------------------------------------------------

    def set_state(self, account: str, site: str, record: dict[str, Any]) -> None:
        self.store.set(STREAM_STATE(account, site), record, STATE_SECONDS)

    def state(self, account: str, site: str) -> dict[str, Any]:
        """The stream's state for (account, site); ``{"state": "off"}`` when no listener
        renewed it lately."""
        record = self.store.get(STREAM_STATE(account, site), fresh=True)
        if not isinstance(record, dict) or record.get("state") not in STATES:
            return {"state": "off"}
        return record

    # -- entries ---------------------------------------------------------------------------

    def first_time(self, account: str, park: str, entry_id: str) -> bool:
        """True once per (park, entry): the caller reports it, every later call skips."""
        return self.store.add(SEEN(account, park, entry_id[:100]), 1, SEEN_SECONDS)

    def confirm(self, account: str, park: str, attempt_id: str, record: dict[str, Any]) -> None:
        self.store.set(CONFIRMED(account, park, attempt_id[:64]), record, RECEIPT_SECONDS)

    def confirmation(self, account: str, park: str, attempt_id: str) -> dict[str, Any] | None:
        record = self.store.get(CONFIRMED(account, park, attempt_id[:64]), fresh=True)
        return record if isinstance(record, dict) else None

    # -- incidents -------------------------------------------------------------------------

    def incidents(self, account: str, site: str, now: datetime) -> dict[str, dict[str, Any]]:
        """lock id -> {incident type: {"since", "lock_name"}} going on now."""
        record = self.store.get(INCIDENTS(account, site), fresh=True)
        if not isinstance(record, dict):
            return {}
        return _current(record, now)

    def apply_incident(
        self,
        account: str,
        site: str,
        lock_id: str,
        incident: str,
        info: dict[str, Any],
        now: datetime,
    ) -> bool:
        """An alarm starts (``info``: since, lock name) or ends (its ``end_of_`` /
        ``restored`` type). One writer per (account, site) at a time (the listener's
        lease), so a read and a write are enough. True when something changed."""
        key: Key[dict[str, Any]] = INCIDENTS(account, site)
        record = self.store.get(key, fresh=True)
        locks = _current(record, now) if isinstance(record, dict) else {}
        going = dict(locks.get(lock_id, {}))
        if incident in ALARMS:
            if incident in going:
                return False
            going[incident] = info
        elif incident in ENDED_BY and ENDED_BY[incident] in going:
            del going[ENDED_BY[incident]]
        else:
            return False
        if going:
            locks[lock_id] = going
        else:
            locks.pop(lock_id, None)
        self.store.set(key, locks, INCIDENT_SECONDS)
        return True


def _current(record: dict[str, Any], now: datetime) -> dict[str, dict[str, Any]]:
    """The record without low-battery warnings older than :data:`LOW_BATTERY_SECONDS`."""
    current: dict[str, dict[str, Any]] = {}
    for lock_id, going in record.items():
        if not isinstance(going, dict):
            continue
        kept = {}
        for incident, info in going.items():
            if not isinstance(info, dict):
                continue
            if incident == "low_battery_warning":
                try:
                    since = datetime.fromisoformat(str(info.get("since")))
                except ValueError:
                    continue
                if (now - since).total_seconds() > LOW_BATTERY_SECONDS:
                    continue
            kept[incident] = info
        if kept:
            current[str(lock_id)] = kept
    return current


def with_openers(
    store: Store, account: str, park: str, entries: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Salto's entries, each remote open made by this plugin with ``requested_by`` and
    ``attempt_id`` from its receipt, in one store read. A receipt is matched by lock and
    second: the nearest within :data:`OPENER_SLACK` (Salto's entry time and ours
    differ a little), each receipt to one entry. Two opens of one lock in the same
    second keep only the later receipt. Entries the store cannot name stay as Salto
    sent them, and so do those of another park sharing the account (``park``: this
    park's tag): its entries are the shared site's, its requesters are not ours."""
    spots: list[tuple[int, int, Key[Any]]] = []  # entry, distance in seconds, key
    for n, entry in enumerate(entries):
        lock_id, at = entry_lock(entry)[0], entry_time(entry)
        if (
            isinstance(lock_id, str)
            and at is not None
            and entry.get("access_by") in (None, "remote")
        ):
            second = int(at.timestamp())
            spots.extend(
                (n, abs(delta), OPENER(account, lock_id, str(second + delta)))
                for delta in range(-OPENER_SLACK, OPENER_SLACK + 1)
            )
    try:
        found = store.get_many([key for _, _, key in spots]) if spots else []
    except StoreUnavailable:
        return entries
    named = [dict(entry) for entry in entries]
    used: set[str] = set()
    for (n, _, key), record in sorted(
        zip(spots, found, strict=True), key=lambda pair: (pair[0][1], pair[0][0])
    ):
        if (
            isinstance(record, dict)
            and "requested_by" not in named[n]
            and key.name not in used
            and record.get("park") == park
        ):
            used.add(key.name)
            named[n]["requested_by"] = record.get("requested_by")
            named[n]["attempt_id"] = record.get("attempt_id")
            named[n]["open_kind"] = record.get("kind", "guest")  # guest, staff, test
            if record.get("why"):
                named[n]["open_reason"] = record.get("why")
    return named
