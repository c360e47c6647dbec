"""Attacks on the plugin, each tried the way a park admin (a tenant) or a
hostile peer would, against the real HTTP path. Every test here failed on the code before
the hardening."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.flow.wiring import service_from_env
from ireserve_salto_plugin.models import AdminResult, OpenResult, Outcome, Reason
from ireserve_salto_plugin.plugin import SaltoKsPlugin
from ireserve_salto_plugin.reference import Booking, Park, ReferenceHost
from ireserve_salto_plugin.salto.config import ClientCredentials
from ireserve_salto_plugin.salto.errors import StoreUnavailable
from ireserve_salto_plugin.salto.gateway import Account, SaltoGateway
from ireserve_salto_plugin.salto.session import make_session
from ireserve_salto_plugin.sandbox import SaltoSandbox
from ireserve_salto_plugin.store.memory import MemoryStore
from tests.conftest import (
    SkipClock,
    UseService,
    activate,
    first_lock,
    settings_for,
)

BookingFactory = Callable[..., Booking]


@pytest.fixture
def evil() -> Iterator[SaltoSandbox]:
    """Another server on loopback: what an attacker would point things at."""
    with SaltoSandbox(seed=False) as box:
        yield box


def lock_list_of(box: SaltoSandbox, site_id: str) -> str:
    return f"/v1.2/sites/{site_id}/locks"


# -- hosts are platform settings --------------------------------------------------------------


@pytest.mark.parametrize("key", ["identity_url", "api_url"])
def test_a_park_cannot_send_the_platform_secret_elsewhere(
    host: ReferenceHost, park: Park, evil: SaltoSandbox, key: str, make_booking: BookingFactory
) -> None:
    park.integrations[INTEGRATION] = {**park.integrations[INTEGRATION], key: evil.identity_url}
    result = host.admin(park, INTEGRATION, "test_connection")
    assert not result.ok and key in result.message
    opened = host.open(make_booking(), "guest")
    assert opened is not None and opened.reason is Reason.SETTINGS_INVALID
    assert key in opened.message
    assert host.lock_options(park, INTEGRATION) == []
    assert evil.calls == {}  # nothing, not even a connection attempt that was answered


# -- redirects ----------------------------------------------------------------------------------


def test_a_redirected_token_call_does_not_resend_the_password(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox, evil: SaltoSandbox
) -> None:
    sandbox.inject(
        "POST",
        "/connect/token",
        status=307,
        headers={"Location": f"{evil.identity_url}/connect/token"},
    )
    result = host.admin(park, INTEGRATION, "test_connection")
    assert not result.ok and "redirect" in result.data["details"]
    assert evil.calls == {}


def test_a_redirected_open_is_not_reported_opened(
    host: ReferenceHost,
    mapped: Any,
    sandbox: SaltoSandbox,
    evil: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    evil.inject("PATCH", "/catch", status=200, times=5)
    sandbox.inject("PATCH", "/locking$", status=307, headers={"Location": f"{evil.api_url}/catch"})
    result = host.open(make_booking(), "guest")
    assert result is not None and result.outcome is Outcome.FAILED
    assert result.reason is Reason.SALTO_UNAVAILABLE
    assert evil.calls == {} and sandbox.call_count("PATCH") == 1  # never resent


# -- deadlines --------------------------------------------------------------------------------


def test_a_dripping_answer_cannot_stretch_an_open_past_its_deadline(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    monkeypatch: pytest.MonkeyPatch,
    make_booking: BookingFactory,
) -> None:
    use_service(open_deadline=0.4)
    host.lock_options(park, INTEGRATION)  # warm: token and lock list
    sandbox.inject("PATCH", "/locking$", status=200, raw=b"x" * 600, drip=0.05)  # 30 s of body
    started = time.monotonic()
    result = host.open(make_booking(), "guest")
    # The open ends at its 0.4 s deadline, not after the body's 30 s; the bound leaves a
    # loaded 2-core machine 4.6 s of slack and still fails if the drip is read to its end.
    assert time.monotonic() - started < 5.0
    assert result is not None and result.reason is Reason.TIMEOUT
    assert "may or may not have opened" in result.message


def test_a_timeout_before_the_command_says_nothing_was_sent(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    monkeypatch: pytest.MonkeyPatch,
    make_booking: BookingFactory,
) -> None:
    assert sandbox.site is not None
    use_service(open_deadline=0.4)  # cold: the lock list must be read
    sandbox.inject(
        "GET",
        f"{lock_list_of(sandbox, sandbox.site.id)}$",
        status=200,
        raw=b" " * 580 + b'{"items": []}',
        drip=0.05,
    )  # 30 s of body
    started = time.monotonic()
    result = host.open(make_booking(), "guest")
    assert time.monotonic() - started < 5.0  # the deadline (0.4 s), not the drip (30 s)
    assert result is not None and result.reason is Reason.TIMEOUT
    assert "no open command was sent" in result.message
    assert sandbox.call_count("PATCH") == 0


def test_mapping_options_and_admin_actions_have_deadlines(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    sandbox: SaltoSandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_service(options_deadline=0.4, admin_deadline=0.4)
    sandbox.inject("POST", "/connect/token", status=200, raw=b"{" * 600, drip=0.05, times=4)
    started = time.monotonic()
    assert host.lock_options(park, INTEGRATION) == []
    result = host.admin(park, INTEGRATION, "test_connection")
    assert not result.ok
    # two deadlines of 0.4 s, not four token answers of 30 s each; slack for a loaded machine
    assert time.monotonic() - started < 8.0


def test_a_slow_park_never_delays_another(
    use_service: UseService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Park A's identity server drips; park B (another environment, same process) opens
    and finishes while A is still stuck in its token fetch."""
    service = use_service(open_deadline=4.0)
    with SaltoSandbox() as slow, SaltoSandbox() as fast:
        for box, env in ((slow, "acceptance"), (fast, "production")):
            for name, value in box.platform_env(env).items():
                monkeypatch.setenv(name, value)
        parks = {}
        for box, env, name in ((slow, "acceptance", "a"), (fast, "production", "b")):
            lock = first_lock(box)
            raw = settings_for(
                box,
                environment=env,
                mapping={"chalet-12": lock.id},
                iqs=box.world.preactivate(box.world.users[box.username]),
            )
            parks[name] = Park(name, "Europe/Amsterdam", {INTEGRATION: raw})
        stuck = slow.inject("POST", "/connect/token", status=200, raw=b" " * 1000, drip=0.03)

        def booking(name: str) -> Booking:
            start = datetime.now(UTC) - timedelta(hours=1)
            return Booking(f"B-{name}", "chalet-12", "confirmed", start, start + timedelta(days=1))

        results: dict[str, Any] = {}

        def open_a() -> None:
            results["a"] = service.open(parks["a"], booking("a"), "guest", None)

        thread = threading.Thread(target=open_a)
        thread.start()
        assert stuck.arrived.wait(10)  # A is now inside its token fetch (30 s of drip)
        results["b"] = service.open(parks["b"], booking("b"), "guest", None)
        a_still_stuck = thread.is_alive()  # A's deadline is 4 s away at the least
        thread.join(10)
        assert results["b"].reason is Reason.OPENED and a_still_stuck
        assert results["a"].reason is Reason.TIMEOUT


# -- the duplicate guard ------------------------------------------------------------------------


def test_a_slow_open_is_never_doubled_by_a_later_tap(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    monkeypatch: pytest.MonkeyPatch,
    make_booking: BookingFactory,
) -> None:
    later = SkipClock()  # the store's timer: moved on while the first open is in flight
    use_service(dedup_seconds=0.1, open_deadline=5.0, store=later.store())
    host.lock_options(park, INTEGRATION)
    slow = sandbox.inject("PATCH", "/locking$", status=200, delay=0.5)
    booking = make_booking()
    results: list[OpenResult | None] = []
    thread = threading.Thread(target=lambda: results.append(host.open(booking, "guest")))
    thread.start()
    assert slow.arrived.wait(10)  # the first open's command is at Salto
    later.sleep(0.25)  # longer than the dedup window, shorter than the open's deadline
    second = host.open(booking, "guest")
    thread.join(10)
    assert sandbox.call_count("PATCH") == 1
    assert second is not None and second.reason is Reason.DUPLICATE
    assert results[0] is not None and results[0].reason is Reason.OPENED


# -- faults of the shared store -----------------------------------------------------------------


def dead_redis() -> Any:
    import socket

    from ireserve_salto_plugin.store.redis import RedisStore

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return RedisStore.from_url(f"redis://127.0.0.1:{port}/0")


def test_every_hook_answers_when_redis_is_down(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    use_service: UseService,
    make_booking: BookingFactory,
) -> None:
    use_service(store=dead_redis())
    started = time.monotonic()
    result = host.open(make_booking(), "guest")
    assert result is not None and result.reason is Reason.STORE_UNAVAILABLE
    assert "Traceback" not in result.message
    assert host.lock_options(park, INTEGRATION) == []
    [info] = host.change_status(make_booking(status="option"), "confirmed")
    assert Reason.STORE_UNAVAILABLE in info.warnings
    admin = host.admin(park, INTEGRATION, "refresh_locks")
    assert not admin.ok and "store" in admin.message
    assert time.monotonic() - started < 10


class FailsAfterTheCommand(MemoryStore):
    """A store that breaks as soon as the sandbox has seen a PATCH."""

    def __init__(self, box: SaltoSandbox) -> None:
        super().__init__()
        self.box = box

    def _check(self) -> None:
        if self.box.call_count("PATCH"):
            raise StoreUnavailable("the shared store (Redis) failed (ConnectionError)")

    def set(self, key: Any, value: Any, ttl: float) -> None:
        self._check()
        super().set(key, value, ttl)

    def delete(self, key: Any) -> None:
        self._check()
        super().delete(key)

    def get(self, key: Any, *, fresh: bool = False) -> Any | None:
        self._check()
        return super().get(key, fresh=fresh)


def test_a_store_failure_after_the_command_keeps_the_open(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    monkeypatch: pytest.MonkeyPatch,
    make_booking: BookingFactory,
) -> None:
    use_service(store=FailsAfterTheCommand(sandbox))
    booking = make_booking()
    result = host.open(booking, "guest")
    assert result is not None and result.reason is Reason.OPENED
    assert booking.fields["opened_at"] == result.booking_updates["opened_at"]
    assert booking.status == "checked_in"


# -- hostile or broken answers ------------------------------------------------------------------


@pytest.mark.parametrize(
    "date",
    [
        lambda box: "Fri, 01 Jan 99999 00:00:00 GMT",
        lambda box: "not a date",
        # a well-formed Date two days ahead of this Salto's clock: more than a day off
        lambda box: format_datetime(box.now() + timedelta(days=2), usegmt=True),
        lambda box: format_datetime(box.now() - timedelta(days=2), usegmt=True),
    ],
    ids=["year-99999", "garbage", "two-days-ahead", "two-days-behind"],
)
def test_an_impossible_date_is_never_learned(
    host: ReferenceHost,
    park: Park,
    sandbox: SaltoSandbox,
    date: Callable[[SaltoSandbox], str],
    make_booking: BookingFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sandbox.date_header = date(sandbox)  # from the first answer on
    assert len(host.lock_options(park, INTEGRATION)) == 36
    lock = first_lock(sandbox)
    activate(host, park, sandbox, lock.iq.id)  # Set PIN's code signed with our clock
    park.integrations[INTEGRATION]["mapping"] = {"chalet-12": lock.id}
    result = host.open(make_booking(), "guest")
    assert result is not None and result.reason is Reason.OPENED
    assert "impossible Date" in caplog.text


@pytest.mark.parametrize(
    "link", ["http://[::1", "https://evil.example/v1.2/locks", "http://127.0.0.1:99999/x"]
)
def test_a_bad_next_page_link_is_an_error_not_a_crash(
    host: ReferenceHost,
    park: Park,
    sandbox: SaltoSandbox,
    link: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert sandbox.site is not None
    sandbox.inject(
        "GET",
        f"{lock_list_of(sandbox, sandbox.site.id)}$",
        status=200,
        body={"items": [{"id": "a"}] * 100, "next_page_link": link},
    )
    assert host.lock_options(park, INTEGRATION) == []
    assert "next_page_link" in caplog.text


def test_a_repeated_next_page_link_ends_the_list(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    """A link to the page it came from: the second page repeats the first's ids, so the
    read ends there (never a loop, never a list with repeated ids)."""
    assert sandbox.site is not None
    path = lock_list_of(sandbox, sandbox.site.id)
    page = {
        "items": [{"id": f"lock-{n}"} for n in range(100)],
        "next_page_link": f"{path}?$top=100&$skip=100",
    }
    sandbox.inject("GET", f"{path}$", status=200, body=page, times=50)
    options = host.lock_options(park, INTEGRATION)
    assert [option["value"] for option in options] == [f"lock-{n}" for n in range(100)]
    assert sandbox.call_count(f"GET {path}") == 2


def test_more_items_than_the_cap_are_an_error_not_a_short_list(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    sandbox: SaltoSandbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    use_service(max_items=20)  # the default is 20,000: same rule, on the 36-lock park
    assert host.lock_options(park, INTEGRATION) == []
    assert "more than 20 items" in caplog.text


@pytest.mark.parametrize(
    "fault",
    [
        {"raw": b"[" * 100_000 + b"]" * 100_000},  # JSON nested 100,000 deep
        {"endless": 1 << 30},  # a 1 GiB body announced and streamed
    ],
)
def test_a_hostile_body_is_bounded(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox, fault: dict[str, Any]
) -> None:
    assert sandbox.site is not None
    sandbox.inject(
        "GET", f"{lock_list_of(sandbox, sandbox.site.id)}$", status=200, times=3, **fault
    )
    started = time.monotonic()
    assert host.lock_options(park, INTEGRATION) == []
    assert time.monotonic() - started < 5


def test_ids_from_salto_are_quoted_as_one_path_segment(sandbox: SaltoSandbox) -> None:
    assert sandbox.site is not None
    account = Account(
        sandbox.identity_url,
        sandbox.api_url,
        ClientCredentials(sandbox.client_id, sandbox.client_secret),
        sandbox.username,
        sandbox.password,
    )
    gateway = SaltoGateway(account, session=make_session(), store=MemoryStore())
    with pytest.raises(Exception):
        gateway.lock(sandbox.site.id, "../../iqs/x?send_email=true")
    [path] = [key for key in sandbox.calls if "/locks/" in key]
    assert path.endswith("/locks/..%2F..%2Fiqs%2Fx%3Fsend_email%3Dtrue")


# -- input and logs -----------------------------------------------------------------------------


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("boom")


def test_host_values_cannot_forge_log_lines_or_break_an_open(
    host: ReferenceHost, mapped: Any, make_booking: BookingFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "ireserve_salto_plugin")
    forged = "guest\nsalto open attempt=0 park=x outcome=opened" + "x" * 500
    result = host.open(make_booking(), forged)
    assert result is not None and result.reason is Reason.OPENED
    [line] = [r.getMessage() for r in caplog.records if "salto open attempt" in r.getMessage()]
    assert "\n" not in line and "\\x0a" in line and len(line) < 400
    result = host.open(make_booking(), Unprintable())  # type: ignore[arg-type]
    assert result is not None and result.reason is Reason.OPENED
    assert "<unprintable>" in caplog.text


def test_a_bad_runtime_variable_is_named_by_every_hook(
    park: Park, make_booking: BookingFactory
) -> None:
    service = service_from_env({"SALTO_KS_DEDUP_SECONDS": "nan"})
    host = ReferenceHost(load_entrypoints=False)
    host.pm.register(SaltoKsPlugin(service), INTEGRATION)
    host.add_park(park)
    result = host.open(make_booking(), "guest")
    assert result is not None and result.reason is Reason.SETTINGS_INVALID
    assert "SALTO_KS_DEDUP_SECONDS" in result.message
    [info] = host.change_status(make_booking(status="option"), "confirmed")
    assert info.warnings == [Reason.SETTINGS_INVALID]
    assert host.lock_options(park, INTEGRATION) == []
    assert "SALTO_KS_DEDUP_SECONDS" in host.admin(park, INTEGRATION, "resolve_site").message


def test_to_dict_masks_secrets() -> None:
    result = AdminResult(
        True,
        "IQ is activated",
        settings_update={
            "iqs": {
                "5fc75b2e-95d8-55a7-95f3-2faedc4d26f3": {
                    "secret": "0123456789ABCDEF",
                    "pin": "0042",
                    "activated_at": "2026-11-28",
                }
            }
        },
    )
    data = result.to_dict()
    text = json.dumps(data)
    assert "0123456789ABCDEF" not in text and "0042" not in text
    iq = data["settings_update"]["iqs"]["5fc75b2e-95d8-55a7-95f3-2faedc4d26f3"]
    assert iq == {"secret": "***", "pin": "***", "activated_at": "2026-11-28"}
    opened = OpenResult(
        Outcome.OPENED, Reason.OPENED, "ok", "a" * 32, opened_at=datetime(2026, 11, 28, tzinfo=UTC)
    )
    assert json.loads(json.dumps(opened.to_dict()))["opened_at"] == "2026-11-28T00:00:00+00:00"


def test_activation_still_works_with_canonical_ids(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    lock = first_lock(sandbox)
    assert host.admin(park, INTEGRATION, "get_pin", iq_id=lock.iq.id.upper()).ok
    activate(host, park, sandbox, lock.iq.id)


def test_readiness_keeps_its_deadline_when_redis_does_not_answer(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    use_service: UseService,
    make_booking: BookingFactory,
) -> None:
    """200 bookings against a Redis that never answers: about a second for the first
    (0.5 s socket timeouts, one retry), then the store is not asked again (before: about a
    second per booking, 5,000 bookings in 83 minutes)."""
    use_service(store=dead_redis())
    bookings = [make_booking(arrival=datetime.now(UTC) + timedelta(days=1)) for _ in range(200)]
    started = time.monotonic()
    report = host.pm.hook.readiness(park=park, bookings=bookings, now=None)
    assert time.monotonic() - started < 20  # 200 s before; slack for a loaded machine
    assert report.summary == {"store_unavailable": 200}
