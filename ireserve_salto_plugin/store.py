"""Runtime state (tokens, site ids, lock lists) behind one small interface.

:class:`MemoryStore` keeps it in-process: a bounded LRU with a per-entry expiry
(cachetools ``TLRUCache``) behind a lock, with an injectable timer. Least recently used
entries are evicted once ``maxsize`` is reached, so many parks cannot grow it without bound.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from cachetools import TLRUCache


class Store(Protocol):
    def get(self, key: str) -> Any | None: ...

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


def _expiry(_key: str, value: tuple[float, Any], _now: float) -> float:
    return value[0]


class MemoryStore:
    """In-process store. Thread-safe; state is per process."""

    def __init__(
        self,
        maxsize: int = 10_000,
        timer: Callable[[], float] = time.monotonic,
        stripes: int = 64,
    ) -> None:
        self._timer = timer
        self._cache: TLRUCache[str, tuple[float, Any]] = TLRUCache(
            maxsize=maxsize, ttu=_expiry, timer=timer
        )
        self._lock = threading.Lock()
        # A fixed set of locks hashed by key: bounded memory whatever the number of keys.
        # Re-entrant, because one thread may hold two keys that share a stripe (a lock
        # list fetch needs the token); a token holder never waits for another key.
        self._stripes = [threading.RLock() for _ in range(stripes)]

    def get(self, key: str) -> Any | None:
        with self._lock:
            entry = self._cache.get(key)
        return None if entry is None else entry[1]

    def set(self, key: str, value: Any, ttl: float) -> None:
        with self._lock:
            self._cache[key] = (self._timer() + ttl, value)

    def delete(self, key: str) -> None:
        with self._lock:
            self._cache.pop(key, None)

    def add(self, key: str, value: Any, ttl: float) -> bool:
        with self._lock:
            if self._cache.get(key) is not None:
                return False
            self._cache[key] = (self._timer() + ttl, value)
            return True

    def incr(self, key: str, ttl: float) -> int:
        with self._lock:
            entry = self._cache.get(key)
            if entry is None:
                entry = (self._timer() + ttl, 0)
            entry = (entry[0], int(entry[1]) + 1)
            self._cache[key] = entry
            return int(entry[1])

    @contextmanager
    def mutex(self, key: str, timeout: float) -> Iterator[None]:
        lock = self._stripes[zlib.crc32(key.encode()) % len(self._stripes)]
        if not lock.acquire(timeout=timeout):
            raise TimeoutError(f"waited {timeout:.0f}s for {key.split(':', 1)[0]} lock")
        try:
            yield
        finally:
            lock.release()

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)
