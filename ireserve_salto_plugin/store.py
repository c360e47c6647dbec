"""Runtime state (tokens, site ids, lock lists) behind one small interface.

:class:`MemoryStore` keeps it in-process: a bounded LRU with a per-entry expiry behind a
lock, with an injectable timer. Least recently used entries are evicted once ``maxsize`` is
reached, so many parks cannot grow it without bound. :class:`~.redis_store.RedisStore`
shares it between processes and hosts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from cachetools import LRUCache


class Store(Protocol):
    def get(self, key: str, *, fresh: bool = False) -> Any | None:
        """The value, or None. A store may serve recent copies of some shared values
        from process memory; ``fresh=True`` asks for the shared value itself."""
        ...

    def get_many(self, keys: list[str]) -> list[Any | None]:
        """Several keys in one round trip, in order."""
        ...

    def set(self, key: str, value: Any, ttl: float) -> None: ...

    def delete(self, key: str) -> None: ...

    def add(self, key: str, value: Any, ttl: float) -> bool:
        """Set ``key`` only if it is absent; True when this call set it."""
        ...

    def incr(self, key: str, ttl: float) -> int:
        """Add one to a counter (created at 0 with ``ttl``) and return the new value."""
        ...

    def mutex(self, key: str, timeout: float) -> Any:
        """A context manager held by one caller at a time per ``key`` (single flight)."""
        ...


class MemoryStore:
    """In-process store. Thread-safe; state is per process.

    A cachetools ``LRUCache`` of ``(expires_at, value)`` behind one lock: an expired entry
    is dropped when it is read (or evicted as least recently used), which keeps each read
    to one dictionary lookup on the open path.
    """

    def __init__(
        self,
        maxsize: int = 10_000,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._timer = timer
        self._cache: LRUCache[str, tuple[float, Any]] = LRUCache(maxsize=maxsize)
        self._lock = threading.Lock()
        # One lock per key while anyone holds or waits for it, so no two parks ever share
        # a lock (a slow park cannot stall another); memory is bounded by the callers.
        # Re-entrant: one thread may take a key again (a lock list fetch needs the token).
        self._mutexes: dict[str, list[Any]] = {}

    def _live(self, key: str, now: float) -> tuple[float, Any] | None:
        entry = self._cache.get(key)
        if entry is not None and entry[0] <= now:
            del self._cache[key]
            return None
        return entry

    def get(self, key: str, *, fresh: bool = False) -> Any | None:
        now = self._timer()
        with self._lock:
            entry = self._live(key, now)
        return None if entry is None else entry[1]

    def get_many(self, keys: list[str]) -> list[Any | None]:
        now = self._timer()
        with self._lock:
            entries = [self._live(key, now) for key in keys]
        return [None if entry is None else entry[1] for entry in entries]

    def set(self, key: str, value: Any, ttl: float) -> None:
        now = self._timer()
        with self._lock:
            if ttl <= 0:
                self._cache.pop(key, None)
            else:
                self._cache[key] = (now + ttl, value)

    def delete(self, key: str) -> None:
        with self._lock:
            self._cache.pop(key, None)

    def add(self, key: str, value: Any, ttl: float) -> bool:
        now = self._timer()
        with self._lock:
            if self._live(key, now) is not None:
                return False
            self._cache[key] = (now + ttl, value)
            return True

    def incr(self, key: str, ttl: float) -> int:
        now = self._timer()
        with self._lock:
            entry = self._live(key, now) or (now + ttl, 0)
            entry = (entry[0], int(entry[1]) + 1)
            self._cache[key] = entry
            return int(entry[1])

    @contextmanager
    def mutex(self, key: str, timeout: float) -> Iterator[None]:
        with self._lock:
            entry = self._mutexes.get(key)
            if entry is None:
                entry = self._mutexes[key] = [threading.RLock(), 0]
            entry[1] += 1
        try:
            if not entry[0].acquire(timeout=max(0.0, timeout)):
                raise TimeoutError(f"waited {timeout:.0f}s for {key.split(':', 1)[0]} lock")
            try:
                yield
            finally:
                entry[0].release()
        finally:
            with self._lock:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._mutexes[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)
