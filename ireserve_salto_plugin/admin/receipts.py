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
from ireserve_salto_plugin.salto.cache import Store
from ireserve_salto_plugin.salto.clock import Clock
from ireserve_salto_plugin.salto.gateway import SaltoGateway
from ireserve_salto_plugin.salto.types import entry_lock, entry_time
from ireserve_salto_plugin.store.keys import DOOR_LOG, RECEIPT, door_log_opens
from ireserve_salto_plugin.store.stream import StreamBook, with_openers

log = logging.getLogger("ireserve_salto_plugin.admin.operations")

RECENT_DEFAULT, RECENT_MAX = 20, 100  # entries recent_opens shows by default, at most

MATCH_SECONDS = 120  # an entry this close to the open's time is its receipt


NOT_YET_SECONDS = 600  # Salto's log is not real-time: "not yet" until this long after


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
            heard = StreamBook(self.store).confirmation(
                gateway.account.key, ctx.park_tag, attempt[:64]
            )
            if heard is not None:  # Salto's event stream had the entry (its log may not yet)
                return AdminResult(
                    True,
                    say(lang, "confirmed_stream", at=_logged_at(heard, ctx)),
                    data={"receipt": "confirmed", "source": "stream", "entry": heard},
                )
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
                data={"receipt": "confirmed", "source": "log", "entry": entry},
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
        return with_openers(self.store, account, park, entries)

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
        book = StreamBook(self.store)
        for entry in entries:  # an open of ours in Salto's log: confirmed (by the stream too?)
            if entry.get("attempt_id"):
                heard = book.confirmation(gateway.account.key, ctx.park_tag, entry["attempt_id"])
                entry["confirmed"] = "stream" if heard else "log"
        opens = self._opens(ctx, gateway, entries, count, lock_id)
        message = (
            say(staff_lang(ctx), "lock_entries", lock=host_text(lock_id, 40), count=len(entries))
            if lock_id
            else say(staff_lang(ctx), "entries", count=len(entries))
        )
        return AdminResult(True, message, data={"entries": entries, "opens": opens})

    def _opens(
        self,
        ctx: ParkContext,
        gateway: SaltoGateway,
        entries: list[dict[str, Any]],
        count: int,
        lock_id: Any,
    ) -> list[dict[str, Any]]:
        """The park's latest opens (the door log), newest first, each with whether Salto
        confirmed it: ``stream``, ``log`` (among the entries read), ``not_yet`` (the log is
        not real-time), ``missing``, or ``not_checked`` (older than the entries read)."""
        account, now = gateway.account.key, self.clock.utcnow()
        opens = door_log_opens(self.store.items(DOOR_LOG(account, ctx.park_tag)))
        if isinstance(lock_id, str):
            opens = [o for o in opens if o.get("lock_id") == lock_id]
        in_log = {e["attempt_id"] for e in entries if e.get("attempt_id")}
        oldest = min((t for e in entries if (t := entry_time(e))), default=None)
        book, shown = StreamBook(self.store), []
        for opened in reversed(opens[-count:]):
            attempt = str(opened.get("attempt_id"))
            try:
                at = datetime.fromisoformat(str(opened.get("at")))
            except ValueError:
                continue
            if book.confirmation(account, ctx.park_tag, attempt):
                confirmed = "stream"
            elif attempt in in_log:
                confirmed = "log"
            elif (now - at).total_seconds() < NOT_YET_SECONDS:
                confirmed = "not_yet"
            elif oldest is None or at >= oldest:
                confirmed = "missing"
            else:
                confirmed = "not_checked"
            shown.append({**opened, "confirmed": confirmed})
        return shown
