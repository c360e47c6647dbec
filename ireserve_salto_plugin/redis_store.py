"""The shared runtime store for several worker processes and hosts: Redis.

Enable it with ``SALTO_KS_REDIS_URL`` (``pip install ireserve-salto-plugin[redis]``). Values
are JSON (never pickle: a compromised Redis must not mean code execution in the host).
Tokens live here, so the Redis must be as private as the host's database.

Values read on every open (the token, Salto's clock offset, site ids and lock lists, which
can hold thousands of locks) are also kept in a small per-process near-cache for a few
seconds; reads that must see the shared value (single-flight token refresh, the replay
after a 401) pass ``fresh=True``. The OTP budget and the duplicate guard are never cached.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from cachetools import TLRUCache

from .errors import StoreUnavailable
from .gateway import Lock, LockList, Site, Token

P = ParamSpec("P")
R = TypeVar("R")
SOCKET_TIMEOUT = 0.5  # seconds per Redis read or connect; a healthy Redis answers in < 1 ms

PREFIX = "ireserve-salto:"
NEAR_CACHE_SECONDS = 5.0
NEAR_PREFIXES = ("locks:", "token:", "clock:", "site:")
_INCR = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""


def _pack(value: Any) -> Any:
    if isinstance(value, Token):
        return {"__t": "token", "a": value.access_token, "e": value.expires_at,
                "r": value.refresh_token}
    if isinstance(value, Site):
        return {"__t": "site", "id": value.id, "uid": value.site_uid, "n": value.name}
    if isinstance(value, LockList):
        return {"__t": "locks", "l": [
            [k.id, k.name, k.online, k.iq_id, k.iq_online, k.otp_enabled, k.lock_type,
             k.battery_level] for k in value.locks]}
    if isinstance(value, tuple):
        return {"__t": "tuple", "v": [_pack(v) for v in value]}
    return value


def _unpack(value: Any) -> Any:
    if isinstance(value, dict) and "__t" in value:
        kind = value["__t"]
        if kind == "token":
            return Token(value["a"], value["e"], value["r"])
        if kind == "site":
            return Site(value["id"], value["uid"], value["n"])
        if kind == "locks":
            return LockList.of([Lock(*row) for row in value["l"]])
        if kind == "tuple":
            return tuple(_unpack(v) for v in value["v"])
    return value


def _store_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Redis failing (down, timing out, refusing) becomes :class:`StoreUnavailable`, with
    no URL, key or value in the message."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except StoreUnavailable:
            raise
        except Exception as exc:
            if not _is_store_error(exc):
                raise
            raise StoreUnavailable(f"the shared store (Redis) failed ({type(exc).__name__})",
                                   sent=False) from exc

    return wrapper


def _is_store_error(exc: BaseException) -> bool:
    import redis

    return isinstance(exc, redis.RedisError | OSError | ValueError)


def encode(value: Any) -> bytes:
    return json.dumps(_pack(value), separators=(",", ":")).encode()


def decode(raw: bytes | None) -> Any:
    return None if raw is None else _unpack(json.loads(raw))


class RedisStore:
    def __init__(self, client: Any, *, prefix: str = PREFIX, lease: float = 30.0,
                 near_cache_seconds: float = NEAR_CACHE_SECONDS,
                 timer: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.prefix = prefix
        self.lease = lease
        self._incr = client.register_script(_INCR)
        self._near_seconds = near_cache_seconds
        self._near: TLRUCache[str, tuple[float, Any]] = TLRUCache(
            maxsize=256, ttu=lambda _k, v, _n: v[0], timer=timer)
        self._near_lock = threading.Lock()
        self._timer = timer

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisStore:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # One quick retry, then StoreUnavailable: every hook answers in bounded time.
        client = redis.Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT,
                                      socket_connect_timeout=SOCKET_TIMEOUT,
                                      retry=Retry(NoBackoff(), 1))
        return cls(client, **kwargs)

    def _near_key(self, key: str) -> bool:
        return self._near_seconds > 0 and key.startswith(NEAR_PREFIXES)

    @_store_errors
    def get(self, key: str, *, fresh: bool = False) -> Any | None:
        if not fresh and self._near_key(key):
            with self._near_lock:
                hit = self._near.get(key)
            if hit is not None:
                return hit[1]
        value = decode(self.client.get(self.prefix + key))
        if value is not None and self._near_key(key):
            with self._near_lock:
                self._near[key] = (self._timer() + self._near_seconds, value)
        return value

    @_store_errors
    def get_many(self, keys: list[str]) -> list[Any | None]:
        return [decode(raw) for raw in self.client.mget([self.prefix + k for k in keys])]

    @_store_errors
    def set(self, key: str, value: Any, ttl: float) -> None:
        if ttl <= 0:
            self.delete(key)
            return
        self.client.set(self.prefix + key, encode(value), px=max(1, int(ttl * 1000)))
        if self._near_key(key):
            with self._near_lock:
                self._near[key] = (self._timer() + min(ttl, self._near_seconds), value)

    @_store_errors
    def delete(self, key: str) -> None:
        self.client.delete(self.prefix + key)
        with self._near_lock:
            self._near.pop(key, None)

    @_store_errors
    def add(self, key: str, value: Any, ttl: float) -> bool:
        return bool(self.client.set(self.prefix + key, encode(value),
                                    px=max(1, int(ttl * 1000)), nx=True))

    @_store_errors
    def incr(self, key: str, ttl: float) -> int:
        return int(self._incr(keys=[self.prefix + key], args=[max(1, int(ttl * 1000))]))

    @contextmanager
    def mutex(self, key: str, timeout: float) -> Iterator[None]:
        lock = self.client.lock(self.prefix + "mutex:" + key, timeout=self.lease,
                                blocking_timeout=max(0.0, timeout))
        if not _store_errors(lock.acquire)():
            raise TimeoutError(f"waited {timeout:.0f}s for {key.split(':', 1)[0]} lock")
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # the lease ran out; another holds it now
                lock.release()
