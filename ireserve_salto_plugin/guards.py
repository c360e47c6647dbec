"""Guards around the remote open, kept in the shared store so they hold across workers:

- :class:`OtpBudget`: after Salto's ``otp_blocked`` no OTP goes to that IQ until the block
  can have cleared; after two rejected OTPs in a row the IQ's OTP use is suspended until an
  admin re-activates it (new secret/PIN/activation time) or the suspension expires.
- :class:`Dedup`: one open per (park, booking, lock, requester) within a short window;
  later taps get the first attempt's result instead of a second command. A claim in
  flight lasts at least the open's deadline, so a slow open is never doubled.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .clock import SYSTEM_CLOCK, Clock
from .keys import DUPLICATE, OTP_BLOCK, OTP_FAILS, OTP_SUSPEND, DedupValue, Key
from .runtime import Tuning
from .settings import IqCredentials
from .store import Store

DEFAULTS = Tuning()  # the one place these numbers live (block: docs, "OTP blocks")
SUSPEND_AFTER = 2  # rejected OTPs in a row
FIRST_POLL = 0.005  # seconds between reads of a running attempt, doubling
MAX_POLL = 0.1


def credentials_fingerprint(iq: IqCredentials) -> str:
    """Changes when an admin re-activates the IQ (secret, PIN or activation time)."""
    raw = f"{iq.secret}\x00{iq.pin}\x00{iq.activated_at}".encode()
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Refusal:
    blocked: bool  # True: Salto's block; False: our suspension after rejected OTPs
    retry_after: float


@dataclass(frozen=True, slots=True)
class BudgetState:
    refusal: Refusal | None  # why no OTP may be sent now, if so
    rejections: int  # rejected OTPs in a row so far (a success must reset them)


class OtpBudget:
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
    def keys(account: str, iq_id: str, fingerprint: str) -> list[Key[float]]:
        """What :meth:`state_of` reads, for a caller that batches the read."""
        return [OTP_BLOCK(account, iq_id), OTP_FAILS(account, iq_id, fingerprint),
                OTP_SUSPEND(account, iq_id, fingerprint)]

    def state(self, account: str, iq_id: str, fingerprint: str) -> BudgetState:
        """The IQ's budget in one store round trip."""
        return self.state_of(self.store.get_many(self.keys(account, iq_id, fingerprint)))

    def state_of(self, values: Sequence[Any]) -> BudgetState:
        """The budget from the values of :meth:`keys`."""
        now = self.clock.wall()
        block, fails, suspend = values
        refusal = None
        if block is not None and block > now:
            refusal = Refusal(True, block - now)
        elif suspend is not None and suspend > now:
            refusal = Refusal(False, suspend - now)
        return BudgetState(refusal, int(fails or 0))

    def refusal(self, account: str, iq_id: str, fingerprint: str) -> Refusal | None:
        """Why no OTP may be sent to this IQ now, or ``None``."""
        return self.state(account, iq_id, fingerprint).refusal

    def block_refusal(self, account: str, iq_id: str) -> Refusal | None:
        """Salto's block alone (whatever the credentials): for Set PIN."""
        until = self.store.get(OTP_BLOCK(account, iq_id))
        now = self.clock.wall()
        return Refusal(True, until - now) if until is not None and until > now else None

    def blocked(self, account: str, iq_id: str) -> float:
        """Salto answered ``otp_blocked``: send no OTP to this IQ for ``block_seconds``."""
        self.store.set(OTP_BLOCK(account, iq_id), self.clock.wall() + self.block_seconds,
                       self.block_seconds)
        return self.block_seconds

    def rejected(self, account: str, iq_id: str, fingerprint: str) -> bool:
        """Count a rejected OTP; True when this one suspends the IQ's OTP use."""
        fails = OTP_FAILS(account, iq_id, fingerprint)
        if self.store.incr(fails, self.suspend_seconds) < self.suspend_after:
            return False
        self.store.set(OTP_SUSPEND(account, iq_id, fingerprint),
                       self.clock.wall() + self.suspend_seconds, self.suspend_seconds)
        self.store.delete(fails)
        return True

    def accepted(self, account: str, iq_id: str, fingerprint: str) -> None:
        """A success resets the count of rejections in a row."""
        self.store.delete(self.reset_key(account, iq_id, fingerprint))

    @staticmethod
    def reset_key(account: str, iq_id: str, fingerprint: str) -> Key[float]:
        """What :meth:`accepted` deletes, for a caller that batches the write."""
        return OTP_FAILS(account, iq_id, fingerprint)


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
    """One open's store traffic in two round trips, whatever the store: :meth:`begin`
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

    def begin(self, reads: Sequence[Key[Any]] = ()) -> list[Any]:
        """Claim (once) and read ``reads``; raises :class:`Duplicate` if another holds
        the claim."""
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
