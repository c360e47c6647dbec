"""What a booking's status means for its access (``on_booking_status``), and the lock
dropdown (``mapping_options``). Neither ever opens a lock, sends an OTP or raises.

``AccessInfo.allowed`` says one thing: the new status allows opening (the integration is
enabled and the status is an opening status). Everything operational (Salto unreachable,
an IQ offline, clock skew, …) is a warning and does not change it.
"""

from __future__ import annotations

import logging
from typing import Any

from . import INTEGRATION
from .clock import CLOCK_WARN_SECONDS
from .context import ParkContext, Parks, raw_settings
from .decision import BookingError, Window, decide, read_booking, resolve_lock
from .errors import SaltoError
from .guards import OtpBudget
from .models import AccessInfo, Booking, Park, Reason
from .preflight import preflight
from .settings import SettingsError
from .text import host_text

log = logging.getLogger(__name__)


def access_info(parks: Parks, budget: OtpBudget, park: Park, booking: Booking,
                new_status: str) -> AccessInfo | None:
    raw = raw_settings(park)
    if raw is None:
        return None
    warnings: list[str] = []
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
            facts = read_booking(booking, ctx.zone, settings.minutes_before)
            window = facts.window
            decision = decide(status=status, open_statuses=settings.opening_statuses,
                              window=window, now=window.opens_at,
                              lock_id=resolve_lock(facts.object_id, settings.mapping,
                                                   settings.default_lock_id))
            lock_id = decision.lock_id
            allowed = settings.enabled and status in settings.opening_statuses
            if decision.reason is Reason.NO_LOCK_MAPPED:
                warnings.append(Reason.NO_LOCK_MAPPED)
        except BookingError:
            warnings.append(Reason.BOOKING_INVALID)
            allowed = settings.enabled and status in settings.opening_statuses
        if allowed and lock_id is not None:
            lock_name = _check_lock(parks, budget, ctx, lock_id, warnings)
    except SettingsError:
        warnings.append(Reason.SETTINGS_INVALID)
    return AccessInfo(
        integration=INTEGRATION,
        allowed=bool(allowed),
        lock_id=lock_id,
        lock_name=lock_name,
        opens_at=window.opens_at if window else None,
        closes_at=window.closes_at if window else None,
        warnings=warnings,
    )


def _check_lock(parks: Parks, budget: OtpBudget, ctx: ParkContext, lock_id: str,
                warnings: list[str]) -> str | None:
    """Look the lock up (cached) and add warnings for what would stop an open."""
    try:
        gateway = ctx.gateway(parks.tuning.status_deadline)
        checked = preflight(ctx.settings, gateway, ctx.site_id(gateway), lock_id, budget,
                            for_open=False)
    except SaltoError as exc:
        warnings.append(exc.reason)
        return None
    warnings.extend(finding.reason for finding in checked.findings)
    if abs(gateway.clock_offset()) > CLOCK_WARN_SECONDS:
        warnings.append(Reason.CLOCK_SKEW)
    return checked.lock.name if checked.lock is not None else None


def mapping_options(parks: Parks, park: Park, refresh: bool) -> list[dict[str, Any]] | None:
    raw = raw_settings(park)
    if raw is None:
        return None
    try:
        ctx = parks.context(park, raw, partial=True)
        gateway = ctx.gateway(parks.tuning.options_deadline)
        locks = gateway.locks(ctx.site_id(gateway), refresh=refresh is True, thorough=True)
    except (SettingsError, SaltoError) as exc:
        log.warning("salto lock list unavailable for park %s: %s",
                    host_text(getattr(park, "id", "?")), exc)
        return []
    return locks.options()
