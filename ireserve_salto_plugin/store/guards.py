"""Guards around the remote open, kept in the shared store so they hold across workers:

- :class:`OtpBudget`: per (account, IQ), as Salto counts: after Salto's ``otp_blocked`` no
  OTP goes to that IQ until the block can have cleared; after two rejected OTPs in a row
  (opens, Set PIN, self-test) the IQ's OTP use is suspended until a code is accepted again
  or the suspension expires; while the IQ's state is unknown, one code at a time.
- :class:`Dedup`: one open per (park, booking, lock, requester) within a short window;
  later taps get the first attempt's result instead of a second command. A claim in
  flight lasts at least the open's deadline, so a slow open is never doubled.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from ireserve_salto_plugin.salto.cache import Key, Store
from ireserve_salto_plugin.salto.clock import SYSTEM_CLOCK, Clock
from ireserve_salto_plugin.salto.config import Tuning
from ireserve_salto_plugin.salto.transport import Transport
from ireserve_salto_plugin.store.keys import (
    DUPLICATE,
    OTP_BLOCK,
    OTP_FAILS,
    OTP_GOOD,
    OTP_PROBE,
    OTP_SUSPEND,
    DedupValue,
)

DEFAULTS = Tuning()  # the one place these numbers live (block: docs, "OTP blocks")
SUSPEND_AFTER = 2  # rejected OTPs in a row
GOOD_SECONDS = 86400.0  # an accepted code vouches for the IQ this long (then: one at a time)
PROBE_WAIT = 30.0  # longest wait for the one code in flight (never past the deadline)
FIRST_POLL = 0.005  # seconds between reads of a running attempt, doubling
MAX_POLL = 0.1


@functools.lru_cache(maxsize=1024)  # two per open, of the few credentials a process has
def credentials_mark(secret: str | None, pin: str | None) -> float:
    """A number that changes with the IQ's secret or PIN (and reveals neither): an accepted
    code vouches only for the credentials that signed it."""
    digest = hashlib.sha256(f"{secret}\x00{pin}".encode()).hexdigest()
    return float(int(digest[:12], 16))


@dataclass(frozen=True, slots=True)
class Refusal:
    blocked: bool  # True: Salto's block; False: our suspension after rejected OTPs
    retry_after: float


@dataclass(frozen=True, slots=True)
class BudgetState:
    refusal: Refusal | None  # why no OTP may be sent now, if so
    rejections: int  # rejected OTPs in a row so far (a success must reset them)
    known_good: bool = False  # a code was accepted since the last rejection

    @property
    def probing(self) -> bool:
        """The IQ's state is unknown: only one code at a time may be in flight."""
        return self.refusal is None and not self.known_good


class OtpBudget:
    """Salto counts wrong codes per account and IQ, whichever PIN signed them, and blocks
    the IQ's codes for about 20 minutes after a few (docs/salto-ks-api.md, "OTP blocks").
    So the budget is per (account, IQ) too: two rejections in a row (opens, Set PIN or
    self-test alike) suspend codes to the IQ for ``suspend_seconds`` (no longer than
    Salto's own block), and while no code has been accepted since the last rejection
    (or none yet, as far as the store knows) at most one code is in flight for the IQ,
    across workers (:meth:`probe`). A code Salto accepts lifts the suspension."""

    def __init__(
        self,
        store: Store,
        *,
        block_seconds: float = DEFAULTS.otp_block_seconds,
        suspend_after: int = SUSPEND_AFTER,
        suspend_seconds: float = DEFAULTS.otp_suspend_seconds,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.store = store
        self.block_seconds = block_seconds
        self.suspend_after = suspend_after
        self.suspend_seconds = suspend_seconds
        self.clock = clock

    @staticmethod
    @functools.lru_cache(maxsize=1024)  # built once per account and IQ, not per open
    def keys(account: str, iq_id: str) -> tuple[Key[float], ...]:
        """What :meth:`state_of` reads, for a caller that batches the read."""
        return (OTP_BLOCK(account, iq_id), OTP_FAILS(account, iq_id),
                OTP_SUSPEND(account, iq_id), OTP_GOOD(account, iq_id))

    def state(self, account: str, iq_id: str, mark: float | None = None) -> BudgetState:
        """The IQ's budget in one store round trip (``mark``: :func:`credentials_mark` of
        the credentials about to sign)."""
        return self.state_of(self.store.get_many(self.keys(account, iq_id)), mark)

    def state_of(self, values: Sequence[Any], mark: float | None = None) -> BudgetState:
        """The budget from the values of :meth:`keys`."""
        now = self.clock.wall()
        block, fails, suspend, good = values
        refusal = None
        if block is not None and block > now:
            refusal = Refusal(True, block - now)
        elif suspend is not None and suspend > now:
            refusal = Refusal(False, suspend - now)
        return BudgetState(refusal, int(fails or 0),
                           good is not None and (mark is None or good == mark))

    def refusal(self, account: str, iq_id: str) -> Refusal | None:
        """Why no OTP may be sent to this IQ now, or ``None``."""
        return self.state(account, iq_id).refusal

    def block_refusal(self, account: str, iq_id: str) -> Refusal | None:
        """Salto's block alone (not our suspension): Set PIN, the repair, stays possible
        while codes are suspended."""
        until = self.store.get(OTP_BLOCK(account, iq_id))
        now = self.clock.wall()
        return Refusal(True, until - now) if until is not None and until > now else None

    def probe(self, transport: Transport, account: str, iq_id: str
              ) -> AbstractContextManager[None]:
        """The one code in flight for an IQ whose state is unknown: held across workers,
        waited for within the caller's deadline (``Timeout`` when it runs out)."""
        return transport.single_flight(self.store, OTP_PROBE(account, iq_id), PROBE_WAIT)

    def blocked(self, account: str, iq_id: str) -> float:
        """Salto answered ``otp_blocked``: send no OTP to this IQ for ``block_seconds``."""
        self.store.write([(OTP_BLOCK(account, iq_id), self.clock.wall() + self.block_seconds,
                           self.block_seconds)], [OTP_GOOD(account, iq_id)])
        return self.block_seconds

    def rejected(self, account: str, iq_id: str) -> bool:
        """Count a rejected OTP; True when this one suspends the IQ's OTP use."""
        fails = OTP_FAILS(account, iq_id)
        self.store.delete(OTP_GOOD(account, iq_id))  # the IQ's state is unknown again
        if self.store.incr(fails, self.suspend_seconds) < self.suspend_after:
            return False
        self.store.write([(OTP_SUSPEND(account, iq_id),
                           self.clock.wall() + self.suspend_seconds, self.suspend_seconds)],
                         [fails])
        return True

    def accepted(self, account: str, iq_id: str, mark: float | None) -> None:
        """Salto accepted a code signed with the credentials of ``mark``: the count and any
        suspension end, and codes signed with them may go in parallel again. ``None``
        vouches for nothing: an expert PIN change was taken by the cloud, the IQ may not
        have taken it."""
        sets, deletes = self.accepted_writes(account, iq_id, mark)
        self.store.write(sets, deletes)

    def accepted_writes(self, account: str, iq_id: str, mark: float | None
                        ) -> tuple[list[tuple[Key[Any], Any, float]], list[Key[Any]]]:
        """What :meth:`accepted` writes, for a caller that batches the write."""
        good = OTP_GOOD(account, iq_id)
        done = [OTP_FAILS(account, iq_id), OTP_SUSPEND(account, iq_id)]
        if mark is None:
            return [], [*done, good]
        return [(good, mark, GOOD_SECONDS)], done


PENDING = "pending"


class Dedup:
    def __init__(self, store: Store, *, window: float = DEFAULTS.dedup_seconds,
                 claim_seconds: float = DEFAULTS.open_deadline + DEFAULTS.dedup_margin,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.store = store
        self.window = window
        # An in-flight claim must outlive the slowest open (its deadline plus a margin):
        # if it expired first, a later tap would send a second command.
        self.claim_seconds = max(window, claim_seconds)
        self.clock = clock

    @staticmethod
    def key(account: str, park_id: str, booking_id: str, lock_id: str,
            requested_by: str) -> Key[DedupValue]:
        """Taps share a result only when they come from the same requester: a guest's
        double tap is one command; staff opening for the guest is a new one. Tagged by
        the park's account, so it shares a Redis Cluster slot with the park's budget."""
        raw = f"{park_id}\x00{booking_id}\x00{lock_id}\x00{requested_by}".encode()
        return DUPLICATE(account, hashlib.sha256(raw).hexdigest()[:32])

    def claim(self, key: Key[DedupValue]) -> bool:
        """True when this caller is the first in the window and must do the open."""
        return self.store.add(key, PENDING, self.claim_seconds)

    def publish(self, key: Key[DedupValue], summary: dict[str, Any],
                ttl: float | None = None) -> None:
        """Replace the claim by the result, for ``ttl`` (at most the window)."""
        self.store.set(*self.published(key, summary, ttl))

    def published(self, key: Key[DedupValue], summary: dict[str, Any],
                  ttl: float | None = None) -> tuple[Key[DedupValue], DedupValue, float]:
        """The write of :meth:`publish`, for a caller that batches it."""
        return key, summary, self.window if ttl is None else min(ttl, self.window)

    def release(self, key: Key[DedupValue]) -> None:
        self.store.delete(key)

    def wait(self, key: Key[DedupValue], deadline: float) -> dict[str, Any] | None:
        """The first attempt's published result; ``None`` if it vanished or time ran out."""
        delay = FIRST_POLL
        while True:
            value = self.store.get(key)
            if value is None:
                return None
            if isinstance(value, dict):
                return value
            if self.clock.monotonic() + delay > deadline:
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

    def claim(self, reads: Sequence[Key[Any]] = ()) -> list[Any]:
        """Claim the duplicate guard (once) and read ``reads`` in the same round trip;
        raises :class:`Duplicate` if another attempt holds the claim."""
        if self.key is None or self.claimed:
            return self.store.get_many(reads) if reads else []
        claimed, values = self.store.claim(self.key, PENDING, self.claim_seconds,
                                           [*reads, *self.extra_reads])
        if not claimed:
            raise Duplicate
        self.claimed = True
        return values[:len(reads)]

    def finish(self) -> None:
        if self.sets or self.deletes:
            self.store.write(self.sets, self.deletes)
