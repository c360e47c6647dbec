"""What a booking's status means for its access (``on_booking_status``), and the lock
dropdown (``mapping_options``). Neither ever opens a lock, sends an OTP or raises.

``AccessInfo.allowed`` says one thing: the new status allows opening (the integration is
enabled and the status is an opening status). Everything operational (Salto unreachable,
an IQ offline, clock skew, …) is a warning and does not change it.
"""

from __future__ import annotations

import logging
from datetime import UTC, timedelta
from typing import Any

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.flow.context import ParkContext, Parks, park_zone, raw_settings
from ireserve_salto_plugin.flow.decision import (
    BookingError,
    Window,
    decide,
    read_booking,
    resolve_lock,
)
from ireserve_salto_plugin.flow.preflight import preflight
from ireserve_salto_plugin.models import AccessInfo, Booking, Park, Reason
from ireserve_salto_plugin.park.fields import SettingsError
from ireserve_salto_plugin.park.i18n import guest_language, host_language, translate, when
from ireserve_salto_plugin.park.incidents import incident_lines
from ireserve_salto_plugin.park.messages import GUEST_FROM, NO_PROMISE, Fill, staff_message
from ireserve_salto_plugin.park.text import host_text, local_time
from ireserve_salto_plugin.salto.clock import CLOCK_WARN_SECONDS
from ireserve_salto_plugin.salto.errors import SaltoError, StoreUnavailable
from ireserve_salto_plugin.salto.gateway import SaltoGateway
from ireserve_salto_plugin.store.guards import OtpBudget
from ireserve_salto_plugin.store.stream import StreamBook

log = logging.getLogger(__name__)


def access_info(
    parks: Parks, budget: OtpBudget, park: Park, booking: Booking, new_status: str
) -> AccessInfo | None:
    raw = raw_settings(park)
    if raw is None:
        return None
    warnings: list[str] = []
    details: dict[str, str] = {}  # a warning's detail (the incidents at the lock)
    lock_id = lock_name = None
    window: Window | None = None
    allowed = False
    try:
        ctx = parks.context(park, raw)
        settings = ctx.settings
        if not settings.enabled:
            warnings.append(Reason.INTEGRATION_INACTIVE)
        status = new_status if isinstance(new_status, str) else ""
        try:
            facts = read_booking(booking, ctx.zone, settings.minutes_before, settings.minutes_after)
            window = facts.window
            decision = decide(
                status=status,
                open_statuses=settings.opening_statuses,
                window=window,
                now=window.opens_at,
                lock_id=resolve_lock(facts.object_id, settings.mapping, settings.default_lock_id),
            )
            lock_id = decision.lock_id
            allowed = settings.enabled and status in settings.opening_statuses
            if decision.reason is Reason.NO_LOCK_MAPPED:
                warnings.append(Reason.NO_LOCK_MAPPED)
        except BookingError:
            warnings.append(Reason.BOOKING_INVALID)
            allowed = settings.enabled and status in settings.opening_statuses
        if allowed and lock_id is not None:
            lock_name = _check_lock(parks, budget, ctx, lock_id, warnings, details)
    except SettingsError:
        warnings.append(Reason.SETTINGS_INVALID)
    address = raw.get("guest_address", "je") if isinstance(raw, dict) else "je"
    texts, guest = _texts(
        park, booking, (warnings, details), lock_name or lock_id, window, bool(allowed), address
    )
    return AccessInfo(
        integration=INTEGRATION,
        allowed=bool(allowed),
        lock_id=lock_id,
        lock_name=lock_name,
        opens_at=window.opens_at if window else None,
        closes_at=window.closes_at if window else None,
        warnings=warnings,
        warning_texts=texts,
        guest_text=guest,
    )


def _texts(
    park: Park,
    booking: Booking,
    found: tuple[list[str], dict[str, str]],
    lock: str | None,
    window: Window | None,
    allowed: bool,
    address: Any,
) -> tuple[list[str], str]:
    """The warnings' texts for staff, and the guest's sentence for the confirmation mail
    (no time is promised while a warning stands that staff must fix)."""
    warnings, details = found
    staff = host_language(park)
    guest_lang = guest_language(booking, str(address), staff)
    try:
        zone: Any = park_zone(park)
    except SettingsError:
        zone = UTC
    fill = {"lock": lock or "?", "status": "", "detail": "", "minutes": "?"}
    if window is not None:
        fill |= {
            "opens_at": local_time(window.opens_at, zone),
            "closes_at": local_time(window.closes_at, zone),
        }
    texts = [
        staff_message(Reason(code), staff, fill | {"detail": details.get(code, "")})
        for code in warnings
    ]
    if not allowed or window is None or any(Reason(code) in NO_PROMISE for code in warnings):
        return texts, ""
    # a mail is read later: the time always with its date
    opens = when(window.opens_at, zone, guest_lang, today=window.opens_at - timedelta(days=2))
    return texts, translate(GUEST_FROM, guest_lang).format_map(Fill({"opens_at": opens}))


def _check_lock(
    parks: Parks,
    budget: OtpBudget,
    ctx: ParkContext,
    lock_id: str,
    warnings: list[str],
    details: dict[str, str],
) -> str | None:
    """Look the lock up (cached) and add warnings for what would stop an open."""
    try:
        gateway = ctx.gateway(parks.tuning.status_deadline)
        checked = preflight(
            ctx.settings, gateway, ctx.site_id(gateway), lock_id, budget, for_open=False
        )
        skewed = abs(gateway.clock_offset()) > CLOCK_WARN_SECONDS  # (the store: may fail)
    except SaltoError as exc:
        warnings.append(Reason(exc.reason))
        return None
    warnings.extend(finding.reason for finding in checked.findings)
    if checked.lock is not None and checked.lock.battery in ("low", "critical"):  # in time
        warnings.append(Reason.LOCK_BATTERY_LOW)
    if skewed:
        warnings.append(Reason.CLOCK_SKEW)
    name = checked.lock.name if checked.lock is not None else None
    going = lock_incidents(parks, ctx, gateway, lock_id)
    if going:
        warnings.append(Reason.LOCK_INCIDENT)
        lines = incident_lines(going, host_language(ctx.park), ctx.zone, name)
        details[Reason.LOCK_INCIDENT] = " ".join(text for _, text in lines)
    return name


def lock_incidents(
    parks: Parks, ctx: ParkContext, gateway: SaltoGateway, lock_id: str
) -> dict[str, dict[str, Any]]:
    """The incidents Salto's event stream reported at ``lock_id`` that have not ended
    (nothing when no listener runs, or the store cannot say)."""
    try:
        going = StreamBook(parks.store).incidents(
            ctx.account.key, ctx.site_id(gateway), parks.clock.utcnow()
        )
    except StoreUnavailable:
        return {}
    return going.get(lock_id, {})


def mapping_options(parks: Parks, park: Park, refresh: bool) -> list[dict[str, Any]] | None:
    raw = raw_settings(park)
    if raw is None:
        return None
    try:
        ctx = parks.context(park, raw, partial=True)
        gateway = ctx.gateway(parks.tuning.options_deadline)
        locks = gateway.locks(ctx.site_id(gateway), refresh=refresh is True, thorough=True)
    except (SettingsError, SaltoError) as exc:
        log.warning(
            "salto lock list unavailable for park %s: %s", host_text(getattr(park, "id", "?")), exc
        )
        return []
    return locks.options()
