"""The park's settings for this integration: schema, parsed form, platform credentials.

``SettingsSchema().load(raw)`` validates what the admin stored and returns a frozen
:class:`Settings`. Secret fields carry ``metadata={"secret": True}`` so that a host can
redact them, are ``load_only`` and are left out of every ``repr``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
)

SITE_UID_RE = re.compile(r"^[A-Z]{2}[0-9]{10}$")
PIN_RE = re.compile(r"^[0-9]{4}$")
SECRET = {"secret": True}

# Default hosts per environment (API reference §2).
ENVIRONMENTS: dict[str, dict[str, str]] = {
    "acceptance": {
        "api_url": "https://clp-accept-user.my-clay.com",
        "identity_url": "https://identity-acc.eu.my-clay.com",
    },
    "production": {
        "api_url": "https://connect.my-clay.com",
        "identity_url": "https://identity.eu.my-clay.com",
    },
}


class SettingsError(Exception):
    """Settings that cannot be used: invalid fields or missing platform credentials."""

    def __init__(self, message: str, fields: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.fields = dict(fields or {})


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_base_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationError("Must be an absolute http(s) URL.")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValidationError("Must use https (plain http is accepted only for loopback).")
    if parts.query or parts.fragment or parts.username:
        raise ValidationError("Must not contain credentials, a query or a fragment.")


def _check_uuid(value: str) -> None:
    try:
        UUID(value)
    except ValueError:
        raise ValidationError("Must be a UUID.") from None


_NonEmpty = validate.Length(min=1, max=200)


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


class IqSchema(_Base):
    secret = fields.String(
        load_default=None, allow_none=True, load_only=True, metadata=SECRET,
        validate=validate.Length(min=1, max=200),
    )
    pin = fields.String(
        load_default=None, allow_none=True, load_only=True, metadata=SECRET,
        validate=validate.Regexp(PIN_RE, error="Must be exactly 4 digits."),
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
    api_url: str | None = None
    identity_url: str | None = None
    site_id: str | None = None
    iqs: Mapping[str, IqCredentials] = field(default_factory=dict)
    minutes_before: int = 0
    open_field: str | None = None
    checkin_status: str | None = None
    mapping: Mapping[str, str] = field(default_factory=dict)
    default_lock_id: str | None = None

    @property
    def base_api_url(self) -> str:
        return (self.api_url or ENVIRONMENTS[self.environment]["api_url"]).rstrip("/")

    @property
    def base_identity_url(self) -> str:
        return (self.identity_url or ENVIRONMENTS[self.environment]["identity_url"]).rstrip("/")


class SettingsSchema(_Base):
    """The ``salto_ks`` settings a park stores (see ``hookspecs.md``, "Settings")."""

    enabled = fields.Boolean(load_default=True)
    environment = fields.String(
        required=True, validate=validate.OneOf(sorted(ENVIRONMENTS))
    )
    api_url = fields.String(load_default=None, allow_none=True, validate=_check_base_url)
    identity_url = fields.String(load_default=None, allow_none=True, validate=_check_base_url)
    username = fields.String(required=True, validate=_NonEmpty)
    password = fields.String(
        required=True, load_only=True, metadata=SECRET, validate=validate.Length(min=1, max=500)
    )
    site_uid = fields.String(
        required=True,
        validate=validate.Regexp(
            SITE_UID_RE, error="Must be two capital letters and 10 digits, e.g. NL6254340082."
        ),
    )
    site_id = fields.String(load_default=None, allow_none=True, validate=_check_uuid)
    iqs = fields.Dict(
        keys=fields.String(validate=_check_uuid),
        values=fields.Nested(IqSchema),
        load_default=dict,
    )
    open_statuses = fields.List(
        fields.String(validate=_NonEmpty),
        required=True,
        validate=validate.Length(min=1, error="Choose at least one status."),
    )
    minutes_before = fields.Integer(
        load_default=0, strict=True, validate=validate.Range(min=0, max=1440)
    )
    open_field = fields.String(load_default=None, allow_none=True, validate=_NonEmpty)
    checkin_status = fields.String(load_default=None, allow_none=True, validate=_NonEmpty)
    mapping = fields.Dict(
        keys=fields.String(validate=_NonEmpty),
        values=fields.String(validate=_check_uuid),
        load_default=dict,
    )
    default_lock_id = fields.String(load_default=None, allow_none=True, validate=_check_uuid)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Settings:
        data["open_statuses"] = tuple(data.get("open_statuses", ()))
        return Settings(**data)


def describe_errors(messages: Any, limit: int = 5) -> str:
    """Flatten marshmallow messages into ``field: message`` text (no input values; long
    field names are cut, and only the first ``limit`` problems are listed)."""
    parts: list[str] = []

    def name(key: Any) -> str:
        text = str(key)
        return text if len(text) <= 40 else text[:37] + "..."

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, sub in value.items():
                walk(f"{prefix}.{name(key)}" if prefix else name(key), sub)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(prefix, item)
        else:
            parts.append(f"{prefix or 'settings'}: {value}")

    walk("", messages)
    more = f"; and {len(parts) - limit} more" if len(parts) > limit else ""
    return "; ".join(parts[:limit]) + more


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """The platform's OAuth client for one environment (never per park)."""

    client_id: str
    client_secret: str = field(repr=False)


def client_credentials(
    environment: str, environ: Mapping[str, str] | None = None
) -> ClientCredentials:
    """Read ``SALTO_KS_<ENV>_CLIENT_ID`` / ``_CLIENT_SECRET``; a missing one is named."""
    env = os.environ if environ is None else environ
    prefix = f"SALTO_KS_{environment.upper()}_CLIENT"
    missing = [name for name in (f"{prefix}_ID", f"{prefix}_SECRET") if not env.get(name)]
    if missing:
        raise SettingsError(
            f"Platform OAuth client for {environment} is not configured: set "
            + " and ".join(missing)
            + " in the host's environment."
        )
    return ClientCredentials(env[f"{prefix}_ID"], env[f"{prefix}_SECRET"])
