"""One hook call's deadline, carried by everything that waits on its behalf: the transport
(each request's timeouts and the watchdog), the token source (waiting for another caller's
fetch), the OTP budget (waiting for a slot) and the duplicate guard (waiting for the first
tap's result). One object, one clock: no layer keeps a number of its own."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ireserve_salto_plugin.salto.clock import SYSTEM_CLOCK, Clock


@dataclass(frozen=True, slots=True)
class Deadline:
    """An instant on ``clock.monotonic()``; ``at`` None: no deadline (each request then gets
    its own connect and read timeouts, a wait its own longest)."""

    at: float | None = None
    clock: Clock = SYSTEM_CLOCK

    @classmethod
    def within(cls, seconds: float, clock: Clock = SYSTEM_CLOCK) -> Deadline:
        """The deadline ``seconds`` from now."""
        return cls(clock.monotonic() + seconds, clock)

    def left(self) -> float | None:
        """Seconds until the deadline (negative once passed); ``None`` without one."""
        return None if self.at is None else self.at - self.clock.monotonic()

    def limit(self, wanted: float) -> float:
        """``wanted`` seconds, cut to what is left (never below zero)."""
        left = self.left()
        return wanted if left is None else max(0.0, min(wanted, left))

    def passes_within(self, seconds: float) -> bool:
        """True when the deadline passes before ``seconds`` from now."""
        left = self.left()
        return left is not None and left < seconds

    def real(self, fallback: float) -> float:
        """The deadline as a ``time.monotonic()`` instant (the watchdog keeps real time,
        whatever clock was injected); ``fallback`` seconds from now without one."""
        left = self.left()
        return time.monotonic() + (fallback if left is None else left)


NO_DEADLINE = Deadline()
