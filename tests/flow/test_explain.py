"""The explainer agrees with on_open_request, case by case, and sends nothing; readiness
judges many bookings with one lock-list read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.models import Explanation, Readiness, Reason, StepState
from ireserve_salto_plugin.reference import Booking, Park, ReferenceHost
from ireserve_salto_plugin.sandbox import SaltoSandbox

BookingFactory = Callable[..., Booking]


def explain(host: ReferenceHost, booking: Booking, now: datetime | None = None) -> Explanation:
    result = host.pm.hook.explain_access(park=host.park_of(booking), booking=booking, now=now)
    assert isinstance(result, Explanation)
    return result


def disable(park: Park, sandbox: SaltoSandbox, lock: Any, host: ReferenceHost) -> None:
    park.integrations[INTEGRATION]["enabled"] = False


def iq_offline(park: Park, sandbox: SaltoSandbox, lock: Any, host: ReferenceHost) -> None:
    sandbox.set_iq_online(lock.iq.id, False)


def lock_offline(park: Park, sandbox: SaltoSandbox, lock: Any, host: ReferenceHost) -> None:
    sandbox.set_lock_online(lock.id, False)


def reset_iq(park: Park, sandbox: SaltoSandbox, lock: Any, host: ReferenceHost) -> None:
    lock.iq.restore_required = True


def unmap(park: Park, sandbox: SaltoSandbox, lock: Any, host: ReferenceHost) -> None:
    park.integrations[INTEGRATION]["mapping"] = {}


def forget_iq(park: Park, sandbox: SaltoSandbox, lock: Any, host: ReferenceHost) -> None:
    park.integrations[INTEGRATION]["iqs"] = {}


def blocked(park: Park, sandbox: SaltoSandbox, lock: Any, host: ReferenceHost) -> None:
    plugin: Any = host.pm.get_plugin(INTEGRATION)
    plugin.service.budget.blocked(plugin.service.context(park).account.key, lock.iq.id)


def gone(park: Park, sandbox: SaltoSandbox, lock: Any, host: ReferenceHost) -> None:
    park.integrations[INTEGRATION]["mapping"] = {
        "chalet-12": "00000000-0000-4000-8000-000000000000"
    }


def nothing(park: Park, sandbox: SaltoSandbox, lock: Any, host: ReferenceHost) -> None:
    pass


@pytest.mark.parametrize(
    "change,status,hours,expected",
    [
        (nothing, "confirmed", 0, Reason.OPENED),
        (nothing, "option", 0, Reason.STATUS_NOT_ALLOWED),
        (nothing, "confirmed", -5, Reason.TOO_EARLY),
        (nothing, "confirmed", 100, Reason.TOO_LATE),
        (disable, "confirmed", 0, Reason.INTEGRATION_INACTIVE),
        (unmap, "confirmed", 0, Reason.NO_LOCK_MAPPED),
        (gone, "confirmed", 0, Reason.LOCK_NOT_FOUND),
        (forget_iq, "confirmed", 0, Reason.IQ_NOT_ACTIVATED),
        (reset_iq, "confirmed", 0, Reason.IQ_NOT_ACTIVATED),
        (blocked, "confirmed", 0, Reason.OTP_BLOCKED),
        (iq_offline, "confirmed", 0, Reason.IQ_OFFLINE),
        (lock_offline, "confirmed", 0, Reason.LOCK_OFFLINE),
    ],
)
def test_the_explainer_agrees_with_an_open(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
    change: Any,
    status: str,
    hours: int,
    expected: Reason,
) -> None:
    change(park, sandbox, mapped, host)
    arrival = datetime.now(UTC) - timedelta(hours=1)
    now = arrival + timedelta(hours=hours)
    patches, otps = sandbox.call_count("PATCH"), len(sandbox.world.otps_seen)
    found = explain(host, make_booking(status=status, arrival=arrival), now)
    assert sandbox.call_count("PATCH") == patches and len(sandbox.world.otps_seen) == otps
    result = host.open(make_booking(status=status, arrival=arrival), "guest", now=now)
    assert result is not None
    assert found.verdict is expected and result.reason is expected
    first = next((s for s in found.steps if s.state is StepState.FAIL), None)
    assert (first is None) == (expected is Reason.OPENED)
    if first is not None:
        assert first.reason is expected and found.message == first.message


def test_the_checklist_shows_every_step(
    host: ReferenceHost, mapped: Any, make_booking: BookingFactory
) -> None:
    found = explain(host, make_booking())
    assert [s.step for s in found.steps] == [
        "settings",
        "enabled",
        "lock_mapped",
        "lock_exists",
        "iq_activated",
        "status",
        "window",
        "otp_budget",
        "iq_online",
        "lock_online",
        "clock",
    ]
    assert all(s.state is StepState.OK for s in found.steps)
    assert found.to_dict()["steps"][0] == {
        "step": "settings",
        "state": "ok",
        "message": "The park's settings are valid.",
        "reason": "settings_invalid",
    }


def test_salto_away_leaves_its_steps_unknown(
    host: ReferenceHost,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
    use_service: Any,
) -> None:
    use_service()  # cold: the lock list must be read
    sandbox.stop()
    found = explain(host, make_booking())
    assert found.verdict is Reason.SALTO_UNAVAILABLE
    states = {s.step: s.state for s in found.steps}
    assert states["window"] is StepState.OK and states["salto"] is StepState.FAIL
    assert states["iq_online"] is StepState.UNKNOWN
    # one language: no English of Salto's or request path inside the staff's sentence
    park = next(iter(host.parks.values()))
    park.locale = "nl"
    said = {s.step: s.message for s in explain(host, make_booking()).steps}
    assert said["salto"] == "Salto KS is nu niet bereikbaar; probeer het zo opnieuw.", said
    # a step not checked says what stopped it
    assert said["iq_online"] == "niet gecontroleerd: Salto KS kon niet worden gevraagd"
    # no host code inside a sentence that needs none ("Status 'confirmed' staat openen toe")
    assert said["status"] == "De status van de boeking staat openen toe."
    assert "/v1.2" not in found.message and "could not reach" not in found.message


def test_readiness_sweeps_with_one_lock_list_read(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    bookings = [make_booking(arrival=tomorrow) for _ in range(30)]
    bookings += [
        make_booking(arrival=tomorrow, object_id="nowhere"),
        make_booking(arrival=tomorrow, status="option"),
    ]
    sandbox.reset_stats()
    report = host.pm.hook.readiness(park=park, bookings=bookings, now=None)
    assert isinstance(report, Readiness)
    assert report.summary == {"opened": 30, "no_lock_mapped": 1, "status_not_allowed": 1}
    assert sum(sandbox.calls.values()) <= 2  # the cached list; at most lock list + IQs
    assert sandbox.call_count("PATCH") == 0 and sandbox.call_count("PUT") == 0


def test_after_a_failed_open_the_explainer_shows_it_not_that_an_open_would_work(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    """Salto answered the open with a 503: the door may have opened. "An open now would
    be sent" must not stand under that; the last attempt is shown, with what to check."""
    park.locale = "nl"
    booking = make_booking()
    assert explain(host, booking).message.startswith("Nu openen zou lukken")
    sandbox.inject("PATCH", "/locking$", status=503)
    failed = host.open(booking, "guest")
    assert failed is not None and failed.reason is Reason.SALTO_UNAVAILABLE
    found = explain(host, booking)
    assert found.verdict is Reason.OPENED  # still what an open now would answer
    last = found.steps[-1]
    assert last.step == "last_attempt" and last.state is StepState.FAIL
    assert last.message.startswith("Laatste poging ") and " s geleden: " in last.message
    assert "De deur is mogelijk geopend" in last.message
    assert not found.message.startswith("Nu openen zou lukken") and found.message == last.message
    other = explain(host, make_booking())  # another booking: nothing of it
    assert other.steps[-1].step != "last_attempt"
