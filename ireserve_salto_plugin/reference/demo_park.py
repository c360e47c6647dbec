"""The demo's holiday park: a sandbox park of chalets and common doors, for the part of the
demo that shows an object's several locks, common doors and staff opens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.reference.demo_steps import PARK_ZONE, Steps
from ireserve_salto_plugin.reference.host import Booking, Park, ReferenceHost
from ireserve_salto_plugin.sandbox.server import SaltoSandbox


def _holiday_park(
    out: Steps, sandbox: SaltoSandbox, host: ReferenceHost, park: Park, chalet: Any
) -> None:
    """A stay needs more than the chalet's door: the barrier for every guest, a grace after
    departure, and reception opening a door for housekeeping."""
    assert sandbox.site is not None
    named = {lock.name: lock for lock in sandbox.site.locks.values() if lock.iq.id == chalet.iq.id}
    pool, storeroom = named["Swimming pool"], named["Bike shed"]
    host.save_settings(
        park,
        INTEGRATION,
        {
            **park.integrations[INTEGRATION],
            "common_locks": {pool.id: "Zwembad"},
            "minutes_after": 30,
        },
    )
    zone = ZoneInfo(PARK_ZONE)
    now = sandbox.clock.utcnow()
    stay = host.add_booking(
        Booking(
            id="B-1002",
            object_id="chalet-12",
            status="confirmed",
            arrival=now - timedelta(days=3),
            departure=now + timedelta(hours=2),
        )
    )

    out.step("Common door: access_doors for booking B-1002 (the chalet and the pool)")
    doors = host.doors(stay)
    for door in doors:
        out.say(f"{door.kind.value:6} {door.name:12} {door.lock_id}  verdict {door.verdict.value}")
    out.check(
        [d.name for d in doors] == ["Chalet 12", "Zwembad"]
        and all(d.verdict.value == "opened" for d in doors),
        "the booking may open both doors now",
    )

    out.step("The guest opens the pool (on_open_door)")
    gate = host.open(stay, "guest:B-1002", lock_id=pool.id)
    assert gate is not None
    out.say(f"{gate.outcome.value}/{gate.reason.value}: {gate.message}")
    out.check(
        gate.opened and not gate.booking_updates and stay.status == "confirmed",
        "the pool opened; the booking is not checked in by a common door",
    )

    left = now - timedelta(minutes=20)
    back = host.add_booking(
        Booking(
            id="B-1003",
            object_id="chalet-12",
            status="confirmed",
            arrival=left - timedelta(days=4),
            departure=left,
        )
    )
    out.step(
        f"A grace after departure (minutes_after 30): B-1003 left at "
        f"{left.astimezone(zone):%H:%M} and is back for a forgotten charger"
    )
    charger = host.open(back, "guest:B-1003")
    assert charger is not None
    out.say(f"{charger.outcome.value}/{charger.reason.value}: {charger.guest_message}")
    out.check(charger.opened, "opened inside the grace")

    out.step(f"Staff open: reception opens '{storeroom.name}' for housekeeping (staff_open)")
    staff = host.admin(
        park,
        INTEGRATION,
        "staff_open",
        lock_id=storeroom.id,
        reason="housekeeping",
        requested_by="staff:anna",
    )
    out.say(staff.message)
    out.check(
        staff.ok and sandbox.entries()[-1]["lock_id"] == storeroom.id,
        "opened without a booking, logged as a staff open with its reason",
    )
