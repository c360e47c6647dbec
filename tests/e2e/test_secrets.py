"""No password, client secret, token, IQ secret, PIN or OTP in logs (any level), exception
messages, reprs or results: the demo flow and the fault paths run with DEBUG logging
captured, and every value the sandbox handed out or received is searched for."""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Callable
from typing import Any, cast

import pytest

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.models import Reason
from ireserve_salto_plugin.reference import Park, ReferenceHost
from ireserve_salto_plugin.reference.demo import run_demo
from ireserve_salto_plugin.sandbox import SaltoSandbox
from tests.conftest import SkipClock, UseService

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
HEX32 = re.compile(r"\b[0-9a-f]{32}\b")  # attempt ids


PLAIN_PINS = ("0473", "0591", "0628", "0716", "0839", "0952", "0384", "0265")


def plain_pins() -> Callable[[], str]:
    """PINs that no log line or page holds by chance. A random PIN is also a year (2026),
    a booking number (1001), a content length, ...: the scan below would then fail about
    once in 400 runs. A leading zero and no repeated digit are none of those."""
    pins = itertools.cycle(PLAIN_PINS)
    return lambda: next(pins)


@pytest.fixture
def sandbox(sandbox: SaltoSandbox) -> SaltoSandbox:
    sandbox.world.new_pin = plain_pins()
    return sandbox


def secrets_of(box: SaltoSandbox) -> tuple[list[str], list[str]]:
    """(long secrets, short ones: PINs and OTPs)."""
    world = box.world
    long = [
        box.password,
        box.client_secret,
        *world.tokens_issued,
        *(a.secret for a in world.activations.values()),
    ]
    short = [m.pin for m in world.outbox] + [a.pin for a in world.activations.values() if a.pin]
    short += world.otps_seen
    return [s for s in long if s], [s for s in short if s]


def assert_clean(text: str, box: SaltoSandbox) -> None:
    long, short = secrets_of(box)
    assert long and short
    for value in long:
        assert value not in text, "a secret leaked"
    scrubbed = HEX32.sub("", UUID.sub("", text))
    for value in short:
        pattern = rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])"
        assert re.search(pattern, scrubbed) is None, "a PIN or OTP leaked"


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "ireserve_salto_plugin"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    return caplog


def test_demo_flow_leaks_nothing(debug_log: pytest.LogCaptureFixture) -> None:
    box = SaltoSandbox()
    box.world.new_pin = plain_pins()
    printed: list[str] = []
    assert run_demo(printed.append, box)
    assert "urllib3" in debug_log.text  # DEBUG really was captured
    assert_clean(debug_log.text + "\n".join(printed), box)


def test_fault_paths_leak_nothing(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    monkeypatch: pytest.MonkeyPatch,
    make_booking: Any,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    seen: list[Any] = []
    clock = SkipClock()  # the budget's window passes without waiting for it
    sandbox.clock = clock.clock()
    use_service(clock=clock.clock(), store=clock.store())
    raw = park.integrations[INTEGRATION]
    iq = raw["iqs"][mapped.iq.id]

    def open_and_keep() -> Any:
        result = host.open(make_booking(), "guest")
        seen.append(result)
        return result

    assert open_and_keep().opened
    good_pin = iq["pin"]
    iq["pin"] = sandbox.wrong_pin(mapped.iq.id)
    open_and_keep()
    open_and_keep()
    assert open_and_keep().reason is Reason.OTP_SUSPENDED
    iq["pin"] = good_pin
    refused = host.admin(
        park, INTEGRATION, "set_pin", iq_id=mapped.iq.id, current_pin=good_pin, confirm=True
    )  # nothing is sent within the window
    assert not refused.ok
    seen.append(refused)
    clock.sleep(20 * 60 + 1)
    repaired = host.admin(
        park, INTEGRATION, "set_pin", iq_id=mapped.iq.id, current_pin=good_pin, confirm=True
    )  # once the window has passed
    assert repaired.ok
    seen.append(repaired)
    raw = park.integrations[INTEGRATION]  # the host stored the merged settings anew
    sandbox.expire_tokens()
    sandbox.inject("PATCH", "/locking$", status=401, times=2)
    assert open_and_keep().reason is Reason.AUTH_FAILED
    sandbox.inject("PATCH", "/locking$", reset=True)
    open_and_keep()
    sandbox.inject(
        "PATCH", "/locking$", status=403, body={"ErrorCode": 3102, "Message": "otp_blocked"}
    )
    use_service()
    assert open_and_keep().reason is Reason.OTP_BLOCKED
    good_password = raw["password"]
    raw["password"] = good_password + "-wrong"
    assert open_and_keep().reason is Reason.AUTH_FAILED
    raw["password"] = good_password
    seen.append(host.admin(park, INTEGRATION, "get_pin", iq_id=mapped.iq.id))
    seen.append(
        host.admin(
            park, INTEGRATION, "set_pin", iq_id=mapped.iq.id, current_pin="0000", confirm=True
        )
    )
    seen.append(host.admin(park, INTEGRATION, "test_connection"))
    service = cast(Any, dict(host.pm.list_name_plugin())[INTEGRATION]).service
    ctx = service.context(park)
    texts = [
        debug_log.text,
        *map(repr, seen),
        *(r.message for r in seen),
        *(repr(r.to_dict()) for r in seen),
        repr(ctx.settings),
        repr(ctx.account),
        repr(service.store._cache),
        repr(ctx.settings.iqs),
    ]
    assert_clean("\n".join(texts), sandbox)


def test_operations_leak_nothing(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: Any,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    opened = host.open(make_booking(), "guest")
    assert opened is not None and opened.opened
    results: list[Any] = [
        host.pm.hook.explain_access(park=park, booking=make_booking(), now=None),
        host.pm.hook.readiness(park=park, bookings=[make_booking()], now=None),
        *(
            host.admin(park, INTEGRATION, action, **params)
            for action, params in (
                ("status", {}),
                ("list_iqs", {}),
                ("self_test", {"iq_id": mapped.iq.id}),
                ("confirm_open", {"attempt_id": opened.attempt_id}),
                ("recent_opens", {}),
            )
        ),
    ]
    assert all(getattr(r, "ok", True) for r in results)
    texts = [debug_log.text, *map(repr, results), *(repr(r.to_dict()) for r in results)]
    assert_clean("\n".join(texts), sandbox)


def test_exceptions_carry_no_secrets(sandbox: SaltoSandbox) -> None:
    from ireserve_salto_plugin.salto.config import ClientCredentials
    from ireserve_salto_plugin.salto.errors import AuthError
    from ireserve_salto_plugin.salto.gateway import Account, SaltoGateway
    from ireserve_salto_plugin.salto.session import make_session
    from ireserve_salto_plugin.store.memory import MemoryStore

    account = Account(
        sandbox.identity_url,
        sandbox.api_url,
        ClientCredentials(sandbox.client_id, sandbox.client_secret),
        sandbox.username,
        sandbox.password + "x",
    )
    with pytest.raises(AuthError) as info:
        SaltoGateway(account, session=make_session(), store=MemoryStore()).access_token()
    text = str(info.value) + repr(info.value) + repr(account)
    assert sandbox.password not in text and sandbox.client_secret not in text


def test_the_scan_catches_planted_leaks(
    sandbox: SaltoSandbox, host: ReferenceHost, park: Park, mapped: Any, make_booking: Any
) -> None:
    assert host.open(make_booking(), "guest").opened  # type: ignore[union-attr]
    long, short = secrets_of(sandbox)
    assert {pin for pin in short if len(pin) == 4} <= set(PLAIN_PINS)  # the fixture's PINs
    for planted in (long[0], f"otp={short[-1]} sent", f"pin {short[0]}."):
        with pytest.raises(AssertionError):
            assert_clean(f"log line {planted}", sandbox)
    assert_clean("log line with nothing in it", sandbox)


def test_the_cli_output_leaks_nothing(
    tmp_path: Any,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    """Every support command, in text and JSON, on an activated park (the settings file
    holds the password, the IQ secret and the PIN)."""
    import json
    import os

    from click.testing import CliRunner

    from ireserve_salto_plugin.support.cli import main

    path = tmp_path / "park.json"
    path.write_text(
        json.dumps({"timezone": "Europe/Amsterdam", "salto_ks": park.integrations[INTEGRATION]})
    )
    os.chmod(path, 0o600)
    booking = tmp_path / "booking.json"
    booking.write_text(
        json.dumps(
            {
                "id": "B-1",
                "object_id": "chalet-12",
                "status": "confirmed",
                "arrival": "2026-01-01T15:00:00+00:00",  # fixed: any day
                "departure": "2026-01-03T10:00:00+00:00",
            }
        )
    )
    outputs: list[str] = []
    for args in (
        ["check"],
        ["iqs"],
        ["locks"],
        ["self-test", mapped.iq.id],
        ["test-open", mapped.id, "--by", "staff:anna", "--yes"],
        ["why", str(booking)],
        ["entries"],
        ["readiness", str(booking)],
    ):
        for extra in ([], ["--json"]):
            result = CliRunner().invoke(main, [*args, "--settings-file", str(path), *extra])
            assert "Traceback" not in result.output
            outputs.append(result.output)
    assert sandbox.call_count("PATCH") == 2  # the two test opens really ran
    assert_clean(debug_log.text + "\n".join(outputs), sandbox)


def test_the_web_admin_pages_leak_nothing(
    host: ReferenceHost, park: Park, mapped: Any, sandbox: SaltoSandbox, make_booking: Any
) -> None:
    import re as regex

    from ireserve_salto_plugin.reference.admin_web import create_app

    client = create_app(host, park, token="t").test_client()
    token = regex.search(rb'name="csrf_token" value="([^"]+)"', client.get("/login").data)
    assert token is not None
    client.post("/login", data={"token": "t", "csrf_token": token.group(1).decode()})
    booking = make_booking()
    pages = [
        client.get(f"/?tab={tab}&lang={lang}").data.decode()
        for tab in ("authentication", "iq_otp", "details", "mapping")
        for lang in ("nl", "en", "de")
    ]
    pages.append(client.get("/bookings").data.decode())
    pages.append(client.get(f"/booking/{booking.id}").data.decode())
    assert all("Salto KS" in page for page in pages)
    assert_clean("\n".join(pages), sandbox)
