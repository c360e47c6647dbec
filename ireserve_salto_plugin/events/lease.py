"""Which listener process holds which (account, site): a lease in the shared store, so
that listeners started in several processes never hold one site twice and take over the
sites of one that died within :data:`LEASE_SECONDS` plus one renewal.

With Redis, a lease is a redis-py ``Lock`` (a token-checked ``SET NX PX``; ``reacquire``
renews it only while this holder still has it). Without Redis the store is this process's
own: a lease table shared by the listeners of this process does the same.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from ireserve_salto_plugin.salto.cache import Store

LEASE_SECONDS = 20.0  # a lease not renewed for this long is free
RENEW_SECONDS = 5.0  # how often a holder renews and a waiter tries

_LOCAL: dict[tuple[int, str], tuple[str, float]] = {}  # (store, name) -> (owner, until)
_LOCAL_LOCK = threading.Lock()


class Leases:
    def __init__(self, store: Store, owner: str) -> None:
        self.store, self.owner = store, owner
        self._redis = getattr(store, "client", None) if hasattr(store, "prefix") else None
        self._locks: dict[str, Any] = {}  # name -> redis-py Lock held

    def _name(self, account: str, site: str) -> str:
        prefix = getattr(self.store, "prefix", "")
        return f"{prefix}lease:{{{account}}}:{site}"

    def hold(self, account: str, site: str) -> bool:
        """Take or renew the lease; True while this listener holds it."""
        name = self._name(account, site)
        if self._redis is None:
            return self._local(name)
        from redis.exceptions import LockError, RedisError

        lock = self._locks.get(name)
        try:
            if lock is not None:
                try:
                    lock.reacquire()
                    return True
                except LockError:  # it ran out and someone else holds it now
                    self._locks.pop(name, None)
            # not thread-local: the listener renews from whichever worker thread is free
            lock = self._redis.lock(name, timeout=LEASE_SECONDS, blocking=False, thread_local=False)
            if lock.acquire(blocking=False):
                self._locks[name] = lock
                return True
            return False
        except RedisError:
            self._locks.pop(name, None)
            return False

    def release(self, account: str, site: str) -> None:
        name = self._name(account, site)
        if self._redis is None:
            with _LOCAL_LOCK:
                if _LOCAL.get((id(self.store), name), ("", 0))[0] == self.owner:
                    del _LOCAL[(id(self.store), name)]
            return
        lock = self._locks.pop(name, None)
        if lock is not None:
            try:
                lock.release()
            except Exception:
                return

    def _local(self, name: str) -> bool:
        now, key = time.monotonic(), (id(self.store), name)
        with _LOCAL_LOCK:
            owner, until = _LOCAL.get(key, ("", 0.0))
            if owner not in ("", self.owner) and until > now:
                return False
            _LOCAL[key] = (self.owner, now + LEASE_SECONDS)
            return True
