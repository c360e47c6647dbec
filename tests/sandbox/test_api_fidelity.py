"""Differences from the real Salto KS that the sandbox used to hide: each test
runs the plugin against a sandbox at least as unkind as docs/salto-ks-api.md says Salto
is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.models import Reason
from ireserve_salto_plugin.reference import Booking, Park, ReferenceHost
from ireserve_salto_plugin.sandbox import SaltoSandbox
from tests.conftest import activate, first_lock

BookingFactory = Callable[..., Booking]


# -- classify by status and code ----------------------------------------------------------


def test_a_block_is_recognised_by_its_code_whatever_the_message(
    host: ReferenceHost, mapped: Any, sandbox: SaltoSandbox, make_booking: BookingFactory
) -> None:
    sandbox.inject(
        "PATCH",
        "/locking$",
        status=403,
        body={"ErrorCode": "3102", "Message": "Too many attempts, try later"},
    )
    result = host.open(make_booking(), "guest")
    assert result is not None and result.reason is Reason.OTP_BLOCKED
    assert result.retry_after == 1500  # the local back-off, not a suspension hint
    again = host.open(make_booking(), "guest")
    assert again is not None and again.reason is Reason.OTP_BLOCKED
    assert sandbox.call_count("PATCH") == 1  # no code is sent into the block


def test_a_400_with_3102_is_a_rejected_code_even_if_it_says_blocked(
    host: ReferenceHost, mapped: Any, sandbox: SaltoSandbox, make_booking: BookingFactory
) -> None:
    sandbox.inject(
        "PATCH", "/locking$", status=400, body={"ErrorCode": 3102, "Message": "otp blocked?"}
    )
    result = host.open(make_booking(), "guest")
    assert result is not None and result.reason is Reason.OTP_REJECTED


def test_a_wrong_id_is_404_with_2202_like_salto(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox, make_booking: BookingFactory
) -> None:
    lock = first_lock(sandbox)
    activate(host, park, sandbox, lock.iq.id)
    park.integrations[INTEGRATION]["mapping"] = {"chalet-12": lock.id}
    host.lock_options(park, INTEGRATION)
    with sandbox.world.lock:  # the lock leaves the site after the list was cached
        sandbox.site.locks.pop(lock.id)  # type: ignore[union-attr]
    result = host.open(make_booking(), "guest")
    assert result is not None and result.reason is Reason.LOCK_NOT_FOUND


def test_salto_blocks_after_three_failures_so_no_third_code_is_sent() -> None:
    """Salto blocked an IQ after three rejected codes once (docs: "OTP"): four wrong Set PIN
    tries send two codes, and the IQ is never blocked."""
    with SaltoSandbox(otp_block_after=3) as box:
        host = ReferenceHost(load_entrypoints=False)
        from tests.conftest import install, make_service

        install(host, make_service(environ=box.platform_env()))
        park = host.add_park(Park("p", "Europe/Amsterdam"))
        from tests.conftest import settings_for

        park.integrations[INTEGRATION] = settings_for(box)
        iq = first_lock(box).iq.id
        assert host.admin(park, INTEGRATION, "get_pin", iq_id=iq).ok
        wrong = box.wrong_pin(iq)
        messages = [
            host.admin(park, INTEGRATION, "set_pin", iq_id=iq, current_pin=wrong).message
            for _ in range(4)
        ]
        assert "rejected the code" in messages[0] and "until" in messages[1]
        assert all("Nothing was sent" in message and "until" in message for message in messages[2:])
        assert box.call_count("PUT") == 2  # the third would have got the IQ blocked
        user = box.world.users[box.username]
        assert not box.world.activation(user, iq).blocked_until


# -- the IQ's own state -------------------------------------------------------------------


def test_a_reset_iq_fails_before_any_code_is_sent(
    host: ReferenceHost, mapped: Any, sandbox: SaltoSandbox, make_booking: BookingFactory
) -> None:
    sandbox.site.iqs[mapped.iq.id].restore_required = True  # type: ignore[union-attr]
    [info] = host.change_status(make_booking(status="option"), "confirmed")
    assert info.allowed and info.warnings == [Reason.IQ_NOT_ACTIVATED]
    seen = len(sandbox.world.otps_seen)
    result = host.open(make_booking(), "guest")
    assert result is not None and result.reason is Reason.IQ_NOT_ACTIVATED
    assert "restore_required" in result.message and "GET PIN" in result.message
    assert sandbox.call_count("PATCH") == 0 and len(sandbox.world.otps_seen) == seen


def test_an_iq_without_otp_opens_without_a_code(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox, make_booking: BookingFactory
) -> None:
    lock = first_lock(sandbox)
    lock.iq.otp_enabled = False  # not activated, and it needs no activation
    park.integrations[INTEGRATION]["mapping"] = {"chalet-12": lock.id}
    [info] = host.change_status(make_booking(status="option"), "confirmed")
    assert info.warnings == []
    result = host.open(make_booking(), "guest")
    assert result is not None and result.reason is Reason.OPENED
    assert sandbox.world.otps_seen == [] and sandbox.entries()[-1]["lock_id"] == lock.id


# -- PIN changes ------------------------------------------------------------------------------


def test_a_pin_change_is_refused_unless_an_expert_asks(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    lock = first_lock(sandbox)
    assert host.admin(park, INTEGRATION, "get_pin", iq_id=lock.iq.id).ok
    old = sandbox.last_pin(lock.iq.id)
    new = "2468" if old != "2468" else "1357"
    result = host.admin(
        park, INTEGRATION, "set_pin", iq_id=lock.iq.id, current_pin=old, new_pin=new
    )
    assert not result.ok and result.data["reason"] == "pin_change_refused"
    assert "Nothing was sent" in result.message and sandbox.call_count("PUT") == 0
    assert park.integrations[INTEGRATION]["iqs"][lock.iq.id].get("pin") is None


@pytest.mark.parametrize("applies", [True, False])
def test_an_expert_pin_change_is_never_called_confirmed(
    host: ReferenceHost,
    park: Park,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
    applies: bool,
) -> None:
    """``applies`` False is the field report: Salto's cloud took the change, the IQ kept
    its PIN. A PUT pin check would pass in exactly that state, so none is sent: the answer
    says the change is unverified and asks for a real open, which tells."""
    sandbox.world.pin_changes_apply = applies
    lock = first_lock(sandbox)
    assert host.admin(park, INTEGRATION, "get_pin", iq_id=lock.iq.id).ok
    old = sandbox.last_pin(lock.iq.id)
    new = sandbox.wrong_pin(lock.iq.id)  # its codes never pass for the old PIN's by chance
    result = host.admin(
        park, INTEGRATION, "set_pin", iq_id=lock.iq.id, current_pin=old, new_pin=new, expert=True
    )
    assert result.ok and result.data["pin_changed"] and result.data["verified"] is False
    assert "confirmed" not in result.message and "cannot be verified" in result.message
    assert "real open" in result.message
    assert sandbox.call_count("PUT") == 1  # the change only, no "check" after it
    assert park.integrations[INTEGRATION]["iqs"][lock.iq.id]["pin"] == new
    park.integrations[INTEGRATION]["mapping"] = {"chalet-12": lock.id}
    opened = host.open(make_booking(), "staff")
    assert opened is not None
    assert opened.reason is (Reason.OPENED if applies else Reason.OTP_REJECTED)


# -- client authentication and side effects -----------------------------------------------


def test_a_client_secret_with_reserved_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    box = SaltoSandbox()
    box.client_secret = "a+b%2Fc:d e&f="  # form-urlencoded before Base64 (RFC 6749)
    with box:
        from tests.conftest import install, make_service, settings_for

        host = ReferenceHost(load_entrypoints=False)
        install(host, make_service(environ=box.platform_env()))
        park = host.add_park(Park("p", "Europe/Amsterdam", {INTEGRATION: settings_for(box)}))
        result = host.admin(park, INTEGRATION, "test_connection")
        assert result.ok, result.message


@pytest.mark.parametrize("fault", [{"status": 503}, {"reset": True}])
def test_get_pin_is_not_resent_after_it_may_have_reached_salto(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox, fault: dict[str, Any]
) -> None:
    iq = first_lock(sandbox).iq.id
    host.lock_options(park, INTEGRATION)
    sandbox.inject("GET", "/pin$", **fault)
    result = host.admin(park, INTEGRATION, "get_pin", iq_id=iq)
    assert not result.ok
    assert sandbox.call_count(f"GET /v1.2/sites/{sandbox.site.id}/iqs/{iq}/pin") == 1  # type: ignore[union-attr]
    assert park.integrations[INTEGRATION]["iqs"][iq]["secret"]  # kept: Salto gave it out


# -- requests like the clients that work (docs/salto-ks-api.md, "Paging") -----------------


def test_every_connect_api_call_sends_the_odata_header(
    host: ReferenceHost, mapped: Any, sandbox: SaltoSandbox, make_booking: BookingFactory
) -> None:
    import requests

    assert host.open(make_booking(), "guest").opened  # type: ignore[union-attr]
    host.admin(host.parks["zandloper"], INTEGRATION, "refresh_locks")
    assert sandbox.call_count("GET") >= 4 and sandbox.without_odata_header == []
    assert sandbox.without_accept_json == []  # every Connect call asks for JSON
    requests.get(f"{sandbox.api_url}/v1.2/sites", timeout=5)  # the check itself works
    assert sandbox.without_odata_header == ["GET /v1.2/sites"]


def gateway_of(host: ReferenceHost) -> Any:
    from ireserve_salto_plugin.plugin import SaltoKsPlugin

    plugin = host.pm.get_plugin(INTEGRATION)
    assert isinstance(plugin, SaltoKsPlugin)
    return plugin.service.context(host.parks["zandloper"]).gateway(30)


def test_entries_are_paged_by_continuation_token(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    site = sandbox.site
    assert site is not None
    lock = first_lock(sandbox)
    with sandbox.world.lock:
        for n in range(250):
            site.entries.append(
                {
                    "id": f"e{n:03d}",
                    "utc_date_time": f"2026-11-{1 + n // 24:02d}T{n % 24:02d}:00:00Z",
                    "event_category": "lock_opened",
                    "access_by": "remote",
                    "lock": {"id": lock.id, "customer_reference": lock.name},
                }
            )
    entries = gateway_of(host).entries(site.id, top=250)
    assert [e["id"] for e in entries] == [f"e{n:03d}" for n in reversed(range(250))]
    assert sandbox.call_count(f"GET /v1.1/sites/{site.id}/entries") == 3
    assert len(sandbox.continuations) == 2  # two tokens handed out, both sent back
    assert [e["id"] for e in gateway_of(host).entries(site.id, top=5)] == [
        "e249",
        "e248",
        "e247",
        "e246",
        "e245",
    ]


def test_salto_s_own_view_of_the_activation(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    assert sandbox.site is not None
    iq = first_lock(sandbox).iq.id
    gateway = gateway_of(host)
    assert gateway.activated_iqs(sandbox.site.id) == []
    assert host.admin(park, INTEGRATION, "get_pin", iq_id=iq).ok
    [pending] = gateway.activated_iqs(sandbox.site.id)
    assert pending.iq_id == iq and not pending.activated and pending.activation_date is None
    activate(host, park, sandbox, iq)
    [done] = gateway.activated_iqs(sandbox.site.id)
    assert done.activated and done.activation_date
