"""What the client caches, and the store it caches through: :class:`Store` is the
interface (the plugin's in-process and Redis stores implement it), and each key of the
client (token, scope, site, lock list, clock) is declared here with its prefix, the type
of its value, how that value is written to a shared store (JSON by field name, with a
format version), and whether the Redis near-cache may serve it from process memory.

A key's first part is its hash tag (``token:{<account>}``): every key of one account (a
park's Salto user on one environment) maps to one Redis Cluster slot, so the open's two
store round trips (:meth:`Store.claim`, :meth:`Store.write`) never span
nodes.

    token = TOKEN(account_key)          # a Key[Token]
    store.set(token, Token(...), ttl)   # type-checked
    store.get(token)                    # Token | None

A value written by another version of the plugin that does not decode is a miss, never a
misread: adding a field to :class:`Lock` cannot corrupt lock lists already in Redis.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from ireserve_salto_plugin.salto.types import Iq, Lock, LockList, Site, Token, site_iq_id

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
        if "}" in tag:
            tag = tag.replace("}", "")
        name = f"{self.prefix}:{{{tag}}}"
        return Key(self, ":".join((name, *parts)) if parts else name)


class Key(NamedTuple, Generic[T]):
    """One key: its spec (type, codec, near-cache rule) and its full name. A tuple, so
    that the open path builds a few of them for next to nothing."""

    spec: KeySpec[T]
    name: str


def checked(*kinds: type) -> Codec[Any]:
    def load(data: Any) -> Any:
        if not isinstance(data, kinds) or isinstance(data, bool):
            raise TypeError("unexpected type")
        return data

    return Codec(lambda value: value, load)


def _versioned(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("v") != FORMAT:
        raise ValueError("another format")
    return data


# What a field of a cached value may hold, by its annotation: a value read back from a
# shared store is checked as strictly as Salto's answers (a lock flag "no" was taken for
# true); a value of another type makes the entry a miss, and Salto is asked again.
_KINDS: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "float": (int, float),
    "int": (int,),
    "bool": (bool,),
}


def _typed(hints: dict[str, str], data: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``data`` that ``hints`` (name -> annotation text) name, each of its
    annotated type (``str | None`` and the like); ``TypeError`` otherwise."""
    row: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints.get(name)
        if hint is None:
            continue
        kinds = [part.strip() for part in hint.split("|")]
        if value is None and "None" in kinds:
            row[name] = value
            continue
        allowed = tuple(t for kind in kinds for t in _KINDS.get(kind, ()))
        if not isinstance(value, allowed) or (isinstance(value, bool) and "bool" not in kinds):
            raise TypeError(f"{name}: not a {hint}")
        row[name] = value
    return row


def _hints(cls: Any) -> dict[str, str]:
    return {spec.name: str(spec.type) for spec in fields(cls)}


def _by_name(cls: type[T], data: dict[str, Any]) -> T:
    return cls(**_typed(_hints(cls), data))


def _row(value: Any) -> dict[str, Any]:
    return {spec.name: getattr(value, spec.name) for spec in fields(value)}


TOKEN_CODEC: Codec[Token] = Codec(
    lambda t: {"v": FORMAT, **_row(t)}, lambda d: _by_name(Token, _versioned(d))
)
SITE_CODEC: Codec[Site] = Codec(
    lambda s: {"v": FORMAT, **_row(s)}, lambda d: _by_name(Site, _versioned(d))
)


def _locks(data: dict[str, Any]) -> LockList:
    """A cached lock list; its locks refer to its IQs' ids, as when read from Salto."""
    iqs = {iq.id: iq for iq in (_by_name(Iq, row) for row in data.get("iqs", []))}
    locks = []
    for row in data["locks"]:
        lock = _typed(_hints(Lock), row)
        lock["iq_id"] = site_iq_id(lock.get("iq_id"), iqs)
        locks.append(Lock(**lock))
    return LockList.of(
        locks,
        tuple(iqs.values()),
        data.get("read_at") if isinstance(data.get("read_at"), int | float) else None,
        # a row from before lists said so counts as not complete
        complete=data.get("complete") is True,
        paging_ignored=data.get("paging_ignored") is True,
    )


LOCKS_CODEC: Codec[LockList] = Codec(
    lambda locks: {
        "v": FORMAT,
        "locks": [_row(lock) for lock in locks.locks],
        "iqs": [_row(iq) for iq in locks.iqs.values()],
        "read_at": locks.read_at,
        "complete": locks.complete,
        "paging_ignored": locks.paging_ignored,
    },
    lambda d: _locks(_versioned(d)),
)


@dataclass(frozen=True, slots=True)
class ClockReading:
    offset: float  # seconds Salto's clock is ahead of ours
    at: float  # our wall-clock time of the reading


CLOCK_CODEC: Codec[ClockReading] = Codec(
    lambda r: [r.offset, r.at], lambda d: ClockReading(float(d[0]), float(d[1]))
)

NUMBER: Codec[float] = checked(float, int)
TEXT: Codec[str] = checked(str)

# name parts: the account key is a hash of hosts, client, username and password
TOKEN = KeySpec("token", TOKEN_CODEC, near=True)  # (account)
REFUSED_PASSWORD = KeySpec("authfail", TEXT)  # (account): the refusal, for a while
SCOPE = KeySpec("scope", TEXT)  # (account): the scope the client may ask for
SITE = KeySpec("site", SITE_CODEC, near=True)  # (account, site_uid)
LOCKS = KeySpec("locks", LOCKS_CODEC, near=True)  # (account, site_id)
# (account, site_id): how many locks the first page of the last list read held, kept only
# when it was a full page: the next read asks for the second page together with the first
FIRST_PAGE = KeySpec("firstpage", NUMBER)
CLOCK = KeySpec("clock", CLOCK_CODEC, near=True)  # (scheme://host:port of the API)


Push = tuple[Key[Any], Any, float, int]  # key, value, ttl, the most values kept


class Store(Protocol):
    def get(self, key: Key[T], *, fresh: bool = False) -> T | None:
        """The value, or None. A store may serve recent copies of near-cacheable values
        from process memory; ``fresh=True`` asks for the shared value itself."""
        ...

    def get_many(self, keys: Sequence[Key[T]]) -> list[T | None]:
        """Several keys in one round trip, in order."""
        ...

    def set(self, key: Key[T], value: T, ttl: float) -> None: ...

    def delete(self, key: Key[Any]) -> None: ...

    def add(self, key: Key[T], value: T, ttl: float) -> bool:
        """Set ``key`` only if it is absent; True when this call set it."""
        ...

    def claim(
        self,
        key: Key[T],
        value: T,
        ttl: float,
        reads: Sequence[Key[Any]],
        pushes: Sequence[Push] = (),
    ) -> tuple[bool, list[Any]]:
        """``add(key, value, ttl)`` and ``get_many(reads)`` in one round trip (one Redis
        script): the open's duplicate guard and what the open reads next; ``pushes`` (as
        :meth:`write`'s) only when this call set the key."""
        ...

    def write(
        self,
        sets: Sequence[tuple[Key[Any], Any, float]],
        deletes: Sequence[Key[Any]] = (),
        pushes: Sequence[Push] = (),
    ) -> None:
        """Several ``set`` and ``delete`` in one round trip (one Redis script; on a
        cluster, keys of one slot, e.g. one account's): the open's result, receipt and
        budget reset. ``pushes``: (key, value, ttl, cap) appended to a list kept to its
        last ``cap`` values (the park's door log)."""
        ...

    def items(self, key: Key[T], last: int | None = None) -> list[T]:
        """The values pushed to ``key`` (only the ``last`` ones), oldest first; those that
        do not decode are left out."""
        ...

    def mutex(
        self, key: Key[Any], timeout: float, ready: Callable[[], bool] | None = None
    ) -> AbstractContextManager[None]:
        """Held by one caller at a time per ``key`` (single flight); raises
        ``TimeoutError`` after ``timeout`` seconds. ``ready``: what the holder fetches is
        there already; a store whose waiters poll may ask it between tries and end the wait
        *without* the mutex when it is true (the caller checks again, as it does after
        waiting), so waiters do not take the mutex one after another for nothing."""
        ...
