"""Tables for the support desk's terminal: rows of cells, and Salto's log entries as rows in
the park's zone with who asked for each open."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, tzinfo
from typing import Any

from ireserve_salto_plugin.park.text import local_time, printable
from ireserve_salto_plugin.salto.types import entry_lock


def table(
    rows: list[dict[str, Any]],
    columns: list[str],
    *,
    wrap: str | None = None,
    headers: list[str] | None = None,
) -> str:
    """Rows as an aligned text table: cells cut at 40 characters, except the ``wrap``
    column, whose whole text is wrapped over lines of 60; ``headers`` name the columns."""
    names = headers or columns
    cells = [[_cell(row.get(col), cut=col != wrap) for col in columns] for row in rows]
    widths = [
        max([len(name), *(min(len(line[i]), 60) for line in cells)]) for i, name in enumerate(names)
    ]
    lines = ["  ".join(name.ljust(w) for name, w in zip(names, widths, strict=True)).rstrip()]
    for line in cells:
        parts = [
            textwrap.wrap(c, w) or [""] if len(c) > w else [c]
            for c, w in zip(line, widths, strict=True)
        ]
        for n in range(max(len(p) for p in parts)):
            lines.append(
                "  ".join(
                    (p[n] if n < len(p) else "").ljust(w)
                    for p, w in zip(parts, widths, strict=True)
                ).rstrip()
            )
    return "\n".join(lines)


def _cell(value: Any, *, cut: bool = True) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        value = value.get("state") or value.get("name") or json.dumps(value)
    text = printable(str(value)).replace("\n", " ")
    return text if len(text) <= 40 or not cut else text[:39] + "…"


def _requested_by(entry: dict[str, Any]) -> str:
    who = entry.get("requested_by")
    if not who:
        return ""
    kind, why = entry.get("open_kind"), entry.get("open_reason")
    text = f"{who}" if kind in (None, "guest") else f"{kind}: {who}"
    return f"{text} ({why})" if why else text


def _on(flag: bool | None) -> str:
    return {True: "on", False: "off", None: "?"}[flag]


def entry_rows(entries: list[dict[str, Any]], zone: tzinfo) -> list[dict[str, Any]]:
    """Salto's log entries for people: local time in ``zone``, what, how, which lock (its
    name: entries are flat, ``lock_customer_reference``), and who asked the plugin for it
    when the open was the plugin's."""
    rows = []
    for entry in entries:
        lock_id, lock_name = entry_lock(entry)
        try:
            at = datetime.fromisoformat(str(entry.get("utc_date_time")).replace("Z", "+00:00"))
            when = local_time(at if at.tzinfo else at.replace(tzinfo=UTC), zone, seconds=True)
        except ValueError:
            when = str(entry.get("utc_date_time"))
        rows.append(
            {
                "time": when,
                "event": entry.get("event_category"),
                "by": entry.get("access_by"),
                "lock": lock_name or lock_id,
                # who asked the plugin for its own opens: guest, staff (and why), test
                "requested by": _requested_by(entry),
                # an open of the plugin's: seen in Salto's event stream, or only its log
                "confirmed": entry.get("confirmed"),
            }
        )
    return rows
