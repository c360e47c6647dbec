"""The park's settings for this integration: schema, parsed form, platform credentials.

``SettingsSchema().load(raw)`` validates what the admin stored and returns a frozen
:class:`Settings`. Secret fields carry ``metadata={"secret": True}`` so that a host can
redact them, are ``load_only`` and are left out of every ``repr``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
)

from ireserve_salto_plugin.park.fields import SettingsError, describe_errors, field_metadata
from ireserve_salto_plugin.park.i18n import N_
from ireserve_salto_plugin.salto.config import ENVIRONMENTS
from ireserve_salto_plugin.salto.types import canonical_uuid

__all__ = ["IqCredentials", "Settings", "SettingsError", "SettingsSchema", "describe_errors"]

# \Z, not $: "$" also matches before a final newline ("1234\n" is no PIN).
SITE_UID_RE = re.compile(r"[A-Z]{2}[0-9]{10}\Z")
PIN_RE = re.compile(r"[0-9]{4}\Z")
SECRET = {"secret": True}


class Uuid(fields.String):
    """A UUID, stored and compared in canonical form (``{…}``, upper case and the
    hyphen-less form are accepted on input)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return canonical_uuid(text)
        except ValueError:
            raise ValidationError(N_("Must be a UUID.")) from None


MAX_TEXT_CHARS = 200  # a status, a field name, an object id, an IQ secret
MAX_PASSWORD_CHARS = 500
MAX_MINUTES_BEFORE = 24 * 60
SIZE_LIMITS = {  # entries at most, and the error (one fixed text each, for the catalogs)
    "mapping": (10_000, N_("At most 10000 objects can be mapped.")),
    "open_statuses": (50, N_("At most 50 statuses.")),
    "iqs": (1_000, N_("At most 1000 IQs.")),
    "common_locks": (100, N_("At most 100 common doors.")),
}
MAX_LOCKS_PER_OBJECT = 10  # an object's own doors: the chalet, its shed, ...
MAX_MINUTES_AFTER = 24 * 60
MAX_GUEST_TEXT_CHARS = 300
PHONE_RE = re.compile(r"\+?[0-9][0-9 ()./-]{3,30}\Z")
_NonEmpty = validate.Length(
    min=1, max=MAX_TEXT_CHARS, error=f"Must be 1 to {MAX_TEXT_CHARS} characters."
)


# Messages the schema gives that the code does not spell out: marshmallow's own, and the
# ones built from the limits above. Marked here so that ``pybabel extract`` finds them.
SCHEMA_MESSAGES = (
    N_("Field may not be null."),
    N_("Invalid input type."),
    N_("Invalid value."),
    N_("Missing data for required field."),
    N_("Not a valid boolean."),
    N_("Not a valid integer."),
    N_("Not a valid list."),
    N_("Not a valid mapping type."),
    N_("Not a valid string."),
    N_("Not a valid utf-8 string."),
    N_("Number too large."),
    N_("Unknown field."),
    N_("Must be 1 to 200 characters."),
    N_("Must be 1 to 500 characters."),
    N_("Must be a whole number from 0 to 1440."),
    N_("Must be 1 to 300 characters."),
)


class _Base(Schema):
    class Meta:
        unknown = RAISE


@dataclass(frozen=True, slots=True)
class IqCredentials:
    secret: str | None = field(default=None, repr=False)
    pin: str | None = field(default=None, repr=False)
    activated_at: datetime | None = None

    @property
    def activated(self) -> bool:
        return bool(self.secret and self.pin)


class LockOrLocks(fields.Field[tuple[str, ...]]):
    """An object's door, or its doors in order (the first is its own: the chalet, then its
    shed, ...): a UUID or a list of 1 to 10 UUIDs, read as a tuple."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_LOCKS_PER_OBJECT:
            raise ValidationError(N_("Must be a lock id or a list of 1 to 10 lock ids."))
        locks: list[str] = []
        for item in items:
            try:
                lock = canonical_uuid(item) if isinstance(item, str) else None
            except ValueError:
                lock = None
            if lock is None:
                raise ValidationError(N_("Must be a UUID."))
            if lock not in locks:
                locks.append(lock)
        return tuple(locks)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value[0] if isinstance(value, tuple) and len(value) == 1 else value


class IqSchema(_Base):
    secret = fields.String(
        load_default=None,
        allow_none=True,
        load_only=True,
        metadata=SECRET,
        validate=_NonEmpty,
    )
    pin = fields.String(
        load_default=None,
        allow_none=True,
        load_only=True,
        metadata=SECRET,
        validate=validate.Regexp(PIN_RE, error=N_("Must be exactly 4 digits.")),
    )
    activated_at = fields.AwareDateTime(load_default=None, allow_none=True)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> IqCredentials:
        return IqCredentials(**data)


@dataclass(frozen=True, slots=True)
class Settings:
    environment: str
    username: str
    password: str = field(repr=False)
    site_uid: str
    open_statuses: tuple[str, ...] = ()
    enabled: bool = True
    site_id: str | None = None
    iqs: Mapping[str, IqCredentials] = field(default_factory=dict)
    minutes_before: int = 0
    open_field: str | None = None
    checkin_status: str | None = None
    guest_address: str = "je"  # Dutch guest texts say "je" or "u"
    mapping: Mapping[str, str] = field(default_factory=dict)  # object → its own lock
    default_lock_id: str | None = None
    # object → all its doors in order (the first is ``mapping``'s): the chalet, its shed
    object_locks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    common_locks: Mapping[str, str] = field(default_factory=dict)  # lock → label
    minutes_after: int = 0  # a grace after departure
    staff_open_enabled: bool = True
    reception_phone: str | None = None
    guest_fallback_text: Mapping[str, str] = field(default_factory=dict)  # lang → text

    def own_locks(self, object_id: str) -> tuple[str, ...]:
        """The object's own doors, first its own lock; the default lock when unmapped."""
        locks = self.object_locks.get(object_id)
        if locks:
            return locks
        return (self.default_lock_id,) if self.default_lock_id else ()

    @property
    def opening_statuses(self) -> tuple[str, ...]:
        """``open_statuses`` and the check-in status: the first open checks the booking in,
        and the guest's next tap must still open."""
        if self.checkin_status and self.checkin_status not in self.open_statuses:
            return (*self.open_statuses, self.checkin_status)
        return self.open_statuses


class SettingsSchema(_Base):
    """The ``salto_ks`` settings a park stores (see ``hookspecs.md``, "Settings"). Each
    field's ``metadata`` describes it for the form (:mod:`.form`)."""

    enabled = fields.Boolean(load_default=True, metadata=field_metadata("enabled"))
    environment = fields.String(
        required=True,
        metadata=field_metadata("environment"),
        validate=validate.OneOf(ENVIRONMENTS, error=N_("Must be acceptance or production.")),
    )
    username = fields.String(required=True, validate=_NonEmpty, metadata=field_metadata("username"))
    password = fields.String(
        required=True,
        load_only=True,
        metadata={**field_metadata("password"), **SECRET},
        validate=validate.Length(
            min=1, max=MAX_PASSWORD_CHARS, error=f"Must be 1 to {MAX_PASSWORD_CHARS} characters."
        ),
    )
    site_uid = fields.String(
        required=True,
        metadata=field_metadata("site_uid"),
        validate=validate.Regexp(
            SITE_UID_RE, error=N_("Must be two capital letters and 10 digits, e.g. NL6254340082.")
        ),
    )
    site_id = Uuid(load_default=None, allow_none=True, metadata=field_metadata("site_id"))
    iqs = fields.Dict(  # null for an IQ: forgotten (``forget_iq``), i.e. not activated
        keys=Uuid(),
        values=fields.Nested(IqSchema, allow_none=True),
        load_default=dict,
        metadata=field_metadata("iqs"),
    )
    open_statuses = fields.List(
        fields.String(validate=_NonEmpty),
        required=True,
        metadata=field_metadata("open_statuses"),
        validate=validate.Length(min=1, error=N_("Choose at least one status.")),
    )
    minutes_before = fields.Integer(
        load_default=0,
        strict=True,
        metadata=field_metadata("minutes_before"),
        validate=validate.Range(
            min=0,
            max=MAX_MINUTES_BEFORE,
            error=f"Must be a whole number from 0 to {MAX_MINUTES_BEFORE}.",
        ),
    )
    open_field = fields.String(
        load_default=None,
        allow_none=True,
        validate=_NonEmpty,
        metadata=field_metadata("open_field"),
    )
    checkin_status = fields.String(
        load_default=None,
        allow_none=True,
        validate=_NonEmpty,
        metadata=field_metadata("checkin_status"),
    )
    guest_address = fields.String(
        load_default="je",
        metadata=field_metadata("guest_address"),
        validate=validate.OneOf(("je", "u"), error=N_("Must be je or u.")),
    )
    mapping = fields.Dict(
        keys=fields.String(validate=_NonEmpty),
        values=LockOrLocks(),
        load_default=dict,
        metadata=field_metadata("mapping"),
    )
    default_lock_id = Uuid(
        load_default=None, allow_none=True, metadata=field_metadata("default_lock_id")
    )
    common_locks = fields.Dict(
        keys=Uuid(),
        values=fields.String(
            validate=validate.Length(
                max=MAX_TEXT_CHARS, error=f"Must be 1 to {MAX_TEXT_CHARS} characters."
            )
        ),
        load_default=dict,
        metadata=field_metadata("common_locks"),
    )
    minutes_after = fields.Integer(
        load_default=0,
        strict=True,
        metadata=field_metadata("minutes_after"),
        validate=validate.Range(
            min=0,
            max=MAX_MINUTES_AFTER,
            error=f"Must be a whole number from 0 to {MAX_MINUTES_AFTER}.",
        ),
    )
    staff_open_enabled = fields.Boolean(
        load_default=True, metadata=field_metadata("staff_open_enabled")
    )
    reception_phone = fields.String(
        load_default=None,
        allow_none=True,
        metadata=field_metadata("reception_phone"),
        validate=validate.Regexp(
            PHONE_RE, error=N_("Must be a phone number, e.g. +31 20 123 4567.")
        ),
    )
    guest_fallback_text = fields.Dict(
        keys=fields.String(
            validate=validate.OneOf(("nl", "en", "de"), error=N_("Must be nl, en or de."))
        ),
        values=fields.String(
            validate=validate.Length(
                min=1,
                max=MAX_GUEST_TEXT_CHARS,
                error=f"Must be 1 to {MAX_GUEST_TEXT_CHARS} characters.",
            )
        ),
        load_default=dict,
        metadata=field_metadata("guest_fallback_text"),
    )

    @pre_load
    def _bounded(self, data: Any, **_: Any) -> Any:
        """Collections are bounded before any entry is read: a huge mapping is refused at
        once, not validated entry by entry on the first hook (seconds) and compared on
        every later one."""
        if isinstance(data, Mapping):
            for name, (most, message) in SIZE_LIMITS.items():
                value = data.get(name)
                if isinstance(value, Mapping | list) and len(value) > most:
                    raise ValidationError(message, field_name=name)
        return data

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Settings:
        data["open_statuses"] = tuple(data.get("open_statuses", ()))
        data["iqs"] = {iq: cred for iq, cred in data.get("iqs", {}).items() if cred is not None}
        data["object_locks"] = dict(data.get("mapping", {}))
        data["mapping"] = {obj: locks[0] for obj, locks in data["object_locks"].items()}
        return Settings(**data)
