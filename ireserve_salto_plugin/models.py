"""Objects that cross the host boundary: reason codes and hook results.

Host objects (``park``, ``booking``) are duck-typed; :class:`Park` and :class:`Booking`
describe the attributes the plugin reads. The plugin never mutates them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any, Protocol, cast


class Park(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def integrations(self) -> Mapping[str, Any]: ...


class Booking(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def object_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def arrival(self) -> datetime: ...
    @property
    def departure(self) -> datetime: ...
    @property
    def fields(self) -> Mapping[str, Any]: ...


class Outcome(StrEnum):
    OPENED = "opened"
    DENIED = "denied"
    FAILED = "failed"


class Reason(StrEnum):
    """Every reason code a hook can return. ``hookspecs.md`` documents each one."""

    OPENED = "opened"
    # denied: the request was fine, the rules say no
    INTEGRATION_INACTIVE = "integration_inactive"
    STATUS_NOT_ALLOWED = "status_not_allowed"
    TOO_EARLY = "too_early"
    TOO_LATE = "too_late"
    NO_LOCK_MAPPED = "no_lock_mapped"
    DOOR_NOT_ALLOWED = "door_not_allowed"
    # failed: something must be fixed or retried
    SETTINGS_INVALID = "settings_invalid"
    BOOKING_INVALID = "booking_invalid"
    LOCK_NOT_FOUND = "lock_not_found"
    SITE_NOT_FOUND = "site_not_found"
    IQ_NOT_ACTIVATED = "iq_not_activated"
    IQ_OFFLINE = "iq_offline"
    LOCK_OFFLINE = "lock_offline"
    OTP_REJECTED = "otp_rejected"
    OTP_BLOCKED = "otp_blocked"
    OTP_SUSPENDED = "otp_suspended"
    IQ_BUSY = "iq_busy"
    AUTH_FAILED = "auth_failed"
    PERMISSION_DENIED = "permission_denied"
    SALTO_REJECTED = "salto_rejected"
    SALTO_UNAVAILABLE = "salto_unavailable"
    TIMEOUT = "timeout"
    STORE_UNAVAILABLE = "store_unavailable"
    INTERNAL_ERROR = "internal_error"
    DUPLICATE = "duplicate"
    # warning only (AccessInfo.warnings), never an open's reason
    CLOCK_SKEW = "clock_skew"
    LOCK_BATTERY_LOW = "lock_battery_low"
    LOCK_INCIDENT = "lock_incident"


DENIED_REASONS = frozenset(
    {
        Reason.INTEGRATION_INACTIVE,
        Reason.STATUS_NOT_ALLOWED,
        Reason.TOO_EARLY,
        Reason.TOO_LATE,
        Reason.NO_LOCK_MAPPED,
        Reason.DOOR_NOT_ALLOWED,
    }
)


# Keys whose values are never written out by ``to_dict()`` (an IQ secret, a PIN, ...).
SECRET_KEYS = frozenset(
    {
        "password",
        "secret",
        "pin",
        "client_secret",
        "access_token",
        "refresh_token",
        "otp",
        "current_pin",
        "new_pin",
    }
)
MASK = "***"


def jsonable(value: Any) -> Any:
    """``value`` as JSON-compatible data, with the values of :data:`SECRET_KEYS` masked."""
    if isinstance(value, _ToDict):
        return value.to_dict()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {
            str(k): MASK if k in SECRET_KEYS and v is not None else jsonable(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


class _ToDict:
    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible, for audit logs: secrets are masked, datetimes ISO 8601."""
        return {spec.name: jsonable(getattr(self, spec.name)) for spec in fields(cast(Any, self))}


class DoorKind(StrEnum):
    OWN = "own"  # the booked object's own door (its first is the one on_open_request opens)
    COMMON = "common"  # a door every booking may open: the barrier, the pool


@dataclass(frozen=True, slots=True)
class Door(_ToDict):
    """A door a booking may open (``access_doors``): one button in a guest app."""

    lock_id: str
    name: str  # the park's label, else Salto's name of the lock
    kind: DoorKind
    verdict: Reason  # the explainer's verdict for this door now: ``opened`` = it would open
    message: str = ""  # that verdict for staff, in ``park.locale``


@dataclass(frozen=True, slots=True)
class AccessInfo(_ToDict):
    """What ``on_booking_status`` tells the host about a booking's access."""

    integration: str
    allowed: bool
    lock_id: str | None
    lock_name: str | None
    opens_at: datetime | None
    closes_at: datetime | None
    warnings: list[str] = field(default_factory=list)
    # beside the codes: each warning's text for staff, in ``park.locale``, same order
    warning_texts: list[str] = field(default_factory=list)
    # for the guest's confirmation mail, in ``booking.locale`` ("From Tue 2 Dec 15:00 you
    # can open the door in the app"); empty while a warning stands that staff must fix
    guest_text: str = ""


@dataclass(frozen=True, slots=True)
class OpenResult(_ToDict):
    """The answer to ``on_open_request``."""

    outcome: Outcome
    reason: Reason
    message: str
    attempt_id: str
    lock_id: str | None = None
    opened_at: datetime | None = None
    booking_updates: dict[str, Any] = field(default_factory=dict)
    new_status: str | None = None
    retry_after: float | None = None
    guest_message: str = ""  # short, for the guest's screen, in the booking's language
    opens_at: datetime | None = None  # the booking's window, when the decision got that far
    closes_at: datetime | None = None
    # Salto's own words, error codes and ids, for the log and support (never in ``message``,
    # which is all in the staff's language)
    details: str = ""
    retryable: bool = False  # the guest app may offer "try again" (a passing problem)
    call_reception: bool = False  # the guest cannot fix it: show the way to reception

    @property
    def opened(self) -> bool:
        return self.outcome is Outcome.OPENED


@dataclass(frozen=True, slots=True)
class AdminResult(_ToDict):
    """The answer to ``on_admin_action``.

    ``settings_update`` may carry secrets (an IQ secret, a PIN) for the host to store, so it
    is left out of ``repr``. The host deep-merges and persists it whatever ``ok`` says.
    """

    ok: bool
    message: str
    settings_update: dict[str, Any] = field(default_factory=dict, repr=False)
    data: dict[str, Any] = field(default_factory=dict)


class StepState(StrEnum):
    OK = "ok"
    FAIL = "fail"
    UNKNOWN = "unknown"  # could not be checked (an earlier step failed, or Salto is away)


@dataclass(frozen=True, slots=True)
class Step(_ToDict):
    """One condition an open needs, as ``explain_access`` found it."""

    step: str  # e.g. "status", "window", "iq_online"
    state: StepState
    message: str
    reason: Reason  # what an open answers when this step fails


@dataclass(frozen=True, slots=True)
class Explanation(_ToDict):
    """The answer to ``explain_access``: every condition in the open's own order; the
    verdict is the first failing step's reason (``opened`` when nothing fails)."""

    integration: str
    verdict: Reason
    message: str
    lock_id: str | None
    opens_at: datetime | None
    closes_at: datetime | None
    steps: list[Step] = field(default_factory=list)
    # every door of the booking (its own locks, the common doors) with its verdict, when it
    # has more than the one ``steps`` explains
    doors: list[Door] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Readiness(_ToDict):
    """The answer to ``readiness``: each booking's verdict at its arrival, and a count per
    verdict."""

    integration: str
    bookings: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, int] = field(default_factory=dict)
