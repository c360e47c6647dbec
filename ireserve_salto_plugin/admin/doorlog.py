"""The park's door log: every open the plugin sent (who asked: guest, staff or test, and
why; when; which door) with whether Salto confirmed it (``stream``: its event stream had
the entry; ``log``: its entry log has it; ``not_yet``: the log is not real-time; ``missing``),
and the other entries of Salto's log (tags, PIN codes, the app) for the same period.

The opens come from the store (``store.keys.DOOR_LOG``, each open pushed with its
receipt); the entries and the ``log`` confirmations from Salto's log, read now.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ireserve_salto_plugin.admin.receipts import (
    MATCH_SECONDS,
    NOT_YET_SECONDS,
    Receipts,
    staff_lang,
)
from ireserve_salto_plugin.flow.context import ParkContext
from ireserve_salto_plugin.models import AdminResult
from ireserve_salto_plugin.park.answers import say
from ireserve_salto_plugin.park.text import local_time
from ireserve_salto_plugin.salto.gateway import SaltoGateway
from ireserve_salto_plugin.salto.types import entry_lock, entry_time
from ireserve_salto_plugin.store.keys import DOOR_LOG, door_log_opens
from ireserve_salto_plugin.store.stream import StreamBook

COLUMNS = ("time", "door", "event", "by", "kind", "requested_by", "reason", "confirmed")
MAX_DAYS = 31  # the longest period asked for at once (the store keeps 31 days of opens)


def _instant(value: Any, name: str) -> datetime:
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(name) from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _remote_near(entry: dict[str, Any], lock_id: Any, at: datetime) -> bool:
    when = entry_time(entry)
    return (
        entry_lock(entry)[0] == lock_id
        and entry.get("event_category") == "lock_opened"
        and entry.get("access_by") in (None, "remote")
        and when is not None
        and abs((when - at).total_seconds()) <= MATCH_SECONDS
    )


class DoorLog(Receipts):
    """The door log operations (a base of :class:`~.operations.Operations`)."""

    def door_log(
        self, ctx: ParkContext, gateway: SaltoGateway, params: Mapping[str, Any]
    ) -> AdminResult:
        lang, now = staff_lang(ctx), self.clock.utcnow()
        try:
            until = _instant(params["to"], "to") if params.get("to") else None
            end = until or now
            since = (
                _instant(params["from"], "from") if params.get("from") else end - timedelta(days=1)
            )
        except ValueError as exc:
            return AdminResult(False, say(lang, "log_period", field=str(exc)))
        if since >= end or end - since > timedelta(days=MAX_DAYS):
            return AdminResult(False, say(lang, "log_period", field="from"))
        rows, complete = self.log_rows(ctx, gateway, since, until)
        return AdminResult(
            True,
            say(lang, "door_log", count=len(rows)),
            data={"rows": rows, "complete": complete, "columns": list(COLUMNS)},
        )

    def log_rows(
        self, ctx: ParkContext, gateway: SaltoGateway, since: datetime, until: datetime | None
    ) -> tuple[list[dict[str, Any]], bool]:
        """The period's rows, oldest first, and whether Salto's log was read to its start.
        No ``until``: everything since ``since``, also what is stamped later than our now
        (times are Salto's: after its clock jumped ahead, an open of a moment ago is)."""
        account, now = gateway.account.key, self.clock.utcnow()
        end = until or datetime.max.replace(tzinfo=UTC)
        opens = [
            o
            for o in door_log_opens(self.store.items(DOOR_LOG(account, ctx.park_tag)))
            if since <= _instant(o.get("at"), "at") <= end
        ]
        read = gateway.entries_since(ctx.site_id(gateway), since - timedelta(seconds=60))
        entries = [e for e in read.items if (t := entry_time(e)) and since <= t <= end]
        book, used, rows = StreamBook(self.store), set(), []
        for opened in opens:
            at = _instant(opened.get("at"), "at")
            match = next(
                (
                    e
                    for e in entries
                    if e.get("id") not in used and _remote_near(e, opened.get("lock_id"), at)
                ),
                None,
            )
            if match is not None:
                used.add(match.get("id"))
            heard = book.confirmation(account, ctx.park_tag, str(opened.get("attempt_id")))
            waited = (now - at).total_seconds()
            confirmed = (
                "stream"
                if heard
                else "log"
                if match is not None
                else "not_yet"
                if waited < NOT_YET_SECONDS or not read.complete
                else "missing"
            )
            rows.append(
                {
                    "at": at.isoformat(),
                    "time": local_time(at, ctx.zone, seconds=True),
                    "door": opened.get("lock_name") or opened.get("lock_id"),
                    "lock_id": opened.get("lock_id"),
                    "event": "lock_opened",
                    "by": "remote",
                    "kind": opened.get("kind"),
                    "requested_by": opened.get("requested_by"),
                    "reason": opened.get("why"),
                    "attempt_id": opened.get("attempt_id"),
                    "confirmed": confirmed,
                }
            )
        for entry in entries:
            if entry.get("id") in used:
                continue
            logged = entry_time(entry)
            assert logged is not None
            lock_id, name = entry_lock(entry)
            rows.append(
                {
                    "at": logged.isoformat(),
                    "time": local_time(logged, ctx.zone, seconds=True),
                    "door": name or lock_id,
                    "lock_id": lock_id,
                    "event": entry.get("event_category"),
                    "by": entry.get("access_by"),
                    "kind": None,
                    "requested_by": None,
                    "reason": None,
                    "attempt_id": None,
                    "confirmed": None,
                }
            )
        rows.sort(key=lambda row: str(row["at"]))
        return rows, read.complete


def as_csv(rows: list[dict[str, Any]], headers: list[str] | None = None) -> str:
    """The door log as CSV (UTF-8, one header line; a cell that starts like a formula is
    quoted with a leading apostrophe, so a spreadsheet shows it as text)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers or list(COLUMNS))
    for row in rows:
        cells = ["" if row.get(c) is None else str(row.get(c)) for c in COLUMNS]
        writer.writerow(["'" + c if c[:1] in ("=", "+", "-", "@") else c for c in cells])
    return out.getvalue()
