"""Salto KS's values as the plugin uses them, and their parsing from Salto's JSON.

Parsing treats Salto's answers as untrusted: ids must be short strings (UUIDs are put in
canonical form), names are cut, missing or wrongly typed fields become ``None``. Field
names follow docs/salto-ks-api.md, "Lock and IQ fields".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from ireserve_salto_plugin.salto.errors import Unavailable

MAX_ID_CHARS = 100
MAX_NAME_CHARS = 200
MAX_WORD_CHARS = 60  # lock_type, battery_level, state
MAX_UUID_CHARS = 45  # the longest form UUID() accepts: "urn:uuid:" + 36


def canonical_uuid(value: object) -> str:
    """The canonical form (lower case, hyphens) of a UUID; ``ValueError`` otherwise."""
    if not isinstance(value, str) or len(value) > MAX_UUID_CHARS:
        raise ValueError("not a UUID")
    return str(UUID(value))


def salto_id(value: Any) -> str | None:
    """An id from Salto: a short non-empty string; a UUID in canonical form."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_CHARS:
        return None
    try:
        return canonical_uuid(value)
    except ValueError:
        return value


def text(value: Any, limit: int = MAX_NAME_CHARS) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class Token:
    access_token: str = field(repr=False)
    expires_at: float  # wall-clock epoch seconds
    refresh_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    site_uid: str
    name: str | None


@dataclass(frozen=True, slots=True)
class Lock:
    """A lock as the plugin uses it: what it reads of Salto's lock, nothing more (a
    thousand cached parks hold tens of thousands of locks; ``lock_type`` is not read)."""

    id: str
    name: str
    online: bool
    iq_id: str | None  # the site's IQ's own id (str) when the IQ is listed: one per IQ
    iq_online: bool | None
    otp_enabled: bool | None
    battery_level: str | None = None
    left_open_alarm: bool | None = None
    intrusion_alarm: bool | None = None

    def with_iq_online(self, iq_online: bool | None) -> Lock:
        return replace(self, iq_online=iq_online)

    @property
    def battery(self) -> str:
        """``ok``, ``low``, ``critical``, ``unknown`` (a value Salto does not document,
        shown as Salto sent it: never guessed into "fine") or ``none`` (not reported).
        Only ``fresh`` was observed and ECC treats exactly ``critical`` as critical
        (docs/salto-ks-api.md, "Lock object fields"); a name holding "low" is low."""
        level = (self.battery_level or "").lower()
        if not level:
            return "none"
        if level == "fresh":
            return "ok"
        if "critical" in level or "empty" in level:
            return "critical"
        return "low" if "low" in level else "unknown"

    @property
    def alarm(self) -> bool:
        """The left-open or intrusion alarm is switched on for this lock: a setting (Salto's
        own SDK names them ``isLeftOpenAlarmEnabled`` / ``isIntrusionAlarmEnabled``), not an
        alarm going off; those are incidents (the event stream)."""
        return bool(self.left_open_alarm or self.intrusion_alarm)

    @property
    def reachable(self) -> bool:
        """Online, and its IQ not known to be offline."""
        return self.online and self.iq_online is not False

    def option(self) -> dict[str, Any]:
        """This lock as an entry of the mapping dropdown (``hookspecs.md``)."""
        return {
            "value": self.id,
            "label": self.name + ("" if self.reachable else " (offline)"),
            "online": self.reachable,
            "iq_id": self.iq_id,
        }


@dataclass(frozen=True, slots=True)
class Iq:
    id: str
    name: str
    online: bool
    restore_required: bool
    otp_enabled: bool | None
    state: str | None = None


KEEP_OPTIONS_FROM = 500  # locks: a dropdown this big is built with the list


@dataclass(frozen=True, slots=True)
class LockList:
    """A site's locks, in Salto's order, with an index by id, the dropdown of a big site
    built with the list, and the site's IQs (their ``restore_required`` is not in the
    lock's nested ``iq``)."""

    locks: tuple[Lock, ...]
    iqs: Mapping[str, Iq] = field(default_factory=dict, repr=False)
    read_at: float | None = None  # when Salto sent the list (epoch s); None: not known
    # read to its end (salto.paging.Listing): what people see and "not found" need that
    complete: bool = True
    paging_ignored: bool = False  # Salto repeated a page: only the first page is known
    index: Mapping[str, Lock] = field(default_factory=dict, repr=False, compare=False)
    built: tuple[dict[str, Any], ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def of(
        cls,
        locks: list[Lock] | tuple[Lock, ...],
        iqs: list[Iq] | tuple[Iq, ...] = (),
        read_at: float | None = None,
        *,
        complete: bool = True,
        paging_ignored: bool = False,
    ) -> LockList:
        locks = tuple(locks)
        built = tuple(_options(locks, read_at)) if len(locks) >= KEEP_OPTIONS_FROM else ()
        return cls(
            locks,
            {iq.id: iq for iq in iqs},
            read_at,
            complete,
            paging_ignored,
            {lock.id: lock for lock in locks},
            built,
        )

    def get(self, lock_id: str) -> Lock | None:
        """The lock with this id, or None."""
        return self.index.get(lock_id)

    def learned(self, fresh: Lock) -> LockList:
        """This list with a fresh read of one lock in it (and that lock's IQ online state
        on every lock of the IQ); ``self`` when nothing changes."""
        iq_id, iq_online = fresh.iq_id, fresh.iq_online
        locks = tuple(
            fresh
            if lock.id == fresh.id
            else lock.with_iq_online(iq_online)
            if (
                iq_id
                and lock.iq_id == iq_id
                and iq_online is not None
                and lock.iq_online != iq_online
            )
            else lock
            for lock in self.locks
        )
        if locks == self.locks:
            return self
        iqs = dict(self.iqs)
        if iq_id in iqs and iq_online is not None:
            iqs[iq_id] = replace(iqs[iq_id], online=iq_online)
        return LockList.of(
            locks,
            tuple(iqs.values()),
            self.read_at,
            complete=self.complete,
            paging_ignored=self.paging_ignored,
        )

    def options(self) -> list[dict[str, Any]]:
        """The dropdown: fresh dicts per caller. Each entry says when the list was read
        (``read_at``, ISO UTC), so a page can say how old it is. A big site's dropdown is
        built with the list and copied per caller (copying 5,000 entries is faster than
        building them); a small one is built on demand."""
        if self.built:
            return [dict(option) for option in self.built]
        return _options(self.locks, self.read_at)


def _options(locks: tuple[Lock, ...], read_at: float | None) -> list[dict[str, Any]]:
    when = None
    if read_at is not None:
        when = datetime.fromtimestamp(read_at, UTC).isoformat(timespec="seconds")
    return [{**lock.option(), "read_at": when} for lock in locks]


def parse_lock(item: Any, iqs: Mapping[str, Iq] | None = None) -> Lock:
    """A lock of Salto's; ``iqs``: the site's IQs, whose ids its ``iq_id`` then refers to
    (a lock names its IQ, it does not keep a copy of the IQ's id)."""
    lock_id = salto_id(item.get("id")) if isinstance(item, dict) else None
    if lock_id is None:
        raise Unavailable("Salto KS sent a lock without an id")
    iq: dict[str, Any] = item["iq"] if isinstance(item.get("iq"), dict) else {}
    return Lock(
        id=lock_id,
        name=text(item.get("customer_reference")) or lock_id,
        online=item.get("online") is not False,
        iq_id=site_iq_id(salto_id(iq.get("id")), iqs),
        iq_online=flag(iq.get("is_online")),
        otp_enabled=flag(iq.get("otp_enabled")),
        battery_level=text(item.get("battery_level"), MAX_WORD_CHARS),
        left_open_alarm=flag(item.get("left_open_alarm")),
        intrusion_alarm=flag(item.get("intrusion_alarm")),
    )


def site_iq_id(iq_id: str | None, iqs: Mapping[str, Iq] | None) -> str | None:
    """``iq_id`` as the listed IQ's own id, when the site lists that IQ."""
    iq = iqs.get(iq_id) if iqs and iq_id is not None else None
    return iq.id if iq is not None else iq_id


def parse_iq(item: Any) -> Iq:
    iq_id = salto_id(item.get("id")) if isinstance(item, dict) else None
    if iq_id is None:
        raise Unavailable("Salto KS sent an IQ without an id")
    return Iq(
        id=iq_id,
        name=text(item.get("customer_reference")) or iq_id,
        online=item.get("online") is not False,
        restore_required=item.get("restore_required") is True,
        otp_enabled=flag(item.get("otp_enabled")),
        state=text(item.get("state"), MAX_WORD_CHARS),
    )


@dataclass(frozen=True, slots=True)
class ActivatedIq:
    """Salto's view of the account's activation at one IQ (``/v1.2/me/{site}/activated_iqs``)."""

    iq_id: str
    activated: bool
    activation_date: str | None


@dataclass(frozen=True, slots=True)
class SiteUser:
    """The account as a user of the site (``/v1.2/sites/{site}/me``): what decides whether
    it can open at all. ``None`` where Salto did not say."""

    remote_access: bool | None
    blocked: bool | None
    subscription_state: str | None  # "subscribed" or "suspended" (tests/samples)
    expires_at: datetime | None = None  # the account's access to the site ends then
    user_id: str | None = None  # the platform user's id (``user.id``; entries' ``user_id``)

    @property
    def suspended(self) -> bool:
        """A seat-exhausted account is silently ``suspended``: its doors refuse with no
        HTTP error (docs/salto-ks-api.md, "Lock object fields")."""
        return self.subscription_state == "suspended"

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


def parse_site_user(body: Any) -> SiteUser:
    if not isinstance(body, dict):
        raise Unavailable("Salto KS sent an unexpected site user")

    def flag(name: str) -> bool | None:
        value = body.get(name)
        return value if isinstance(value, bool) else None

    person = body.get("user")
    return SiteUser(
        flag("remote_access"),
        flag("blocked"),
        text(body.get("subscription_state"), MAX_WORD_CHARS),
        entry_time({"utc_date_time": body.get("expires_at")}),
        salto_id(person.get("id")) if isinstance(person, dict) else None,
    )


def parse_activated_iq(item: Any) -> ActivatedIq:
    iq_id = salto_id(item.get("iq_id")) if isinstance(item, dict) else None
    if iq_id is None:
        raise Unavailable("Salto KS sent an activation without an iq_id")
    return ActivatedIq(
        iq_id, item.get("activated") is True, text(item.get("activation_date"), MAX_WORD_CHARS)
    )


def entry_lock(entry: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(lock id, lock name) of a log entry. Salto's entries are flat (``lock_id``,
    ``lock_customer_reference``: tests/samples/entries.json); a nested ``lock`` object is
    read too, for entries recorded before the sandbox learned that."""
    nested = entry.get("lock")
    lock = nested if isinstance(nested, dict) else {}
    lock_id = salto_id(entry.get("lock_id", lock.get("id")))
    name = text(entry.get("lock_customer_reference", lock.get("customer_reference")))
    return lock_id, name


def entry_time(entry: Mapping[str, Any]) -> datetime | None:
    """When Salto logged an entry (``utc_date_time``, aware UTC), or ``None``."""
    value = entry.get("utc_date_time")
    if not isinstance(value, str) or len(value) > MAX_WORD_CHARS:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def parse_site(item: Any, site_uid: str) -> Site | None:
    """The site of a list entry when it is the one with ``site_uid``."""
    if not isinstance(item, dict) or item.get("site_uid") != site_uid:
        return None
    site_id = salto_id(item.get("id"))
    return (
        None if site_id is None else Site(site_id, site_uid, text(item.get("customer_reference")))
    )
