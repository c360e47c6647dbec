"""Why a guest can or cannot open (``explain_access``), and the booking's doors
(``access_doors``). Neither sends an OTP or an open command; many bookings at once are
:mod:`.readiness`.

The steps are the open's own checklist in its own order (:mod:`.checklist`), so the verdict
is what ``on_open_request`` would answer. ``explain_access`` reads the lock fresh from Salto
(one GET), so it agrees with an open made a moment ago.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from ireserve_salto_plugin.flow.checklist import Steps, checked_steps, finish
from ireserve_salto_plugin.flow.context import ParkContext, Parks, raw_settings
from ireserve_salto_plugin.flow.decision import (
    BookingError,
    booking_doors,
    read_booking,
)
from ireserve_salto_plugin.models import (
    Booking,
    Door,
    DoorKind,
    Explanation,
    Park,
    Reason,
)
from ireserve_salto_plugin.park.fields import SettingsError
from ireserve_salto_plugin.park.i18n import N_, host_language
from ireserve_salto_plugin.salto.clock import Clock
from ireserve_salto_plugin.salto.errors import SaltoError
from ireserve_salto_plugin.salto.gateway import SaltoGateway
from ireserve_salto_plugin.store.guards import OtpBudget


def explain(
    parks: Parks,
    budget: OtpBudget,
    clock: Clock,
    park: Park,
    booking: Booking,
    now: datetime | None,
) -> Explanation | None:
    raw = raw_settings(park)
    if raw is None:
        return None
    steps = Steps(host_language(park))
    try:
        ctx = parks.context(park, raw)
        _ = ctx.zone  # a missing or unknown zone is a SettingsError, answered here
    except SettingsError as exc:
        steps.add(
            "settings",
            False,
            N_("Settings: {detail}"),
            Reason.SETTINGS_INVALID,
            detail=exc.describe(steps.lang),
        )
        return finish(steps, None, None)
    gateway = ctx.gateway(parks.tuning.status_deadline)
    found = checked_steps(ctx, gateway, budget, steps, booking, now, confirm_offline=True)
    object_id = getattr(booking, "object_id", None)
    every = (
        booking_doors(ctx.settings.own_locks(object_id), ctx.settings.common_locks)
        if (isinstance(object_id, str))
        else []
    )
    if len(every) < 2:
        return found
    return replace(found, doors=_doors(ctx, gateway, budget, clock, booking, now, every))


def doors(
    parks: Parks,
    budget: OtpBudget,
    clock: Clock,
    park: Park,
    booking: Booking,
    now: datetime | None,
) -> list[Door] | None:
    """The doors the booking may open (its object's own, then the common doors), each with
    the explainer's verdict for it now, from the cached lock list (no fresh reads, no OTP,
    no open): one button per door in a guest app. ``[]`` when none can be named."""
    raw = raw_settings(park)
    if raw is None:
        return None
    try:
        ctx = parks.context(park, raw)
        settings = ctx.settings
        facts = read_booking(booking, ctx.zone, settings.minutes_before, settings.minutes_after)
    except (SettingsError, BookingError):
        return []
    return _doors(
        ctx,
        ctx.gateway(parks.tuning.status_deadline),
        budget,
        clock,
        booking,
        now,
        booking_doors(settings.own_locks(facts.object_id), settings.common_locks),
    )


def _doors(
    ctx: ParkContext,
    gateway: SaltoGateway,
    budget: OtpBudget,
    clock: Clock,
    booking: Booking,
    now: datetime | None,
    every: list[tuple[str, DoorKind]],
) -> list[Door]:
    """Each of ``every`` door with the explainer's verdict for it, named by the park's
    label or Salto's name (from the cached lock list)."""
    settings, lang = ctx.settings, host_language(ctx.park)
    names: dict[str, str] = {}
    if settings.enabled:  # an inactive park asks Salto nothing
        try:
            names = {lock.id: lock.name for lock in gateway.locks(ctx.site_id(gateway)).locks}
        except SaltoError:
            pass
    found = []
    for lock_id, kind in every:
        why = checked_steps(
            ctx,
            gateway,
            budget,
            Steps(lang),
            booking,
            now,
            confirm_offline=False,
            door=lock_id,
        )
        label = settings.common_locks.get(lock_id) if kind is DoorKind.COMMON else None
        found.append(
            Door(lock_id, label or names.get(lock_id, lock_id), kind, why.verdict, why.message)
        )
    return found
