"""Which of the plugin's opens a Salto entry confirms: the park's door log, read back a
little (``store.keys.DOOR_LOG``), against the entry's lock and (whole) second."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from ireserve_salto_plugin.events.protocol import LockEvent
from ireserve_salto_plugin.salto.cache import Store
from ireserve_salto_plugin.salto.gateway import SaltoGateway
from ireserve_salto_plugin.salto.types import entry_time
from ireserve_salto_plugin.store.keys import DOOR_LOG, door_log_opens
from ireserve_salto_plugin.store.stream import OPENER_SLACK, StreamBook

MATCH_OPENS = 100  # a park's latest door log records (~50 opens) an entry is matched against
Matched = tuple[str, dict[str, Any], float]  # park tag, the open, seconds apart


class OpenMatcher:
    """One (account, site)'s matching; remembers the opens it gave an entry (thread-safe)."""

    def __init__(self, store: Store, book: StreamBook, account: str) -> None:
        self.store, self.book, self.account = store, book, account
        self._taken: dict[str, None] = {}  # attempts matched here (insertion ordered)
        self._lock = threading.Lock()

    def match(
        self, event: LockEvent, tags: list[str], live_at: datetime | None, *, take: bool
    ) -> Matched | None:
        """(park tag, the open, seconds apart) of the plugin's open this entry confirms: an
        open of this lock in a park's door log within a few seconds of the entry, not
        confirmed yet, the nearest first (each open to one entry, even several in one
        second; of two as near, the later). ``take``: it is this entry's from now on;
        ``live_at``: only an open recorded since then (our clock)."""
        if event.kind != "opened" or event.at is None or event.lock_id is None:
            return None
        store, book = self.store, self.book
        # an entry heard live is of an open recorded since the stream was live: an older
        # open (made before, never confirmed) is not its open, even in the same second
        floor = live_at
        found: list[tuple[float, str, dict[str, Any]]] = []
        for tag in tags:
            for opened in door_log_opens(
                store.items(DOOR_LOG(self.account, tag), last=MATCH_OPENS)
            ):
                try:
                    at = datetime.fromisoformat(str(opened.get("at")))
                    recorded = datetime.fromisoformat(str(opened.get("recorded") or at))
                except ValueError:
                    continue
                if floor is not None and recorded < floor:
                    continue
                # Salto's entry has whole seconds: an open in that second is 0 apart
                gap = max((event.at - at).total_seconds(), (at - event.at).total_seconds() - 1, 0)
                if opened.get("lock_id") == event.lock_id and gap <= OPENER_SLACK:
                    found.append((gap, tag, opened))
        found.sort(key=lambda row: str(row[2].get("recorded")), reverse=True)  # later first
        for gap, tag, opened in sorted(found, key=lambda row: row[0]):
            attempt = str(opened.get("attempt_id"))
            with self._lock:
                if attempt in self._taken:
                    continue
                if book.confirmation(self.account, tag, attempt) is not None:
                    continue
                if take:
                    self._taken[attempt] = None
                    while len(self._taken) > MATCH_OPENS * 4:
                        self._taken.pop(next(iter(self._taken)))
            return tag, {**opened, "open_kind": opened.get("kind")}, gap
        return None


def logged_since(
    gateway: SaltoGateway, site_id: str, since: datetime, user_id: str | None
) -> list[dict[str, Any]]:
    """Salto's log of the site since ``since``, oldest first (a backfill after a drop);
    ``user_id``: only that user's entries (what an own-entries stream would carry)."""
    found = gateway.entries_since(site_id, since).items
    if user_id is not None:
        found = [e for e in found if e.get("user_id") == user_id]
    at = [(entry_time(e), e) for e in found]
    return [e for when, e in sorted(at, key=lambda pair: str(pair[0])) if when and when >= since]
