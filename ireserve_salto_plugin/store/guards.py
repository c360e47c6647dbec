"""The OTP budget around every code sent to an IQ, kept in the shared store so it holds
across workers (the duplicate-tap guard is :mod:`.dedup`).

:class:`OtpBudget`: per (account, IQ), as Salto counts. Salto blocks an IQ's codes for about
20 minutes after as few as three rejected codes (docs/salto-ks-api.md, "OTP"), so at most two
rejected codes reach Salto in any sliding :attr:`OtpBudget.window` (opens, Set PIN,
self-tests and test opens together), at most two codes are in flight at once, and one at a
time while a rejection is in the window or no code is known to work.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ireserve_salto_plugin.salto.cache import Key, Push, Store
from ireserve_salto_plugin.salto.clock import SYSTEM_CLOCK, Clock
from ireserve_salto_plugin.salto.config import Tuning
from ireserve_salto_plugin.salto.deadline import Deadline
from ireserve_salto_plugin.salto.errors import StoreUnavailable
from ireserve_salto_plugin.store.keys import (
    OTP_BLOCK,
    OTP_GOOD,
    OTP_REJECT,
    OTP_SLOT,
)

log = logging.getLogger(__name__)
DEFAULTS = Tuning()  # the one place these numbers live (block: docs, "OTP blocks")
MAX_REJECTED = 2  # rejected codes per IQ in any window: Salto blocked after 3 once
MAX_IN_FLIGHT = 2  # codes per IQ at once, when a code is known to work
GOOD_SECONDS = 86400.0  # an accepted code vouches for the IQ this long (then: one at a time)
SLOT_WAIT = 30.0  # longest wait for a slot when the caller has no deadline
SEND_RESERVE = 3.0  # of a caller's deadline, kept for sending once it has a slot
SLOT_MARGIN = 5.0  # a slot outlives its holder's deadline by this (a crashed holder)
FIRST_POLL = 0.005  # seconds between reads of a running attempt, doubling
MAX_POLL = 0.1
SLOT_POLL = 0.05  # the longest pause between two tries for a slot
BUSY_RETRY = 5.0  # seconds a caller that found no slot is told to wait


def credentials_mark(secret: str | None, pin: str | None) -> float:
    """A number that changes with the IQ's secret or PIN (and reveals neither): an accepted
    code vouches only for the credentials that signed it."""
    digest = hashlib.sha256(f"{secret}\x00{pin}".encode()).hexdigest()
    return float(int(digest[:12], 16))


@dataclass(frozen=True, slots=True)
class Refusal:
    blocked: bool  # True: Salto's block; False: two rejected codes in the window
    retry_after: float  # seconds until a code may go to the IQ again


@dataclass(frozen=True, slots=True)
class BudgetState:
    refusal: Refusal | None  # why no OTP may be sent now, if so
    rejections: int  # rejected codes in the window (an accepted code does not erase one)
    known_good: bool = False  # a code signed with these credentials was accepted last

    @property
    def probing(self) -> bool:
        """One code at a time: a rejection is in the window (one more would fill it), or
        no code is known to work with these credentials."""
        return self.refusal is None and (self.rejections > 0 or not self.known_good)

    @property
    def in_flight(self) -> int:
        """How many codes may be in flight for the IQ at once."""
        return 1 if self.probing else MAX_IN_FLIGHT


class BudgetRefused(Exception):
    """No code may go to the IQ now (``refusal`` says why and for how long)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__("no OTP may be sent to this IQ now")
        self.refusal = refusal


class IqBusy(Exception):
    """Other codes for the IQ were in flight until the caller's deadline was nearly spent:
    nothing was sent; ``retry_after`` seconds is a fair wait."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("other codes for this IQ are in flight")
        self.retry_after = retry_after


class OtpBudget:
    """Salto counts wrong codes per account and IQ, whichever PIN signed them, and blocks
    the IQ's codes for about 20 minutes after as few as three (docs/salto-ks-api.md, "OTP
    blocks"). The budget, per (account, IQ) across workers and commands (opens, Set PIN,
    self-test, test opens):

    - after Salto's ``otp_blocked``, no code for ``block_seconds``;
    - at most :data:`MAX_REJECTED` rejected codes in any sliding ``window``: after the
      second, nothing is sent until the first of the two is ``window`` old (an accepted
      code does not erase a rejection);
    - every code is sent inside a slot (:meth:`slot`): at most :data:`MAX_IN_FLIGHT` at
      once, and one at a time while :attr:`BudgetState.probing`. Waiting for a slot ends
      before the caller's deadline is spent (:class:`IqBusy`), never with a send.
    """

    def __init__(
        self,
        store: Store,
        *,
        block_seconds: float = DEFAULTS.otp_block_seconds,
        window: float = DEFAULTS.otp_window_seconds,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.store = store
        self.block_seconds = block_seconds
        self.window = window
        self.clock = clock

    @staticmethod
    def keys(account: str, iq_id: str) -> tuple[Key[float], ...]:
        """What :meth:`state_of` reads, for a caller that batches the read."""
        return (
            OTP_BLOCK(account, iq_id),
            OTP_REJECT(account, iq_id, "1"),
            OTP_REJECT(account, iq_id, "2"),
            OTP_GOOD(account, iq_id),
        )

    def state(self, account: str, iq_id: str, mark: float | None = None) -> BudgetState:
        """The IQ's budget in one store round trip (``mark``: :func:`credentials_mark` of
        the credentials about to sign)."""
        return self.state_of(self.store.get_many(self.keys(account, iq_id)), mark)

    def state_of(self, values: Sequence[Any], mark: float | None = None) -> BudgetState:
        """The budget from the values of :meth:`keys`."""
        now = self.clock.wall()
        block, *rejects, good = values
        times = [t for t in rejects if isinstance(t, int | float) and t > now - self.window]
        refusal = None
        if isinstance(block, int | float) and block > now:
            refusal = Refusal(True, block - now)
        elif len(times) >= MAX_REJECTED:
            refusal = Refusal(False, min(times) + self.window - now)
        return BudgetState(refusal, len(times), good is not None and (mark is None or good == mark))

    def refusal(self, account: str, iq_id: str) -> Refusal | None:
        """Why no OTP may be sent to this IQ now, or ``None``."""
        return self.state(account, iq_id).refusal

    @contextmanager
    def slot(
        self,
        deadline: Deadline,
        account: str,
        iq_id: str,
        mark: float | None,
        known: BudgetState | None = None,
        release: Callable[[Sequence[Key[float]]], None] | None = None,
        intent: Sequence[Push] = (),
    ) -> Iterator[BudgetState]:
        """Hold a slot for one code to the IQ while the body sends it and records Salto's
        answer (:meth:`rejected`, :meth:`blocked`, :meth:`accepted`). Yields the budget as
        read once the slot was held (``known``: the budget as the caller read it just now,
        so the first try needs no read of its own; ``release``: hands the slots back with the
        caller's next store write, e.g. the open's result script, instead of a round trip of
        their own: only when the body ends normally; ``intent``: pushed with the first slot
        taken, in its script). Raises :class:`BudgetRefused` when no
        code may go, :class:`IqBusy` when no slot came free in time. A caller that needs
        both slots (one at a time) takes them in order, so two such never hold one each."""
        slots = (OTP_SLOT(account, iq_id, "1"), OTP_SLOT(account, iq_id, "2"))
        reads = self.keys(account, iq_id)
        left = deadline.left()
        wait = SLOT_WAIT if left is None else max(0.0, left - min(SEND_RESERVE, left / 4))
        give_up = self.clock.monotonic() + wait
        ttl = (SLOT_WAIT if left is None else max(left, 0.0)) + SLOT_MARGIN
        held: list[Key[float]] = []
        delay = FIRST_POLL
        try:
            state = known or self.state_of(self.store.get_many(reads), mark)
            while True:
                if state.refusal is not None:
                    raise BudgetRefused(state.refusal)
                alone = state.in_flight == 1  # one at a time: hold both slots
                if len(held) >= (2 if alone else 1):
                    break  # read after the slots were taken: the state they are held for
                if alone and held and held[0] is not slots[0]:
                    self._release(held)  # both are taken in order: slot 1, then slot 2
                got = None
                for key in slots[len(held) :] if alone else slots:
                    taken, values = self.store.claim(key, self.clock.wall(), ttl, reads, intent)
                    if taken:
                        held.append(key)
                        got, intent = values, ()
                    if taken != alone:
                        break  # alone: stop at a taken slot; else: one free slot is enough
                if got is not None:
                    state = self.state_of(got, mark)
                    continue
                if self.clock.monotonic() + delay > give_up:
                    raise IqBusy(BUSY_RETRY)
                self.clock.sleep(delay)
                delay = min(delay * 2, SLOT_POLL)
                state = self.state_of(self.store.get_many(reads), mark)
            yield state
            if release is not None and held:
                release(list(held))
                held.clear()
        finally:
            self._release(held)

    def _release(self, held: list[Key[float]]) -> None:
        """Give the slots back. Best effort: the code may have been sent (a lock that
        opened is reported opened); a slot the store did not free expires with its TTL."""
        if held:
            keys = list(held)
            held.clear()
            try:
                self.store.write([], keys)
            except StoreUnavailable as exc:
                log.warning("salto OTP slot not given back (it expires by itself): %s", exc)

    def blocked(self, account: str, iq_id: str) -> float:
        """Salto answered ``otp_blocked``: send no OTP to this IQ for ``block_seconds``."""
        self.store.write(
            [
                (
                    OTP_BLOCK(account, iq_id),
                    self.clock.wall() + self.block_seconds,
                    self.block_seconds,
                )
            ],
            [OTP_GOOD(account, iq_id)],
        )
        return self.block_seconds

    def rejected(self, account: str, iq_id: str) -> Refusal | None:
        """Count a rejected code (in the window, whatever signed it); the refusal it brings
        about, if this one filled the window."""
        now = self.clock.wall()
        self.store.delete(OTP_GOOD(account, iq_id))  # nothing is known to work now
        rejects = self.keys(account, iq_id)[1:3]
        # each rejection takes a key of its own (two codes in flight may be rejected at
        # once); a key lives as long as the window, so a free key is one that aged out
        if not any(self.store.add(key, now, self.window) for key in rejects):
            values = self.store.get_many(rejects)  # a third (sent before the window filled)
            self.store.set(
                rejects[0 if (values[0] or 0) <= (values[1] or 0) else 1], now, self.window
            )
        return self.refusal(account, iq_id)

    def accepted(self, account: str, iq_id: str, mark: float | None) -> None:
        """Salto accepted a code signed with the credentials of ``mark``: codes signed with
        them may go two at a time again (once no rejection is in the window). ``None``
        vouches for nothing: an expert PIN change was taken by the cloud, the IQ may not
        have taken it."""
        good = OTP_GOOD(account, iq_id)
        if mark is None:
            self.store.delete(good)
        else:
            self.store.set(good, mark, GOOD_SECONDS)
