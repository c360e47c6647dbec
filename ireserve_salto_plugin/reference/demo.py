"""``ireserve-salto demo``: the whole flow against the embedded sandbox, step by step.

Starts the sandbox, configures a park through the reference host (which loads the plugin
from its entry point), activates an IQ, maps an object, moves a booking through its
statuses and opens the lock. Returns True only if every step did what it should.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.flow.service import SaltoKsService
from ireserve_salto_plugin.flow.wiring import service_from_env
from ireserve_salto_plugin.models import OpenResult
from ireserve_salto_plugin.plugin import SaltoKsPlugin
from ireserve_salto_plugin.reference.demo_live import live_site
from ireserve_salto_plugin.reference.demo_park import _holiday_park
from ireserve_salto_plugin.reference.demo_steps import PARK_ZONE, DemoFailed, Steps
from ireserve_salto_plugin.reference.host import Booking, Park, ReferenceHost
from ireserve_salto_plugin.sandbox.records import LockState
from ireserve_salto_plugin.sandbox.server import SaltoSandbox


def run_demo(
    echo: Callable[[str], None] = print,
    sandbox: SaltoSandbox | None = None,
    environ: Mapping[str, str] | None = None,
) -> bool:
    """Run the demo; ``sandbox`` (not yet started) lets a test inspect it afterwards.

    ``environ`` is the host process's environment the demo's plugin reads (default: this
    process's); the sandbox's platform variables are added to a copy of it, so the demo
    never changes ``os.environ``.
    """
    out = Steps(echo)
    with sandbox if sandbox is not None else SaltoSandbox() as sandbox:
        env = {**(os.environ if environ is None else environ), **sandbox.platform_env()}
        try:
            _flow(out, sandbox, service_from_env(env))
        except DemoFailed as exc:
            echo(f"\nDemo FAILED at step {out.number}: {exc}")
            return False
    echo(
        "\nDemo complete: the lock opened, the booking was checked in, and Salto's event "
        "stream confirmed an open and raised and cleared a door-left-open alert."
    )
    return True


def _flow(out: Steps, sandbox: SaltoSandbox, service: SaltoKsService) -> None:
    host, park, chalet = _set_up(out, sandbox, service)
    opened, counts = _guest_opens(out, sandbox, host, park)
    _support(out, sandbox, service, host, park, chalet, opened, counts)
    _holiday_park(out, sandbox, host, park, chalet)
    live_site(out, sandbox, service, host, park, chalet)


def _set_up(
    out: Steps, sandbox: SaltoSandbox, service: SaltoKsService
) -> tuple[ReferenceHost, Park, LockState]:
    """The park admin's part: plugin loaded, settings, access, site, IQ activated, mapping."""
    assert sandbox.site is not None
    out.step("Start the embedded Salto KS sandbox")
    out.say(f"identity server {sandbox.identity_url}, Connect API {sandbox.api_url}")
    out.say(
        f"site {sandbox.site.site_uid} '{sandbox.site.name}': "
        f"{len(sandbox.site.iqs)} IQs, {len(sandbox.site.locks)} locks"
    )

    out.step("Load plugins from the 'ireserve' entry points")
    host = ReferenceHost()
    names = [name for name, _ in host.pm.list_name_plugin()]
    out.check(INTEGRATION in names, f"plugin '{INTEGRATION}' loaded ({', '.join(names)})")
    # This process's plugin instance reads os.environ; the demo's reads its own copy.
    host.pm.unregister(name=INTEGRATION)
    host.pm.register(SaltoKsPlugin(service), INTEGRATION)

    out.step("Authentication tab: save the park's settings (validated by config_schema)")
    park = host.add_park(Park("zandloper", PARK_ZONE))
    settings: dict[str, Any] = {
        "enabled": True,
        "environment": "acceptance",
        "username": sandbox.username,
        "password": sandbox.password,
        "site_uid": sandbox.site.site_uid,
        "open_statuses": ["confirmed"],
        "minutes_before": 60,
        "open_field": "salto_opened_at",
        "checkin_status": "checked_in",
    }
    host.save_settings(park, INTEGRATION, settings)
    out.say(f"environment acceptance, account {sandbox.username}, site UID {sandbox.site.site_uid}")

    out.step("Test / request access")
    result = host.admin(park, INTEGRATION, "test_connection")
    out.check(result.ok, result.message)

    out.step("Resolve site ID")
    result = host.admin(park, INTEGRATION, "resolve_site")
    out.check(
        result.ok and park.integrations[INTEGRATION].get("site_id") == sandbox.site.id,
        result.message,
    )

    chalet = next(lock for lock in sandbox.site.locks.values() if lock.name == "Chalet 12")
    iq_id = chalet.iq.id
    out.step(f"IQ OTP setup: GET PIN for {chalet.iq.name} ({iq_id})")
    result = host.admin(park, INTEGRATION, "get_pin", iq_id=iq_id)
    out.check(result.ok, result.message)
    mail = sandbox.mails(sandbox.username)[-1]
    out.say(f"outbox: {mail.channel} to {mail.to}: '{mail.subject}' (PIN not shown)")

    out.step("IQ OTP setup: Set PIN (current PIN from the e-mail, kept as it is)")
    result = host.admin(
        park,
        INTEGRATION,
        "set_pin",
        iq_id=iq_id,
        current_pin=sandbox.last_pin(iq_id, sandbox.username),
    )
    out.check(result.ok and "IQ is activated" in result.message, result.message)

    out.step("Mapping: the lock dropdown (GET locks)")
    options = host.lock_options(park, INTEGRATION)
    for option in options[:5]:
        out.say(f"{option['label']:<20} {option['value']}  online={option['online']}")
    out.say(f"... {len(options)} locks in all")
    out.check(len(options) == len(sandbox.site.locks), "every lock of the site is listed")

    out.step("Mapping: object 'chalet-12' -> lock 'Chalet 12'; default lock 'Reception'")
    reception = next(o for o in options if o["label"].startswith("Reception"))
    chalet_option = next(o for o in options if o["label"].startswith("Chalet 12"))
    host.save_settings(
        park,
        INTEGRATION,
        {
            **park.integrations[INTEGRATION],
            "mapping": {"chalet-12": chalet_option["value"]},
            "default_lock_id": reception["value"],
        },
    )
    out.check(True, "mapping saved")
    return host, park, chalet


def _guest_opens(
    out: Steps, sandbox: SaltoSandbox, host: ReferenceHost, park: Park
) -> tuple[OpenResult, tuple[int, int]]:
    """A booking confirmed, a tap before the window, why, a tap inside it: the door opens.
    Also the PATCHes and entries there were before the taps."""
    zone = ZoneInfo(PARK_ZONE)
    local_now = (
        sandbox.clock.utcnow().astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
    )
    arrival = local_now.replace(minute=0) + timedelta(hours=3)
    booking = host.add_booking(
        Booking(
            id="B-1001",
            object_id="chalet-12",
            status="option",
            arrival=arrival,
            departure=(arrival + timedelta(days=4)).replace(hour=10, minute=0),
        )
    )
    out.step(
        f"Booking {booking.id}: chalet-12, arrival {arrival:%Y-%m-%d %H:%M}, departure "
        f"{booking.departure:%Y-%m-%d %H:%M} (park-local, {PARK_ZONE})"
    )
    infos = host.change_status(booking, "confirmed")
    info = infos[0]
    out.say(f"status option -> confirmed: allowed={info.allowed}, lock={info.lock_name}")
    assert info.opens_at is not None and info.closes_at is not None
    out.say(
        f"open window {info.opens_at.astimezone(zone):%Y-%m-%d %H:%M} .. "
        f"{info.closes_at.astimezone(zone):%Y-%m-%d %H:%M} {PARK_ZONE}"
    )
    out.check(info.allowed and not info.warnings, "opening is allowed from the window start")

    out.step("Guest taps 'open' now: before the window")
    patches = sandbox.call_count("PATCH")
    early = host.open(booking, requested_by="guest:B-1001")
    assert early is not None
    out.say(f"{early.outcome.value}/{early.reason.value}: {early.message}")
    out.check(
        early.reason.value == "too_early" and sandbox.call_count("PATCH") == patches,
        "denied too_early, no command sent",
    )

    out.step("Support asks why: explain_access (no OTP, no open)")
    why = host.pm.hook.explain_access(park=park, booking=booking, now=None)
    for item in why.steps:
        out.say(f"{item.state.value:7} {item.step:12} {item.message}")
    out.check(
        why.verdict.value == early.reason.value,
        f"verdict {why.verdict.value}, as the open answered",
    )

    out.step("Guest taps 'open' at arrival time: inside the window")
    before = len(sandbox.entries())
    opened = host.open(booking, requested_by="guest:B-1001", now=arrival.replace(tzinfo=zone))
    assert opened is not None
    out.say(
        f"{opened.outcome.value}/{opened.reason.value}: {opened.message} "
        f"(attempt {opened.attempt_id})"
    )
    out.check(opened.opened, "the open command was accepted by Salto KS")

    out.step("Booking after the open")
    out.say(f"field salto_opened_at = {booking.fields.get('salto_opened_at')}")
    out.say(f"status = {booking.status} (history: {' -> '.join(['option', *booking.history])})")
    out.check(
        booking.fields.get("salto_opened_at") is not None and booking.status == "checked_in",
        "open time recorded and booking checked in",
    )

    return opened, (patches, before)


def _support(
    out: Steps,
    sandbox: SaltoSandbox,
    service: SaltoKsService,
    host: ReferenceHost,
    park: Park,
    chalet: LockState,
    opened: OpenResult,
    counts: tuple[int, int],
) -> None:
    """What support sees after the open: its receipt, the cloud check, status, the log."""
    patches, before = counts
    assert sandbox.site is not None
    out.step("Confirm the open from Salto's entry log (confirm_open)")
    receipt = host.admin(park, INTEGRATION, "confirm_open", attempt_id=opened.attempt_id)
    out.say(f"receipt: {receipt.data.get('receipt')}: {receipt.message}")
    out.check(receipt.data.get("receipt") == "confirmed", "the open is in Salto's log")

    out.step(
        "Cloud check of the IQ codes: Salto's cloud checks a code, nothing changes (self_test)"
    )
    test = host.admin(park, INTEGRATION, "self_test", iq_id=chalet.iq.id)
    out.say(test.message)
    out.check(
        test.ok and sandbox.call_count("PATCH") == patches + 1,
        "Salto's cloud takes "
        "the secret, PIN and clock (the IQ itself was proved by the open above); no "
        "door opened",
    )

    out.step("Integration status (status)")
    status = host.admin(park, INTEGRATION, "status")
    out.say(status.message)
    for row in status.data["iqs"]:
        out.say(
            f"{row['name']:10} activated={row['activated']!s:5} online="
            f"{row['online']!s:5} locks {row['locks_online']} online / "
            f"{row['locks_offline']} offline, budget {row['budget']['state']}"
        )
    out.say(
        f"last success: {status.data['last_success']['reason']} "
        f"(attempt {status.data['last_success']['attempt_id']})"
    )
    out.check(
        status.ok and status.data["last_success"]["attempt_id"] == opened.attempt_id,
        "status reports the park and the last open",
    )

    out.step("Salto KS entry log (GET /v1.1/sites/{site}/entries)")
    ctx = service.parks.context(park, park.integrations[INTEGRATION])
    entries = ctx.gateway(service.tuning.admin_deadline).entries(sandbox.site.id, top=5)
    for entry in entries:
        out.say(
            f"{entry['utc_date_time']} {entry['event_category']} "
            f"{entry['lock_customer_reference']} by {entry['access_by']}"
        )
    out.check(
        len(sandbox.entries()) == before + 1
        and entries[0]["event_category"] == "lock_opened"
        and entries[0]["lock_id"] == chalet.id,
        "one remote open of Chalet 12 is in the log",
    )
