"""The one checklist before an open, as people read it: the open's own steps in its own order
(settings → enabled → booking → lock mapped → lock at Salto → IQ activated → status →
window → Salto reachable → OTP budget → IQ online → lock online, then the clock), each
found, failed or unknown, in the staff's language. The explainer, the doors and readiness
all render it; the open itself stops at the first of the same findings (:mod:`.preflight`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.flow.context import ParkContext
from ireserve_salto_plugin.flow.decision import (
    BookingError,
    Window,
    read_booking,
    resolve_lock,
    timing,
    to_utc,
)
from ireserve_salto_plugin.flow.preflight import Checked, preflight
from ireserve_salto_plugin.models import (
    Booking,
    Explanation,
    Reason,
    Step,
    StepState,
)
from ireserve_salto_plugin.park.i18n import N_, translate
from ireserve_salto_plugin.park.incidents import incident_lines
from ireserve_salto_plugin.park.messages import BUDGET_MESSAGES, Fill, auth_cause, staff_message
from ireserve_salto_plugin.park.text import host_text, local_time
from ireserve_salto_plugin.salto.clock import CLOCK_WARN_SECONDS
from ireserve_salto_plugin.salto.errors import AuthError, SaltoError
from ireserve_salto_plugin.salto.gateway import SaltoGateway
from ireserve_salto_plugin.salto.types import Lock
from ireserve_salto_plugin.store.guards import OtpBudget
from ireserve_salto_plugin.store.stream import StreamBook


class Steps:
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

    def salto_failed(self, reason: Reason, text: str) -> None:
        """Salto could not be asked: said in the staff's words (Salto's own, English, with
        the request's path, are for the log, never in this sentence)."""
        self.steps.append(Step("salto", StepState.FAIL, text, reason))

    def unknown(self, *names: tuple[str, Reason], because: str = "") -> None:
        """Steps that could not be checked, each saying what stopped it."""
        for step, reason in names:
            self.add(step, None, N_("not checked: {detail}"), reason, detail=because)

    def verdict(self) -> tuple[Reason, str]:
        for step in self.steps:
            if step.state is StepState.FAIL and step.reason not in WARNINGS:
                return step.reason, step.message
        return Reason.OPENED, translate(
            N_("Every condition holds: an open now would be sent."), self.lang
        )


WARNINGS = (Reason.CLOCK_SKEW, Reason.LOCK_INCIDENT)  # shown as failing, never the verdict

SALTO_STEPS = (
    ("lock_exists", Reason.LOCK_NOT_FOUND),
    ("iq_activated", Reason.IQ_NOT_ACTIVATED),
    ("otp_budget", Reason.OTP_BLOCKED),
    ("iq_online", Reason.IQ_OFFLINE),
    ("lock_online", Reason.LOCK_OFFLINE),
    ("clock", Reason.CLOCK_SKEW),
)


def salto_words(failure: SaltoError, reason: Reason, ctx: ParkContext, lang: str) -> str:
    """Why Salto could not be asked, as the open would say it to staff, in ``lang``."""
    if reason is Reason.TIMEOUT:
        reason = Reason.SALTO_UNAVAILABLE  # nothing was sent: only "not reachable" is true
    account = ctx.settings.username
    detail = auth_cause(failure.code, account, lang) if isinstance(failure, AuthError) else ""
    fill = {"detail": detail, "site_uid": ctx.settings.site_uid, "account": repr(account)}
    return staff_message(reason, lang, fill)


def checked_steps(
    ctx: ParkContext,
    gateway: SaltoGateway,
    budget: OtpBudget,
    steps: Steps,
    booking: Booking,
    now: datetime | None,
    *,
    confirm_offline: bool,
    door: str | None = None,
) -> Explanation:
    """The checklist in the open's order: what staff must fix (settings, enabled, booking,
    mapping, lock on the site, IQ activated) before status and window, then what is
    checked when the command is sent (Salto reachable, OTP budget, online, clock)."""
    settings, zone, clock = ctx.settings, ctx.zone, ctx.parks.clock
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
        return finish(steps, None, None)
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
    because = (
        N_("Salto KS could not be asked")
        if failure is not None
        else N_("no lock is mapped")
        if lock_id is None
        else N_("the integration is switched off")
    )
    if checked is not None:
        _structural_steps(steps, checked)
    else:
        steps.unknown(*SALTO_STEPS[:2], because=because)
    _timing_steps(steps, facts.status, settings.opening_statuses, window, instant, zone)
    if failure is not None:
        reason = Reason(failure.reason)
        steps.salto_failed(reason, salto_words(failure, reason, ctx, steps.lang))
    if checked is not None and checked.lock is not None:
        _send_steps(
            steps,
            checked,
            offset,
            lambda seconds: local_time(clock.utcnow() + timedelta(seconds=seconds), zone),
        )
        _incident_step(steps, ctx, checked.lock, gateway)
    else:
        lock_missing = checked is not None and checked.lock is None
        steps.unknown(
            *SALTO_STEPS[2:], because=N_("the lock is not on the site") if lock_missing else because
        )
    return finish(steps, lock_id, window)


def _timing_steps(
    steps: Steps,
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
        N_("The booking's status allows opening.")
        if status_finding is None
        else N_("The booking's status (the host's code {status!r}) does not allow opening."),
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


def _structural_steps(steps: Steps, checked: Checked) -> None:
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
        steps.unknown(SALTO_STEPS[1], because=N_("the lock is not on the site"))
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
    steps: Steps, checked: Checked, offset: float, until: Callable[[float], str]
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


def _incident_step(steps: Steps, ctx: ParkContext, lock: Lock, gateway: SaltoGateway) -> None:
    """The incidents Salto's event stream reported at the lock (a door left open, an
    alarm): shown only when one is going on; it does not stop an open."""
    try:
        going = StreamBook(ctx.parks.store).incidents(
            ctx.account.key, ctx.site_id(gateway), ctx.parks.clock.utcnow()
        )
    except SaltoError:  # the store (StoreUnavailable) or the site: nothing to add
        return
    lines = incident_lines(going.get(lock.id, {}), steps.lang, ctx.zone, lock.name)
    if lines:
        detail = " ".join(text for _, text in lines)
        steps.steps.append(Step("incidents", StepState.FAIL, detail, Reason.LOCK_INCIDENT))


def finish(steps: Steps, lock_id: str | None, window: Any) -> Explanation:
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
