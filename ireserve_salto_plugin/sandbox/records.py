"""The sandbox's records: users, IQs, locks, sites, activations and mails, each as the real
Salto KS answers with it (``as_json``, shaped like tests/samples/)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")  # the sandbox sites' zone


ENTRY_TTL = 7776000  # seconds Salto keeps an entry (90 days, as in the samples)


NAMESPACE = uuid.UUID("6f1b7e2c-35a4-4f3e-9a55-3c1d3b0c9a10")


VENDOR_ID = "d948da26-c404-11ee-8767-000d3a46a880"  # as in tests/samples/lock.json


EASY_OFFICE_MODE = {
    "eom_auto_start": False,
    "monday": False,
    "tuesday": False,
    "wednesday": False,
    "thursday": False,
    "friday": False,
    "saturday": False,
    "sunday": False,
    "start_time": "00:00:00",
    "end_time": "23:59:59",
    "start_date": None,
    "end_date": None,
}


IQ_NAMES = ["Reception", "North", "South", "East", "West", "Dunes", "Forest", "Lake"]


def stable_id(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(map(str, parts))))


@dataclass
class User:
    username: str
    password: str
    id: str
    site_ids: set[str]
    remote_access: bool = True
    blocked: bool = False
    # "subscribed" or "suspended" (a seat-exhausted account: its doors then refuse with no
    # HTTP error; docs/salto-ks-api.md, "Lock object fields")
    subscription_state: str = "subscribed"
    expires_at: str | None = None  # the account's access on the site ends then (ISO UTC)
    # a Site Admin may stream the site's entries and incidents; a plain site user (the
    # samples' remote-open account) only its own entries (docs §6b)
    site_admin: bool = False


@dataclass
class IqState:
    id: str
    name: str
    mac: str
    online: bool = True
    otp_enabled: bool = True
    restore_required: bool = False

    def as_json(self) -> dict[str, Any]:
        """Shaped as Salto's (tests/samples/iq.json)."""
        return {
            "id": self.id,
            "customer_reference": self.name,
            "time_zone": "Europe/Amsterdam",
            "mac": self.mac,
            "operator": "KPN",
            "state": "active",
            "restore_required": self.restore_required,
            "reset_date": None,
            "online": self.online,
            "led_enabled": True,
            "data_sync_state": "synced",
            "signal_strength": 21,
            "revision": "2.0",
            "otp_enabled": self.otp_enabled,
        }


@dataclass
class LockState:
    id: str
    name: str
    iq: IqState
    mac: str
    online: bool = True
    lock_type: str = "escutcheon_pin"
    locked_state: str = "locked"
    battery_level: str = "fresh"  # fresh … critical (docs/salto-ks-api.md, lock fields)
    left_open_alarm: bool = False
    intrusion_alarm: bool = False

    def as_json(self) -> dict[str, Any]:
        """Shaped as Salto's (tests/samples/lock.json)."""
        return {
            "offline_access_keys_limit": 360,
            "offline_access_keys_count": 0,
            "mac": self.mac,
            "floor": None,
            "locked_state": self.locked_state,
            "lock_type": self.lock_type,
            "online": self.online,
            "iq_link_state": "attached",
            "tag_registration_state": "not_started",
            "battery_level": self.battery_level,
            "left_open_alarm": self.left_open_alarm,
            "intrusion_alarm": self.intrusion_alarm,
            "easy_office_mode_schedule": dict(EASY_OFFICE_MODE),
            "iq": {
                "mac_address": self.iq.mac,
                "is_online": self.iq.online,
                "revision": "2.0",
                "otp_enabled": self.iq.otp_enabled,
                "id": self.iq.id,
                "customer_reference": self.iq.name,
            },
            "repeater": None,
            "privacy_mode": False,
            "communication_type": "blue_net",
            "vendor": {"id": VENDOR_ID, "reference": "sallis", "display_name": "SALTO Sallis"},
            "id": self.id,
            "customer_reference": self.name,
        }


@dataclass
class Site:
    id: str
    site_uid: str
    name: str
    iqs: dict[str, IqState] = field(default_factory=dict)
    locks: dict[str, LockState] = field(default_factory=dict)
    entries: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Shaped as Salto's (tests/samples/site.json)."""
        return {
            "active_user_amount": 1,
            "active_iq_amount": len(self.iqs),
            "pin_enabled": True,
            "site_uid": self.site_uid,
            "id": self.id,
            "customer_reference": self.name,
            "subscribed_user_amount": 10,
            "subscription_valid": True,
            "country_code": self.site_uid[:2],
            "time_zone": "Europe/Amsterdam",
            "owner": person_json(stable_id("owner", self.id), "owner@park.example"),
            "installation_state": "released",
            "mkey_compatible": True,
            "store_events_ttl": "90.00:00:00",
        }


@dataclass
class Activation:
    """One account's state at one IQ (codes are per account and IQ: docs, "OTP")."""

    secret: str
    secret_taken: bool = False
    pin: str | None = None
    activated: bool = False
    activation_date: datetime | None = None
    failures: dict[str, int] = field(default_factory=dict)  # per command ("OTP blocks")
    blocked_until: dict[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class Mail:
    to: str
    channel: str
    subject: str
    body: str
    pin: str = field(repr=False)
    iq_id: str


def person_json(user_id: str, email: str) -> dict[str, Any]:
    """A platform user as Salto nests one (a site's owner, a site user's ``user``)."""
    return {
        "email": email,
        "image_url": None,
        "tag_number": "01507333",
        "is_managed_by_current_site": False,
        "has_profile": True,
        "id": user_id,
        "first_name": "Service",
        "last_name": "Account",
    }


def random_pin() -> str:
    return f"{secrets.randbelow(10_000):04d}"
