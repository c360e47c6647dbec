"""The soak in the suite (issue 34): one minute of load and faults with a fixed seed, every
invariant at 0 violations. Only the invariants are asserted, never a speed; the run's table
is printed on failure. ``./dev soak --minutes 10`` is the full run (benchmarks/README.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.soak.checks import History, Verdict, check
from benchmarks.soak.plan import FAULT_KINDS, Shape, make_plan

ROOT = Path(__file__).resolve().parents[2]
SEED = 34  # every kind of fault lands in the minute (see the plan test below)


def test_a_plan_is_the_same_from_the_same_seed_and_holds_every_kind_of_fault() -> None:
    shape = Shape(parks=10)
    one, two = make_plan(SEED, 60, shape, 8), make_plan(SEED, 60, shape, 8)
    assert one == two and make_plan(SEED + 1, 60, shape, 8) != one
    assert {fault.kind for fault in one.faults} == set(FAULT_KINDS)
    assert all(one.warm <= fault.t <= one.faults_end for fault in one.faults)
    taps = [c for c in one.commands if c.op == "tap"]
    assert 6 * 60 <= len(taps) <= 14 * 60  # about 8 taps/s, waves on top


def _history(**changes: object) -> History:
    base: dict[str, object] = {
        "sent": {1: {"op": "tap", "park": 0, "worker": 0, "t": 10.0}},
        "answers": [{"n": 1, "w": "worker0#1", "t0": 10.0, "t1": 10.1, "reason": "opened",
                     "opened": True, "attempt": "a1", "lock": "L1"}],
        "kills": [], "outages": [],
        "journal": [(10.05, 1000.0, "acct", "iq", "L1", "locking", "accepted")],
        "parks_of": {"acct": 0},
        "doorlogs": {0: [{"attempt_id": "a1", "lock_id": "L1", "requested_by": "guest",
                          "at": "1970-01-01T00:16:40+00:00"}]},
        "logs": {}, "samples": {}, "started": {}, "deadlines": {"tap": 15.0}, "dedup": 10.0,
        "warm": 5.0, "max_threads": 96, "faults_over": 5.0, "start": 0.0, "end": 60.0,
    }  # fmt: skip
    base.update(changes)
    return History(**base)  # type: ignore[arg-type]


def _broken(history: History) -> list[int]:
    return [v.number for v in check(history, parks=1) if not v.ok]


def test_the_checks_pass_a_clean_history_and_name_each_kind_of_violation() -> None:
    clean = _history()
    assert _broken(clean) == []
    late = _history(answers=[{**clean.answers[0], "t1": 26.5}])
    assert _broken(late) == [1]
    twice = _history(journal=[*clean.journal, (14.0, 1004.0, "acct", "iq", "L1", "locking",
                                               "accepted")])  # fmt: skip
    assert _broken(twice) == [2, 4]  # and the second has no receipt
    rejected = [(20.0 + n, 1.0, "acct", "iq", "", "set_pin", "otp_invalid") for n in range(3)]
    assert _broken(_history(journal=[*clean.journal, *rejected])) == [3]
    assert _broken(_history(doorlogs={0: []})) == [4]
    assert _broken(_history(logs={"worker0#1": "Traceback (most recent call last):\n x"})) == [5]
    grown = {"worker0#1": [(10.0, 50.0, 9), (40.0, 56.0, 9)]}
    assert _broken(_history(samples=grown, started={"worker0#1": 0.0})) == [6]
    assert _broken(_history(faults_over=11.0)) == [7]  # no open after the last fault
    verdicts: list[Verdict] = check(_history(doorlogs={0: []}, outages=[(9.0, 12.0)]), 1)
    assert verdicts[3].ok and verdicts[3].excepted == 1  # made during a store outage


def test_a_one_minute_soak_keeps_every_invariant(tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (./dev test installs it)")
        pytest.skip("redis-server is not installed")
    done = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks.soak", "--minutes", "1", "--parks", "10"),
            *("--seed", str(SEED), "--rate", "8", "--out", str(tmp_path)),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert done.stdout.count(": 0 violations") == 7, done.stdout
