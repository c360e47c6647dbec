"""The duplicate-tap guard, kept in the shared store so it holds across workers: one open per
(park, booking, lock, requester) within a short window; later taps get the first attempt's
result instead of a second command. A claim in flight lasts at least the open's deadline, so
a slow open is never doubled. :class:`OpenBatch` carries one open's store traffic in two
round trips."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ireserve_salto_plugin.salto.cache import Key, Push, Store
from ireserve_salto_plugin.salto.clock import SYSTEM_CLOCK, Clock
from ireserve_salto_plugin.salto.deadline import Deadline
from ireserve_salto_plugin.store.guards import DEFAULTS, FIRST_POLL, MAX_POLL
from ireserve_salto_plugin.store.keys import (
    DUPLICATE,
    DedupValue,
)

PENDING = "pending"


OUTCOMES = frozenset({"opened", "denied", "failed"})  # models.Outcome's values


def dedup_record(value: Any) -> bool:
    """A published result as :meth:`Dedup.published` writes it, checked as strictly as
    input: a record without ``outcome``, or with fields of other types, is none."""
    if not isinstance(value, dict):
        return False
    kinds: dict[str, type | tuple[type, ...]] = {
        "outcome": str,
        "reason": str,
        "message": str,
        "attempt_id": str,
        "opened_at": (str, type(None)),
        "retry_after": (int, float, type(None)),
    }
    return (
        all(isinstance(value.get(name), kind) for name, kind in kinds.items())
        and value["outcome"] in OUTCOMES
        and not isinstance(value["retry_after"], bool)
    )


class Dedup:
    def __init__(
        self,
        store: Store,
        *,
        window: float = DEFAULTS.dedup_seconds,
        claim_seconds: float = DEFAULTS.open_deadline + DEFAULTS.dedup_margin,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.store = store
        self.window = window
        # An in-flight claim must outlive the slowest open (its deadline plus a margin):
        # if it expired first, a later tap would send a second command.
        self.claim_seconds = max(window, claim_seconds)
        self.clock = clock

    @staticmethod
    def key(
        account: str, park_id: str, booking_id: str, lock_id: str, requested_by: str
    ) -> Key[DedupValue]:
        """Taps share a result only when they come from the same requester: a guest's
        double tap is one command; staff opening for the guest is a new one. Tagged by
        the park's account, so it shares a Redis Cluster slot with the park's budget."""
        raw = f"{park_id}\x00{booking_id}\x00{lock_id}\x00{requested_by}".encode()
        return DUPLICATE(account, hashlib.sha256(raw).hexdigest()[:32])

    def claim(self, key: Key[DedupValue]) -> bool:
        """True when this caller is the first in the window and must do the open."""
        return self.store.add(key, PENDING, self.claim_seconds)

    def publish(
        self, key: Key[DedupValue], summary: dict[str, Any], ttl: float | None = None
    ) -> None:
        """Replace the claim by the result, for ``ttl`` (at most the window)."""
        self.store.set(*self.published(key, summary, ttl))

    def published(
        self, key: Key[DedupValue], summary: dict[str, Any], ttl: float | None = None
    ) -> tuple[Key[DedupValue], DedupValue, float]:
        """The write of :meth:`publish`, for a caller that batches it."""
        return key, summary, self.window if ttl is None else min(ttl, self.window)

    def release(self, key: Key[DedupValue]) -> None:
        self.store.delete(key)

    def wait(self, key: Key[DedupValue], deadline: Deadline) -> dict[str, Any] | None:
        """The first attempt's published result; ``None`` if it vanished, is not a result
        this plugin writes, or time ran out."""
        delay = FIRST_POLL
        while True:
            value = self.store.get(key)
            if value is None:
                return None
            if isinstance(value, dict):
                return value if dedup_record(value) else None
            if deadline.at is None or deadline.passes_within(delay):
                return None
            self.clock.sleep(delay)
            delay = min(delay * 2, MAX_POLL)


class Duplicate(Exception):
    """Another attempt holds the claim: this tap waits for its result."""


@dataclass(slots=True)
class OpenBatch:
    """One open's store traffic in two round trips, whatever the store: :meth:`claim`
    claims the duplicate guard and reads what the open needs next (the IQ's OTP budget,
    the token) in one script; :meth:`finish` writes the result for waiting taps, the
    receipt and any budget reset in one script. ``key`` None: no duplicate guard."""

    store: Store
    key: Key[DedupValue] | None
    claim_seconds: float
    extra_reads: Sequence[Key[Any]] = ()
    claimed: bool = False
    sets: list[tuple[Key[Any], Any, float]] = field(default_factory=list)
    deletes: list[Key[Any]] = field(default_factory=list)
    pushes: list[Push] = field(default_factory=list)

    def claim(self, reads: Sequence[Key[Any]] = ()) -> list[Any]:
        """Claim the duplicate guard (once) and read ``reads`` in the same round trip;
        raises :class:`Duplicate` if another attempt holds the claim."""
        if self.key is None or self.claimed:
            return self.store.get_many(reads) if reads else []
        for _ in range(2):
            claimed, values = self.store.claim(
                self.key, PENDING, self.claim_seconds, [*reads, *self.extra_reads, self.key]
            )
            if claimed:
                self.claimed = True
                return values[: len(reads)]
            if values[-1] is None or values[-1] == PENDING or dedup_record(values[-1]):
                raise Duplicate
            # not a claim nor a result this plugin writes (forged, or another version's):
            # a miss, never a false "duplicate"
            self.store.delete(self.key)
        raise Duplicate

    def finish(self) -> None:
        if self.sets or self.deletes or self.pushes:
            self.store.write(self.sets, self.deletes, self.pushes)
