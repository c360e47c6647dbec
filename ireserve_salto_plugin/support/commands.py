"""The support desk's commands of ``ireserve-salto``, on one park's settings file.

Every command takes ``--settings-file`` and ``--json``; tables on a terminal are coloured
(click strips colours when the output is not a terminal). Exit codes: 0 all well,
1 the action failed or found something to fix, 2 the file, the settings or the platform
variables cannot be used.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click

from ireserve_salto_plugin.models import AdminResult
from ireserve_salto_plugin.park.answers import say
from ireserve_salto_plugin.park.text import printable
from ireserve_salto_plugin.salto.errors import SaltoError
from ireserve_salto_plugin.support.files import OK, PROBLEM, UNUSABLE, Desk, Unusable
from ireserve_salto_plugin.support.tables import table

SETTINGS = click.option(
    "--settings-file",
    required=True,
    type=click.Path(dir_okay=False, exists=True),
    help="The park's salto_ks settings as the host stores them (JSON, secrets included), "
    "or a file written by 'ireserve-salto sandbox'. Keep it private (mode 600).",
)
AS_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
LANG = click.option(
    "--lang",
    type=click.Choice(["nl", "en", "de"]),
    default=None,
    help="Prompts, headers and results in this language (default: the park's locale).",
)


def headers(lang: str, columns: list[str]) -> list[str]:
    """A table's column names in ``lang``."""
    return [say(lang, "column_" + c.replace(" ", "_").replace("-", "_")) for c in columns]


def desk_command(func: Callable[..., int]) -> Callable[..., None]:
    """Open the settings file, run the command, exit with its code; an unusable file or
    Salto being unreachable is a plain message, never a stack trace."""

    @functools.wraps(func)
    def run(settings_file: str, lang: str | None = None, **kwargs: Any) -> None:
        as_json = bool(kwargs.get("as_json"))
        try:
            desk = Desk(settings_file, warn=lambda text: click.echo(printable(text), err=True))
            if lang:  # prompts, headers and results in this language (else the park's)
                desk.park.locale = lang
            code = func(desk, **kwargs)
        except Unusable as exc:
            code = failed(str(exc), "unusable", as_json, UNUSABLE)
        except SaltoError as exc:
            code = failed(str(exc), exc.reason, as_json, PROBLEM)
        sys.exit(code)

    return LANG(run)


def failure(error: str, message: str, data: dict[str, Any] | None = None) -> str:
    """The one shape of every ``--json`` failure, whatever failed: ``{"ok": false,
    "error": <code>, "message": <text>, "data": {...}}``."""
    return json.dumps(
        {"ok": False, "error": error, "message": message, "data": data or {}}, indent=2
    )


def failed(text: str, error: str, as_json: bool, code: int) -> int:
    """A failure in plain words; with ``--json`` one JSON object on stdout (:func:`failure`),
    so a script always reads one document."""
    if as_json:
        click.echo(failure(error, text))
    else:
        click.echo(click.style(printable(text), fg="red"), err=True)
    return code


def show(
    result: AdminResult,
    as_json: bool,
    rows: str | None = None,
    columns: list[str] | None = None,
    lang: str = "en",
) -> int:
    if as_json:
        answer = result.to_dict()
        if not result.ok:  # the one failure shape: its code first
            reason = result.data.get("reason") or result.data.get("receipt") or "failed"
            answer = {"ok": False, "error": str(reason), **answer}
        click.echo(json.dumps(answer, indent=2))
    else:
        click.echo(click.style(printable(result.message), fg="green" if result.ok else "red"))
        if rows and columns and result.data.get(rows):
            click.echo(table(result.data[rows], columns, headers=headers(lang, columns)))
    return OK if result.ok else PROBLEM


@click.command(short_help="Integration status; exit 1 while a door cannot open.")
@SETTINGS
@AS_JSON
@desk_command
def check(desk: Desk, as_json: bool) -> int:
    """Integration status: login, site, each IQ (activation, online, locks, OTP
    budget), clock, last opens. Exit 1 when something needs a look."""
    result, lang = desk.admin("status"), desk.lang
    columns = ["name", "id", "activated", "salto_activated", "online", "locks_online"]
    columns += ["locks_offline", "budget"]
    code = show(result, as_json, "iqs", columns, lang)
    if result.ok and not as_json:
        data = result.data

        def last(kind: str) -> str:
            found = data.get(f"last_{kind}")
            if not isinstance(found, dict):
                return say(lang, "cli_none_kept")
            lock = found.get("lock_id")
            return say(
                lang,
                "cli_last",
                at=desk.local(found.get("at")),
                reason=found.get("reason"),
                lock=desk.lock_names().get(lock or "", lock),
            )

        offset = f"{data.get('clock_offset', 0):+.0f}"
        said = say(lang, "cli_check", offset=offset, last=last("success"), failed=last("failure"))
        click.echo(printable(said))
        events = data.get("events") or {}
        said = say(lang, "cli_events", state=events.get("state"), meaning=events.get("meaning"))
        click.echo(printable(said))
    healthy = result.ok and not result.data.get("problems")
    return code if code != OK or healthy else PROBLEM


@click.command(short_help="The site's IQs, activated here and at Salto.")
@SETTINGS
@AS_JSON
@desk_command
def iqs(desk: Desk, as_json: bool) -> int:
    """The site's IQ gateways and their activation here and at Salto."""
    columns = ["name", "id", "online", "activated", "salto_activated", "restore_required"]
    return show(desk.admin("list_iqs"), as_json, "iqs", columns, desk.lang)


@click.command(short_help="The site's locks, read fresh.")
@SETTINGS
@AS_JSON
@desk_command
def locks(desk: Desk, as_json: bool) -> int:
    """The site's locks, read fresh (a progress bar on a terminal)."""
    bar = _progress() if sys.stderr.isatty() and not as_json else None
    rows = desk.locks(on_page=bar)
    if bar is not None:
        click.echo("", err=True)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        columns = ["name", "id", "online", "iq", "battery", "left-open alarm", "intrusion alarm"]
        click.echo(table(rows, columns, headers=headers(desk.lang, columns)))
        offline = sum(1 for row in rows if not row["online"])
        counted = say(desk.lang, "n_locks", count=len(rows))
        said = say(desk.lang, "cli_offline", locks=counted, offline=offline)
        click.echo(click.style(said, fg="yellow" if offline else "green"))
    return OK


@click.command(short_help="GET PIN, then Set PIN; writes the secret back.")
@SETTINGS
@click.argument("iq_id")
@click.option("--pin", help="The PIN from Salto's e-mail (asked for when not given).")
@AS_JSON
@desk_command
def activate(desk: Desk, iq_id: str, pin: str | None, as_json: bool) -> int:
    """GET PIN (Salto e-mails the PIN), then Set PIN with it; the new secret and PIN
    are written back to the settings file. IQ_ID may be the IQ's name. With --pin and a
    secret already stored, no second GET PIN e-mail is asked for."""
    iq_id = desk.iq_id(iq_id)
    stored = (desk.settings.get("iqs") or {}).get(iq_id) or {}
    if pin is not None and stored.get("secret"):
        # running `activate` for this IQ is the confirmation an activated IQ needs
        done = desk.admin("set_pin", iq_id=iq_id, current_pin=pin, confirm=True)
        if done.settings_update and (rescued := desk.save(done.settings_update)):
            return failed(
                f"The activation is saved in {rescued} (mode 600): import it "
                "into the host's settings.",
                "not_saved",
                as_json,
                UNUSABLE,
            )
        return show(done, as_json)
    asked = desk.admin("get_pin", iq_id=iq_id)
    if asked.settings_update:  # the secret: Salto hands it out once
        rescued = desk.save(asked.settings_update)
        if rescued is not None:
            click.echo(
                click.style(
                    f"The IQ secret Salto handed out is saved in {rescued} (mode 600): "
                    "import it into the host's settings before anything else. Set PIN was "
                    "not run.",
                    fg="red",
                ),
                err=True,
            )
            return UNUSABLE
    if not asked.ok:
        return show(asked, as_json)
    if not as_json:
        click.echo(printable(asked.message))
    if pin is None:
        pin = click.prompt(say(desk.lang, "cli_pin"), hide_input=True, err=True)
    done = desk.admin("set_pin", iq_id=iq_id, current_pin=pin, confirm=True)
    if done.settings_update and (rescued := desk.save(done.settings_update)) is not None:
        click.echo(
            click.style(
                f"The activation is saved in {rescued} (mode 600): import "
                "it into the host's settings.",
                fg="red",
            ),
            err=True,
        )
        return UNUSABLE
    return show(done, as_json)


@click.command("self-test", short_help="Cloud check of an IQ's codes (opens nothing).")
@SETTINGS
@click.argument("iq_id")
@AS_JSON
@desk_command
def self_test(desk: Desk, iq_id: str, as_json: bool) -> int:
    """Cloud check of an IQ's codes (opens nothing): necessary, not sufficient."""
    return show(desk.admin("self_test", iq_id=desk.iq_id(iq_id)), as_json)


@click.command("test-open", short_help="Really open one lock, audited.")
@SETTINGS
@click.argument("lock_id")
@click.option(
    "--by",
    "requested_by",
    required=True,
    help="Who asks for it (written to the log and the receipt).",
)
@click.option("--yes", is_flag=True, help="Open without asking for confirmation.")
@AS_JSON
@desk_command
def test_open(desk: Desk, lock_id: str, requested_by: str, yes: bool, as_json: bool) -> int:
    """Really open one lock, audited: the proof that its IQ takes the codes. LOCK_ID is the
    lock's id or its name, as for ``open``."""
    lock = desk.lock_id(lock_id)
    asked = say(desk.lang, "cli_open_now", lock=printable(lock_id))
    if not yes and not click.confirm(asked, err=True):
        return PROBLEM
    return show(desk.admin("test_open", lock_id=lock, requested_by=requested_by), as_json)


@click.command("open", short_help="Open a lock for staff, with a reason.")
@SETTINGS
@click.argument("lock")
@click.option(
    "--reason", required=True, help="Why (housekeeping, maintenance, ...): written to the log."
)
@click.option(
    "--by",
    "requested_by",
    default="staff:support-desk",
    show_default=True,
    help="Who asks for it (written to the log and the receipt).",
)
@click.option("--yes", is_flag=True, help="Open without asking for confirmation.")
@AS_JSON
@desk_command
def staff_open(
    desk: Desk, lock: str, reason: str, requested_by: str, yes: bool, as_json: bool
) -> int:
    """Open a lock of the site without a booking (housekeeping, maintenance), with a
    reason; logged as a staff open. LOCK is the lock's id or its name."""
    lock_id = desk.lock_id(lock)
    asked = say(desk.lang, "cli_open_now", lock=printable(lock))
    if not yes and not click.confirm(asked, err=True):
        return PROBLEM
    return show(
        desk.admin("staff_open", lock_id=lock_id, reason=reason, requested_by=requested_by),
        as_json,
    )


def register(main: click.Group) -> None:
    """Adds these commands to ``main``."""
    for command in (
        check,
        iqs,
        locks,
        activate,
        self_test,
        test_open,
        staff_open,
    ):
        main.add_command(command)


def _progress() -> Callable[[int, int | None], None]:
    def tell(read: int, count: int | None) -> None:
        total = f" of {count}" if count else ""
        click.echo(f"\rreading locks: {read}{total}", nl=False, err=True)

    return tell
