"""Time: the process's clocks (one injectable :class:`Clock`), and Salto's clock as learned
from the ``Date`` header of its answers (:class:`SaltoClock`).

OTPs are signed with Salto's time, so a server whose clock is off still opens doors; the
offset is kept per Connect API origin in the store, shared by every park on that API.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import mktime_tz, parsedate_tz

from ireserve_salto_plugin.salto.cache import CLOCK, ClockReading, Key, Store
from ireserve_salto_plugin.salto.config import Origin
from ireserve_salto_plugin.salto.errors import StoreUnavailable

log = logging.getLogger(__name__)

CLOCK_WARN_SECONDS = 60  # a larger offset is reported as the clock_skew warning
CLOCK_RECHECK = 60.0  # seconds between two stored readings of Salto's Date header
# a Date further than this from what we take Salto's time to be is learned at once (Salto's
# clock jumped: codes and receipts follow it from its next answer, not a minute later)
CLOCK_JUMP_SECONDS = 2
CLOCK_TTL = 3600.0  # seconds a learned offset is kept
MAX_CLOCK_OFFSET = 86400  # a Date further off than this is not a clock error: ignored
DATE_HEADER_CHARS = 100  # a longer Date header is cut before parsing
HALF_SECOND = 0.5  # Date has whole seconds, truncated: the instant is on average 0.5 s later


@dataclass(frozen=True, slots=True)
class Clock:
    """Wall-clock time (epoch seconds), a monotonic clock and sleep: injected everywhere
    that waits or expires, so tests need no real sleeps."""

    wall: Callable[[], float] = field(default=time.time)
    monotonic: Callable[[], float] = field(default=time.monotonic)
    sleep: Callable[[float], None] = field(default=time.sleep)

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(self.wall(), UTC)


SYSTEM_CLOCK = Clock()


def clock_key(api: Origin) -> Key[ClockReading]:
    return CLOCK("{}://{}:{}".format(*api))


class SaltoClock:
    """Salto's clock for one Connect API origin: our wall clock plus a learned offset.
    Read from the store once per instance (an instance lives for one hook call)."""

    def __init__(self, store: Store, api: Origin, clock: Clock = SYSTEM_CLOCK) -> None:
        self._store = store
        self._key = clock_key(api)
        self._clock = clock
        self._reading: ClockReading | None = None
        self._read = False

    def _learned(self) -> ClockReading | None:
        if not self._read:
            self._reading = self._store.get(self._key)
            self._read = True
        return self._reading

    def offset(self) -> float:
        """Seconds Salto's clock is ahead of ours (0 until learned)."""
        learned = self._learned()
        return learned.offset if learned is not None else 0.0

    def now(self) -> datetime:
        """What OTPs are signed with."""
        return datetime.fromtimestamp(self._clock.wall() + self.offset(), UTC)

    def observe(self, date_header: str | None, status: int) -> None:
        """Learn from an answer of the Connect API: when the last reading is older than
        :data:`CLOCK_RECHECK`, after every error answer (an ``otp_invalid`` may be a clock
        jump), and at once when Salto's Date is more than :data:`CLOCK_JUMP_SECONDS` from
        the learned time (its clock jumped). An impossible header is ignored and logged,
        never learned."""
        if not date_header:
            return
        now = self._clock.wall()
        learned = self._learned()
        try:
            parsed = parsedate_tz(date_header[:DATE_HEADER_CHARS])
            offset = round(mktime_tz(parsed) + HALF_SECOND - now) if parsed else None
        except (TypeError, ValueError, OverflowError, IndexError):
            offset = None
        if (
            learned is not None
            and now - learned.at < CLOCK_RECHECK
            and status < 400
            and (offset is None or abs(offset - learned.offset) <= CLOCK_JUMP_SECONDS)
        ):
            return  # nothing new: no store write
        if offset is None or abs(offset) > MAX_CLOCK_OFFSET:
            log.warning(
                "Salto KS sent an impossible Date header; it is ignored, not learned "
                "as Salto's clock"
            )
            return
        if abs(offset) > CLOCK_WARN_SECONDS and (learned is None or learned.offset != offset):
            log.warning(
                "Salto KS clock differs from ours by %+d s; OTPs are signed with "
                "Salto's time. Check this server's NTP.",
                offset,
            )
        self._reading = ClockReading(float(offset), now)
        try:  # best effort: an answer already received must not be lost to the store
            self._store.set(self._key, self._reading, CLOCK_TTL)
        except StoreUnavailable:
            log.warning("salto clock offset not stored: the shared store is unavailable")
