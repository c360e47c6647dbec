"""The support desk's commands that read without changing anything: Salto's log, why a
booking can or cannot open, and readiness of many bookings (see :mod:`.commands`)."""

from __future__ import annotations

import json
from typing import Any

import click

from ireserve_salto_plugin.park.answers import say
from ireserve_salto_plugin.park.text import printable
from ireserve_salto_plugin.support.commands import AS_JSON, SETTINGS, desk_command, headers, show
from ireserve_salto_plugin.support.files import OK, PROBLEM, Desk, Unusable
from ireserve_salto_plugin.support.tables import table


@click.command(short_help="Salto's latest entries, newest first.")
@SETTINGS
@click.option("--count", default=20, show_default=True, help="How many entries.")
@click.option("--lock", "lock_id", help="Only this lock's entries.")
@AS_JSON
@desk_command
def entries(desk: Desk, count: int, lock_id: str | None, as_json: bool) -> int:
    """Salto's latest entries (who opened what, when), newest first, in park-local
    time. --lock takes the lock's id or its name."""
    params: dict[str, Any] = {"count": count}
    if lock_id:
        params["lock_id"] = desk.lock_id(lock_id)
    result = desk.admin("recent_opens", **params)
    if as_json or not result.ok:
        return show(result, as_json)
    click.echo(click.style(printable(result.message), fg="green"))
    columns = ["time", "event", "by", "lock", "requested by", "confirmed"]
    rows = desk.entry_rows(result.data.get("entries", []))
    click.echo(table(rows, columns, headers=headers(desk.lang, columns)))
    opens = [
        {
            **opened,
            "time": desk.local(opened.get("at")),
            "lock": opened.get("lock_name") or opened.get("lock_id"),
            "requested by": opened.get("requested_by"),
        }
        for opened in result.data.get("opens", [])
    ]
    if opens:  # the park's own opens, each with whether Salto confirmed it
        click.echo(say(desk.lang, "cli_opens"))
        columns = ["time", "lock", "kind", "requested by", "why", "confirmed"]
        click.echo(table(opens, columns, headers=headers(desk.lang, columns)))
    return OK


@click.command(short_help="Why a booking can or cannot open.")
@SETTINGS
@click.argument("booking_file", required=False, type=click.Path(dir_okay=False, exists=True))
@click.option("--object", "object_id", help="The object booked (instead of a file).")
@click.option("--arrival", help="ISO 8601; naive means park-local.")
@click.option("--departure", help="ISO 8601; naive means park-local.")
@click.option(
    "--status",
    default=None,
    help="The booking's status (default: the first opening status of the settings).",
)
@click.option("--at", "at", default=None, help="Judge at this time (ISO 8601; default now).")
@AS_JSON
@desk_command
def why(
    desk: Desk,
    booking_file: str | None,
    object_id: str | None,
    arrival: str | None,
    departure: str | None,
    status: str | None,
    at: str | None,
    as_json: bool,
) -> int:
    """Why a booking can or cannot open: every step, in the open's order. Give a
    booking file (JSON: id, object_id, status, arrival, departure) or --object,
    --arrival and --departure. Sends nothing to any lock."""
    booking = desk.booking_from(booking_file, object_id, arrival, departure, status)
    now = desk.instant(at)
    found = desk.host.pm.hook.explain_access(park=desk.park, booking=booking, now=now)
    if found is None:
        raise Unusable("the plugin is not enabled in these settings")
    if as_json:
        click.echo(json.dumps(found.to_dict(), indent=2))
    else:
        lang = desk.lang
        judged = now or say(lang, "cli_now")
        lock = desk.lock_names().get(found.lock_id or "", found.lock_id or "-")
        click.echo(
            say(lang, "cli_booking", id=booking.id, object=booking.object_id, lock=lock, at=judged)
        )
        colours = {"ok": "green", "fail": "red", "unknown": "yellow"}
        for step in found.steps:
            state = say(lang, f"state_{step.state.value}")
            click.echo(
                click.style(f"{state:>7}", fg=colours[step.state.value])
                + f"  {step.step:<14} {printable(step.message)}"
            )
        verdict = found.verdict.value
        click.echo(say(lang, "cli_verdict", verdict=verdict, message=printable(found.message)))
        for door in found.doors:  # a booking with several doors: each one's verdict
            click.echo(
                f"{say(lang, 'cli_door')} {door.kind.value:6} {printable(door.name):20} "
                f"{door.verdict.value}: {printable(door.message)}"
            )
    return OK if found.verdict.value == "opened" else PROBLEM


@click.command(short_help="Each booking judged at its arrival.")
@SETTINGS
@click.argument("bookings_file", type=click.Path(dir_okay=False, exists=True))
@AS_JSON
@desk_command
def readiness(desk: Desk, bookings_file: str, as_json: bool) -> int:
    """Each booking of a JSON list judged at its arrival; counts per verdict."""
    found = desk.host.pm.hook.readiness(
        park=desk.park, bookings=desk.bookings(bookings_file), now=None
    )
    if found is None:
        raise Unusable("the plugin is not enabled in these settings")
    if as_json:
        click.echo(json.dumps(found.to_dict(), indent=2))
    else:
        click.echo(readiness_table(desk, bookings_file, found.bookings))
        click.echo(", ".join(f"{k}: {v}" for k, v in sorted(found.summary.items())))
    ready = set(found.summary) <= {"opened"}
    return OK if ready else PROBLEM


def readiness_table(desk: Desk, bookings_file: str, rows: list[dict[str, Any]]) -> str:
    """Each booking with its arrival (park-local), object, lock by name, a verdict label
    (ready, else the reason) and the whole message, wrapped; in the park's language."""
    lang = desk.lang
    by_id = {booking.id: booking for booking in desk.bookings(bookings_file)}
    names = desk.lock_names()
    shown = []
    for row in rows:
        booking = by_id.get(row.get("booking_id", ""))
        verdict = row.get("verdict")
        shown.append(
            {
                **row,
                "arrival": f"{booking.arrival:%Y-%m-%d %H:%M}" if booking else None,
                "object": booking.object_id if booking else None,
                "lock": names.get(row.get("lock_id") or "", row.get("lock_id")),
                "label": say(lang, "ready") if verdict == "opened" else verdict,
            }
        )
    columns = ["booking_id", "arrival", "object", "lock", "label", "message"]
    headers = [say(lang, f"column_{name}") for name in columns]
    return table(shown, columns, wrap="message", headers=headers)


def register_reads(main: click.Group) -> None:
    """Adds these commands to ``main``."""
    for command in (
        entries,
        why,
        readiness,
    ):
        main.add_command(command)
