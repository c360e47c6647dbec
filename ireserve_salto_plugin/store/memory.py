"""Runtime state (tokens, site ids, lock lists, guards) behind one small, typed interface.

Keys come from :mod:`.keys`, which fixes each value's type. :class:`MemoryStore` keeps the
state in-process: a bounded LRU with a per-entry expiry behind a lock, with an injectable
timer; least recently used entries are evicted once ``maxsize`` is reached, so many parks
cannot grow it without bound. :class:`~.redis_store.RedisStore` shares it between
processes and hosts.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from cachetools import LRUCache

from ireserve_salto_plugin.salto.cache import Key, Push

T = TypeVar("T")
DEFAULT_SIZE = 10_000  # entries: about 3 per park (token, site, lock list) and the guards


class MemoryStore:
    """In-process store. Thread-safe; state is per process.

    A ``cachetools.LRUCache`` of ``(expires_at, value)`` behind
    one lock: an expired entry is dropped when it is read (or evicted as least recently
    used), which keeps each read to one dictionary lookup on the open path.
    """

    def __init__(
        self, maxsize: int = DEFAULT_SIZE, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self._timer = timer
        self._cache: LRUCache[str, tuple[float, Any]] = LRUCache(maxsize)
        self._lock = threading.Lock()
        # One lock per key while anyone holds or waits for it, so no two parks ever share
        # a lock (a slow park cannot stall another); memory is bounded by the callers.
        # Re-entrant: one thread may take a key again.
        self._mutexes: dict[str, list[Any]] = {}

    def _live(self, name: str, now: float) -> tuple[float, Any] | None:
        entry = self._cache.get(name)
        if entry is not None and entry[0] <= now:
            self._cache.pop(name)
            return None
        return entry

    def get(self, key: Key[T], *, fresh: bool = False) -> T | None:
        now = self._timer()
        with self._lock:
            entry = self._live(key.name, now)
        return None if entry is None else entry[1]

    def get_many(self, keys: Sequence[Key[T]]) -> list[T | None]:
        now = self._timer()
        with self._lock:
            entries = [self._live(key.name, now) for key in keys]
        return [None if entry is None else entry[1] for entry in entries]

    def set(self, key: Key[T], value: T, ttl: float) -> None:
        now = self._timer()
        with self._lock:
            if ttl <= 0:
                self._cache.pop(key.name, None)
            else:
                self._cache[key.name] = (now + ttl, value)

    def delete(self, key: Key[Any]) -> None:
        with self._lock:
            self._cache.pop(key.name, None)

    def add(self, key: Key[T], value: T, ttl: float) -> bool:
        now = self._timer()
        with self._lock:
            if self._live(key.name, now) is not None:
                return False
            self._cache[key.name] = (now + ttl, value)
            return True

    def claim(
        self,
        key: Key[T],
        value: T,
        ttl: float,
        reads: Sequence[Key[Any]],
        pushes: Sequence[Push] = (),
    ) -> tuple[bool, list[Any]]:
        now = self._timer()
        with self._lock:
            claimed = self._live(key.name, now) is None
            if claimed:
                self._cache[key.name] = (now + ttl, value)
            entries = [self._live(read.name, now) for read in reads]
        if claimed and pushes:
            self.write([], [], pushes)
        return claimed, [None if entry is None else entry[1] for entry in entries]

    def write(
        self,
        sets: Sequence[tuple[Key[Any], Any, float]],
        deletes: Sequence[Key[Any]] = (),
        pushes: Sequence[Push] = (),
    ) -> None:
        now = self._timer()
        with self._lock:
            for key, value, ttl in sets:
                if ttl <= 0:
                    self._cache.pop(key.name, None)
                else:
                    self._cache[key.name] = (now + ttl, value)
            for key in deletes:
                self._cache.pop(key.name, None)
            for key, value, ttl, cap in pushes:
                entry = self._live(key.name, now)
                kept = entry[1] if entry is not None and isinstance(entry[1], deque) else None
                if kept is None or kept.maxlen != cap:
                    kept = deque(kept or (), maxlen=cap)
                kept.append(value)  # the oldest goes once ``cap`` are kept
                self._cache[key.name] = (now + ttl, kept)

    def items(self, key: Key[T], last: int | None = None) -> list[T]:
        now = self._timer()
        with self._lock:  # copied under the lock: a push appends in place
            entry = self._live(key.name, now)
            found = list(entry[1]) if entry is not None and isinstance(entry[1], deque) else []
        return found[-last:] if last else found

    @contextmanager
    def mutex(
        self, key: Key[Any], timeout: float, ready: Callable[[], bool] | None = None
    ) -> Iterator[None]:
        """``ready`` is not needed here: a waiter blocks on the lock (no polling) and holds
        it for the few microseconds its check takes."""
        with self._lock:
            entry = self._mutexes.get(key.name)
            if entry is None:
                entry = self._mutexes[key.name] = [threading.RLock(), 0]
            entry[1] += 1
        try:
            if not entry[0].acquire(timeout=max(0.0, timeout)):
                raise TimeoutError(f"waited {timeout:.0f}s for the {key.spec.prefix} lock")
            try:
                yield
            finally:
                entry[0].release()
        finally:
            with self._lock:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._mutexes[key.name]

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)
