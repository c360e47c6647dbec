"""The open decision: status gate, time window and lock resolution. Pure, no I/O.

All instants are compared as aware UTC datetimes. A naive host datetime means park-local
time (never the server's zone) and is converted with the park's IANA zone, so DST comes out
right: ``fold=0`` picks the first of two repeated wall times, and a wall time that does not
exist (the hour skipped in spring) is read with the offset in force before the change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ireserve_salto_plugin.models import DoorKind, Reason


class BookingError(ValueError):
    """The booking cannot be judged (missing or wrong-typed fields, departure before arrival)."""


def to_utc(value: object, zone: ZoneInfo, name: str) -> datetime:
    """``value`` as an aware UTC datetime; naive values are park-local wall time."""
    if not isinstance(value, datetime):
        raise BookingError(f"booking.{name} must be a datetime")
    try:
        if value.tzinfo is None or value.utcoffset() is None:
            value = value.replace(tzinfo=zone)
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise BookingError(f"booking.{name} is out of range") from None


@dataclass(frozen=True, slots=True)
class Window:
    opens_at: datetime
    closes_at: datetime


def open_window(
    arrival: object,
    departure: object,
    minutes_before: int,
    zone: ZoneInfo,
    minutes_after: int = 0,
) -> Window:
    """From ``minutes_before`` the arrival to ``minutes_after`` the departure (a grace: the
    guest back for a forgotten charger)."""
    start = to_utc(arrival, zone, "arrival")
    end = to_utc(departure, zone, "departure")
    if end < start:
        raise BookingError("booking.departure is before booking.arrival")
    try:
        return Window(
            start - timedelta(minutes=minutes_before), end + timedelta(minutes=minutes_after)
        )
    except OverflowError:
        raise BookingError("booking.arrival is out of range") from None


@dataclass(frozen=True, slots=True)
class BookingFacts:
    """A host booking read once, as the host passed each field (a getter that raises counts
    as none): the open carries this, never the host's object, past its first line."""

    id: Any
    status: Any
    object_id: Any
    arrival: Any
    departure: Any
    locale: Any

    @classmethod
    def read(cls, booking: object) -> BookingFacts:
        values = []
        for name in ("id", "status", "object_id", "arrival", "departure", "locale"):
            try:
                values.append(getattr(booking, name, None))
            except Exception:  # a host property that raises
                values.append(None)
        return cls(*values)


@dataclass(frozen=True, slots=True)
class Stay:
    """What the decision needs of a booking, checked once for both hooks."""

    status: str
    object_id: str
    window: Window


def read_booking(
    booking: object, zone: ZoneInfo, minutes_before: int, minutes_after: int = 0
) -> Stay:
    """The booking's status, object and window; ``BookingError`` names what is unusable."""
    window = open_window(
        getattr(booking, "arrival", None),
        getattr(booking, "departure", None),
        minutes_before,
        zone,
        minutes_after,
    )
    status = getattr(booking, "status", None)
    object_id = getattr(booking, "object_id", None)
    if not isinstance(status, str) or not isinstance(object_id, str):
        raise BookingError("booking.status and booking.object_id must be strings")
    return Stay(status, object_id, window)


def resolve_lock(
    object_id: str, mapping: Mapping[str, str], default_lock_id: str | None
) -> str | None:
    """The object's own lock, else the park's default lock, else ``None``."""
    return mapping.get(object_id) or default_lock_id


@dataclass(frozen=True, slots=True)
class Decision:
    reason: Reason
    lock_id: str | None
    window: Window

    @property
    def allowed(self) -> bool:
        return self.reason is Reason.OPENED


def timing(
    status: str, open_statuses: tuple[str, ...], window: Window, now: datetime
) -> tuple[Reason | None, Reason | None]:
    """The booking's own checks, each ``None`` when it holds: the status gate
    (``status_not_allowed``) and the window (``too_early``, ``too_late``). The open stops at
    the first; the explainer shows both."""
    status_finding = None if status in open_statuses else Reason.STATUS_NOT_ALLOWED
    window_finding = (
        Reason.TOO_EARLY
        if now < window.opens_at
        else Reason.TOO_LATE
        if now > window.closes_at
        else None
    )
    return status_finding, window_finding


def decide(
    *,
    status: str,
    open_statuses: tuple[str, ...],
    window: Window,
    now: datetime,
    lock_id: str | None,
) -> Decision:
    """Whether an open may be sent now. ``now`` must be aware. What staff must fix (no
    lock mapped) comes before status and window: a guest is never told a time at which
    the door would not open either."""
    if lock_id is None:
        return Decision(Reason.NO_LOCK_MAPPED, lock_id, window)
    status_finding, window_finding = timing(status, open_statuses, window, now)
    return Decision(status_finding or window_finding or Reason.OPENED, lock_id, window)


def booking_doors(own: tuple[str, ...], common: Mapping[str, str]) -> list[tuple[str, DoorKind]]:
    """The doors a booking may open, in order: its object's own (``own``, the first its own
    lock), then the park's common doors not among them."""
    doors = [(lock, DoorKind.OWN) for lock in own]
    doors += [(lock, DoorKind.COMMON) for lock in common if lock not in own]
    return doors
