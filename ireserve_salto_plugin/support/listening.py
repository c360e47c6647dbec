"""The support desk's live commands: ``listen`` (Salto's event stream, as it comes) and
``report`` (the park's door log for a period, as a table or CSV)."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click

from ireserve_salto_plugin.admin.doorlog import as_csv
from ireserve_salto_plugin.events import EventListener, LockEvent
from ireserve_salto_plugin.flow.context import park_zone
from ireserve_salto_plugin.models import Park
from ireserve_salto_plugin.park.answers import say
from ireserve_salto_plugin.park.incidents import events_data
from ireserve_salto_plugin.park.text import local_time, printable
from ireserve_salto_plugin.support.commands import (
    AS_JSON,
    LANG,
    SETTINGS,
    desk_command,
    failed,
    headers,
    show,
)
from ireserve_salto_plugin.support.files import OK, PROBLEM, UNUSABLE, Desk, Unusable
from ireserve_salto_plugin.support.tables import table

STATE_POLL = 1.0  # seconds between two looks at the stream's state (printed on a change)


def _warn(text: str) -> None:
    click.echo(printable(text), err=True)


def event_line(desk: Desk, event: LockEvent, lang: str) -> str:
    """One event as the desk prints it: park-local time with seconds, the lock's name."""
    at = local_time(event.at, park_zone(desk.park), seconds=True) if event.at else "?"
    lock = printable(event.lock_name or event.lock_id or "?")
    if event.kind == "incident":
        return say(lang, "listen_incident", at=at, lock=lock, incident=event.incident)
    if event.kind == "opened":
        who = (
            say(
                lang,
                "listen_who",
                who=printable(str(event.requested_by)),
                kind=event.open_kind,
                attempt=event.attempt_id,
            )
            if event.attempt_id
            else ""
        )
        return say(lang, "listen_opened", at=at, lock=lock, by=event.access_by, who=who)
    return say(lang, "listen_entry", at=at, lock=lock, event=event.category, by=event.access_by)


@click.command(short_help="Salto's event stream, printed as it comes.")
@click.option(
    "--settings-file",
    "settings_files",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False, exists=True),
    help="A park's settings (as for every command); give it once per park.",
)
@AS_JSON
@LANG
def listen(settings_files: tuple[str, ...], as_json: bool, lang: str | None) -> None:
    """Listen to Salto's event stream for these parks and print each event as it comes
    (--json: one object a line): opens (with who asked, when the plugin made them),
    other entries and incidents. Runs until Ctrl-C. With SALTO_KS_REDIS_URL set it shares
    leases, confirmations and incidents with the host's processes."""
    try:
        desks = [Desk(path, warn=_warn) for path in settings_files]
    except Unusable as exc:
        sys.exit(failed(str(exc), "unusable", as_json, UNUSABLE))
    for desk in desks:
        if lang:
            desk.park.locale = lang
    by_park: dict[int, Desk] = {id(desk.park): desk for desk in desks}
    lock = threading.Lock()

    def on_event(park: Park, event: LockEvent) -> None:
        desk = by_park[id(park)]
        with lock:
            if as_json:
                click.echo(json.dumps({"park": str(park.id), **event.to_dict()}))
            else:
                click.echo(event_line(desk, event, desk.lang))

    listeners = [
        EventListener(_parks_of(desk), on_event=on_event, service=desk.service) for desk in desks
    ]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    shown: dict[tuple[str, str], str] = {}
    try:
        for listener in listeners:
            listener.start()
        while not stop.wait(STATE_POLL):
            for listener, desk in zip(listeners, desks, strict=True):
                _print_states(listener, desk, shown, as_json, lock)
    except KeyboardInterrupt:
        pass
    finally:
        for listener in listeners:
            listener.stop()


def _parks_of(desk: Desk) -> Callable[[], list[Park]]:
    return lambda: [desk.park]


def _print_states(
    listener: EventListener,
    desk: Desk,
    shown: dict[tuple[str, str], str],
    as_json: bool,
    lock: threading.Lock,
) -> None:
    """A site's stream state when it changed (to stderr: stdout holds only events)."""
    for key, site in list(listener.sites.items()):
        state = site.state()
        if shown.get(key) == state["state"]:
            continue
        shown[key] = state["state"]
        data = events_data(state, desk.lang)
        with lock:
            if as_json:
                click.echo(json.dumps({"site": key[1], "events": data}), err=True)
            else:
                text = say(
                    desk.lang,
                    "listen_state",
                    site=key[1],
                    state=data["state"],
                    meaning=data["meaning"],
                )
                click.echo(click.style(text, fg="cyan"), err=True)


@click.command(short_help="The park's door log for a period (table or CSV).")
@SETTINGS
@click.option("--from", "since", required=True, help="Start (ISO 8601; naive means park-local).")
@click.option("--to", "until", default=None, help="End (ISO 8601; default now).")
@click.option(
    "--csv", "as_csv_file", default=None, metavar="FILE", help="Write CSV here ('-': stdout)."
)
@AS_JSON
@desk_command
def report(
    desk: Desk, since: str, until: str | None, as_csv_file: str | None, as_json: bool
) -> int:
    """The park's door log from --from to --to: each open the plugin sent (who asked, when,
    which door, whether Salto confirmed it: stream, log, not yet, missing) and the other
    entries of Salto's log (tags, PIN codes, the app)."""
    params = {"from": _utc(desk, since), "to": _utc(desk, until) if until else None}
    result = desk.admin("door_log", **params)
    if as_json or not result.ok:
        return show(result, as_json)
    rows = result.data.get("rows", [])
    columns = ["time", "door", "event", "by", "kind", "requested_by", "reason", "confirmed"]
    if as_csv_file:
        text = as_csv(rows, headers(desk.lang, columns))
        if as_csv_file == "-":
            click.echo(text, nl=False)
        else:
            Path(as_csv_file).write_text(text, encoding="utf-8")
            click.echo(printable(result.message), err=True)
        return OK
    click.echo(click.style(printable(result.message), fg="green"))
    click.echo(table(rows, columns, headers=headers(desk.lang, columns)))
    return OK if result.data.get("complete", True) else PROBLEM


def _utc(desk: Desk, text: str) -> str:
    """An ISO 8601 time the desk was given, naive meaning park-local, as UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Unusable(f"{text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=park_zone(desk.park))
    return moment.astimezone(UTC).isoformat()


def register_live(main: click.Group) -> None:
    """Adds these commands to ``main``."""
    for command in (listen, report):
        main.add_command(command)
