"""Property-based: random and hostile settings, parks and bookings never make a hook raise
(except the documented ValidationError from config_schema().load), always give a documented
result, and never mutate the host's objects."""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.flow.service import SaltoKsService
from ireserve_salto_plugin.models import (
    DENIED_REASONS,
    AccessInfo,
    AdminResult,
    Explanation,
    OpenResult,
    Outcome,
    Readiness,
    Reason,
)
from ireserve_salto_plugin.park.settings import Settings, SettingsSchema
from ireserve_salto_plugin.plugin import SaltoKsPlugin
from ireserve_salto_plugin.salto.config import Tuning
from ireserve_salto_plugin.salto.session import make_session
from ireserve_salto_plugin.store.memory import MemoryStore
from tests.conftest import NO_SLEEP

LOCK = "4f806a16-03bb-5ae5-817a-8ddf906cb255"
IQ = "5fc75b2e-95d8-55a7-95f3-2faedc4d26f3"
BASE: dict[str, Any] = {
    "environment": "acceptance",
    "username": "service@park.example",
    "password": "pw-123456",
    "site_uid": "NL6254340082",
    "site_id": "4c791cba-dfb3-562e-9016-d9c13bbbacdf",
    "open_statuses": ["confirmed"],
    "minutes_before": 60,
    "mapping": {"chalet": LOCK},
    "iqs": {IQ: {"secret": "0123456789ABCDEF", "pin": "1234"}},
}
KEYS = [*SettingsSchema().fields]

huge = st.builds(lambda c, n: c * n, st.characters(), st.integers(1000, 20_000))
text = st.text(max_size=40) | huge | st.sampled_from(["confirmed", "chalet", "", "\x00", "é🔒"])
junk: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
instants = (
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
    | st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()
    )
    | st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
    )
)
raw_settings = st.one_of(
    junk,
    st.dictionaries(st.sampled_from(KEYS) | text, junk, max_size=6).map(
        lambda extra: {**BASE, **extra}
    ),
    st.just(BASE),
)


@dataclass
class HostilePark:
    id: Any
    timezone: Any
    integrations: Any


@dataclass
class HostileBooking:
    id: Any
    object_id: Any
    status: Any
    arrival: Any
    departure: Any
    fields: dict[str, Any] = field(default_factory=dict)


parks = st.builds(
    HostilePark,
    id=text | st.integers(),
    timezone=st.sampled_from(
        ["Europe/Amsterdam", "Pacific/Kiritimati", "UTC", "Nowhere/City", "", "../../etc/passwd"]
    )
    | junk,
    integrations=st.builds(lambda raw: {INTEGRATION: raw}, raw_settings) | junk,
)
bookings = st.builds(
    HostileBooking,
    id=text | st.integers(),
    object_id=st.sampled_from(["chalet", "tent"]) | junk,
    status=st.sampled_from(["confirmed", "option"]) | junk,
    arrival=instants | junk,
    departure=instants | junk,
    fields=st.dictionaries(text, junk, max_size=3),
)

plugin = SaltoKsPlugin(
    SaltoKsService(
        session=make_session(),
        store=MemoryStore(),
        environ={
            "SALTO_KS_ACCEPTANCE_CLIENT_ID": "id",
            "SALTO_KS_ACCEPTANCE_CLIENT_SECRET": "secret",
            # nothing listens: Salto is "down", fast
            "SALTO_KS_ACCEPTANCE_API_URL": "http://127.0.0.1:9",
            "SALTO_KS_ACCEPTANCE_IDENTITY_URL": "http://127.0.0.1:9",
        },
        clock=NO_SLEEP,
        tuning=Tuning(connect_timeout=0.5, read_timeout=0.5),
    )
)
# Locally every run explores new examples (pytest-randomly seeds hypothesis per run: 30
# runs in a row found the zone-message bug below); under CI the examples are fixed, so a
# rare new counterexample shows up on a developer's machine, not as a red landing.
FAST = settings(
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=bool(os.environ.get("CI")),
)


def snapshot(*objects: Any) -> list[Any]:
    return [copy.deepcopy(vars(obj)) for obj in objects]


@FAST
@given(raw=raw_settings)
def test_config_schema_load_gives_settings_or_field_errors(raw: Any) -> None:
    try:
        result = SettingsSchema().load(raw)
    except ValidationError as exc:
        assert isinstance(exc.messages, dict) and exc.messages
        assert all(isinstance(key, str) for key in exc.messages)
    else:
        assert isinstance(result, Settings)


@FAST
@given(park=parks, booking=bookings, new_status=text | junk)
def test_on_booking_status_never_raises(
    park: HostilePark, booking: HostileBooking, new_status: Any
) -> None:
    before = snapshot(park, booking)
    info = plugin.on_booking_status(
        park=park, booking=booking, old_status=None, new_status=new_status
    )
    assert snapshot(park, booking) == before
    if info is not None:
        assert isinstance(info, AccessInfo)
        assert all(w in Reason._value2member_map_ for w in info.warnings)
        # allowed says one thing: valid settings, enabled, and an opening status
        if info.allowed:
            raw = park.integrations[INTEGRATION]
            assert Reason.SETTINGS_INVALID not in info.warnings
            assert raw.get("enabled", True) is True
            assert new_status in [*raw["open_statuses"], raw.get("checkin_status")]


@FAST
@given(park=parks, booking=bookings, requested_by=text | junk, now=st.none() | instants | junk)
def test_on_open_request_always_documented(
    park: HostilePark, booking: HostileBooking, requested_by: Any, now: Any
) -> None:
    before = snapshot(park, booking)
    result = plugin.on_open_request(park=park, booking=booking, requested_by=requested_by, now=now)
    assert snapshot(park, booking) == before
    if result is None:
        return
    assert isinstance(result, OpenResult)
    assert result.reason is not Reason.INTERNAL_ERROR, result.message
    assert result.reason is not Reason.OPENED  # nothing listens on port 9
    expected = Outcome.DENIED if result.reason in DENIED_REASONS else Outcome.FAILED
    assert result.outcome is expected
    assert "Traceback" not in result.message and len(result.message) < 600


@FAST
@given(
    park=parks,
    action=st.sampled_from(
        ["test_connection", "get_pin", "set_pin", "resolve_site", "refresh_locks"]
    )
    | junk,
    params=st.dictionaries(
        st.sampled_from(["iq_id", "current_pin", "new_pin"]) | text, junk, max_size=3
    )
    | junk,
)
def test_on_admin_action_never_raises(park: HostilePark, action: Any, params: Any) -> None:
    before = snapshot(park)
    result = plugin.on_admin_action(
        integration=INTEGRATION, park=park, action=action, params=params
    )
    assert snapshot(park) == before
    assert result is None or (isinstance(result, AdminResult) and isinstance(result.message, str))
    if result is not None:
        assert result.data.get("reason") != Reason.INTERNAL_ERROR.value, result.message


def test_window_on_valid_bookings_is_ordered() -> None:
    park = HostilePark("p", "Europe/Amsterdam", {INTEGRATION: BASE})
    start = datetime(2026, 3, 29, 1, 30)
    info = plugin.on_booking_status(
        park=park,
        booking=HostileBooking("b", "chalet", "option", start, start + timedelta(days=1)),
        old_status=None,
        new_status="option",
    )
    assert info is not None and info.opens_at is not None and info.closes_at is not None
    assert info.opens_at < info.closes_at


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
@pytest.mark.parametrize(
    "value,reason",
    [(datetime(1, 1, 1), Reason.TOO_LATE), (datetime(9999, 12, 31, 23, 59), Reason.TOO_EARLY)],
)
def test_the_edges_of_the_calendar(zone: str, value: datetime, reason: Reason) -> None:
    park = HostilePark("p", zone, {INTEGRATION: BASE})
    result = plugin.on_open_request(
        park=park,
        booking=HostileBooking("b", "chalet", "confirmed", value, value),
        requested_by="x",
        now=None,
    )
    assert result is not None and result.reason in (reason, Reason.BOOKING_INVALID)


@FAST
@given(park=parks, booking=bookings, now=st.none() | instants | junk)
def test_explain_access_never_raises(park: HostilePark, booking: HostileBooking, now: Any) -> None:
    before = snapshot(park, booking)
    found = plugin.explain_access(park=park, booking=booking, now=now)
    assert snapshot(park, booking) == before
    if found is not None:
        assert isinstance(found, Explanation) and isinstance(found.verdict, Reason)
        assert found.steps and json.dumps(found.to_dict())


@FAST
@given(park=parks, bookings=st.lists(bookings, max_size=4) | junk, now=st.none() | instants | junk)
def test_readiness_never_raises(park: HostilePark, bookings: Any, now: Any) -> None:
    report = plugin.readiness(park=park, bookings=bookings, now=now)
    if report is not None:
        assert isinstance(report, Readiness)
        assert sum(report.summary.values()) == len(report.bookings)


def test_a_huge_unknown_zone_gives_a_short_message() -> None:
    """Found by the 30-run loop: 1,000 astral characters as ``park.timezone`` were echoed
    escaped (10 characters each) into a 690-character message."""
    park = HostilePark("", "\U0002ebe1" * 1000, {INTEGRATION: dict(BASE)})
    booking = HostileBooking(0, "tent", "confirmed", None, None, {})
    result = plugin.on_open_request(park=park, booking=booking, requested_by="", now=None)
    assert result is not None and result.reason is Reason.SETTINGS_INVALID
    assert len(result.message) < 300 and "IANA" in result.message
