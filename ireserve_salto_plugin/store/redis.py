"""The shared runtime store for several worker processes and hosts: Redis.

Enable it with ``SALTO_KS_REDIS_URL`` (``pip install ireserve-salto-plugin[redis]``): a
plain or TLS Redis, or a Redis Cluster (:meth:`RedisStore.from_url`). Values
are JSON written by each key's codec (:mod:`.keys`; never pickle: a compromised Redis must
not mean code execution in the host). Tokens live here, so the Redis must be as private as
the host's database.

Values read on every open (the token, Salto's clock offset, site ids and lock lists, which
can hold thousands of locks) are also kept in a small per-process near-cache for a few
seconds, as their keys allow; reads that must see the shared value (single-flight token
refresh, the replay after a 401) pass ``fresh=True``. The OTP budget and the duplicate
guard are never cached. Any Redis failure is :class:`~.errors.StoreUnavailable`.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from cachetools import LRUCache

from ireserve_salto_plugin.salto.cache import Key, Push
from ireserve_salto_plugin.salto.errors import StoreUnavailable
from ireserve_salto_plugin.store.scripts import CLAIM, WRITE

MUTEX_POLL = 0.005  # seconds between two tries of a held mutex (redis-py: 0.1)

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
PREFIX = "ireserve-salto:"
NEAR_CACHE_SECONDS = 5.0
NEAR_CACHE_SIZE = 256  # entries
SOCKET_TIMEOUT = 0.5  # seconds per Redis read or connect; a healthy Redis answers in < 1 ms
POOL_CONNECTIONS = 100  # connections per worker process (redis-py's default cap)
POOL_WAIT = 5.0  # seconds a thread waits for a free connection before StoreUnavailable
LEASE_SECONDS = 30.0  # a mutex whose holder died is free again after this
MAX_UNRELEASED = 64  # mutexes kept for a second release (their leases end them anyway)
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


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
            import redis
            from redis.exceptions import RedisClusterException

            if not isinstance(exc, redis.RedisError | RedisClusterException | OSError):
                raise
            on_error = getattr(args[0], "on_error", None) if args else None
            if callable(on_error):
                on_error()
            raise StoreUnavailable(
                f"the shared store (Redis) failed ({type(exc).__name__})", sent=False
            ) from exc

    return wrapper


class _Lazy:
    """A Redis Cluster client built on first use: building one connects to the cluster,
    and a cluster that is down when the host starts must be a ``store_unavailable`` per
    call (until it is back), not a host that fails to start."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._client: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._build()
                client = self._client
        return getattr(client, name)


# json.dumps builds a new encoder on every call that passes options
_compact = json.JSONEncoder(separators=(",", ":")).encode


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisStore:
    def __init__(
        self,
        client: Any,
        *,
        prefix: str = PREFIX,
        lease: float = LEASE_SECONDS,
        near_cache_seconds: float = NEAR_CACHE_SECONDS,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.lease = lease
        self._scripts: dict[str, Any] = {}
        self._near_seconds = near_cache_seconds
        # name -> (served until, value): served from memory until then
        self._near: LRUCache[str, tuple[float, Any]] = LRUCache(NEAR_CACHE_SIZE)
        self._near_lock = threading.Lock()
        self._unreleased: list[Any] = []  # mutexes to release once the store answers
        self._timer = timer
        self.on_error: Callable[[], None] | None = None  # e.g. a metrics counter

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisStore:
        """``redis://[user:password@]host:port/db`` (plain), ``rediss://…`` (TLS), and
        ``redis+cluster://host:port`` or ``rediss+cluster://…`` for Redis Cluster (any
        one node; the others are discovered). Keys carry hash tags (:mod:`.keys`)."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # One quick retry, then StoreUnavailable: every hook answers in bounded time.
        options: dict[str, Any] = {
            "socket_timeout": SOCKET_TIMEOUT,
            "socket_connect_timeout": SOCKET_TIMEOUT,
            "retry": Retry(NoBackoff(), 1),
        }
        scheme, sep, rest = url.partition("://")
        if sep and scheme.lower() in CLUSTER_SCHEMES:
            from redis.cluster import RedisCluster

            target = f"{CLUSTER_SCHEMES[scheme.lower()]}://{rest}"
            client: Any = _Lazy(lambda: RedisCluster.from_url(target, **options))
        else:
            # More threads than connections wait for one (redis-py's default pool raises
            # MaxConnectionsError at 100: 200 opens at once in one worker lost 83 of them)
            pool = redis.BlockingConnectionPool.from_url(
                url, max_connections=POOL_CONNECTIONS, timeout=POOL_WAIT, **options
            )
            client = redis.Redis(connection_pool=pool)
        return cls(client, **kwargs)

    def _script(self, text: str) -> Any:
        script = self._scripts.get(text)
        if script is None:  # registered on first use: a cluster client connects lazily
            script = self._scripts[text] = self.client.register_script(text)
        return script

    def _near_ok(self, key: Key[Any]) -> bool:
        return self._near_seconds > 0 and key.spec.near

    @staticmethod
    def _encode(key: Key[T], value: T) -> bytes:
        return _compact(key.spec.codec.dump(value)).encode()

    def _decode(self, key: Key[T], raw: bytes | None) -> T | None:
        if raw is None:
            return None
        try:
            return key.spec.codec.load(json.loads(raw))
        except (KeyError, IndexError, TypeError, ValueError):
            log.warning("salto store: %s value of another format ignored", key.spec.prefix)
            return None

    @_store_errors
    def get(self, key: Key[T], *, fresh: bool = False) -> T | None:
        near = self._near_ok(key)
        if near and not fresh:
            with self._near_lock:
                hit = self._near.get(key.name)
            if hit is not None and hit[0] > self._timer():
                cached: T = hit[1]
                return cached
        value = self._decode(key, self.client.get(self.prefix + key.name))
        self._remember(key, value)
        return value

    def _remember(self, key: Key[T], value: T | None, ttl: float | None = None) -> None:
        """Keep a near-cacheable value for the near-cache."""
        if value is not None and self._near_ok(key):
            seconds = self._near_seconds if ttl is None else min(ttl, self._near_seconds)
            with self._near_lock:
                self._near[key.name] = (self._timer() + seconds, value)

    @_store_errors
    def get_many(self, keys: Sequence[Key[T]]) -> list[T | None]:
        raws = self.client.mget([self.prefix + key.name for key in keys])
        return [self._decode(key, raw) for key, raw in zip(keys, raws, strict=True)]

    @_store_errors
    def set(self, key: Key[T], value: T, ttl: float) -> None:
        if ttl <= 0:
            self.delete(key)
            return
        self.client.set(self.prefix + key.name, self._encode(key, value), px=_ms(ttl))
        self._remember(key, value, ttl)

    @_store_errors
    def delete(self, key: Key[Any]) -> None:
        self.client.delete(self.prefix + key.name)
        with self._near_lock:
            self._near.pop(key.name, None)

    @_store_errors
    def add(self, key: Key[T], value: T, ttl: float) -> bool:
        return bool(
            self.client.set(self.prefix + key.name, self._encode(key, value), px=_ms(ttl), nx=True)
        )

    @_store_errors
    def claim(
        self,
        key: Key[T],
        value: T,
        ttl: float,
        reads: Sequence[Key[Any]],
        pushes: Sequence[Push] = (),
    ) -> tuple[bool, list[Any]]:
        names = [self.prefix + k.name for k in (key, *reads, *(p[0] for p in pushes))]
        args: list[Any] = [self._encode(key, value), _ms(ttl), len(reads)]
        for push, item, keep, cap in pushes:
            args += [self._encode(push, item), _ms(keep), max(1, int(cap))]
        out = self._script(CLAIM)(keys=names, args=args)
        values = []
        for read, raw in zip(reads, out[1:], strict=True):
            values.append(got := self._decode(read, raw))
            self._remember(read, got)  # e.g. the token: the open reads it next
        return bool(out[0]), values

    @_store_errors
    def write(
        self,
        sets: Sequence[tuple[Key[Any], Any, float]],
        deletes: Sequence[Key[Any]] = (),
        pushes: Sequence[Push] = (),
    ) -> None:
        live = [(key, value, ttl) for key, value, ttl in sets if ttl > 0]
        gone = [*deletes, *(key for key, _value, ttl in sets if ttl <= 0)]
        args: list[Any] = []
        for key, value, ttl in live:
            args += [self._encode(key, value), _ms(ttl)]
        for key, value, ttl, cap in pushes:
            args += [self._encode(key, value), _ms(ttl), max(1, int(cap))]
        self._script(WRITE)(
            keys=[self.prefix + key.name for key, *_ in live]
            + [self.prefix + key.name for key in gone]
            + [self.prefix + key.name for key, *_ in pushes],
            args=[*args, len(gone), len(live)],
        )
        with self._near_lock:
            for key in gone:
                self._near.pop(key.name, None)
        for key, value, ttl in live:
            self._remember(key, value, ttl)

    @_store_errors
    def items(self, key: Key[T], last: int | None = None) -> list[T]:
        raws = self.client.lrange(self.prefix + key.name, -last if last else 0, -1)
        found = [self._decode(key, raw) for raw in raws]
        return [value for value in found if value is not None]

    @_store_errors
    def _lock_for(self, name: str, timeout: float) -> Any:
        # redis-py polls a held lock every 0.1 s by default: a cold open whose IQ list and
        # lock list both wait for the one token fetch lost ~80 ms to that nap
        return self.client.lock(
            name, timeout=self.lease, blocking_timeout=timeout, sleep=MUTEX_POLL
        )

    @contextmanager
    def mutex(
        self, key: Key[Any], timeout: float, ready: Callable[[], bool] | None = None
    ) -> Iterator[None]:
        """A Redis lock (lease :attr:`lease`), tried every :data:`MUTEX_POLL` seconds for
        ``timeout``. With ``ready``, a waiter asks it between tries and, once it is true
        (the holder stored what it fetched), stops waiting without the lock: waiters for a
        token do not take the lock one after another, each a poll apart."""
        timeout = max(0.0, timeout)
        if self._unreleased:
            self._release_later()
        lock = self._lock_for(self.prefix + "mutex:" + key.name, timeout)
        acquire = _store_errors(lock.acquire)
        held = True
        if ready is None:
            if not acquire():
                raise TimeoutError(f"waited {timeout:.0f}s for the {key.spec.prefix} lock")
        else:
            stop = time.monotonic() + timeout
            while not acquire(blocking=False):
                if ready():
                    held = False
                    break
                if time.monotonic() + MUTEX_POLL > stop:
                    raise TimeoutError(f"waited {timeout:.0f}s for the {key.spec.prefix} lock")
                time.sleep(MUTEX_POLL)
        try:
            yield
        finally:
            if held:
                self._release(lock)

    def _release(self, lock: Any) -> None:
        """A mutex whose release failed (the store was away) is released again at this
        store's next mutex, not left to its lease: with a store that keeps its data over a
        restart, every waiter of the account stalled for 30 s (found by the soak)."""
        from redis.exceptions import LockError, RedisError

        try:
            lock.release()
        except LockError:
            pass  # the lease ran out; another holds it now
        except RedisError:
            with self._near_lock:
                if len(self._unreleased) < MAX_UNRELEASED:
                    self._unreleased.append(lock)

    def _release_later(self) -> None:
        with self._near_lock:
            locks, self._unreleased = self._unreleased, []
        for lock in locks:
            self._release(lock)
