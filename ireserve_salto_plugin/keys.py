"""Every key of the runtime store, in one place: its prefix, the type of its value, how
that value is written to a shared store (JSON by field name, with a format version), and
whether the Redis near-cache may serve it from process memory.

A key's first part is its hash tag (``token:{<account>}``): every key of one account (a
park's Salto user on one environment) maps to one Redis Cluster slot, so the open's two
store round trips (:meth:`~.store.Store.claim`, :meth:`~.store.Store.write`) never span
nodes.

    token = TOKEN(account_key)          # a Key[Token]
    store.set(token, Token(...), ttl)   # type-checked
    store.get(token)                    # Token | None

A value written by another version of the plugin that does not decode is a miss, never a
misread: adding a field to :class:`Lock` cannot corrupt lock lists already in Redis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, Generic, NamedTuple, TypeVar, cast

from .salto_types import Iq, Lock, LockList, Site, Token

T = TypeVar("T")
FORMAT = 1  # bump when a codec's JSON changes incompatibly


@dataclass(frozen=True, slots=True)
class Codec(Generic[T]):
    dump: Callable[[T], Any]  # value -> JSON-compatible data
    load: Callable[[Any], T]  # data -> value; raises KeyError/TypeError/ValueError if not


@dataclass(frozen=True, slots=True)
class KeySpec(Generic[T]):
    prefix: str
    codec: Codec[T]
    near: bool = False  # the Redis near-cache may serve it (read on every open, rarely set)

    def __call__(self, tag: str, *parts: str) -> Key[T]:
        """The key for ``tag`` (an account, or the API's origin) and more parts. The tag
        is a Redis Cluster hash tag: every key of one park lies in one slot, so one script
        or pipeline may touch them together."""
        return Key(self, ":".join((self.prefix, "{" + tag.replace("}", "") + "}", *parts)))


class Key(NamedTuple, Generic[T]):
    """One key: its spec (type, codec, near-cache rule) and its full name. A tuple, so
    that the open path builds a few of them for next to nothing."""

    spec: KeySpec[T]
    name: str


def _checked(*kinds: type) -> Codec[Any]:
    def load(data: Any) -> Any:
        if not isinstance(data, kinds) or isinstance(data, bool):
            raise TypeError("unexpected type")
        return data

    return Codec(lambda value: value, load)


def _versioned(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("v") != FORMAT:
        raise ValueError("another format")
    return data


def _by_name(cls: type[T], data: dict[str, Any]) -> T:
    names = {spec.name for spec in fields(cast(Any, cls))}
    return cls(**{name: value for name, value in data.items() if name in names})


def _row(value: Any) -> dict[str, Any]:
    return {spec.name: getattr(value, spec.name) for spec in fields(value)}


TOKEN_CODEC: Codec[Token] = Codec(
    lambda t: {"v": FORMAT, **_row(t)}, lambda d: _by_name(Token, _versioned(d)))
SITE_CODEC: Codec[Site] = Codec(
    lambda s: {"v": FORMAT, **_row(s)}, lambda d: _by_name(Site, _versioned(d)))
LOCKS_CODEC: Codec[LockList] = Codec(
    lambda locks: {"v": FORMAT, "locks": [_row(lock) for lock in locks.locks],
                   "iqs": [_row(iq) for iq in locks.iqs.values()]},
    lambda d: LockList.of([_by_name(Lock, row) for row in _versioned(d)["locks"]],
                          [_by_name(Iq, row) for row in d.get("iqs", [])]))


@dataclass(frozen=True, slots=True)
class ClockReading:
    offset: float  # seconds Salto's clock is ahead of ours
    at: float  # our wall-clock time of the reading


CLOCK_CODEC: Codec[ClockReading] = Codec(
    lambda r: [r.offset, r.at], lambda d: ClockReading(float(d[0]), float(d[1])))

DedupValue = str | dict[str, Any]  # PENDING while the first attempt runs, then its result
NUMBER: Codec[float] = _checked(float, int)
TEXT: Codec[str] = _checked(str)
DEDUP: Codec[DedupValue] = _checked(str, dict)

# name parts: the account key is a hash of hosts, client, username and password
TOKEN = KeySpec("token", TOKEN_CODEC, near=True)  # (account)
REFUSED_PASSWORD = KeySpec("authfail", TEXT)  # (account): the refusal, for a while
SCOPE = KeySpec("scope", TEXT)  # (account): the scope the client may ask for
SITE = KeySpec("site", SITE_CODEC, near=True)  # (account, site_uid)
LOCKS = KeySpec("locks", LOCKS_CODEC, near=True)  # (account, site_id)
CLOCK = KeySpec("clock", CLOCK_CODEC, near=True)  # (scheme://host:port of the API)
OTP_BLOCK = KeySpec("otpblock", NUMBER)  # (account, iq): blocked until (epoch s)
OTP_FAILS = KeySpec("otpfail", NUMBER)  # (account, iq): rejections in a row
OTP_SUSPEND = KeySpec("otpsuspend", NUMBER)  # (account, iq): until (epoch s)
OTP_GOOD = KeySpec("otpgood", NUMBER)  # (account, iq): a code was accepted at (epoch s)
OTP_PROBE = KeySpec("otpprobe", NUMBER)  # (account, iq): the one code in flight (a mutex)
DUPLICATE = KeySpec("dedup", DEDUP)  # (account, hash of park, booking, lock, requester)
RECORD: Codec[dict[str, Any]] = _checked(dict)
RECEIPT = KeySpec("receipt", RECORD)  # (account, attempt id): lock, time, site of an open
LAST_OPEN = KeySpec("lastopen", RECORD)  # (account, "success" | "failure")
