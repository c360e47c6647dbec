"""Readiness (the ``readiness`` admin hook): many bookings judged with one lock-list read, each
by the same checklist as the explainer (a sweep before an arrival day), within the sweep's
deadline. Sends nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.flow.checklist import Steps, checked_steps
from ireserve_salto_plugin.flow.context import ParkContext, Parks, raw_settings
from ireserve_salto_plugin.flow.decision import (
    BookingError,
    booking_doors,
    to_utc,
)
from ireserve_salto_plugin.flow.preflight import offline_reason
from ireserve_salto_plugin.models import (
    Booking,
    Park,
    Readiness,
    Reason,
    StepState,
)
from ireserve_salto_plugin.park.fields import SettingsError
from ireserve_salto_plugin.park.i18n import N_, host_language, translate
from ireserve_salto_plugin.park.text import host_text
from ireserve_salto_plugin.salto.clock import Clock
from ireserve_salto_plugin.salto.errors import SaltoError
from ireserve_salto_plugin.salto.gateway import SaltoGateway
from ireserve_salto_plugin.store.guards import OtpBudget

MAX_SWEEP = 5000  # bookings in one readiness call


def readiness(
    parks: Parks,
    budget: OtpBudget,
    clock: Clock,
    park: Park,
    bookings: Iterable[Booking],
    now: datetime | None,
) -> Readiness | None:
    """Each booking's verdict at its arrival (``now`` for bookings already arrived), with
    one lock-list read for the whole sweep; no fresh lock reads, no OTP, no open."""
    raw = raw_settings(park)
    if raw is None:
        return None
    rows: list[dict[str, Any]] = []
    error = ""
    try:
        ctx: ParkContext | None = parks.context(park, raw)
        _ = ctx.zone if ctx is not None else None
        gateway = ctx.gateway(parks.tuning.options_deadline) if ctx is not None else None
    except SettingsError as exc:
        ctx, gateway, error = None, None, str(exc)
    # Every read of the store and of Salto counts against the sweep's deadline; once the
    # store has failed, the other bookings are not asked of it again (a Redis that does
    # not answer costs a second a read: 5,000 bookings would take over an hour).
    deadline = clock.monotonic() + parks.tuning.options_deadline
    gave_up: tuple[Reason, str] | None = None
    for n, booking in enumerate(bookings):
        if n >= MAX_SWEEP:
            break
        row: dict[str, Any] = {"booking_id": host_text(getattr(booking, "id", None))}
        if ctx is None or gateway is None:
            row.update(verdict=Reason.SETTINGS_INVALID.value, message=f"Settings: {error}")
            rows.append(row)
            continue
        if gave_up is None and clock.monotonic() > deadline:
            gave_up = (
                Reason.TIMEOUT,
                translate(N_("Not judged: the sweep ran out of time."), host_language(park)),
            )
        if gave_up is not None:
            row.update(verdict=gave_up[0].value, message=gave_up[1])
        else:
            found = checked_steps(
                ctx,
                gateway,
                budget,
                Steps(host_language(park)),
                booking,
                _judged_at(booking, now, ctx, clock),
                confirm_offline=False,
            )
            row.update(
                verdict=found.verdict.value,
                message=found.message,
                lock_id=found.lock_id,
                opens_at=found.opens_at.isoformat() if found.opens_at else None,
                flags=_door_flags(ctx, gateway, booking),
            )
            store = next(
                (
                    step
                    for step in found.steps
                    if step.state is StepState.FAIL and step.reason is Reason.STORE_UNAVAILABLE
                ),
                None,
            )
            if store is not None:
                gave_up = (Reason.STORE_UNAVAILABLE, store.message)
        rows.append(row)
    return Readiness(INTEGRATION, rows, dict(Counter(row["verdict"] for row in rows)))


def _door_flags(ctx: ParkContext, gateway: SaltoGateway, booking: Booking) -> list[dict[str, str]]:
    """What reception should fix before the guest arrives, on any of the booking's doors
    (from the sweep's cached lock list): a critical battery, a lock or IQ offline."""
    object_id = getattr(booking, "object_id", None)
    if not isinstance(object_id, str):
        return []
    try:
        locks = gateway.locks(ctx.site_id(gateway))
    except SaltoError:
        return []
    flags = []
    for lock_id, _ in booking_doors(ctx.settings.own_locks(object_id), ctx.settings.common_locks):
        lock = locks.get(lock_id)
        if lock is None:
            continue
        offline = offline_reason(lock)
        for code in (
            "lock_battery_critical" if lock.battery == "critical" else None,
            offline.value if offline is not None else None,
        ):
            if code is not None:
                flags.append({"code": code, "lock_id": lock.id, "name": lock.name})
    return flags


def _judged_at(booking: Booking, now: datetime | None, ctx: ParkContext, clock: Clock) -> datetime:
    """A booking is judged at its arrival, or at ``now`` (the current time when ``None``,
    as every hook takes it) once it has arrived: a booking that left is ``too_late``."""
    instant = clock.utcnow() if now is None else now
    try:
        current = to_utc(instant, ctx.zone, "now")
        arrival = to_utc(getattr(booking, "arrival", None), ctx.zone, "arrival")
    except BookingError:
        return instant  # the explainer names what is wrong with the booking
    return current if current > arrival else arrival
