"""Faults, the OTP budget, clock skew, duplicate taps and tenant isolation, each against the
sandbox over loopback HTTP, through the plugin's hooks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.models import Outcome, Reason
from ireserve_salto_plugin.reference import Booking, Park, ReferenceHost
from ireserve_salto_plugin.salto.cache import TOKEN
from ireserve_salto_plugin.salto.clock import Clock
from ireserve_salto_plugin.sandbox import SaltoSandbox
from tests.conftest import (
    NO_SLEEP,
    SkipClock,
    UseService,
    activate,
    first_lock,
    settings_for,
)

BookingFactory = Callable[..., Booking]


def opened(result: Any) -> bool:
    return result is not None and result.reason is Reason.OPENED


# -- tokens and login ----------------------------------------------------------------------


def test_token_expired_mid_flow(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    assert opened(host.open(make_booking(), "guest"))
    sandbox.expire_tokens()  # Salto no longer accepts the token we cached
    assert opened(host.open(make_booking(), "guest"))
    assert sandbox.call_count("PATCH") == 3  # 401, then the one replay, + the first open


def test_401_twice_is_auth_failed(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    host.lock_options(park, INTEGRATION)  # warm: the next call is the PATCH
    sandbox.inject("PATCH", "/locking$", status=401, times=2)
    result = host.open(make_booking(), "guest")
    assert result is not None and result.reason is Reason.AUTH_FAILED
    assert sandbox.call_count("PATCH") == 2


def test_wrong_password_is_clear_and_not_retried(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    raw = park.integrations[INTEGRATION]
    raw["password"] = "not-the-password"
    results = [host.open(make_booking(), "guest") for _ in range(3)]
    assert all(r is not None and r.reason is Reason.AUTH_FAILED for r in results)
    assert sandbox.username in results[0].message  # type: ignore[union-attr]
    assert "not-the-password" not in results[0].message  # type: ignore[union-attr]
    assert sandbox.grants == {"password": 1}  # the activation's
    # one refused grant, then served from the refused-password cache
    assert sandbox.call_count("POST /connect/token") == 2
    raw["password"] = sandbox.password  # the admin fixes it: tried again at once
    assert opened(host.open(make_booking(), "guest"))


def test_identity_server_down_or_html(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    monkeypatch: pytest.MonkeyPatch,
    make_booking: BookingFactory,
) -> None:
    use_service()  # cold: no token
    sandbox.inject(
        "POST", "/connect/token", status=503, raw=b"<html><body>Service Unavailable</body></html>"
    )
    assert opened(host.open(make_booking(), "guest"))  # a blip: the read retries it
    use_service()
    sandbox.inject(
        "POST",
        "/connect/token",
        status=503,
        times=10,
        raw=b"<html><body>Service Unavailable</body></html>",
    )
    result = host.open(make_booking(), "guest")
    assert result is not None and result.reason is Reason.SALTO_UNAVAILABLE
    assert result.outcome is Outcome.FAILED and "<html>" not in result.message
    # activation 1; the blip 1 + its retry 1; then the first try and 2 retries
    assert sandbox.call_count("POST /connect/token") == 1 + 2 + 3


# -- API faults ------------------------------------------------------------------------------


def test_reads_are_retried_with_backoff_honouring_retry_after(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    monkeypatch: pytest.MonkeyPatch,
    make_booking: BookingFactory,
) -> None:
    slept: list[float] = []
    use_service(clock=Clock(sleep=slept.append))
    sandbox.inject(
        "GET", "/locks$", status=500, body={"ErrorCode": 2201, "Message": "An internal error"}
    )
    sandbox.inject("GET", "/locks$", status=429, headers={"Retry-After": "1"})
    assert opened(host.open(make_booking(), "guest"))
    assert slept == [1.0]  # the first retry at once, the second after Retry-After


def test_connection_reset_on_a_read_is_retried(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    monkeypatch: pytest.MonkeyPatch,
    make_booking: BookingFactory,
) -> None:
    use_service()
    sandbox.inject("GET", "/locks$", reset=True)
    assert opened(host.open(make_booking(), "guest"))


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500, "body": {"ErrorCode": 2201, "Message": "An internal error"}},
        {"status": 502, "raw": b"<html>Bad gateway</html>"},
        {"reset": True},
    ],
)
def test_the_open_is_never_resent_after_salto_may_have_seen_it(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
    fault: dict[str, Any],
) -> None:
    host.lock_options(park, INTEGRATION)
    sandbox.inject("PATCH", "/locking$", **fault)
    result = host.open(make_booking(), "guest")
    assert result is not None and result.reason is Reason.SALTO_UNAVAILABLE
    assert sandbox.call_count("PATCH") == 1 and sandbox.entries() == []


def test_an_open_whose_answer_was_lost_may_have_opened_has_its_receipt_and_holds_the_window(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    """Found by the soak (answer_lost): Salto took the command and the connection broke
    before its answer. The guest was told "Salto unavailable" with no receipt, and a tap
    2 s later sent a second open. Now: "may or may not have opened", the door log names who
    asked, and the booking's duplicate window holds (10 s) as after an open."""
    clock = SkipClock()
    sandbox.clock = clock.clock()
    use_service(clock=clock.clock(), store=clock.store())
    host.lock_options(park, INTEGRATION)
    sandbox.inject("PATCH", "/locking$", after=True)
    booking = make_booking()
    result = host.open(booking, "guest")
    assert result is not None and result.reason is Reason.SALTO_UNAVAILABLE
    assert "may or may not have opened" in result.message
    assert len(sandbox.entries()) == 1  # the lock did open
    clock.sleep(5)  # past the 2 s a failed open holds, within the 10 s window
    again = host.open(booking, "guest")
    assert again is not None and again.reason is Reason.DUPLICATE
    assert sandbox.call_count("PATCH") == 1
    log = host.admin(park, INTEGRATION, "door_log")
    mine = [row for row in log.data["rows"] if row["attempt_id"] == result.attempt_id]
    assert [(row["lock_id"], row["requested_by"]) for row in mine] == [(mapped.id, "guest")]


class RefuseFirstPatch(requests.adapters.HTTPAdapter):
    """Fails the first PATCH the way requests does when the connection is refused."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if request.method == "PATCH" and not self.refused:
            self.refused += 1
            reason = NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
            raise requests.ConnectionError(
                MaxRetryError(None, request.url, reason),  # type: ignore[arg-type]
                request=request,
            )
        return super().send(request, *args, **kwargs)


def test_open_resent_once_with_a_fresh_otp_when_it_never_left(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    monkeypatch: pytest.MonkeyPatch,
    make_booking: BookingFactory,
) -> None:
    service = use_service()
    adapter = RefuseFirstPatch()
    service.session.mount("http://", adapter)
    from ireserve_salto_plugin.flow import sending

    signed: list[str] = []
    real = sending.salto_otp  # type: ignore[attr-defined]

    def spy(*args: Any) -> str:
        signed.append(real(*args))
        return signed[-1]

    monkeypatch.setattr(sending, "salto_otp", spy)
    assert opened(host.open(make_booking(), "guest"))
    assert adapter.refused == 1 and sandbox.call_count("PATCH") == 1 and len(signed) == 2


def test_slow_salto_hits_the_open_deadline(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    monkeypatch: pytest.MonkeyPatch,
    make_booking: BookingFactory,
) -> None:
    use_service(open_deadline=0.6)
    host.lock_options(park, INTEGRATION)
    sandbox.inject("PATCH", "/locking$", delay=20, status=200)
    started = time.monotonic()
    result = host.open(make_booking(), "guest")
    # the open's 0.6 s deadline, not Salto's 20 s; 4 s of slack for a loaded 2-core machine
    assert time.monotonic() - started < 5.0
    assert result is not None and result.reason is Reason.TIMEOUT
    assert "may or may not have opened" in result.message


def test_garbage_lock_list(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    monkeypatch: pytest.MonkeyPatch,
    make_booking: BookingFactory,
) -> None:
    use_service(clock=NO_SLEEP, get_retries=0)
    sandbox.inject("GET", "/locks$", status=200, raw=b"<html>maintenance</html>")
    result = host.open(make_booking(), "guest")
    assert result is not None and result.reason is Reason.SALTO_UNAVAILABLE
    sandbox.inject("GET", "/locks$", status=200, body={"items": [{"id": 7}]})
    result = host.open(make_booking(), "guest")
    assert result is not None and result.reason is Reason.SALTO_UNAVAILABLE


# -- the OTP budget ------------------------------------------------------------------------


def test_after_otp_blocked_no_otp_is_sent(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    host.lock_options(park, INTEGRATION)
    sandbox.inject(
        "PATCH", "/locking$", status=403, body={"ErrorCode": 3102, "Message": "otp_blocked"}
    )
    result = host.open(make_booking(), "guest")
    assert result is not None and result.reason is Reason.OTP_BLOCKED
    assert result.retry_after == 25 * 60
    again = host.open(make_booking(), "guest")
    assert again is not None and again.reason is Reason.OTP_BLOCKED
    assert again.retry_after is not None and 0 < again.retry_after <= 25 * 60
    assert "until" in again.message and "GET PIN" in again.message
    assert sandbox.call_count("PATCH") == 1
    [info] = host.change_status(make_booking(), "confirmed")
    assert Reason.OTP_BLOCKED in info.warnings


def use_a_wrong_pin(park: Park, box: SaltoSandbox, lock: Any) -> str:
    """Store a PIN whose codes cannot pass for the IQ's by chance; returns the good one."""
    iqs = park.integrations[INTEGRATION]["iqs"][lock.iq.id]
    good = iqs["pin"]
    iqs["pin"] = box.wrong_pin(lock.iq.id)
    return str(good)


def test_two_rejections_suspend_the_iq_until_the_first_is_twenty_minutes_old(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    """At most two rejected codes reach Salto in any 20 minutes (it blocked after three):
    the third open sends nothing, and neither does the repair (Set PIN) until the first
    rejection is 20 minutes old; then it passes and codes flow again."""
    clock = SkipClock()
    sandbox.clock = clock.clock()
    use_service(clock=clock.clock(), store=clock.store())
    use_a_wrong_pin(park, sandbox, mapped)
    set_pins = sandbox.call_count("PUT")  # the activation's
    first = host.open(make_booking(), "guest")
    clock.sleep(60)
    second = host.open(make_booking(), "guest")
    third = host.open(make_booking(), "guest")
    assert first is not None and first.reason is Reason.OTP_REJECTED
    assert second is not None and second.reason is Reason.OTP_REJECTED
    assert "until" in second.message and "until" not in first.message
    assert third is not None and third.reason is Reason.OTP_SUSPENDED
    assert "activated in the Salto KS app" in third.message and "until" in third.message
    assert third.retry_after == 20 * 60 - 60  # the first rejection leaves the window then
    act = sandbox.world.activation(sandbox.world.users[sandbox.username], mapped.iq.id)
    early = host.admin(
        park, INTEGRATION, "set_pin", iq_id=mapped.iq.id, current_pin=act.pin, confirm=True
    )
    assert not early.ok and early.data["reason"] == "otp_suspended"
    assert "until" in early.message
    assert sandbox.call_count("PATCH") == 2  # nothing more was sent
    assert sandbox.call_count("PUT") == set_pins
    clock.sleep(20 * 60 - 59)
    activate_again(host, park, sandbox, mapped)
    assert opened(host.open(make_booking(), "guest"))


def activate_again(host: ReferenceHost, park: Park, box: SaltoSandbox, lock: Any) -> None:
    act = box.world.activation(box.world.users[box.username], lock.iq.id)
    result = host.admin(
        park, INTEGRATION, "set_pin", iq_id=lock.iq.id, current_pin=act.pin, confirm=True
    )
    assert result.ok, result.message


def test_an_accepted_code_does_not_erase_a_rejection_from_the_window(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    """bad, good, bad: the second rejection within 20 minutes suspends the IQ although a
    code passed between them (Salto may still count both)."""
    clock = SkipClock()
    sandbox.clock = clock.clock()
    use_service(clock=clock.clock(), store=clock.store())
    iqs = park.integrations[INTEGRATION]["iqs"][mapped.iq.id]
    good = use_a_wrong_pin(park, sandbox, mapped)
    bad = iqs["pin"]
    reasons = []
    for pin in (bad, good, bad, good):
        iqs["pin"] = pin
        result = host.open(make_booking(), "guest")
        assert result is not None
        reasons.append(result.reason)
        clock.sleep(30)
    assert reasons == [
        Reason.OTP_REJECTED,
        Reason.OPENED,
        Reason.OTP_REJECTED,
        Reason.OTP_SUSPENDED,
    ]
    clock.sleep(20 * 60)
    assert opened(host.open(make_booking(), "guest"))


# -- clock skew ----------------------------------------------------------------------------


@pytest.mark.parametrize("skew", [120, -120, 600, -600])
def test_clock_skew_is_learned_from_salto(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    monkeypatch: pytest.MonkeyPatch,
    make_booking: BookingFactory,
    skew: int,
) -> None:
    # 600 s is far outside Salto's ±180 s window: only the learned offset makes it open.
    use_service()
    sandbox.clock_offset = skew
    assert opened(host.open(make_booking(), "guest"))
    [info] = host.change_status(make_booking(), "confirmed")
    assert Reason.CLOCK_SKEW in info.warnings


def test_small_skew_is_no_warning(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    sandbox.clock_offset = 30
    assert opened(host.open(make_booking(), "guest"))
    [info] = host.change_status(make_booking(), "confirmed")
    assert info.warnings == []


def test_activation_under_clock_skew(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    sandbox.clock_offset = -900
    activate(host, park, sandbox, first_lock(sandbox).iq.id)


# -- duplicate taps ------------------------------------------------------------------------


def test_twenty_concurrent_taps_send_one_open(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    monkeypatch: pytest.MonkeyPatch,
    make_booking: BookingFactory,
) -> None:
    use_service()  # cold: the taps also race for the token and the lock list
    park.integrations[INTEGRATION].pop("checkin_status")
    booking = make_booking()
    tokens_before = sandbox.call_count("POST /connect/token")
    barrier = threading.Barrier(20)
    results: list[Any] = []

    def tap() -> None:
        barrier.wait()
        results.append(host.open(booking, "guest"))

    threads = [threading.Thread(target=tap) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sandbox.call_count("PATCH") == 1
    assert sandbox.call_count("POST /connect/token") == tokens_before + 1
    reasons = sorted(r.reason.value for r in results)
    assert reasons == ["duplicate"] * 19 + ["opened"]
    assert all(r.outcome is Outcome.OPENED for r in results)
    first = next(r for r in results if r.reason is Reason.OPENED)
    dupes = [r for r in results if r.reason is Reason.DUPLICATE]
    assert all(
        r.opened_at == first.opened_at
        and first.attempt_id in r.details
        and first.attempt_id not in r.message  # ids only in the details
        and r.booking_updates == {}
        and r.new_status is None
        for r in dupes
    )
    assert len({r.attempt_id for r in results}) == 20


def test_a_tap_after_the_window_opens_again(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    monkeypatch: pytest.MonkeyPatch,
    make_booking: BookingFactory,
) -> None:
    clock = SkipClock()
    use_service(dedup_seconds=0.3, clock=clock.clock(), store=clock.store())
    park.integrations[INTEGRATION].pop("checkin_status")
    booking = make_booking()
    assert opened(host.open(booking, "guest"))
    assert host.open(booking, "guest").reason is Reason.DUPLICATE  # type: ignore[union-attr]
    clock.sleep(0.35)
    assert opened(host.open(booking, "guest"))
    assert sandbox.call_count("PATCH") == 2


# -- tenant isolation ----------------------------------------------------------------------


def two_park_sandbox() -> SaltoSandbox:
    box = SaltoSandbox()
    other = box.world.add_user("beheer@duinrand.example", "duinrand-password-1")
    box.world.add_site("NL1234567890", "Camping Duinrand", iqs=1, locks_per_iq=4, users=[other])
    return box


def test_two_parks_share_nothing(
    use_service: UseService, host: ReferenceHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = use_service()
    with two_park_sandbox() as box:
        for name, value in box.platform_env().items():
            monkeypatch.setenv(name, value)
        site_b = next(s for s in box.world.sites.values() if s.site_uid == "NL1234567890")
        park_a = Park("a", "Europe/Amsterdam", {INTEGRATION: settings_for(box)})
        park_b = Park(
            "b",
            "Europe/Amsterdam",
            {
                INTEGRATION: settings_for(
                    box,
                    username="beheer@duinrand.example",
                    password="duinrand-password-1",
                    site_uid="NL1234567890",
                )
            },
        )
        options_a = host.pm.hook.mapping_options(
            integration=INTEGRATION, park=park_a, refresh=False
        )
        options_b = host.pm.hook.mapping_options(
            integration=INTEGRATION, park=park_b, refresh=False
        )
        assert len(options_a) == 36 and len(options_b) == 4
        assert {o["value"] for o in options_b} == set(site_b.locks)
        assert box.grants == {"password": 2}  # one token per account
        account_a = service.context(park_a).account
        account_b = service.context(park_b).account
        assert account_a.key != account_b.key
        assert service.store.get(TOKEN(account_a.key)) != service.store.get(TOKEN(account_b.key))

        # the OTP budget of A's IQ does not touch B
        lock_b = next(iter(site_b.locks.values()))
        service.budget.blocked(account_a.key, first_lock(box).iq.id)
        assert service.budget.refusal(account_b.key, lock_b.iq.id) is None

        # a changed password is a different token entry: never the old token
        park_a.integrations[INTEGRATION]["password"] = "changed-password-9"
        host.pm.hook.mapping_options(integration=INTEGRATION, park=park_a, refresh=True)
        assert box.call_count("POST /connect/token") == 3  # tried, refused


def test_same_booking_id_in_two_parks_is_not_a_duplicate(
    host: ReferenceHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    with two_park_sandbox() as box:
        for name, value in box.platform_env().items():
            monkeypatch.setenv(name, value)
        results = []
        for park_id in ("a", "b"):
            park = Park(park_id, "Europe/Amsterdam", {INTEGRATION: settings_for(box)})
            host.parks = {park_id: park}
            if park_id == "a":
                activate(host, park, box, first_lock(box).iq.id)
                activated = park.integrations[INTEGRATION]["iqs"]
            park.integrations[INTEGRATION]["iqs"] = activated
            park.integrations[INTEGRATION]["mapping"] = {"chalet-12": first_lock(box).id}
            booking = Booking(
                "B-1", "chalet-12", "confirmed", datetime.now(UTC), datetime(2099, 1, 1, tzinfo=UTC)
            )
            results.append(host.open(booking, "guest"))
        assert [r and r.reason for r in results] == [Reason.OPENED, Reason.OPENED]
        assert box.call_count("PATCH") == 2


def test_a_failed_attempt_answers_repeats_only_briefly(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    monkeypatch: pytest.MonkeyPatch,
    make_booking: BookingFactory,
) -> None:
    clock = SkipClock()
    use_service(failed_dedup_seconds=0.2, clock=clock.clock(), store=clock.store())
    host.lock_options(park, INTEGRATION)
    booking = make_booking()
    sandbox.inject("PATCH", "/locking$", status=503)
    first = host.open(booking, "guest")
    assert first is not None and first.reason is Reason.SALTO_UNAVAILABLE
    again = host.open(booking, "guest")
    assert again is not None and again.reason is Reason.DUPLICATE
    assert again.outcome is Outcome.FAILED
    clock.sleep(0.25)
    assert opened(host.open(booking, "guest"))  # a deliberate retry goes through
    assert sandbox.call_count("PATCH") == 2


@pytest.mark.parametrize("refresh", [True, False])
@pytest.mark.parametrize(
    "fault",
    [
        {
            "status": 502,
            "raw": b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            "headers": {"Content-Type": "text/html"},
        },
        {"reset": True},
    ],
    ids=["502-html", "dropped"],
)
def test_a_down_identity_server_is_asked_at_most_three_times_per_open(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
    fault: dict[str, Any],
    refresh: bool,
) -> None:
    """One open sent 9 token requests to an identity server answering 502 with an HTML
    page (or dropping the connection): the call's own retries (the README's "up to 2"),
    then the password grant after a failed refresh, then again for the diagnosis. Now a
    token fetch that failed is the answer for the rest of the hook call."""
    sandbox.allow_offline_access = refresh  # a refresh token is then (not) handed out
    use_service()  # a fresh store: the next token comes with (or without) a refresh token
    assert opened(host.open(make_booking(), "guest"))
    sandbox.expire_tokens()  # Salto refuses the cached token: a new one is needed
    sandbox.reset_stats()
    sandbox.inject("POST", "/connect/token$", times=100, **fault)
    result = host.open(make_booking(), "guest")
    assert result is not None and result.reason is Reason.SALTO_UNAVAILABLE
    assert sandbox.call_count("POST /connect/token") <= 3
    assert sandbox.call_count("PATCH") == 1  # the one refused with 401, never a second
