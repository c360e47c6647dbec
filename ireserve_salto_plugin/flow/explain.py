"""Why a guest can or cannot open (``explain_access``), and the same for many bookings at
once (``readiness``). Neither sends an OTP or an open command.

The steps follow the open's own order, so the verdict is what ``on_open_request`` would
answer: settings → enabled → booking → lock mapped → lock at Salto → IQ activated (and not
reset) → status → window → (Salto reachable) → OTP budget → IQ online → lock online, then
the clock (a warning only). What staff must fix comes before status and window. A step
that cannot be checked is ``unknown``. ``explain_access`` reads the lock fresh from Salto
(one GET), so it agrees with an open made a moment ago.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.flow.context import ParkContext, Parks, raw_settings
from ireserve_salto_plugin.flow.decision import (
    BookingError,
    Window,
    booking_doors,
    read_booking,
    resolve_lock,
    timing,
    to_utc,
)
from ireserve_salto_plugin.flow.preflight import Checked, offline_reason, preflight
from ireserve_salto_plugin.models import (
    Booking,
    Door,
    DoorKind,
    Explanation,
    Park,
    Readiness,
    Reason,
    Step,
    StepState,
)
from ireserve_salto_plugin.park.fields import SettingsError
from ireserve_salto_plugin.park.i18n import N_, host_language, translate
from ireserve_salto_plugin.park.messages import Fill
from ireserve_salto_plugin.park.text import host_text, local_time
from ireserve_salto_plugin.salto.clock import CLOCK_WARN_SECONDS, Clock
from ireserve_salto_plugin.salto.errors import SaltoError
from ireserve_salto_plugin.salto.gateway import SaltoGateway
from ireserve_salto_plugin.store.guards import OtpBudget

MAX_SWEEP = 5000  # bookings in one readiness call


class _Steps:
    """The checklist as it is found, each line in the staff's language."""

    def __init__(self, lang: str = "en") -> None:
        self.steps: list[Step] = []
        self.lang = lang

    def add(self, step: str, ok: bool | None, message: str, reason: Reason, **fill: Any) -> bool:
        state = StepState.UNKNOWN if ok is None else StepState.OK if ok else StepState.FAIL
        if "detail" in fill:
            fill["detail"] = translate(str(fill["detail"]), self.lang)
        text = translate(message, self.lang).format_map(Fill(fill))
        self.steps.append(Step(step, state, text, reason))
        return ok is True

    def unknown(self, *names: tuple[str, Reason]) -> None:
        for step, reason in names:
            self.add(step, None, N_("not checked: an earlier step failed"), reason)

    def verdict(self) -> tuple[Reason, str]:
        for step in self.steps:
            if step.state is StepState.FAIL and step.reason is not Reason.CLOCK_SKEW:
                return step.reason, step.message
        return Reason.OPENED, translate(
            N_("Every condition holds: an open now would be sent."), self.lang
        )


SALTO_STEPS = (
    ("lock_exists", Reason.LOCK_NOT_FOUND),
    ("iq_activated", Reason.IQ_NOT_ACTIVATED),
    ("otp_budget", Reason.OTP_BLOCKED),
    ("iq_online", Reason.IQ_OFFLINE),
    ("lock_online", Reason.LOCK_OFFLINE),
    ("clock", Reason.CLOCK_SKEW),
)


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
    steps = _Steps(host_language(park))
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
        return _finish(steps, None, None)
    gateway = ctx.gateway(parks.tuning.status_deadline)
    found = _explain(ctx, gateway, budget, clock, steps, booking, now, confirm_offline=True)
    object_id = getattr(booking, "object_id", None)
    every = (
        booking_doors(ctx.settings.own_locks(object_id), ctx.settings.common_locks)
        if (isinstance(object_id, str))
        else []
    )
    if len(every) < 2:
        return found
    return replace(found, doors=_doors(ctx, gateway, budget, clock, booking, now, every))


def _explain(
    ctx: ParkContext,
    gateway: SaltoGateway,
    budget: OtpBudget,
    clock: Clock,
    steps: _Steps,
    booking: Booking,
    now: datetime | None,
    *,
    confirm_offline: bool,
    door: str | None = None,
) -> Explanation:
    """The checklist in the open's order: what staff must fix (settings, enabled, booking,
    mapping, lock on the site, IQ activated) before status and window, then what is
    checked when the command is sent (Salto reachable, OTP budget, online, clock)."""
    settings, zone = ctx.settings, ctx.zone
    steps.add("settings", True, N_("The park's settings are valid."), Reason.SETTINGS_INVALID)
    steps.add(
        "enabled",
        settings.enabled,
        N_("Salto KS opening is switched on.")
        if settings.enabled
        else N_("Salto KS opening is switched off for this park."),
        Reason.INTEGRATION_INACTIVE,
    )
    try:
        facts = read_booking(booking, zone, settings.minutes_before, settings.minutes_after)
        instant = clock.utcnow() if now is None else to_utc(now, zone, "now")
    except BookingError as exc:
        steps.add(
            "booking",
            False,
            N_("The booking cannot be checked: {detail}"),
            Reason.BOOKING_INVALID,
            detail=exc,
        )
        return _finish(steps, None, None)
    window = facts.window
    lock_id = door or resolve_lock(facts.object_id, settings.mapping, settings.default_lock_id)
    mapped = settings.mapping.get(facts.object_id)
    steps.add(
        "lock_mapped",
        lock_id is not None,
        N_("No lock is mapped to this object and there is no default lock.")
        if lock_id is None
        else N_("One of the booking's doors.")
        if door
        else N_("The object's own lock.")
        if mapped
        else N_("The park's default lock."),
        Reason.NO_LOCK_MAPPED,
    )
    checked: Checked | None = None
    failure: SaltoError | None = None
    offset = 0.0
    if lock_id is not None and settings.enabled:  # an inactive park asks Salto nothing
        try:
            checked = preflight(
                settings,
                gateway,
                ctx.site_id(gateway),
                lock_id,
                budget,
                for_open=False,
                confirm=confirm_offline,
            )
            offset = gateway.clock_offset()
        except SaltoError as exc:
            failure = exc
    if checked is not None:
        _structural_steps(steps, checked)
    else:
        steps.unknown(*SALTO_STEPS[:2])
    _timing_steps(steps, facts.status, settings.opening_statuses, window, instant, zone)
    if failure is not None:
        steps.add(
            "salto",
            False,
            N_("Salto KS could not be asked: {detail}"),
            Reason(failure.reason),
            detail=failure,
        )
    if checked is not None and checked.lock is not None:
        _send_steps(
            steps,
            checked,
            offset,
            lambda seconds: local_time(clock.utcnow() + timedelta(seconds=seconds), zone),
        )
    else:
        steps.unknown(*SALTO_STEPS[2:])
    return _finish(steps, lock_id, window)


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
        why = _explain(
            ctx,
            gateway,
            budget,
            clock,
            _Steps(lang),
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


def _timing_steps(
    steps: _Steps,
    status: str,
    statuses: tuple[str, ...],
    window: Window,
    instant: datetime,
    zone: Any,
) -> None:
    """Status and window as the open judges them (:func:`~.decision.timing`), both shown."""
    status_finding, window_finding = timing(status, statuses, window, instant)
    steps.add(
        "status",
        status_finding is None,
        N_("Status {status!r} allows opening.")
        if status_finding is None
        else N_("Status {status!r} does not allow opening."),
        Reason.STATUS_NOT_ALLOWED,
        status=host_text(status),
    )
    times = {
        "opens_at": local_time(window.opens_at, zone),
        "closes_at": local_time(window.closes_at, zone),
    }
    steps.add(
        "window",
        window_finding is None,
        N_("Too early: opening is allowed from {opens_at}.")
        if window_finding is Reason.TOO_EARLY
        else N_("Too late: opening was allowed until {closes_at}.")
        if window_finding is Reason.TOO_LATE
        else N_("Inside the window, {opens_at} to {closes_at}."),
        window_finding or Reason.TOO_LATE,
        **times,
    )


def _structural_steps(steps: _Steps, checked: Checked) -> None:
    """What staff must fix, from the open's own preflight: the lock on the site, its IQ
    activated (and not reset)."""
    found = {finding.reason: finding for finding in checked.findings}
    if not steps.add(
        "lock_exists",
        checked.lock is not None,
        N_("The lock is on the Salto KS site.")
        if checked.lock
        else N_("The mapped lock is not on the Salto KS site."),
        Reason.LOCK_NOT_FOUND,
    ):
        steps.unknown(SALTO_STEPS[1])
        return
    inactive = found.get(Reason.IQ_NOT_ACTIVATED)
    steps.add(
        "iq_activated",
        inactive is None,
        N_("The IQ must be activated again{detail}")
        if inactive and inactive.detail
        else N_("The IQ is not activated: run GET PIN and Set PIN.")
        if inactive
        else N_("The IQ is activated for this account.")
        if checked.iq is not None
        else N_("The IQ takes opens without a code."),
        Reason.IQ_NOT_ACTIVATED,
        detail=inactive.detail if inactive else "",
    )


def _send_steps(
    steps: _Steps, checked: Checked, offset: float, until: Callable[[float], str]
) -> None:
    """What is checked when the command goes: the OTP budget, IQ and lock online, clock.
    ``until(seconds)``: that time from now, as staff read it."""
    found = {finding.reason: finding for finding in checked.findings}
    lock = checked.lock
    assert lock is not None
    refused = next(
        (
            found[r]
            for r in (Reason.OTP_BLOCKED, Reason.OTP_SUSPENDED, Reason.STORE_UNAVAILABLE)
            if r in found
        ),
        None,
    )
    if refused is not None:
        steps.add(
            "otp_budget",
            False,
            BUDGET_MESSAGES[refused.reason],
            refused.reason,
            until=until(refused.retry_after or 0),
        )
    else:
        steps.add(
            "otp_budget",
            True if checked.iq is not None else None,
            N_("Codes may be sent to the IQ.")
            if checked.iq is not None
            else N_("No code is needed or none can be signed."),
            Reason.OTP_BLOCKED,
        )
    steps.add(
        "iq_online",
        lock.iq_online is not False,
        N_("The IQ gateway is online.")
        if lock.iq_online is not False
        else N_("The IQ gateway is offline: check its power and internet connection."),
        Reason.IQ_OFFLINE,
    )
    steps.add(
        "lock_online",
        lock.online,
        N_("The lock reaches its IQ.")
        if lock.online
        else N_("The lock does not reach its IQ: check its batteries and its distance to the IQ."),
        Reason.LOCK_OFFLINE,
    )
    steps.add(
        "clock",
        abs(offset) <= CLOCK_WARN_SECONDS,
        N_("This server's clock is {offset} s from Salto's (codes are signed with Salto's time)."),
        Reason.CLOCK_SKEW,
        offset=f"{offset:+.0f}",
    )


BUDGET_MESSAGES = {
    Reason.OTP_BLOCKED: N_(
        "No code goes to the IQ until {until} (Salto's block); then check "
        "its PIN (GET PIN, Set PIN)."
    ),
    Reason.OTP_SUSPENDED: N_(
        "No code goes to the IQ until {until}: Salto rejected two within "
        "20 minutes. Check its PIN (GET PIN, Set PIN) or wait."
    ),
    Reason.STORE_UNAVAILABLE: N_(
        "The OTP budget cannot be read: the shared store does not answer."
    ),
}


def _finish(steps: _Steps, lock_id: str | None, window: Any) -> Explanation:
    verdict, message = steps.verdict()
    return Explanation(
        INTEGRATION,
        verdict,
        message,
        lock_id,
        window.opens_at if window else None,
        window.closes_at if window else None,
        steps.steps,
    )


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
            found = _explain(
                ctx,
                gateway,
                budget,
                clock,
                _Steps(host_language(park)),
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
