"""Receipts and the door log: whether Salto's log confirms an open (``confirm_open``), and
the park's recent opens with who asked for each (``recent_opens``). Salto's log is not
real-time: an open is "not yet" in it for a while before it is "missing"."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ireserve_salto_plugin.flow.context import ParkContext
from ireserve_salto_plugin.models import AdminResult
from ireserve_salto_plugin.park.answers import say
from ireserve_salto_plugin.park.i18n import host_language
from ireserve_salto_plugin.park.text import host_text, local_time
from ireserve_salto_plugin.salto.cache import Key, Store
from ireserve_salto_plugin.salto.clock import Clock
from ireserve_salto_plugin.salto.errors import (
    StoreUnavailable,
)
from ireserve_salto_plugin.salto.gateway import SaltoGateway
from ireserve_salto_plugin.salto.types import entry_lock, entry_time
from ireserve_salto_plugin.store.keys import OPENER, RECEIPT

log = logging.getLogger("ireserve_salto_plugin.admin.operations")

RECENT_DEFAULT, RECENT_MAX = 20, 100  # entries recent_opens shows by default, at most

MATCH_SECONDS = 120  # an entry this close to the open's time is its receipt


NOT_YET_SECONDS = 600  # Salto's log is not real-time: "not yet" until this long after


OPENER_SLACK = 5  # seconds between our clock at the open and Salto's entry time


def _lock_of(entry: dict[str, Any]) -> str | None:
    return entry_lock(entry)[0]


def _is_remote_open(entry: dict[str, Any], lock_id: str, at: datetime) -> bool:
    if _lock_of(entry) != lock_id or entry.get("event_category") != "lock_opened":
        return False
    if entry.get("access_by") not in (None, "remote"):
        return False
    when = entry_time(entry)
    return when is not None and abs((when - at).total_seconds()) <= MATCH_SECONDS


def staff_lang(ctx: ParkContext) -> str:
    """The staff's language: the park's ``locale``."""
    return host_language(ctx.park)


def _logged_at(entry: dict[str, Any], ctx: ParkContext) -> str:
    """When Salto logged the entry, in the park's zone with seconds (as sent if unreadable)."""
    at = entry_time(entry)
    return local_time(at, ctx.zone, seconds=True) if at else str(entry.get("utc_date_time"))


class Receipts:
    """The receipt operations (a base of :class:`~.operations.Operations`, which holds
    ``store`` and ``clock``)."""

    store: Store
    clock: Clock

    def confirm_open(
        self, ctx: ParkContext, gateway: SaltoGateway, params: Mapping[str, Any]
    ) -> AdminResult:
        attempt, lang = params.get("attempt_id"), staff_lang(ctx)
        if isinstance(attempt, str) and attempt:
            receipt = self.store.get(RECEIPT(gateway.account.key, ctx.park_tag, attempt[:64]))
            if not isinstance(receipt, dict):
                return AdminResult(False, say(lang, "no_receipt"))
            lock_id, at_text = receipt.get("lock_id"), receipt.get("at")
        else:
            lock_id, at_text = params.get("lock_id"), params.get("time")
        try:
            at = datetime.fromisoformat(str(at_text))
            at = at if at.tzinfo else at.replace(tzinfo=UTC)
        except ValueError:
            return AdminResult(False, say(lang, "confirm_args"))
        if not isinstance(lock_id, str):
            return AdminResult(False, say(lang, "lock_id"))
        # Salto's log, newest first, read back to the open's time (a busy site logs more
        # than a page after it), within a page limit that is named when it is reached
        log_read = gateway.entries_since(
            ctx.site_id(gateway), at - timedelta(seconds=MATCH_SECONDS)
        )
        entry = next((e for e in log_read.items if _is_remote_open(e, lock_id, at)), None)
        if entry is not None:
            return AdminResult(
                True,
                say(lang, "confirmed", at=_logged_at(entry, ctx)),
                data={"receipt": "confirmed", "entry": entry},
            )
        if not log_read.complete:
            return AdminResult(
                False,
                say(lang, "log_too_long", count=len(log_read.items)),
                data={"receipt": "not_reached", "entries_read": len(log_read.items)},
            )
        waited = (self.clock.utcnow() - at).total_seconds()
        state = "not_yet" if waited < NOT_YET_SECONDS else "missing"
        return AdminResult(state == "not_yet", say(lang, state), data={"receipt": state})

    def _with_openers(
        self, account: str, park: str, entries: list[dict[str, Any]]
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
            lock_id, at = _lock_of(entry), entry_time(entry)
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
            found = self.store.get_many([key for _, _, key in spots]) if spots else []
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

    def recent_opens(
        self, ctx: ParkContext, gateway: SaltoGateway, params: Mapping[str, Any]
    ) -> AdminResult:
        count = params.get("count", RECENT_DEFAULT)
        count = min(max(count, 1), RECENT_MAX) if isinstance(count, int) else RECENT_DEFAULT
        lock_id = params.get("lock_id")
        entries = gateway.entries(ctx.site_id(gateway), top=RECENT_MAX if lock_id else count)
        if isinstance(lock_id, str):
            entries = [e for e in entries if _lock_of(e) == lock_id]
        entries = self._with_openers(gateway.account.key, ctx.park_tag, entries[:count])
        message = (
            say(staff_lang(ctx), "lock_entries", lock=host_text(lock_id, 40), count=len(entries))
            if lock_id
            else say(staff_lang(ctx), "entries", count=len(entries))
        )
        return AdminResult(True, message, data={"entries": entries})
