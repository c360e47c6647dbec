"""The support desk's actions on the sandbox: status, the IQ list, the self-test, receipts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.reference import Booking, Park, ReferenceHost
from ireserve_salto_plugin.sandbox import SaltoSandbox
from tests.conftest import first_lock

BookingFactory = Callable[..., Booking]


def test_list_iqs_names_them_and_says_who_is_activated(
    host: ReferenceHost, park: Park, mapped: Any
) -> None:
    result = host.admin(park, INTEGRATION, "list_iqs")
    assert result.ok and len(result.data["iqs"]) == 3
    chalet_iq = next(iq for iq in result.data["iqs"] if iq["id"] == mapped.iq.id)
    assert chalet_iq["name"] == mapped.iq.name
    assert chalet_iq["activated"] and chalet_iq["salto_activated"]
    assert sum(iq["activated"] for iq in result.data["iqs"]) == 1


def test_status_reports_the_park(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    assert host.open(make_booking(), "guest").opened  # type: ignore[union-attr]
    sandbox.inject("PATCH", "/locking$", status=503)
    host.open(make_booking(), "guest")
    sandbox.set_lock_online(mapped.id, False)
    result = host.admin(park, INTEGRATION, "status")
    assert result.ok and result.data["authenticated"]
    iq = next(row for row in result.data["iqs"] if row["id"] == mapped.iq.id)
    assert iq["locks_offline"] == 1 and iq["locks_online"] == 11
    assert iq["budget"] == {"state": "ok"} and iq["activated"] and iq["salto_activated"]
    others = [row for row in result.data["iqs"] if row["id"] != mapped.iq.id]
    assert all("note" not in row for row in others)  # activated nowhere: nothing disagrees
    assert result.data["last_success"]["reason"] == "opened"
    assert result.data["last_failure"]["reason"] == "salto_unavailable"
    assert "to look at" in result.message and abs(result.data["clock_offset"]) < 2


def test_status_notes_when_salto_and_the_settings_disagree(
    host: ReferenceHost, park: Park, mapped: Any
) -> None:
    park.integrations[INTEGRATION]["iqs"] = {}  # activated at Salto, forgotten here
    result = host.admin(park, INTEGRATION, "status")
    iq = next(row for row in result.data["iqs"] if row["id"] == mapped.iq.id)
    assert iq["salto_activated"] and not iq["activated"]
    codes = [finding["code"] for finding in result.data["findings"]]
    assert codes == ["account_used_in_app", "iq_not_activated"]
    assert "dedicated service account" in result.message


def test_self_test_proves_secret_pin_and_clock_without_opening(
    host: ReferenceHost, park: Park, mapped: Any, sandbox: SaltoSandbox
) -> None:
    result = host.admin(park, INTEGRATION, "self_test", iq_id=mapped.iq.id)
    assert result.ok and result.data["checked"] == ["secret", "pin", "clock"]
    assert result.data["checked_by"] == "salto_cloud" and result.data["iq_asked"] is False
    assert "not sufficient" in result.message and "proves the activation" not in result.message
    assert sandbox.call_count("PATCH") == 0 and sandbox.call_count("PUT") == 2  # Set PIN, test
    park.integrations[INTEGRATION]["iqs"][mapped.iq.id]["pin"] = sandbox.wrong_pin(mapped.iq.id)
    first = host.admin(park, INTEGRATION, "self_test", iq_id=mapped.iq.id)
    second = host.admin(park, INTEGRATION, "self_test", iq_id=mapped.iq.id)
    assert not first.ok and "rejected" in first.message and "until" in second.message
    third = host.admin(park, INTEGRATION, "self_test", iq_id=mapped.iq.id)
    assert third.message.startswith("Nothing was sent") and sandbox.call_count("PUT") == 4


def test_self_test_needs_an_activated_iq(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    result = host.admin(park, INTEGRATION, "self_test", iq_id=first_lock(sandbox).iq.id)
    assert not result.ok and "GET PIN" in result.message


def test_an_open_is_confirmed_from_salto_s_log(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    opened = host.open(make_booking(), "guest")
    assert opened is not None and opened.opened
    result = host.admin(park, INTEGRATION, "confirm_open", attempt_id=opened.attempt_id)
    assert result.ok and result.data["receipt"] == "confirmed"
    assert result.data["entry"]["lock_id"] == mapped.id
    # when Salto logged it: in the park's zone with seconds, not Salto's raw UTC text
    import re

    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (CET|CEST)", result.message)
    assert result.data["entry"]["utc_date_time"] not in result.message
    by_time = host.admin(
        park, INTEGRATION, "confirm_open", lock_id=mapped.id, time=datetime.now(UTC).isoformat()
    )
    assert by_time.data["receipt"] == "confirmed"
    earlier = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    missing = host.admin(park, INTEGRATION, "confirm_open", lock_id=mapped.id, time=earlier)
    assert not missing.ok and missing.data["receipt"] == "missing"
    assert sandbox.site is not None
    other = next(lock for lock in sandbox.site.locks.values() if lock.id != mapped.id)
    soon = host.admin(
        park, INTEGRATION, "confirm_open", lock_id=other.id, time=datetime.now(UTC).isoformat()
    )
    assert soon.ok and soon.data["receipt"] == "not_yet"
    unknown = host.admin(park, INTEGRATION, "confirm_open", attempt_id="f" * 32)
    assert not unknown.ok and "No open with that attempt id" in unknown.message


def test_recent_opens(
    host: ReferenceHost, park: Park, mapped: Any, make_booking: BookingFactory
) -> None:
    for _ in range(3):
        assert host.open(make_booking(), "guest").opened  # type: ignore[union-attr]
    result = host.admin(park, INTEGRATION, "recent_opens", lock_id=mapped.id, count=2)
    assert result.ok and len(result.data["entries"]) == 2
    assert all(e["lock_id"] == mapped.id for e in result.data["entries"])


def busy_log(sandbox: SaltoSandbox, count: int, *, after: Any = None) -> None:
    """``count`` newer entries of other doors (guests with tags), each a second apart."""
    assert sandbox.site is not None
    user = sandbox.world.users[sandbox.username]
    others = [lock for lock in sandbox.site.locks.values() if lock is not after]
    start = sandbox.now()
    for n in range(count):
        sandbox.world.record_remote_entry(
            sandbox.site,
            others[n % len(others)],
            user,
            "unlocked",
            start + timedelta(seconds=n + 1),
        )


def test_an_open_on_a_busy_site_is_confirmed_from_further_back_in_the_log(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    """150 newer events hid the open ("not in Salto's log yet" for an open that is there):
    the log is read back, page by page, to the open's time."""
    opened = host.open(make_booking(), "guest")
    assert opened is not None and opened.opened
    busy_log(sandbox, 150, after=mapped)
    result = host.admin(park, INTEGRATION, "confirm_open", attempt_id=opened.attempt_id)
    assert result.ok and result.data["receipt"] == "confirmed", result.message
    assert sandbox.site is not None  # two pages of 100 reached the open
    assert sandbox.call_count(f"GET /v1.1/sites/{sandbox.site.id}/entries") == 2


def test_a_log_too_long_to_read_back_is_named_not_called_missing(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    opened = host.open(make_booking(), "guest")
    assert opened is not None and opened.opened
    busy_log(sandbox, 1050, after=mapped)
    result = host.admin(park, INTEGRATION, "confirm_open", attempt_id=opened.attempt_id)
    assert not result.ok and result.data["receipt"] == "not_reached"
    assert result.data["entries_read"] == 1000 and "1000" in result.message


def test_receipts_carry_salto_s_time_so_recent_opens_names_who_asked(
    sandbox: SaltoSandbox, request: pytest.FixtureRequest
) -> None:
    """With Salto's clock 30 s ahead of this server's, the receipt (written at our time)
    and Salto's entry were 30 s apart and the open lost its requester."""
    sandbox.clock_offset = 30.0  # from the first answer on, as a real Salto's would be
    host: ReferenceHost = request.getfixturevalue("host")
    park: Park = request.getfixturevalue("park")
    mapped: Any = request.getfixturevalue("mapped")
    make_booking: BookingFactory = request.getfixturevalue("make_booking")
    opened = host.open(make_booking(), "guest:jan")
    assert opened is not None and opened.opened
    [entry] = host.admin(park, INTEGRATION, "recent_opens", lock_id=mapped.id, count=1).data[
        "entries"
    ]
    assert entry["requested_by"] == "guest:jan" and entry["attempt_id"] == opened.attempt_id
    confirmed = host.admin(park, INTEGRATION, "confirm_open", attempt_id=opened.attempt_id)
    assert confirmed.data["receipt"] == "confirmed"
