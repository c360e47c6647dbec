"""The soak's invariants, checked on the full history once the run is over (pure: no
process, no clock). Times are ``time.monotonic()`` seconds, one clock for every process of
the machine; Salto's own time (``salto_at``) only where a receipt is compared with it.

1. every tap got exactly one answer, within its hook's deadline (+1 s);
2. no booking/requester got two accepted opens within the duplicate window, except across
   a Redis outage (counted, named);
3. never more than 2 rejected codes per IQ in any sliding 20 minutes, and no IQ blocked;
4. every open Salto accepted has a door-log receipt naming who asked, except those made
   during a store outage (counted);
5. no ``internal_error`` answer, no hook that raised, no traceback in any worker's log;
6. each worker's RSS grows ≤ 5 MB after warm-up, its thread count stays bounded;
7. after the last fault, every park opens again within 60 s.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

REJECTED = ("otp_invalid", "otp_blocked")
OTP_WINDOW = 20 * 60.0
MAX_REJECTED = 2
RSS_GROWTH_MB = 5.0
RECOVERY_SECONDS = 60.0
GRACE = 1.0  # an answer may come this long after its hook's deadline
# a receipt's time is Salto's as the plugin knew it when signing: after a jump of Salto's
# clock (±90 s) it may be that far from when Salto took the command
RECEIPT_SLACK = 100.0
SHOWN = 5  # violating cases named per invariant


@dataclass
class History:
    sent: dict[int, dict[str, Any]]  # n -> the command (op, park, booking, by, worker, t)
    answers: list[dict[str, Any]]  # each worker's answers (n, w, t0, t1, reason, …)
    kills: list[tuple[int, float]]  # (worker, when it was killed)
    outages: list[tuple[float, float]]  # Redis (down, up again)
    journal: list[tuple[Any, ...]]  # the sandbox's: (t, salto_at, account, iq, lock, cmd, res)
    parks_of: dict[str, int]  # Salto account -> park
    doorlogs: dict[int, list[dict[str, Any]]]  # park -> its door log's plugin rows
    logs: dict[str, str]  # worker run -> what it wrote on stderr
    samples: dict[str, list[tuple[float, float, int]]]  # worker run -> (t, RSS MB, threads)
    started: dict[str, float]  # worker run -> when it started
    deadlines: dict[str, float]  # op -> its hook's deadline (s)
    dedup: float
    warm: float  # seconds after a worker's start before its memory counts
    max_threads: int
    faults_over: float  # when the last fault ended
    start: float  # when the load began
    end: float


@dataclass
class Verdict:
    number: int
    name: str
    checked: int = 0
    excepted: int = 0  # cases the invariant itself allows (counted)
    excepted_why: str = ""
    cases: list[str] = field(default_factory=list)  # violations
    figures: str = ""

    @property
    def ok(self) -> bool:
        return not self.cases


def one_answer_each(h: History) -> Verdict:
    v = Verdict(1, "one answer per tap, within its deadline +1 s", excepted_why="worker killed")
    by_n: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for answer in h.answers:
        by_n[answer["n"]].append(answer)
    for n, command in sorted(h.sent.items()):
        if command["op"] != "tap":
            continue
        v.checked += 1
        got = by_n.get(n, [])
        if not got:
            if any(w == command["worker"] and k >= command["t"] for w, k in h.kills):
                v.excepted += 1
            else:
                v.cases.append(f"tap {n} (park {command['park']}): no answer")
            continue
        if len(got) > 1:
            v.cases.append(f"tap {n}: {len(got)} answers")
        took = got[0]["t1"] - command["t"]
        if took > h.deadlines["tap"] + GRACE:
            v.cases.append(f"tap {n}: answered after {took:.1f} s ({got[0]['reason']})")
    return v


def _outage_between(h: History, a: float, b: float) -> bool:
    return any(down <= b and up >= a for down, up in h.outages)


def accepted_opens(h: History) -> list[tuple[Any, ...]]:
    return [j for j in h.journal if j[5] == "locking" and j[6] == "accepted"]


def no_duplicate_opens(h: History) -> Verdict:
    """Each booking has a lock of its own and taps as "guest"; the staff's door is opened
    by one staff member: two accepted opens of one lock within the window are two opens
    for one booking/requester."""
    v = Verdict(2, "no two opens per booking/requester within the window")
    v.excepted_why = "across a Redis outage"
    by_lock: dict[tuple[str, str], list[float]] = defaultdict(list)
    for j in accepted_opens(h):
        by_lock[(j[2], j[4])].append(j[0])
    for (account, lock), times in by_lock.items():
        times.sort()
        v.checked += len(times)
        for a, b in itertools.pairwise(times):
            if b - a >= h.dedup:
                continue
            if _outage_between(h, a - h.dedup, b):
                v.excepted += 1
            else:
                v.cases.append(
                    f"park {h.parks_of.get(account)}, lock {lock[:8]}: opened twice, "
                    f"{b - a:.1f} s apart"
                )
    return v


def rejected_codes(h: History) -> Verdict:
    v = Verdict(3, "≤ 2 rejected codes per IQ in any 20 min; no IQ blocked")
    by_iq: dict[tuple[str, str], list[float]] = defaultdict(list)
    for j in h.journal:
        v.checked += 1
        if j[6] in REJECTED:
            by_iq[(j[2], j[3])].append(j[0])
        if j[6] == "otp_blocked":
            v.cases.append(f"park {h.parks_of.get(j[2])}, IQ {j[3][:8]}: blocked by Salto")
    worst = 0
    for (account, iq), times in by_iq.items():
        times.sort()
        for i, t in enumerate(times):
            inside = sum(1 for u in times[i:] if u - t < OTP_WINDOW)
            worst = max(worst, inside)
            if inside > MAX_REJECTED:
                v.cases.append(
                    f"park {h.parks_of.get(account)}, IQ {iq[:8]}: {inside} rejected in 20 min"
                )
                break
    rejected = sum(len(t) for t in by_iq.values())
    v.figures = f"{rejected} rejected on {len(by_iq)} IQs; most in 20 min on one IQ: {worst}"
    return v


def _salto_time(row: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(row["at"])).timestamp()


def _attempts_by_lock(h: History) -> dict[tuple[int, str], list[tuple[float, float, str]]]:
    """Each answer that names a lock and an attempt: (start, end, attempt) per park/lock."""
    found: dict[tuple[int, str], list[tuple[float, float, str]]] = defaultdict(list)
    for answer in h.answers:
        command = h.sent.get(answer["n"])
        if command is not None and answer.get("lock") and answer.get("attempt"):
            key = (command["park"], str(answer["lock"]))
            found[key].append((answer["t0"], answer["t1"], str(answer["attempt"])))
    return found


def receipts(h: History) -> Verdict:
    """An accepted open is joined to its receipt through the answer given while Salto took
    it (the attempt id), else (its worker died before answering) to the nearest unused
    receipt of that lock in Salto's time."""
    v = Verdict(4, "every accepted open has a receipt naming who asked")
    v.excepted_why = "made during a store outage"
    rows = {
        (park, str(row.get("attempt_id"))): row
        for park, park_rows in h.doorlogs.items()
        for row in park_rows
    }
    attempts, used, left = _attempts_by_lock(h), set(), []
    for j in sorted(accepted_opens(h)):
        v.checked += 1
        park = h.parks_of.get(j[2], -1)
        key = next(
            (
                (park, attempt)
                for t0, t1, attempt in attempts[(park, j[4])]
                if t0 <= j[0] <= t1 and (park, attempt) in rows and (park, attempt) not in used
            ),
            None,
        )
        if key is None:
            left.append((j, park))
        else:
            used.add(key)
    unused: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for key, row in rows.items():
        if key not in used:
            unused[(key[0], str(row.get("lock_id")))].append(row)
    for j, park in left:
        near = unused[(park, j[4])]
        best = min(near, key=lambda r: abs(_salto_time(r) - j[1]), default=None)
        if best is not None and abs(_salto_time(best) - j[1]) <= RECEIPT_SLACK:
            near.remove(best)
            used.add((park, str(best.get("attempt_id"))))
        elif _outage_between(h, j[0] - 1, j[0] + 1):
            v.excepted += 1
        else:
            v.cases.append(f"park {park}, lock {j[4][:8]} at +{j[0] - h.start:.1f} s: no receipt")
    for key in sorted(used):
        if not rows[key].get("requested_by"):
            v.cases.append(f"park {key[0]}, attempt {key[1][:8]}: the receipt names no one")
    return v


def no_internal_errors(h: History) -> Verdict:
    v = Verdict(5, "no internal_error, no hook raised, no traceback")
    for answer in h.answers:
        v.checked += 1
        if answer.get("reason") in ("internal_error", "raised", "no_answer"):
            v.cases.append(f"{answer['w']} command {answer['n']}: {answer['reason']}")
    for run, text in h.logs.items():
        if "Traceback" in text:
            first = text[text.index("Traceback") :].splitlines()[-1:]
            v.cases.append(f"{run}: a traceback in its log ({' '.join(first)[:120]})")
    return v


def memory(h: History) -> Verdict:
    v = Verdict(6, f"RSS growth ≤ {RSS_GROWTH_MB:.0f} MB after warm-up; threads bounded")
    v.excepted_why = "runs too short to measure"
    shown = []
    for run, samples in sorted(h.samples.items()):
        warm = [s for s in samples if s[0] >= h.started[run] + h.warm]
        most = max((s[2] for s in samples), default=0)
        if most > h.max_threads:
            v.cases.append(f"{run}: {most} threads (bound {h.max_threads})")
        if len(warm) < 2:
            v.excepted += 1
            continue
        v.checked += 1
        growth = warm[-1][1] - warm[0][1]
        shown.append(f"{run} {warm[0][1]:.1f}→{warm[-1][1]:.1f} MB, ≤{most} threads")
        if growth > RSS_GROWTH_MB:
            v.cases.append(f"{run}: RSS grew {growth:.1f} MB after warm-up")
    v.figures = "; ".join(shown)
    return v


def recovery(h: History, parks: int) -> Verdict:
    v = Verdict(7, f"every park opens within {RECOVERY_SECONDS:.0f} s of the last fault")
    first: dict[int, float] = {}
    for answer in h.answers:
        command = h.sent.get(answer["n"])
        if command is None or not answer.get("opened") or answer["t1"] < h.faults_over:
            continue
        park = command["park"]
        first[park] = min(first.get(park, answer["t1"]), answer["t1"])
    waits = []
    for park in range(parks):
        v.checked += 1
        at = first.get(park)
        if at is None or at - h.faults_over > RECOVERY_SECONDS:
            v.cases.append(f"park {park}: no open within {RECOVERY_SECONDS:.0f} s")
        else:
            waits.append(at - h.faults_over)
    if waits:
        v.figures = f"slowest park opened {max(waits):.1f} s after the last fault"
    return v


def check(h: History, parks: int) -> list[Verdict]:
    return [
        one_answer_each(h),
        no_duplicate_opens(h),
        rejected_codes(h),
        receipts(h),
        no_internal_errors(h),
        memory(h),
        recovery(h, parks),
    ]
