"""Each hook through a real PluginManager that loaded the plugin from its entry point.

``test_hookspecs_doc.py`` requires a ``test_hook_<name>`` here for every hook.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from marshmallow import Schema, ValidationError

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.models import Outcome, Reason
from ireserve_salto_plugin.reference import Booking, Park, ReferenceHost
from ireserve_salto_plugin.sandbox import SaltoSandbox
from tests.conftest import UseService, activate, first_lock, settings_for

BookingFactory = Callable[..., Booking]
HOOKSPECS_DOC = (Path(__file__).resolve().parents[2] / "hookspecs.md").read_text()


def test_plugin_is_loaded_from_its_entry_point() -> None:
    # The one test that loads the plugin as a host does; the others get a fresh instance.
    from ireserve_salto_plugin.plugin import SaltoKsPlugin

    host = ReferenceHost()
    plugins = dict(host.pm.list_name_plugin())
    assert isinstance(plugins[INTEGRATION], SaltoKsPlugin)
    assert host.pm.list_plugin_distinfo()[0][1].project_name == "ireserve-salto-plugin"


SEED_HOOKS = (
    "config_schema",
    "mapping_options",
    "on_booking_status",
    "on_open_request",
    "on_admin_action",
)


def test_a_host_that_knows_only_the_seed_hooks_loads_the_plugin() -> None:
    """A host whose hookspecs hold only the seed's five hooks: every other hook of the
    plugin is optional, so pluggy's check passes and the seed hooks still work."""
    import pluggy

    from ireserve_salto_plugin import hookspecs
    from ireserve_salto_plugin.plugin import SaltoKsPlugin

    class SeedSpecs:
        pass

    for name in SEED_HOOKS:
        setattr(SeedSpecs, name, staticmethod(getattr(hookspecs, name)))
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(SeedSpecs)
    pm.register(SaltoKsPlugin(), INTEGRATION)
    pm.check_pending()  # raised "unknown hook 'config_form'" before
    assert isinstance(pm.hook.config_schema(integration=INTEGRATION), Schema)
    assert not hasattr(pm.hook, "config_form") or not pm.hook.config_form.has_spec()


# -- config_schema -------------------------------------------------------------------------


def test_hook_config_schema(host: ReferenceHost, sandbox: SaltoSandbox) -> None:
    schema = host.pm.hook.config_schema(integration=INTEGRATION)
    assert isinstance(schema, Schema)
    assert schema.load(settings_for(sandbox)).username == sandbox.username
    with pytest.raises(ValidationError) as info:
        schema.load(settings_for(sandbox, site_uid="bad", extra=1))
    assert set(info.value.messages_dict) == {"site_uid", "extra"}
    assert host.pm.hook.config_schema(integration="other") is None


def test_hook_config_form(host: ReferenceHost) -> None:
    form = host.pm.hook.config_form(integration=INTEGRATION)
    assert form["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert [tab["name"] for tab in form["x-tabs"]] == [
        "authentication",
        "iq_otp",
        "details",
        "mapping",
    ]
    assert form["properties"]["password"]["x-label"]["nl"] == "Wachtwoord"
    assert host.pm.hook.config_form(integration="other") is None


# -- mapping_options -----------------------------------------------------------------------


def test_hook_mapping_options(host: ReferenceHost, park: Park, sandbox: SaltoSandbox) -> None:
    assert sandbox.site is not None
    options = host.lock_options(park, INTEGRATION)
    assert len(options) == len(sandbox.site.locks)
    chalet = first_lock(sandbox)
    option = next(o for o in options if o["value"] == chalet.id)
    read_at = datetime.fromisoformat(option.pop("read_at"))
    assert option == {
        "value": chalet.id,
        "label": "Chalet 12",
        "online": True,
        "iq_id": chalet.iq.id,
    }
    assert read_at.tzinfo is not None  # when Salto sent the list: a page can say how old
    assert abs((read_at - datetime.now(UTC)).total_seconds()) < 600
    locks_path = f"GET /v1.2/sites/{sandbox.site.id}/locks"
    # read for people: the short page (36 of 100 asked) is confirmed by one empty read
    assert sandbox.calls[locks_path] == 2
    host.lock_options(park, INTEGRATION)
    assert sandbox.calls[locks_path] == 2  # served from the cache
    sandbox.set_lock_online(chalet.id, False)
    refreshed = host.lock_options(park, INTEGRATION, refresh=True)
    assert sandbox.calls[locks_path] == 4
    assert next(o for o in refreshed if o["value"] == chalet.id)["label"] == "Chalet 12 (offline)"
    assert host.pm.hook.mapping_options(integration="other", park=park, refresh=False) is None


def test_mapping_options_without_salto_is_empty(host: ReferenceHost, sandbox: SaltoSandbox) -> None:
    park = host.add_park(
        Park("p", "Europe/Amsterdam", {INTEGRATION: settings_for(sandbox, password="wrong")})
    )
    assert host.lock_options(park, INTEGRATION) == []


# -- on_booking_status ---------------------------------------------------------------------


def test_hook_on_booking_status(
    host: ReferenceHost, park: Park, mapped: Any, make_booking: BookingFactory
) -> None:
    booking = make_booking(status="option")
    [info] = host.change_status(booking, "confirmed")
    assert info.integration == INTEGRATION and info.allowed is True
    assert info.lock_id == mapped.id and info.lock_name == "Chalet 12"
    assert info.opens_at == booking.arrival - timedelta(minutes=30)
    assert info.closes_at == booking.departure and info.warnings == []
    [info] = host.change_status(booking, "cancelled")
    assert info.allowed is False and info.warnings == []


def test_booking_status_warnings(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox, make_booking: BookingFactory
) -> None:
    # allowed: the status allows opening; what stands in the way is in the warnings
    [info] = host.change_status(make_booking(object_id="nowhere"), "confirmed")
    assert info.warnings == [Reason.NO_LOCK_MAPPED] and info.allowed
    park.integrations[INTEGRATION]["mapping"] = {"chalet-12": first_lock(sandbox).id}
    [info] = host.change_status(make_booking(), "confirmed")
    assert info.warnings == [Reason.IQ_NOT_ACTIVATED] and info.lock_name == "Chalet 12"
    park.integrations[INTEGRATION]["minutes_before"] = -3
    [info] = host.change_status(make_booking(), "confirmed")
    assert info.warnings == [Reason.SETTINGS_INVALID] and info.opens_at is None


def test_booking_status_never_raises_when_salto_is_down(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    booking = make_booking()
    sandbox.stop()  # nothing is cached yet: the lock lookup must reach Salto, and fails
    [info] = host.change_status(booking, "confirmed")
    # an outage is a warning: the booking will open fine once Salto is back
    assert info.warnings == [Reason.SALTO_UNAVAILABLE] and info.allowed


def test_unconfigured_park_gets_none(host: ReferenceHost, make_booking: BookingFactory) -> None:
    park = host.add_park(Park("other", "Europe/Amsterdam"))
    booking = make_booking()
    assert host.change_status(booking, "confirmed") == []
    assert host.open(booking, "staff:anna") is None
    assert host.lock_options(park, INTEGRATION) == []
    with pytest.raises(LookupError):
        host.admin(park, INTEGRATION, "test_connection")


# -- on_open_request -----------------------------------------------------------------------


def test_hook_on_open_request(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    booking = make_booking()
    before = datetime.now(UTC).replace(microsecond=0)
    result = host.open(booking, "guest:B-1")
    assert result is not None
    assert result.outcome is Outcome.OPENED and result.reason is Reason.OPENED
    assert result.lock_id == mapped.id and result.new_status == "checked_in"
    assert result.opened_at is not None and result.opened_at >= before
    assert result.booking_updates == {"opened_at": result.opened_at.strftime("%Y-%m-%dT%H:%M:%SZ")}
    assert booking.fields["opened_at"] == result.booking_updates["opened_at"]
    assert booking.status == "checked_in"
    assert sandbox.entries()[-1]["lock_id"] == mapped.id
    assert len(result.attempt_id) == 32
    # The guest's double tap is the same command; the booking is now checked in, and the
    # check-in status always counts as an opening status, so staff can still open.
    again = host.open(booking, "guest:B-1")
    assert again is not None and again.reason is Reason.DUPLICATE and again.opened
    by_staff = host.open(booking, "staff:desk")
    assert by_staff is not None and by_staff.reason is Reason.OPENED
    assert sandbox.call_count("PATCH") == 2


def test_steady_state_open_is_one_patch(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    assert host.open(make_booking(), "guest").opened  # type: ignore[union-attr]
    calls = sum(sandbox.calls.values())
    for _ in range(3):
        assert host.open(make_booking(), "guest").opened  # type: ignore[union-attr]
    assert sum(sandbox.calls.values()) - calls == 3
    assert sandbox.call_count("PATCH") == 4


def test_cold_open_call_counts(
    host: ReferenceHost,
    sandbox: SaltoSandbox,
    mapped: Any,
    park: Park,
    make_booking: BookingFactory,
    use_service: UseService,
) -> None:
    # token, site, lock list, IQ list (restore_required is only there), open
    for with_site_id, expected in ((False, 5), (True, 4)):
        booking = make_booking()
        use_service()  # cold: nothing in the store
        raw = park.integrations[INTEGRATION]
        if with_site_id:
            assert sandbox.site is not None
            raw["site_id"] = sandbox.site.id
        start = sum(sandbox.calls.values())
        result = host.open(booking, "guest")
        assert result is not None and result.opened
        assert sum(sandbox.calls.values()) - start == expected


@pytest.mark.parametrize(
    "shift,reason",
    [
        (timedelta(minutes=-31), Reason.TOO_EARLY),
        (timedelta(minutes=-30), Reason.OPENED),
        (timedelta(days=3), Reason.OPENED),
        (timedelta(days=3, seconds=1), Reason.TOO_LATE),
    ],
)
def test_open_window_uses_the_hosts_now(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
    shift: timedelta,
    reason: Reason,
) -> None:
    arrival = datetime(2030, 7, 1, 15, 0, tzinfo=UTC)  # far away: only `now` can open it
    booking = make_booking(arrival=arrival)
    result = host.open(booking, "staff:anna", now=arrival + shift)
    assert result is not None and result.reason is reason
    assert sandbox.call_count("PATCH") == (1 if reason is Reason.OPENED else 0)


def test_open_denials(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    raw = park.integrations[INTEGRATION]
    result = host.open(make_booking(status="option"), "staff")
    assert result is not None and result.outcome is Outcome.DENIED
    assert result.reason is Reason.STATUS_NOT_ALLOWED and "'option'" in result.message
    result = host.open(make_booking(object_id="tent-3"), "staff")
    assert result is not None and result.reason is Reason.NO_LOCK_MAPPED
    raw["default_lock_id"] = mapped.id
    result = host.open(make_booking(object_id="tent-3"), "staff")
    assert result is not None and result.opened and result.lock_id == mapped.id
    raw["enabled"] = False
    result = host.open(make_booking(), "staff")
    assert result is not None and result.reason is Reason.INTEGRATION_INACTIVE
    assert sandbox.call_count("PATCH") == 1


def test_open_failures(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = park.integrations[INTEGRATION]
    assert sandbox.site is not None
    other = next(lock for lock in sandbox.site.locks.values() if lock.iq.id != mapped.iq.id)
    raw["mapping"] = {"chalet-12": other.id}
    result = host.open(make_booking(), "staff")
    assert result is not None and result.reason is Reason.IQ_NOT_ACTIVATED
    assert result.outcome is Outcome.FAILED and "GET PIN" in result.message

    raw["mapping"] = {"chalet-12": "00000000-0000-4000-8000-000000000000"}
    result = host.open(make_booking(), "staff")
    assert result is not None and result.reason is Reason.LOCK_NOT_FOUND

    raw["mapping"] = {"chalet-12": mapped.id}
    sandbox.set_iq_online(mapped.iq.id, False)
    result = host.open(make_booking(), "staff")
    assert result is not None and result.reason is Reason.IQ_OFFLINE
    assert "power and internet" in result.message
    sandbox.set_iq_online(mapped.iq.id, True)
    sandbox.set_lock_online(mapped.id, False)
    result = host.open(make_booking(), "staff")
    assert result is not None and result.reason is Reason.LOCK_OFFLINE
    sandbox.set_lock_online(mapped.id, True)
    # the first: the cached list said online, the command was refused; what its read of
    # the lock learned went into the cached list, so the second was told by a read alone
    assert sandbox.call_count("PATCH") == 1

    pin = raw["iqs"][mapped.iq.id]["pin"]
    raw["iqs"][mapped.iq.id]["pin"] = sandbox.wrong_pin(mapped.iq.id)
    result = host.open(make_booking(), "staff")
    assert result is not None and result.reason is Reason.OTP_REJECTED
    assert "outside i-Reserve" in result.message
    raw["iqs"][mapped.iq.id]["pin"] = pin

    monkeypatch.delenv("SALTO_KS_ACCEPTANCE_CLIENT_SECRET")
    result = host.open(make_booking(), "staff")
    assert result is not None and result.reason is Reason.SETTINGS_INVALID
    assert "SALTO_KS_ACCEPTANCE_CLIENT_SECRET" in result.message


def test_open_with_invalid_settings_or_booking(
    host: ReferenceHost, park: Park, make_booking: BookingFactory
) -> None:
    park.integrations[INTEGRATION]["site_uid"] = "NL1"
    result = host.open(make_booking(), "staff")
    assert result is not None and result.reason is Reason.SETTINGS_INVALID
    assert "site_uid" in result.message
    park.integrations[INTEGRATION]["site_uid"] = "NL6254340082"
    booking = make_booking()
    booking.departure = booking.arrival - timedelta(days=1)
    result = host.open(booking, "staff")
    assert result is not None and result.reason is Reason.BOOKING_INVALID


def test_naive_booking_times_are_park_local(
    host: ReferenceHost, park: Park, mapped: Any, make_booking: BookingFactory
) -> None:
    booking = make_booking(arrival=datetime(2030, 1, 10, 15, 0))  # 14:00 UTC in winter
    result = host.open(booking, "staff", now=datetime(2030, 1, 10, 13, 29, tzinfo=UTC))
    assert result is not None and result.reason is Reason.TOO_EARLY
    assert "15:00 CET" not in result.message and "14:30 CET" in result.message
    result = host.open(booking, "staff", now=datetime(2030, 1, 10, 13, 30, tzinfo=UTC))
    assert result is not None and result.opened


# -- on_admin_action -----------------------------------------------------------------------


def test_hook_explain_access(
    host: ReferenceHost, park: Park, mapped: Any, make_booking: BookingFactory
) -> None:
    booking = make_booking()
    found = host.pm.hook.explain_access(park=park, booking=booking, now=None)
    assert found.verdict is Reason.OPENED and found.lock_id == mapped.id
    early = host.pm.hook.explain_access(
        park=park, booking=booking, now=booking.arrival - timedelta(hours=2)
    )
    assert early.verdict is Reason.TOO_EARLY and "from" in early.message
    other = Park("other", "Europe/Amsterdam")
    assert host.pm.hook.explain_access(park=other, booking=booking, now=None) is None


def test_hook_readiness(
    host: ReferenceHost, park: Park, mapped: Any, make_booking: BookingFactory
) -> None:
    report = host.pm.hook.readiness(
        park=park, bookings=[make_booking(), make_booking(object_id="nowhere")], now=None
    )
    assert [row["verdict"] for row in report.bookings] == ["opened", "no_lock_mapped"]
    assert report.summary == {"opened": 1, "no_lock_mapped": 1}
    assert host.pm.hook.readiness(park=park, bookings="not a list", now=None).bookings == []


def test_hook_on_admin_action(host: ReferenceHost, park: Park, sandbox: SaltoSandbox) -> None:
    assert sandbox.site is not None
    result = host.admin(park, INTEGRATION, "test_connection")
    assert result.ok and sandbox.site.site_uid in result.message
    result = host.admin(park, INTEGRATION, "resolve_site")
    assert result.ok and park.integrations[INTEGRATION]["site_id"] == sandbox.site.id

    iq = first_lock(sandbox).iq.id
    result = host.admin(park, INTEGRATION, "get_pin", iq_id=iq)
    assert result.ok and "e-mailed" in result.message
    stored = park.integrations[INTEGRATION]["iqs"][iq]
    assert len(stored["secret"]) == 16 and stored["secret"] not in repr(result)
    result = host.admin(park, INTEGRATION, "set_pin", iq_id=iq, current_pin=sandbox.last_pin(iq))
    assert result.ok and result.message.startswith("IQ is activated")
    assert stored["secret"] == park.integrations[INTEGRATION]["iqs"][iq]["secret"]
    assert park.integrations[INTEGRATION]["iqs"][iq]["pin"] == sandbox.last_pin(iq)
    assert park.integrations[INTEGRATION]["iqs"][iq]["activated_at"]

    result = host.admin(park, INTEGRATION, "refresh_locks")
    assert result.ok and result.data["count"] == len(sandbox.site.locks)
    assert (
        host.pm.hook.on_admin_action(integration="other", park=park, action="get_pin", params={})
        is None
    )


def test_get_pin_fetches_the_secret_once(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    iq = first_lock(sandbox).iq.id
    assert host.admin(park, INTEGRATION, "get_pin", iq_id=iq).ok
    secret = park.integrations[INTEGRATION]["iqs"][iq]["secret"]
    result = host.admin(park, INTEGRATION, "get_pin", iq_id=iq)  # e.g. the mail got lost
    assert result.ok and result.settings_update == {}
    assert park.integrations[INTEGRATION]["iqs"][iq]["secret"] == secret
    assert len(sandbox.mails()) == 2


def test_get_pin_when_the_secret_was_taken_elsewhere(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    iq = first_lock(sandbox).iq.id
    user = sandbox.world.users[sandbox.username]
    sandbox.world.activation(user, iq).activated = True  # e.g. in the Salto KS app
    result = host.admin(park, INTEGRATION, "get_pin", iq_id=iq)
    assert not result.ok and "will not hand out its secret again" in result.message


def test_get_pin_after_activation(host: ReferenceHost, park: Park, sandbox: SaltoSandbox) -> None:
    iq = first_lock(sandbox).iq.id
    activate(host, park, sandbox, iq)
    result = host.admin(park, INTEGRATION, "get_pin", iq_id=iq)
    assert not result.ok and "already activated" in result.message


def test_set_pin_errors(host: ReferenceHost, park: Park, sandbox: SaltoSandbox) -> None:
    iq = first_lock(sandbox).iq.id
    result = host.admin(park, INTEGRATION, "set_pin", iq_id=iq, current_pin="1234")
    assert not result.ok and "run GET PIN first" in result.message
    assert host.admin(park, INTEGRATION, "get_pin", iq_id=iq).ok
    result = host.admin(park, INTEGRATION, "set_pin", iq_id=iq, current_pin=sandbox.wrong_pin(iq))
    assert not result.ok and "does not match" in result.message
    assert park.integrations[INTEGRATION]["iqs"][iq].get("pin") is None
    for params, field in (
        ({"iq_id": iq, "current_pin": "123"}, "current_pin"),
        ({"iq_id": iq, "current_pin": "1234", "new_pin": "12x4"}, "new_pin"),
        ({"iq_id": "IQ-1", "current_pin": "1234"}, "iq_id"),
    ):
        result = host.admin(park, INTEGRATION, "set_pin", **params)
        assert not result.ok and result.message.startswith(field)


def test_set_pin_with_a_new_pin_then_open(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox, make_booking: BookingFactory
) -> None:
    lock = first_lock(sandbox)
    assert host.admin(park, INTEGRATION, "get_pin", iq_id=lock.iq.id).ok
    new = sandbox.wrong_pin(lock.iq.id)  # never the current PIN
    result = host.admin(
        park,
        INTEGRATION,
        "set_pin",
        iq_id=lock.iq.id,
        current_pin=sandbox.last_pin(lock.iq.id),
        new_pin=new,
        expert=True,
    )
    assert result.ok and "cannot be verified" in result.message
    assert park.integrations[INTEGRATION]["iqs"][lock.iq.id]["pin"] == new
    park.integrations[INTEGRATION]["mapping"] = {"chalet-12": lock.id}
    result2 = host.open(make_booking(), "staff")
    assert result2 is not None and result2.opened


def test_admin_bad_requests(host: ReferenceHost, park: Park, sandbox: SaltoSandbox) -> None:
    result = host.admin(park, INTEGRATION, "reboot")
    assert not result.ok and "known: test_connection" in result.message
    result = host.admin(park, INTEGRATION, "get_pin", iq_id="00000000-0000-4000-8000-000000000000")
    assert not result.ok and "is not on site" in result.message
    park.integrations[INTEGRATION]["password"] = "not-the-password-7x"
    result = host.admin(park, INTEGRATION, "test_connection")
    assert not result.ok and "Login failed" in result.message
    assert "not-the-password-7x" not in result.message and "invalid_grant" not in result.message
    assert "invalid_grant" in result.data["details"]  # the code, for support
    park.locale = "de"
    german = host.admin(park, INTEGRATION, "test_connection")
    assert german.message.startswith("Anmeldung fehlgeschlagen: Benutzername oder Passwort")


def test_admin_works_before_the_details_tab_is_filled(
    host: ReferenceHost, sandbox: SaltoSandbox
) -> None:
    raw: dict[str, Any] = settings_for(sandbox)
    del raw["open_statuses"]
    park = host.add_park(Park("new", "Europe/Amsterdam", {INTEGRATION: raw}))
    assert host.admin(park, INTEGRATION, "test_connection").ok


def test_results_say_whether_the_guest_may_try_again(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    from ireserve_salto_plugin.hookspecs import CONTRACT_VERSION

    assert CONTRACT_VERSION.count(".") == 2 and CONTRACT_VERSION in HOOKSPECS_DOC
    opened = host.open(make_booking(), "guest")
    assert opened is not None and not opened.retryable and not opened.call_reception
    early = make_booking(arrival=datetime.now(UTC) + timedelta(days=1))
    denied = host.open(early, "guest")
    assert denied is not None and not denied.retryable and not denied.call_reception
    sandbox.inject("PATCH", "/locking$", status=503)
    away = host.open(make_booking(), "guest")
    assert away is not None and away.reason is Reason.SALTO_UNAVAILABLE
    assert away.retryable and not away.call_reception and away.to_dict()["retryable"]
    # Salto had the command: the words never say "simply retry" (the door may be open)
    assert "may or may not have opened" in away.message and "log" in away.message
    assert away.guest_message == "The door may have opened; please check it before trying again."
    sandbox.set_iq_online(mapped.iq.id, False)
    offline = host.open(make_booking(), "guest")
    assert offline is not None and offline.reason is Reason.IQ_OFFLINE
    assert not offline.retryable and offline.call_reception and offline.guest_message


def test_access_info_carries_its_warnings_in_words_and_a_sentence_for_the_guest(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    park.locale = "nl"
    arrival = datetime.now(UTC) + timedelta(days=2)
    booking = make_booking(status="option", arrival=arrival)
    booking.locale = "nl"
    [info] = host.change_status(booking, "confirmed")
    assert info.allowed and info.warnings == [] and info.warning_texts == []
    assert info.guest_text.startswith("Vanaf ") and info.guest_text.endswith(
        " open je de deur in de app."
    )
    sandbox.set_iq_online(mapped.iq.id, False)
    host.lock_options(park, INTEGRATION, refresh=True)
    other = make_booking(status="option", arrival=arrival)
    [offline] = host.change_status(other, "confirmed")
    assert offline.warnings == [Reason.IQ_OFFLINE]
    assert offline.warning_texts[0].startswith("De IQ-gateway")  # in the park's language
    unmapped = make_booking(status="option", object_id="tent-4", arrival=arrival)
    park.integrations[INTEGRATION]["default_lock_id"] = None
    [nothing] = host.change_status(unmapped, "confirmed")
    assert Reason.NO_LOCK_MAPPED in nothing.warnings and nothing.guest_text == ""


def test_a_host_that_knows_only_the_four_hooks_of_the_design_card_loads_the_plugin() -> None:
    """Such a host's ``pm.check_pending()`` failed on "unknown hook 'on_admin_action'"."""
    import pluggy

    from ireserve_salto_plugin import INTEGRATION, hookspecs
    from ireserve_salto_plugin.plugin import SaltoKsPlugin

    class FourHooks:
        config_schema = hookspecs.config_schema
        mapping_options = hookspecs.mapping_options
        on_booking_status = hookspecs.on_booking_status
        on_open_request = hookspecs.on_open_request

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(FourHooks)
    pm.register(SaltoKsPlugin(), INTEGRATION)
    pm.check_pending()  # raises PluginValidationError for a hook the host does not know
    assert pm.hook.config_schema(integration=INTEGRATION) is not None
