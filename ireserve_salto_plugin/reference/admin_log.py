"""The web admin's "Logboek" (door log) page: the park's opens with who asked and whether
Salto confirmed each (stream, log, not yet, missing), and the other entries of Salto's log,
for a period; the same rows as a CSV download (the ``door_log`` admin action)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask, Response, request

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.admin.doorlog import COLUMNS, as_csv
from ireserve_salto_plugin.park.answers import say
from ireserve_salto_plugin.reference.host import Park, ReferenceHost


def log_pages(
    app: Flask,
    host: ReferenceHost,
    park: Park,
    lang: Callable[[], str],
    render: Callable[..., str],
) -> None:
    """Adds ``/log`` (the table) and ``/log.csv`` (the download) to ``app``."""

    def period() -> tuple[str, str, str, str]:
        """The period asked for (park-local dates ``from``/``to``, default the last 7
        days) as the form shows it and as UTC times for the action."""
        zone = ZoneInfo(park.timezone)
        today = datetime.now(UTC).astimezone(zone).date()
        start = request.args.get("from") or str(today - timedelta(days=6))
        end = request.args.get("to") or str(today)
        try:
            since = datetime.fromisoformat(start).replace(tzinfo=zone)
            until = datetime.fromisoformat(end).replace(tzinfo=zone) + timedelta(days=1)
        except ValueError:
            since, until = datetime.now(UTC) - timedelta(days=7), datetime.now(UTC)
        return start, end, since.astimezone(UTC).isoformat(), until.astimezone(UTC).isoformat()

    def read(since: str, until: str) -> tuple[bool, str, list[dict[str, object]]]:
        result = host.admin(
            replace(park, locale=lang()), INTEGRATION, "door_log", **{"from": since, "to": until}
        )
        return result.ok, result.message, list(result.data.get("rows", []))

    @app.get("/log")
    def door_log() -> str:
        start, end, since, until = period()
        ok, message, rows = read(since, until)
        headers = [say(lang(), f"column_{column}") for column in COLUMNS]
        return render(
            "log.html",
            tab="",
            start=start,
            end=end,
            ok=ok,
            message=message,
            rows=rows,
            columns=list(zip(COLUMNS, headers, strict=True)),
        )

    @app.get("/log.csv")
    def door_log_csv() -> Response:
        start, end, since, until = period()
        _, _, rows = read(since, until)
        headers = [say(lang(), f"column_{column}") for column in COLUMNS]
        return Response(
            as_csv(rows, headers),
            mimetype="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="logboek-{start}-{end}.csv"',
                "Cache-Control": "no-store",
            },
        )
