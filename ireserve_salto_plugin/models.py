"""Objects that cross the host boundary: reason codes and hook results.

Host objects (``park``, ``booking``) are duck-typed; :class:`Park` and :class:`Booking`
describe the attributes the plugin reads. The plugin never mutates them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any, Protocol


class Park(Protocol):
    id: str
    timezone: str
    integrations: Mapping[str, Any]


class Booking(Protocol):
    id: str
    object_id: str
    status: str
    arrival: datetime
    departure: datetime
    fields: Mapping[str, Any]


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


DENIED_REASONS = frozenset(
    {
        Reason.INTEGRATION_INACTIVE,
        Reason.STATUS_NOT_ALLOWED,
        Reason.TOO_EARLY,
        Reason.TOO_LATE,
        Reason.NO_LOCK_MAPPED,
    }
)


# Keys whose values are never written out by ``to_dict()`` (an IQ secret, a PIN, ...).
SECRET_KEYS = frozenset({"password", "secret", "pin", "client_secret", "access_token",
                         "refresh_token", "otp", "current_pin", "new_pin"})
MASK = "***"


def jsonable(value: Any) -> Any:
    """``value`` as JSON-compatible data, with the values of :data:`SECRET_KEYS` masked."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): MASK if k in SECRET_KEYS and v is not None else jsonable(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


class _ToDict:
    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible, for audit logs: secrets are masked, datetimes ISO 8601."""
        return {spec.name: jsonable(getattr(self, spec.name))
                for spec in fields(self)}  # type: ignore[arg-type]


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


# One sentence per reason for staff at the desk; ``{…}`` parts are filled by the service.
STAFF_MESSAGES: dict[Reason, str] = {
    Reason.OPENED: "Lock {lock} was opened.",
    Reason.INTEGRATION_INACTIVE: "Salto KS opening is switched off for this park.",
    Reason.STATUS_NOT_ALLOWED: "Booking status {status!r} does not allow opening.",
    Reason.TOO_EARLY: "Too early: opening is allowed from {opens_at}.",
    Reason.TOO_LATE: "Too late: opening was allowed until {closes_at}.",
    Reason.NO_LOCK_MAPPED: "No lock is mapped to this object and there is no default lock.",
    Reason.SETTINGS_INVALID: "The Salto KS settings are incomplete or invalid: {detail}",
    Reason.BOOKING_INVALID: "The booking cannot be checked: {detail}",
    Reason.LOCK_NOT_FOUND: "Lock {lock} is not on the Salto KS site; check the mapping.",
    Reason.SITE_NOT_FOUND: "The Salto KS site was not found for this account: {detail}",
    Reason.IQ_NOT_ACTIVATED: (
        "The IQ of lock {lock} is not activated for this account; run GET PIN and Set PIN."
    ),
    Reason.IQ_OFFLINE: (
        "The IQ gateway of lock {lock} is offline: check its power and internet connection."
    ),
    Reason.LOCK_OFFLINE: (
        "Lock {lock} is not reachable from its IQ: check the lock's batteries and its "
        "distance to the IQ."
    ),
    Reason.OTP_REJECTED: (
        "Salto KS rejected the one-time code. Likely causes: the IQ PIN was changed outside "
        "i-Reserve, the account was activated in the Salto KS app, or the server clock is "
        "off.{detail}"
    ),
    Reason.OTP_BLOCKED: (
        "Salto KS has blocked one-time codes for this IQ after repeated failures; "
        "try again in about {minutes} minutes."
    ),
    Reason.OTP_SUSPENDED: (
        "One-time codes for this IQ were rejected twice in a row, so the plugin stopped "
        "sending them (to avoid Salto's 20-minute block). Likely causes: the IQ PIN was "
        "changed outside i-Reserve, the account was activated in the Salto KS app, or the "
        "server clock is off. An admin must re-activate the IQ (GET PIN, Set PIN); "
        "otherwise it is retried in about {minutes} minutes."
    ),
    Reason.AUTH_FAILED: "Salto KS refused the login: {detail}",
    Reason.PERMISSION_DENIED: (
        "The Salto KS account may not do this (remote opening right, subscription or "
        "released site): {detail}"
    ),
    Reason.SALTO_REJECTED: "Salto KS refused the request: {detail}",
    Reason.SALTO_UNAVAILABLE: "Salto KS cannot be reached right now; try again shortly.",
    Reason.TIMEOUT: "Salto KS did not answer in time; {detail}",
    Reason.STORE_UNAVAILABLE: (
        "The plugin's shared store (Redis) is not answering, so no open command was sent; "
        "the host's operators must check it."
    ),
    Reason.DUPLICATE: "Already handled a moment ago ({first}).",
    Reason.CLOCK_SKEW: "This server's clock differs from Salto's by more than a minute.",
    Reason.INTERNAL_ERROR: (
        "The Salto KS plugin hit an unexpected error (attempt {attempt}); the log has details."
    ),
}
