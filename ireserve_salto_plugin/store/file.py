"""A small state file that several processes of one machine share: the support CLI keeps
its OTP budget here when there is no Redis, so that its runs share one budget (each run
starting afresh let nine wrong ``self-test`` runs get a real IQ blocked).

One JSON file, ``{name: [expires_at, value]}`` (epoch seconds; values by their key's codec),
read and rewritten whole under an exclusive ``flock`` for every call: a handful of keys,
never on a host's open path. Owner-only (0600, in a 0700 folder). A file that does not
parse is started afresh (logged); one that cannot be written is :class:`StoreUnavailable`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from ireserve_salto_plugin.salto.cache import Key, Push
from ireserve_salto_plugin.salto.errors import StoreUnavailable

T = TypeVar("T")
log = logging.getLogger(__name__)

MAX_BYTES = 1024 * 1024  # a larger file is not ours: started afresh
POLL = 0.01  # seconds between tries for a mutex

Entries = dict[str, list[Any]]  # name -> [expires_at (epoch s), value as JSON]


class FileStore:
    """The :class:`~ireserve_salto_plugin.salto.cache.Store` interface on one file."""

    def __init__(self, path: Path, *, wall: Callable[[], float] = time.time) -> None:
        self.path = path
        self._wall = wall

    @classmethod
    def at(cls, folder: Path, name: str = "otp-budget.json") -> FileStore:
        """The store in ``folder`` (created 0700); ``OSError`` when it cannot be made."""
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        store = cls(folder / name)
        with store._entries():  # created 0600 now: a problem shows before any code is sent
            pass
        return store

    def __repr__(self) -> str:
        return f"FileStore({str(self.path)!r})"

    @contextmanager
    def _entries(self) -> Iterator[Entries]:
        """The live entries under the file's lock; what the body changes is written back."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreUnavailable(
                f"the state file {self.path} cannot be opened ({type(exc).__name__})"
            ) from None
        with os.fdopen(fd, "r+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX)
                os.fchmod(handle.fileno(), 0o600)
                entries = self._read(handle.read(MAX_BYTES + 1))
                before = json.dumps(entries, sort_keys=True)
                yield entries
                after = json.dumps(entries, sort_keys=True)
                if after != before:
                    handle.seek(0)
                    handle.truncate()
                    handle.write(after.encode())
                    handle.flush()
                    os.fsync(handle.fileno())
            except OSError as exc:
                raise StoreUnavailable(
                    f"the state file {self.path} cannot be written ({type(exc).__name__})"
                ) from None

    def _read(self, raw: bytes) -> Entries:
        now = self._wall()
        try:
            data = json.loads(raw) if raw and len(raw) <= MAX_BYTES else {}
        except ValueError:
            log.warning("salto state file %s does not parse: started afresh", self.path)
            data = {}
        if not isinstance(data, dict):
            return {}
        return {
            name: entry
            for name, entry in data.items()
            if isinstance(entry, list)
            and len(entry) == 2
            and isinstance(entry[0], int | float)
            and entry[0] > now
        }

    @staticmethod
    def _load(key: Key[T], entries: Entries) -> T | None:
        entry = entries.get(key.name)
        if entry is None:
            return None
        try:
            return key.spec.codec.load(entry[1])
        except (KeyError, TypeError, ValueError, IndexError):
            return None  # written by another version: a miss, never a misread

    def _put(self, entries: Entries, key: Key[Any], value: Any, ttl: float) -> None:
        if ttl <= 0:
            entries.pop(key.name, None)
        else:
            entries[key.name] = [self._wall() + ttl, key.spec.codec.dump(value)]

    def get(self, key: Key[T], *, fresh: bool = False) -> T | None:
        with self._entries() as entries:
            return self._load(key, entries)

    def get_many(self, keys: Sequence[Key[T]]) -> list[T | None]:
        with self._entries() as entries:
            return [self._load(key, entries) for key in keys]

    def set(self, key: Key[T], value: T, ttl: float) -> None:
        with self._entries() as entries:
            self._put(entries, key, value, ttl)

    def delete(self, key: Key[Any]) -> None:
        with self._entries() as entries:
            entries.pop(key.name, None)

    def add(self, key: Key[T], value: T, ttl: float) -> bool:
        with self._entries() as entries:
            if key.name in entries:
                return False
            self._put(entries, key, value, ttl)
            return True

    def claim(
        self,
        key: Key[T],
        value: T,
        ttl: float,
        reads: Sequence[Key[Any]],
        pushes: Sequence[Push] = (),
    ) -> tuple[bool, list[Any]]:
        with self._entries() as entries:
            claimed = key.name not in entries
            if claimed:
                self._put(entries, key, value, ttl)
            found = [self._load(read, entries) for read in reads]
        if claimed and pushes:
            self.write([], [], pushes)
        return claimed, found

    def write(
        self,
        sets: Sequence[tuple[Key[Any], Any, float]],
        deletes: Sequence[Key[Any]] = (),
        pushes: Sequence[Push] = (),
    ) -> None:
        with self._entries() as entries:
            for key, value, ttl in sets:
                self._put(entries, key, value, ttl)
            for key in deletes:
                entries.pop(key.name, None)
            for key, value, ttl, cap in pushes:
                entry = entries.get(key.name)
                kept = entry[1] if entry is not None and isinstance(entry[1], list) else []
                dumped = [*kept, key.spec.codec.dump(value)][-cap:]
                entries[key.name] = [self._wall() + ttl, dumped]

    def items(self, key: Key[T], last: int | None = None) -> list[T]:
        with self._entries() as entries:
            entry = entries.get(key.name)
        found: list[T] = []
        for data in entry[1] if entry is not None and isinstance(entry[1], list) else []:
            try:
                found.append(key.spec.codec.load(data))
            except (KeyError, TypeError, ValueError, IndexError):
                continue  # written by another version: left out
        return found[-last:] if last else found

    @contextmanager
    def mutex(
        self, key: Key[Any], timeout: float, ready: Callable[[], bool] | None = None
    ) -> Iterator[None]:
        """Held across processes by an entry of its own (expiring after ``timeout``)."""
        give_up = time.monotonic() + timeout
        name = f"mutex:{key.name}"
        while True:
            with self._entries() as entries:
                if name not in entries:
                    entries[name] = [self._wall() + timeout, os.getpid()]
                    break
            if ready is not None and ready():
                yield
                return
            if time.monotonic() > give_up:
                raise TimeoutError(f"waited {timeout:.0f} s for {key.spec.prefix}")
            time.sleep(POLL)
        try:
            yield
        finally:
            with contextlib.suppress(StoreUnavailable), self._entries() as entries:
                entries.pop(name, None)
