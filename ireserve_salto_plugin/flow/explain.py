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
    Step,
    StepState,
)
from ireserve_salto_plugin.park.fields import SettingsError
from ireserve_salto_plugin.park.i18n import N_, host_language, translate
from ireserve_salto_plugin.park.messages import staff_message
from ireserve_salto_plugin.park.text import host_text
from ireserve_salto_plugin.salto.clock import Clock
from ireserve_salto_plugin.salto.errors import SaltoError, StoreUnavailable
from ireserve_salto_plugin.salto.gateway import SaltoGateway
from ireserve_salto_plugin.store.guards import OtpBudget
from ireserve_salto_plugin.store.keys import LAST_OPEN


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
    found = with_last_attempt(ctx, found, booking, clock, steps.lang)
    object_id = getattr(booking, "object_id", None)
    every = (
        booking_doors(ctx.settings.own_locks(object_id), ctx.settings.common_locks)
        if (isinstance(object_id, str))
        else []
    )
    if len(every) < 2:
        return found
    return replace(found, doors=_doors(ctx, gateway, budget, clock, booking, now, every))


LAST_ATTEMPT_SHOWN = 15 * 60  # seconds a failed open of this booking's lock is shown


def with_last_attempt(
    ctx: ParkContext, found: Explanation, booking: Booking, clock: Clock, lang: str
) -> Explanation:
    """``found`` with the park's last failed open when it was this booking's, on this lock,
    in the last 15 minutes: after the conditions (not one of them: the verdict stays what an
    open now would answer), and said instead of "an open now would be sent", which must
    never stand under a failure that may have opened the door."""
    try:
        record = ctx.parks.store.get(LAST_OPEN(ctx.account.key, ctx.park_tag, "failure"))
    except StoreUnavailable:
        return found
    if not isinstance(record, dict) or record.get("lock_id") != found.lock_id:
        return found
    if record.get("booking") != host_text(getattr(booking, "id", None)):
        return found
    try:
        reason = Reason(str(record.get("reason")))
        ago = (clock.utcnow() - datetime.fromisoformat(str(record.get("at")))).total_seconds()
    except (TypeError, ValueError):
        return found
    if not -60 <= ago <= LAST_ATTEMPT_SHOWN:
        return found
    what = staff_message(reason, lang, {"lock": found.lock_id or "?", "detail": ""})
    said = translate(N_("Last attempt {ago} ago: {what}"), lang).format(
        ago=_ago(max(ago, 0.0), lang), what=what
    )
    if record.get("maybe_opened") is True:
        said += " " + translate(N_("The door may have opened: check Salto's log first."), lang)
    step = Step("last_attempt", StepState.FAIL, said, reason)
    message = said if found.verdict is Reason.OPENED else found.message
    return replace(found, steps=[*found.steps, step], message=message)


def _ago(seconds: float, lang: str) -> str:
    if seconds < 120:
        return translate(N_("{n} s"), lang).format(n=round(seconds))
    return translate(N_("{n} min"), lang).format(n=round(seconds / 60))


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
