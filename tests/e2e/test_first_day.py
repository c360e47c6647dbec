"""What real Salto KS does on a park's first day, and answers that must be true then
(docs/salto-ks-api.md: "Which account", "Paging", the entries and ``PUT pin`` rows)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.models import Reason
from ireserve_salto_plugin.reference import Booking, Park, ReferenceHost
from ireserve_salto_plugin.salto.errors import Unavailable
from ireserve_salto_plugin.salto.paging import next_link
from ireserve_salto_plugin.sandbox import SaltoSandbox
from tests.conftest import UseService, first_lock, settings_for

BookingFactory = Callable[..., Booking]


@pytest.fixture
def big(monkeypatch: pytest.MonkeyPatch) -> Iterator[SaltoSandbox]:
    """120 locks on 10 IQs, served at most 50 a page although 100 are asked, with no link
    and no count: a cap only a read past the end shows."""
    with SaltoSandbox(iqs=10, locks_per_iq=12) as box:
        box.page_cap = 50
        for name, value in box.platform_env().items():
            monkeypatch.setenv(name, value)
        yield box


def big_park(host: ReferenceHost, box: SaltoSandbox, **settings: Any) -> Park:
    park = host.add_park(Park("zandloper", "Europe/Amsterdam"))
    host.save_settings(park, INTEGRATION, settings_for(box, **settings))
    return park


# -- paging ---------------------------------------------------------------------------------


def test_a_page_cap_never_cuts_the_lists_people_read(
    host: ReferenceHost, big: SaltoSandbox
) -> None:
    park = big_park(host, big)
    assert len(host.lock_options(park, INTEGRATION)) == 120  # was 50
    refreshed = host.admin(park, INTEGRATION, "refresh_locks")
    assert refreshed.ok and refreshed.data["count"] == 120
    assert big.site is not None
    # pages of 50, 50, 20, then an empty read that ends the list
    assert big.calls[f"GET /v1.2/sites/{big.site.id}/locks"] == 8


def test_the_open_reads_a_lock_missing_from_the_list_before_calling_it_missing(
    host: ReferenceHost, big: SaltoSandbox
) -> None:
    assert big.site is not None
    last = list(big.site.locks.values())[-1]  # lock 120: beyond the first capped page
    iqs = big.world.preactivate(big.world.users[big.username])
    park = big_park(host, big, site_id=big.site.id, iqs=iqs, mapping={"chalet-12": last.id})
    start = datetime.now(UTC) - timedelta(hours=1)
    booking = host.add_booking(
        Booking("B-1", "chalet-12", "confirmed", start, start + timedelta(days=2))
    )
    result = host.open(booking, "guest:B-1")
    assert result is not None and result.opened, result and result.message  # lock_not_found
    # read by the open, then by on_booking_status for the check-in: the cached list is the
    # open's quick read, not complete, so a lock missing from it is read, never "not found"
    assert big.calls[f"GET /v1.2/sites/{big.site.id}/locks/{last.id}"] == 2
    assert park is host.parks["zandloper"]


API = ("https", "connect.my-clay.com", 443)


@pytest.mark.parametrize(
    ("link", "followed"),
    [
        (
            "http://connect.my-clay.com/v1.2/sites/s/locks?$skip=100",
            "https://connect.my-clay.com/v1.2/sites/s/locks?$skip=100",
        ),
        ("http://CONNECT.my-clay.com:80/v1.2/x", "https://connect.my-clay.com/v1.2/x"),
        ("https://connect.my-clay.com/v1.2/x", "https://connect.my-clay.com/v1.2/x"),
        ("/v1.2/x", "https://connect.my-clay.com/v1.2/x"),
    ],
)
def test_an_http_link_to_the_api_host_is_followed_over_https(link: str, followed: str) -> None:
    assert next_link(link, "/x", "https://connect.my-clay.com", API, set()) == followed


@pytest.mark.parametrize(
    "link",
    [
        "http://evil.example/v1.2/x",
        "http://connect.my-clay.com:8080/v1.2/x",
        "http://user:pw@connect.my-clay.com/v1.2/x",
    ],
)
def test_an_http_link_elsewhere_is_still_refused(link: str) -> None:
    with pytest.raises(Unavailable):
        next_link(link, "/x", "https://connect.my-clay.com", API, set())


def test_an_http_base_on_loopback_keeps_its_links() -> None:
    api = ("http", "127.0.0.1", 8080)
    assert (
        next_link("http://127.0.0.1:8080/v1.2/x", "/x", "http://127.0.0.1:8080", api, set())
        == "http://127.0.0.1:8080/v1.2/x"
    )


# -- tokens ---------------------------------------------------------------------------------


def test_a_server_error_on_the_refresh_grant_falls_back_to_the_password_grant(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    assert host.lock_options(park, INTEGRATION)
    assert sandbox.grants == {"password": 1}
    sandbox.expire_tokens()  # the next API call gets a 401, and the refresh grant a 500
    sandbox.inject("POST", "/connect/token", status=500, body={"error": "server_error"})
    result = host.admin(park, INTEGRATION, "refresh_locks")
    assert result.ok, result.message
    assert sandbox.grants == {"password": 2}


# -- the cold open --------------------------------------------------------------------------


@pytest.mark.parametrize(("site_id_stored", "most"), [(True, 3), (False, 4)])
def test_a_cold_open_waits_for_few_round_trips_in_a_row(
    use_service: UseService,
    host: ReferenceHost,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
    site_id_stored: bool,
    most: int,
) -> None:
    """Token → (lock list beside IQ list) → PATCH, plus the site lookup when no site_id is
    stored: requests that overlap count once."""
    assert sandbox.site is not None
    lock = first_lock(sandbox)
    iqs = sandbox.world.preactivate(sandbox.world.users[sandbox.username])
    extra = {"site_id": sandbox.site.id} if site_id_stored else {}
    park = host.add_park(Park("zandloper", "Europe/Amsterdam"))
    host.save_settings(
        park, INTEGRATION, settings_for(sandbox, iqs=iqs, mapping={"chalet-12": lock.id}, **extra)
    )
    use_service()  # cold: nothing cached
    sandbox.latency = 0.2  # a network's round trip: parallel requests overlap
    result = host.open(make_booking(), "guest")
    assert result is not None and result.reason is Reason.OPENED
    assert sandbox.round_trips_in_a_row() == most  # was 4 / 5: IQs read after the locks


# -- answers that must be true ----------------------------------------------------------------


def test_test_connection_asks_salto_every_time(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    first = host.admin(park, INTEGRATION, "test_connection")
    assert first.ok, first.message
    second = host.admin(park, INTEGRATION, "test_connection")
    assert second.ok and sandbox.grants["password"] == 2  # a new token each press
    assert sandbox.call_count("GET /v1.1/sites") == 2  # the site read each press
    assert sandbox.call_count(f"GET /v1.2/sites/{park_site(sandbox)}/me") == 2
    sandbox.stop()  # Salto switched off: the button must not say "connected" from cache
    third = host.admin(park, INTEGRATION, "test_connection")
    assert not third.ok and "Connected" not in third.message


def park_site(box: SaltoSandbox) -> str:
    assert box.site is not None
    return box.site.id


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda user: setattr(user, "remote_access", False), "account_no_remote_access"),
        (lambda user: setattr(user, "blocked", True), "account_blocked"),
    ],
)
def test_test_connection_says_when_the_account_cannot_open(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox, change: Callable[[Any], None], code: str
) -> None:
    change(sandbox.world.users[sandbox.username])
    result = host.admin(park, INTEGRATION, "test_connection")
    assert not result.ok and [f["code"] for f in result.data["findings"]] == [code]
    assert sandbox.username in result.message
    assert result.data["account"]["subscription_state"] == "subscribed"  # shown, not judged


def test_an_account_used_in_the_salto_app_is_named_as_the_cause(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    lock = first_lock(sandbox)
    sandbox.world.activate_in_app(sandbox.world.users[sandbox.username], lock.iq.id)
    result = host.admin(park, INTEGRATION, "test_connection")
    assert not result.ok
    assert [f["code"] for f in result.data["findings"]] == ["account_used_in_app"]
    assert "never used in the app" in result.message and lock.iq.name in result.message
    # the likelier cause first: the secret in another copy of these settings
    assert "another copy" in result.message and "another settings file" in result.message
    status = host.admin(park, INTEGRATION, "status")
    assert "account_used_in_app" in [f["code"] for f in status.data["findings"]]
    pin = host.admin(park, INTEGRATION, "get_pin", iq_id=lock.iq.id)  # 403 2203 at Salto
    assert not pin.ok and sandbox.username in pin.message


def test_status_counts_what_stops_a_door(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    """Connected, 3 IQs, 36 locks, but nothing activated and nothing mapped: not healthy."""
    result = host.admin(park, INTEGRATION, "status")
    assert result.ok and result.data["problems"] == 1
    assert [f["code"] for f in result.data["findings"]] == ["nothing_mapped"]
    assert "all healthy" not in result.message
    lock = first_lock(sandbox)
    missing = "00000000-0000-4000-8000-000000000001"
    park.integrations[INTEGRATION]["mapping"] = {"chalet-12": lock.id, "chalet-13": missing}
    sandbox.set_lock_online(lock.id, False)
    codes = [f["code"] for f in host.admin(park, INTEGRATION, "status").data["findings"]]
    assert {"lock_not_found", "lock_offline", "iq_not_activated", "locks_offline"} == set(codes)


# -- activation: an IQ reset, a PIN change ------------------------------------------------------


def test_after_an_iq_reset_get_pin_fetches_a_new_secret_and_set_pin_restores_opens(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    assert host.open(make_booking(), "guest").opened  # type: ignore[union-attr]
    old = dict(park.integrations[INTEGRATION]["iqs"][mapped.iq.id])
    sandbox.world.reset_iq(mapped.iq.id)
    assert host.admin(park, INTEGRATION, "refresh_locks").ok
    denied = host.open(make_booking(), "guest")
    assert denied is not None and denied.reason is Reason.IQ_NOT_ACTIVATED
    assert "restore_required" in denied.message
    pin = host.admin(park, INTEGRATION, "get_pin", iq_id=mapped.iq.id)
    assert pin.ok, pin.message
    stored = park.integrations[INTEGRATION]["iqs"][mapped.iq.id]
    assert stored["secret"] != old["secret"] and stored["pin"] is None  # a new activation
    done = host.admin(
        park, INTEGRATION, "set_pin", iq_id=mapped.iq.id, current_pin=sandbox.last_pin(mapped.iq.id)
    )
    assert done.ok, done.message
    # the cached "reset" state was dropped with the successful Set PIN
    assert host.open(make_booking(), "guest").opened  # type: ignore[union-attr]


def test_forget_iq_clears_the_stored_activation(
    host: ReferenceHost, park: Park, mapped: Any, sandbox: SaltoSandbox
) -> None:
    before = sandbox.call_count("")
    asked = host.admin(park, INTEGRATION, "forget_iq", iq_id=mapped.iq.id)
    assert not asked.ok and asked.data["reason"] == "confirm_required"
    assert "GET PIN is then no longer possible" in asked.message
    assert park.integrations[INTEGRATION]["iqs"][mapped.iq.id]["secret"]  # nothing changed
    result = host.admin(park, INTEGRATION, "forget_iq", iq_id=mapped.iq.id, confirm=True)
    assert result.ok and result.settings_update == {"iqs": {mapped.iq.id: None}}
    assert park.integrations[INTEGRATION]["iqs"][mapped.iq.id] is None  # the host's merge
    assert sandbox.call_count("") == before  # nothing sent to Salto
    schema = host.pm.hook.config_schema(integration=INTEGRATION)
    assert mapped.iq.id not in schema.load(park.integrations[INTEGRATION]).iqs
    status = host.admin(park, INTEGRATION, "status")
    codes = [f["code"] for f in status.data["findings"]]
    assert "iq_not_activated" in codes and "account_used_in_app" in codes


# -- one checklist, in the order staff fix things ---------------------------------------------


def explain_now(host: ReferenceHost, booking: Booking) -> Any:
    return host.pm.hook.explain_access(park=host.park_of(booking), booking=booking, now=None)


def test_an_early_tap_on_an_unactivated_iq_gets_no_time_promise(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox, make_booking: BookingFactory
) -> None:
    lock = first_lock(sandbox)  # mapped, but its IQ was never activated
    park.integrations[INTEGRATION]["mapping"] = {"chalet-12": lock.id}
    early = make_booking(arrival=datetime.now(UTC) + timedelta(days=1))
    result = host.open(early, "guest")
    assert result is not None and result.reason is Reason.IQ_NOT_ACTIVATED  # was too_early
    assert sandbox.call_count("PATCH") == 0
    assert not any(ch.isdigit() for ch in result.guest_message)  # no "from 15:00"
    assert explain_now(host, early).verdict is Reason.IQ_NOT_ACTIVATED


def test_why_on_a_booking_whose_lock_does_not_exist_says_so(
    host: ReferenceHost, park: Park, mapped: Any, make_booking: BookingFactory
) -> None:
    park.integrations[INTEGRATION]["mapping"] = {
        "chalet-12": "00000000-0000-4000-8000-000000000009"
    }
    early = make_booking(arrival=datetime.now(UTC) + timedelta(days=1), status="option")
    found = explain_now(host, early)
    assert found.verdict is Reason.LOCK_NOT_FOUND  # was too_early (and status_not_allowed)
    result = host.open(early, "guest")
    assert result is not None and result.reason is Reason.LOCK_NOT_FOUND


def test_an_inactive_park_asks_salto_nothing(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    park.integrations[INTEGRATION]["enabled"] = False
    sandbox.reset_stats()
    booking = make_booking()
    assert explain_now(host, booking).verdict is Reason.INTEGRATION_INACTIVE
    assert host.open(booking, "guest").reason is Reason.INTEGRATION_INACTIVE  # type: ignore[union-attr]
    assert sandbox.calls == {}


@pytest.mark.parametrize("fault", ["iq_offline", "lock_offline", "salto_unavailable"])
def test_the_explainer_agrees_with_the_open_just_made(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
    fault: str,
) -> None:
    booking = make_booking()
    assert explain_now(host, booking).verdict is Reason.OPENED  # the list is cached now
    if fault == "iq_offline":
        sandbox.set_iq_online(mapped.iq.id, False)
        sandbox.inject(
            "PATCH",
            "/locking$",
            status=403,
            body={"ErrorCode": 2203, "Message": "Operation cannot be executed."},
        )
    elif fault == "lock_offline":
        sandbox.set_lock_online(mapped.id, False)
        sandbox.inject(
            "PATCH",
            "/locking$",
            status=403,
            body={"ErrorCode": 2203, "Message": "Operation cannot be executed."},
        )
    else:
        sandbox.stop()
    result = host.open(booking, "guest")
    assert result is not None and result.reason.value == fault
    assert explain_now(host, booking).verdict.value == fault  # was "opened"
    if fault != "salto_unavailable":  # readiness reads no lock fresh: what the open learned
        report = host.pm.hook.readiness(park=park, bookings=[booking], now=None)
        assert report.summary == {fault: 1}


def test_readiness_without_now_judges_at_the_current_time(
    host: ReferenceHost, park: Park, mapped: Any, make_booking: BookingFactory
) -> None:
    left = make_booking(arrival=datetime.now(UTC) - timedelta(days=5), days=2)
    coming = make_booking(arrival=datetime.now(UTC) + timedelta(days=1))
    report = host.pm.hook.readiness(park=park, bookings=[left, coming], now=None)
    assert [row["verdict"] for row in report.bookings] == ["too_late", "opened"]


# -- the OTP budget is atomic -------------------------------------------------------------------


@pytest.mark.parametrize("shared", [None, "redis_store"])
def test_sixteen_taps_with_a_wrong_pin_send_two_codes_not_sixteen(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
    shared: str | None,
    request: pytest.FixtureRequest,
) -> None:
    """Nothing is known of the IQ yet (a fresh store): one code at a time. The first is
    rejected, the second is rejected and suspends the IQ, the other 14 wait for them and
    then send nothing, so Salto never counts enough failures to block the IQ."""
    import threading

    store = request.getfixturevalue(shared) if shared else None
    use_service(**({"store": store} if store is not None else {}), open_deadline=10.0)
    assert host.lock_options(park, INTEGRATION)  # warm: token and list, no code yet
    iq = park.integrations[INTEGRATION]["iqs"][mapped.iq.id]
    iq["pin"] = sandbox.wrong_pin(mapped.iq.id)
    bookings = [make_booking() for _ in range(16)]
    start = threading.Barrier(16)
    reasons: list[str] = []

    def tap(booking: Booking) -> None:
        start.wait()
        result = host.open(booking, "guest")
        assert result is not None
        reasons.append(result.reason.value)

    threads = [threading.Thread(target=tap, args=(b,)) for b in bookings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(reasons) == ["otp_rejected"] * 2 + ["otp_suspended"] * 14
    assert sandbox.call_count("PATCH") == 2  # was 16: Salto blocks the IQ after a few


def sixteen_taps(host: ReferenceHost, bookings: list[Booking]) -> list[Any]:
    """Sixteen guests tap at once (a barrier, no sleeps); their results."""
    import threading

    start = threading.Barrier(len(bookings))
    results: list[Any] = []

    def tap(booking: Booking) -> None:
        start.wait()
        results.append(host.open(booking, "guest"))

    threads = [threading.Thread(target=tap, args=(b,)) for b in bookings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.mark.parametrize("shared", [None, "redis_store"])
def test_a_known_good_iq_whose_secret_rotated_gets_two_codes_not_sixteen(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
    shared: str | None,
    request: pytest.FixtureRequest,
) -> None:
    """The IQ accepted a code, then the account was used in the Salto KS app (the secret
    rotates) and 16 guests tap at once: at most two codes are in flight, both are
    rejected, the other 14 send nothing, and Salto never blocks the IQ. It sent 16 in
    process and 6-11 with Redis."""
    store = request.getfixturevalue(shared) if shared else None
    use_service(**({"store": store} if store is not None else {}), open_deadline=10.0)
    first = host.open(make_booking(), "guest")
    assert first is not None and first.opened  # the IQ is known good now
    sandbox.world.activate_in_app(sandbox.world.users[sandbox.username], mapped.iq.id)
    sandbox.set_latency(0.05)  # codes in flight overlap, as they would over the internet
    results = sixteen_taps(host, [make_booking() for _ in range(16)])
    reasons = sorted(result.reason.value for result in results)
    assert reasons == ["otp_rejected"] * 2 + ["otp_suspended"] * 14
    assert sandbox.call_count("PATCH") == 1 + 2
    assert sandbox.peak_in_flight("PATCH") <= 2
    user = sandbox.world.users[sandbox.username]
    assert not sandbox.world.activation(user, mapped.iq.id).blocked_until


@pytest.mark.parametrize("shared", [None, "redis_store"])
def test_a_check_in_wave_on_a_healthy_iq_opens_every_door_two_codes_at_a_time(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
    shared: str | None,
    request: pytest.FixtureRequest,
) -> None:
    store = request.getfixturevalue(shared) if shared else None
    use_service(**({"store": store} if store is not None else {}), open_deadline=10.0)
    assert host.open(make_booking(), "guest").opened  # type: ignore[union-attr]
    sandbox.set_latency(0.05)
    results = sixteen_taps(host, [make_booking() for _ in range(16)])
    assert [result.reason.value for result in results] == ["opened"] * 16
    assert sandbox.peak_in_flight("PATCH") == 2


def test_set_pin_rejections_count_with_the_opens_and_nothing_is_sent_after_two(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    """Ten wrong Set PIN tries send two codes (they sent eight, and Salto blocked the IQ);
    opens are refused too, each answer says until when and what to do."""
    wrong = sandbox.wrong_pin(mapped.iq.id)
    set_pins = sandbox.call_count("PUT")  # the activation's
    answers = [
        host.admin(
            park, INTEGRATION, "set_pin", iq_id=mapped.iq.id, current_pin=wrong, confirm=True
        )
        for _ in range(10)
    ]
    assert not any(answer.ok for answer in answers)
    assert [answer.data["reason"] for answer in answers] == (
        ["otp_rejected"] * 2 + ["otp_suspended"] * 8
    )
    assert all("until" in answer.message for answer in answers[1:])
    assert sandbox.call_count("PUT") == set_pins + 2
    denied = host.open(make_booking(), "guest")
    assert denied is not None and denied.reason is Reason.OTP_SUSPENDED
    assert sandbox.call_count("PATCH") == 0


def test_the_window_of_rejections_is_at_least_salto_s_block() -> None:
    from ireserve_salto_plugin.salto.config import Tuning

    assert Tuning().otp_window_seconds >= 20 * 60 and Tuning().otp_block_seconds == 25 * 60


# -- the self-test says what it proves; the test open proves the rest -------------------------


def test_the_cloud_check_passes_where_only_a_test_open_tells_the_truth(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """After an expert PIN change the IQ kept its PIN (the field report): Salto's cloud
    takes the new PIN, so the self-test passes and says that is not sufficient; the
    audited test open of one lock shows the door stays shut."""
    import logging

    sandbox.world.pin_changes_apply = False
    lock = first_lock(sandbox)
    assert host.admin(park, INTEGRATION, "get_pin", iq_id=lock.iq.id).ok
    old = sandbox.last_pin(lock.iq.id)
    new = sandbox.wrong_pin(lock.iq.id)  # its codes never pass for the old PIN's by chance
    assert host.admin(
        park, INTEGRATION, "set_pin", iq_id=lock.iq.id, current_pin=old, new_pin=new, expert=True
    ).ok
    act = sandbox.world.activation(sandbox.world.users[sandbox.username], lock.iq.id)
    act.pin = new  # the cloud's side took the new PIN, the IQ (the sandbox's check) did not
    cloud = host.admin(park, INTEGRATION, "self_test", iq_id=lock.iq.id)
    assert cloud.ok and "not sufficient" in cloud.message and cloud.data["iq_asked"] is False
    act.pin = old
    with caplog.at_level(logging.INFO, logger="ireserve_salto_plugin"):
        shut = host.admin(
            park, INTEGRATION, "test_open", lock_id=lock.id, requested_by="staff:anna"
        )
    assert not shut.ok and shut.data["reason"] == "otp_rejected"
    assert "test open" in caplog.text and "staff:anna" in caplog.text
    missing = host.admin(park, INTEGRATION, "test_open", lock_id=lock.id)
    assert not missing.ok and missing.message.startswith("requested_by")


def test_a_test_open_opens_one_lock_with_a_receipt(
    host: ReferenceHost, park: Park, mapped: Any, sandbox: SaltoSandbox
) -> None:
    result = host.admin(
        park, INTEGRATION, "test_open", lock_id=mapped.id, requested_by="staff:anna"
    )
    assert result.ok and result.data["reason"] == "opened"
    assert sandbox.call_count("PATCH") == 1 and sandbox.entries()[-1]["lock_id"] == mapped.id
    receipt = host.admin(park, INTEGRATION, "confirm_open", attempt_id=result.data["attempt_id"])
    assert receipt.ok and receipt.data["receipt"] == "confirmed"


def test_an_account_that_may_not_read_its_site_user_still_connects(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    """Salto may refuse /sites/{site}/me to some accounts: nothing is judged from it then."""
    sandbox.inject(
        "GET",
        "/me$",
        status=403,
        times=5,
        body={"ErrorCode": 2203, "Message": "Operation cannot be executed."},
    )
    result = host.admin(park, INTEGRATION, "test_connection")
    assert result.ok, result.message
    assert result.data["account"] == {
        "remote_access": None,
        "blocked": None,
        "subscription_state": None,
        "expires_at": None,
    }
    assert host.admin(park, INTEGRATION, "status").ok


def test_a_suspended_subscription_or_an_expired_account_is_a_finding(
    host: ReferenceHost, park: Park, mapped: Any, sandbox: SaltoSandbox
) -> None:
    """A seat-exhausted account is silently ``suspended`` (the samples' values are
    ``subscribed`` / ``suspended``) and its doors refuse with no HTTP error: status,
    test_connection and the account data say so; a past ``expires_at`` too."""
    user = sandbox.world.users[sandbox.username]
    user.subscription_state = "suspended"
    status = host.admin(park, INTEGRATION, "status")
    codes = [finding["code"] for finding in status.data["findings"]]
    assert "subscription_suspended" in codes and "suspended" in status.message
    connection = host.admin(park, INTEGRATION, "test_connection")
    assert not connection.ok and "suspended" in connection.message
    user.subscription_state = "subscribed"
    user.expires_at = (sandbox.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    status = host.admin(park, INTEGRATION, "status")
    codes = [finding["code"] for finding in status.data["findings"]]
    assert codes == ["account_expired"] and status.data["account"]["expires_at"]
    user.expires_at = (sandbox.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert host.admin(park, INTEGRATION, "status").data["problems"] == 0
