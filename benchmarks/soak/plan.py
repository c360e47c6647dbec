"""The soak's schedule, drawn from a seed: every command of the load and every fault, with
its time (seconds from the start). The same seed and shape give the same plan; what the
processes make of it varies only with timing.

The load: guests tapping open (single taps, double taps within the duplicate window, the
same booking from two workers at once, check-in waves of 16 on one IQ), booking status
changes, lock dropdowns, status and readiness sweeps, staff opens, Set PIN. The faults:
Salto failing on one endpoint (5xx, a timeout, a dropped connection, a dripped answer, the
answer of an open lost), tokens revoked, an IQ or a lock offline, an IQ's secret rotated
in the app and the IQ re-activated, Salto's clock ±90 s, Redis killed, a worker killed,
the event stream dropped.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

# (method, path pattern) of each endpoint a fault may hit
ENDPOINTS = {
    "token": ("POST", r"/connect/token$"),
    "lists": ("GET", r"/(locks|iqs)$"),
    "locking": ("PATCH", r"/locking$"),
    "entries": ("GET", r"/entries$"),
}
HTTP_MODES = ("5xx", "timeout", "drop", "drip")
# every kind of fault, each at least once in a run long enough for it
FAULT_KINDS = (
    "http",
    "answer_lost",
    "token_revoked",
    "iq_offline",
    "lock_offline",
    "secret_rotated",
    "clock_jump",
    "redis_kill",
    "worker_kill",
    "stream_drop",
)
WAVE = 16  # taps at once on one IQ (a check-in wave)
WAVE_EVERY = 30.0  # seconds between waves, on average
STAFF = "staff:marit"
# other commands per second, in all (their mix does not scale with the taps' rate)
OTHER_RATES = {
    "status": 1.0,
    "options": 0.3,
    "sweep": 0.15,
    "readiness": 0.15,
    "staff": 0.05,
    "set_pin": 0.01,
}


@dataclass(frozen=True)
class Shape:
    """What the plan knows of the world: parks, each with ``iqs`` IQs of ``locks_per_iq``
    locks (its last lock is the staff's door, with no booking), and the workers."""

    parks: int = 50
    iqs: int = 3
    locks_per_iq: int = 12
    workers: int = 4

    @property
    def bookings(self) -> int:
        return self.iqs * self.locks_per_iq - 1


@dataclass(frozen=True)
class Command:
    t: float
    worker: int
    op: str
    park: int
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Fault:
    t: float
    kind: str
    duration: float
    target: dict[str, Any] = field(default_factory=dict)

    @property
    def end(self) -> float:
        return self.t + self.duration

    def label(self) -> str:
        if self.kind == "http":
            return f"http {self.target['mode']} on {self.target['endpoint']}"
        return self.kind


@dataclass(frozen=True)
class Plan:
    seed: int
    seconds: float
    warm: float  # no fault before this; memory is measured from here
    faults_end: float  # no fault starts after this
    commands: list[Command]
    faults: list[Fault]


def _taps(rng: random.Random, t: float, shape: Shape) -> list[Command]:
    park, booking = rng.randrange(shape.parks), rng.randrange(shape.bookings)
    kind = rng.choices(("single", "double", "pair"), (0.7, 0.15, 0.15))[0]
    worker = rng.randrange(shape.workers)
    tap = {"booking": booking, "by": "guest"}
    first = Command(t, worker, "tap", park, tap)
    if kind == "single":
        return [first]
    if kind == "double":  # the guest taps again before the first answer came
        return [first, Command(t + rng.uniform(0.2, 3.0), worker, "tap", park, tap)]
    other = (worker + 1 + rng.randrange(shape.workers - 1)) % shape.workers
    return [first, Command(t, other, "tap", park, tap)]


def _wave(rng: random.Random, t: float, shape: Shape) -> list[Command]:
    """16 guests of one IQ at once, over the workers; when the IQ has fewer bookings, some
    tap twice (from another worker)."""
    park, iq = rng.randrange(shape.parks), rng.randrange(shape.iqs)
    own = [b for b in range(shape.bookings) if b // shape.locks_per_iq == iq]
    chosen = [own[n % len(own)] for n in range(WAVE)]
    return [
        Command(t, n % shape.workers, "tap", park, {"booking": b, "by": "guest"})
        for n, b in enumerate(chosen)
    ]


def _other(rng: random.Random, t: float, op: str, shape: Shape) -> Command:
    park, worker = rng.randrange(shape.parks), rng.randrange(shape.workers)
    args: dict[str, Any] = {}
    if op == "status":
        args = {"booking": rng.randrange(shape.bookings), "change": rng.randrange(3)}
    elif op == "options":
        args = {"refresh": rng.random() < 0.2}
    elif op == "staff":
        args = {"by": STAFF}
    elif op == "set_pin":
        args = {"iq": rng.randrange(shape.iqs)}
    return Command(t, worker, op, park, args)


def _poisson(rng: random.Random, rate: float, seconds: float) -> list[float]:
    times: list[float] = []
    t = 0.0
    while rate > 0:
        t += rng.expovariate(rate)
        if t >= seconds:
            return times
        times.append(t)
    return times


def _fault(
    rng: random.Random, t: float, kind: str, shape: Shape, http: list[tuple[str, str]]
) -> Fault:
    park = rng.randrange(shape.parks)
    if kind == "http":  # the endpoints and modes in turn (``http``: shuffled, consumed)
        endpoint, mode = http.pop(0) if http else (rng.choice(sorted(ENDPOINTS)), "5xx")
        return Fault(
            t, kind, 20.0, {"endpoint": endpoint, "mode": mode, "times": rng.randint(1, 4)}
        )
    if kind == "answer_lost":
        return Fault(t, kind, 10.0, {"endpoint": "locking", "times": 1})
    if kind == "iq_offline":
        return Fault(t, kind, rng.uniform(10, 30), {"park": park, "iq": rng.randrange(shape.iqs)})
    if kind == "lock_offline":
        lock = rng.randrange(shape.bookings)
        return Fault(t, kind, rng.uniform(10, 30), {"park": park, "lock": lock})
    if kind == "secret_rotated":
        return Fault(t, kind, rng.uniform(10, 20), {"park": park, "iq": rng.randrange(shape.iqs)})
    if kind == "clock_jump":
        return Fault(t, kind, rng.uniform(15, 30), {"seconds": rng.choice((-90, 90))})
    if kind == "redis_kill":
        return Fault(t, kind, rng.uniform(2, 6))
    if kind == "worker_kill":
        return Fault(t, kind, 2.0, {"worker": rng.randrange(shape.workers)})
    return Fault(t, kind, 0.0)  # token_revoked, stream_drop: at once


def make_plan(seed: int, seconds: float, shape: Shape, rate: float) -> Plan:
    """The whole run: ``rate`` taps per second (about: waves come on top of the mix), and
    faults between the warm-up and three quarters of the run, one every ~12 s and every
    kind at least once (a short run has them closer together), every kind once before
    any repeats."""
    rng = random.Random(seed)
    warm = min(60.0, seconds * 0.2)
    faults_end = seconds * 0.75
    commands: list[Command] = []
    for t in _poisson(rng, rate / 1.3, seconds):  # 1.3 taps per tap event on average
        commands += _taps(rng, t, shape)
    for t in _poisson(rng, 1 / WAVE_EVERY, seconds):
        commands += _wave(rng, t, shape)
    for op, each in OTHER_RATES.items():
        commands += [_other(rng, t, op, shape) for t in _poisson(rng, each, seconds)]
    commands.sort(key=lambda c: c.t)
    count = max(len(FAULT_KINDS), int((faults_end - warm) / 12))
    kinds = list(FAULT_KINDS)
    rng.shuffle(kinds)
    # after every kind once: Salto failing on an endpoint as often as all the rest
    more = [*FAULT_KINDS, *["http"] * (len(FAULT_KINDS) - 1)]
    kinds += [rng.choice(more) for _ in range(count - len(kinds))]
    http = [(endpoint, mode) for endpoint in sorted(ENDPOINTS) for mode in HTTP_MODES]
    rng.shuffle(http)
    starts = sorted(rng.uniform(warm, faults_end) for _ in kinds)
    faults = [_fault(rng, t, kind, shape, http) for t, kind in zip(starts, kinds, strict=True)]
    return Plan(seed, seconds, warm, faults_end, commands, faults)
