"""``ireserve-salto``: the demo, a stand-alone sandbox, the probe, and the support desk's
commands (:mod:`.cli_support`)."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.flow.wiring import service_from_env
from ireserve_salto_plugin.park.platform import sandbox_marked
from ireserve_salto_plugin.plugin import SaltoKsPlugin
from ireserve_salto_plugin.reference.demo import run_demo
from ireserve_salto_plugin.reference.host import Booking, Park, ReferenceHost
from ireserve_salto_plugin.sandbox import SaltoSandbox
from ireserve_salto_plugin.support.commands import failure, register
from ireserve_salto_plugin.support.files import write_private
from ireserve_salto_plugin.support.listening import register_live
from ireserve_salto_plugin.support.probe_run import run_probe
from ireserve_salto_plugin.support.reading import register_reads


class DeskGroup(click.Group):
    """The CLI's group: with ``--json`` even click's own usage errors (a missing option, a
    file that does not exist) are the one JSON failure shape on stdout, exit 2."""

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        kwargs["standalone_mode"] = False
        try:
            return super().main(argv, *rest, **kwargs)
        except click.ClickException as exc:
            if "--json" in argv:
                click.echo(failure("usage", exc.format_message()))
            else:
                exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)


@click.group(cls=DeskGroup)
@click.version_option(package_name="ireserve-salto-plugin")
@click.option("-v", "--verbose", is_flag=True, help="Show the plugin's own log lines.")
def main(verbose: bool) -> None:
    """i-Reserve Salto KS plugin tools."""
    logging.basicConfig(level=logging.WARNING, format="     log: %(name)s %(message)s")
    # -v raises the plugin's own loggers only: a library's INFO lines may hold what the
    # plugin never logs (vcrpy logs a recorded answer whole, tokens included)
    logging.getLogger("ireserve_salto_plugin").setLevel(
        logging.INFO if verbose else logging.WARNING
    )
    logging.getLogger("urllib3").setLevel(logging.ERROR)  # its retry lines: see README


@main.command(short_help="The whole flow on the embedded sandbox.")
def demo() -> None:
    """Run the whole flow against the embedded Salto KS sandbox."""
    sys.exit(0 if run_demo(click.echo) else 1)


@main.command(short_help="Serve the sandbox; write how to reach it.")
@click.option(
    "--settings-file",
    type=click.Path(dir_okay=False),
    required=True,
    help="Where to write the park settings and the platform variables (hosts and "
    "OAuth client) to set in the host's environment (mode 0600).",
)
@click.option("--iqs", default=3, show_default=True, help="IQ gateways on the site.")
@click.option("--locks-per-iq", default=12, show_default=True, help="Locks per IQ.")
@click.option(
    "--accounts",
    default=1,
    show_default=True,
    help="Accounts with access to the site (one park each).",
)
@click.option(
    "--sites",
    default=1,
    show_default=True,
    help="Sites, each with an account (one park each) of its own: the first is the seeded one.",
)
@click.option(
    "--site-admin",
    is_flag=True,
    help="The accounts are Site Admins: they may stream their sites' entries and incidents.",
)
@click.option(
    "--activate", is_flag=True, help="Activate every IQ for the accounts and write secret and PIN."
)
@click.option("--token-ttl", default=3600, show_default=True, help="Token lifetime (s).")
@click.option(
    "--page-counts",
    is_flag=True,
    help="Fill 'count' in list pages (Salto sent null in every captured sample).",
)
@click.option(
    "--admin",
    "admin_port",
    type=int,
    default=None,
    metavar="PORT",
    help="Also serve the reference host's web admin for the first park on this "
    "loopback port (needs the 'admin' extra), with a few bookings.",
)
def sandbox(  # noqa: PLR0913 (click: one parameter per option)
    settings_file: str,
    iqs: int,
    locks_per_iq: int,
    accounts: int,
    sites: int,
    site_admin: bool,
    activate: bool,
    token_ttl: int,
    page_counts: bool,
    admin_port: int | None,
) -> None:
    """Serve the sandbox until stopped; write how to reach it to SETTINGS_FILE.

    The file holds the sandbox's throw-away credentials: keep it private.
    """

    box = SaltoSandbox(
        iqs=iqs, locks_per_iq=locks_per_iq, token_ttl=token_ttl, page_counts=page_counts
    )
    assert box.site is not None
    users = [box.world.users[box.username]]
    for n in range(1, accounts):
        user = box.world.add_user(f"park{n}@sandbox.example", secrets.token_urlsafe(12))
        user.site_ids.add(box.site.id)
        users.append(user)
    site_of = {user.username: box.site for user in users}
    for n in range(1, sites):
        user = box.world.add_user(f"site{n}@sandbox.example", secrets.token_urlsafe(12))
        site_of[user.username] = box.world.add_site(
            f"NL{9000000000 + n}", f"Park {n}", iqs=iqs, locks_per_iq=locks_per_iq, users=[user]
        )
        users.append(user)
    for user in users:
        user.site_admin = site_admin
    parks: list[dict[str, Any]] = []
    for user in users:
        settings: dict[str, Any] = {
            "environment": "acceptance",
            "username": user.username,
            "password": user.password,
            "site_uid": site_of[user.username].site_uid,
            "open_statuses": ["confirmed"],
        }
        if site_of[user.username] is not box.site:  # resolved already: 1,000 sites start fast
            settings["site_id"] = site_of[user.username].id
        if activate:
            settings["iqs"] = box.world.preactivate(user)
        parks.append(settings)
    with box:
        data = {
            # may carry the sandbox's loopback variables: signed with this machine's key
            **sandbox_marked(box.platform_env(), os.environ),
            "site_id": box.site.id,
            "locks": [{"id": lock.id, "iq_id": lock.iq.id} for lock in box.site.locks.values()],
            "salto_ks": parks[0],
            "parks": parks,
        }
        write_private(Path(settings_file), data)
        click.echo(f"Salto KS sandbox: identity {box.identity_url}, API {box.api_url}")
        click.echo(f"Settings and platform variables written to {settings_file}. Ctrl-C stops.")
        click.echo(f"Salto's e-mails (the IQ PINs of GET PIN): {box.api_url}/_sandbox/outbox")
        if admin_port is not None:
            url, token = _serve_admin(box, parks[0], admin_port)
            click.echo(
                f"Web admin (loopback only): {url}/login?lang=nl (nl, en, de); login token: {token}"
            )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(3600):
                pass
        except KeyboardInterrupt:
            pass


def _serve_admin(box: Any, settings: dict[str, Any], port: int) -> tuple[str, str]:
    # the web admin needs Flask, an extra: imported only when asked for
    from ireserve_salto_plugin.reference.admin_web import create_app, serve

    host = ReferenceHost(load_entrypoints=False)
    host.objects.update({f"chalet-{n}": f"Chalet {n}" for n in range(1, 37)})  # the park's
    host.pm.register(SaltoKsPlugin(service_from_env(box.platform_env())), INTEGRATION)
    park = host.add_park(
        Park(
            "demo-park",
            "Europe/Amsterdam",
            {INTEGRATION: {**settings, "minutes_before": 30, "checkin_status": "checked_in"}},
            locale="nl",
        )
    )
    now = datetime.now(UTC)
    for n, (start, status) in enumerate(
        (
            (now - timedelta(hours=1), "confirmed"),
            (now + timedelta(days=1), "confirmed"),
            (now - timedelta(hours=2), "option"),
        ),
        1,
    ):
        host.add_booking(Booking(f"B-{n}", "chalet-12", status, start, start + timedelta(days=3)))
    app = create_app(host, park, mailbox=f"{box.api_url}/_sandbox/outbox")
    server = serve(app, port=port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", app.config["LOGIN_TOKEN"]


@main.command(short_help="Check Salto's answers against the shapes relied on.")
@click.option(
    "--settings-file",
    type=click.Path(dir_okay=False, exists=True),
    required=True,
    help="The park's salto_ks settings as the host stores them (JSON, secrets "
    "included), or a file written by 'ireserve-salto sandbox'.",
)
@click.option(
    "--self-test",
    "self_test",
    metavar="IQ_ID",
    help="Also check secret, PIN and clock on this activated IQ with Salto's "
    "side-effect-free OTP check (PUT pin, delta 0000).",
)
@click.option(
    "--open",
    "open_lock",
    metavar="LOCK_ID",
    help="Also send one remote open to this lock (the door opens).",
)
@click.option(
    "--cassette",
    type=click.Path(dir_okay=False),
    help="Write what was seen as a scrubbed vcrpy cassette (needs the 'probe' "
    "extra); it is removed again if the hygiene scan finds a credential.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
def probe(
    settings_file: str,
    self_test: str | None,
    open_lock: str | None,
    cassette: str | None,
    as_json: bool,
) -> None:
    """Check Salto's answers against the shapes the plugin relies on, call by call.

    Read-only unless --self-test or --open is given: no OTP is sent and nothing opens.
    Hosts and the OAuth client come from SALTO_KS_<ENV>_* in the environment; a settings
    file never names them (only a file the sandbox command wrote may, for its loopback
    hosts). The hosts used are printed first. Exit code: 0 all as expected,
    1 something differs, 2 the settings or platform variables are not usable.
    """
    sys.exit(
        run_probe(
            settings_file,
            self_test=self_test,
            open_lock=open_lock,
            cassette=cassette,
            as_json=as_json,
            echo=click.echo,
        )
    )


register(main)
register_reads(main)
register_live(main)

if __name__ == "__main__":
    main()
