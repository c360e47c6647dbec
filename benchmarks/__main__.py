"""``python -m benchmarks [--against REV] [--json FILE]``: the performance table.

Every row is measured in child processes (``child.py``) that reach the plugin only through
its entry point, its hooks and ``SALTO_KS_*``, against the sandbox (and Redis) in processes
of their own on the other core. With ``--against REV`` the other commit is measured in the
same run, beside this checkout (timing rows alternate between the two), in an environment
of its own built from that commit's own dependencies. Targets are written here as the issue
set them and never changed to make a row pass; ``benchmarks/README.md`` holds the log.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import requests

from benchmarks.harness import (
    CLIENT_CPU,
    Sandbox,
    pin_to_cpu,
    redis_process,
    sandbox_process,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CHILD = str(HERE / "child.py")
STREAM_CHILD = str(HERE / "stream_child.py")  # the event listener (this checkout only)
LATENCY = 0.030  # seconds per request, injected by the sandbox (row 1)
COLD_LATENCY = 0.050  # so that requests in a row are told from requests side by side
BURST = 200
WAVE, WAVE_LATENCY, WAVE_DEADLINE = 16, 0.050, 15.0


@dataclass(frozen=True)
class Subject:
    """One version: a name and the Python of its own environment."""

    name: str
    python: str


@dataclass
class Row:
    row: str
    value: float
    unit: str
    target: str
    met: bool | None
    baseline: float | None = None
    note: str = ""


ROWS: list[Row] = []


def report(row: Row) -> None:
    ROWS.append(row)
    mark = "·" if row.met is None else ("✓" if row.met else "✗")
    beside = f" | previous landing {row.baseline:g} {row.unit}" if row.baseline is not None else ""
    note = f" ({row.note})" if row.note else ""
    print(f"  {mark} {row.row}: {row.value:g} {row.unit}{beside} | target {row.target}{note}")


def child(
    subject: Subject, *, spec: dict[str, Any], timeout: float = 900, script: str = CHILD
) -> dict[str, Any]:
    """``script`` (``child.py``, or ``stream_child.py``) run by ``subject``'s Python on
    ``spec``; its last line of output, as JSON."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(spec, file)
        file.flush()
        out = subprocess.run(
            [subject.python, script, file.name],
            text=True,
            capture_output=True,
            timeout=timeout,
            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
            cwd=tempfile.gettempdir(),  # never this checkout's package by the current folder
            preexec_fn=lambda: pin_to_cpu(CLIENT_CPU),
        )
    if out.returncode != 0:
        raise RuntimeError(f"{subject.name}: {out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


@contextmanager
def waiting_child(subject: Subject, spec: dict[str, Any]) -> Iterator[Callable[[str], None]]:
    """A child that touches ``ready`` and waits for ``go`` (and ``bare_go``, the burst's
    second half): the parent sets the stage in between. Yields ``signal(name)``."""
    folder = Path(tempfile.mkdtemp(prefix="salto-bench-"))
    names = {name: str(folder / name) for name in ("ready", "go", "plugin_done", "bare_go")}
    (folder / "spec.json").write_text(json.dumps({**spec, **names}))
    proc = subprocess.Popen(
        [subject.python, CHILD, str(folder / "spec.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        cwd=tempfile.gettempdir(),
        preexec_fn=lambda: pin_to_cpu(CLIENT_CPU),
    )

    def signal(name: str) -> None:
        if name in ("ready", "plugin_done"):  # wait for the child
            while not Path(names[name]).exists():
                if proc.poll() is not None:
                    raise RuntimeError(f"{subject.name}: {proc.stderr.read()[-2000:]}")  # type: ignore[union-attr]
                time.sleep(0.01)
        else:
            Path(names[name]).touch()

    signal.result = {}  # type: ignore[attr-defined]
    yield signal
    out, err = proc.communicate(timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"{subject.name}: {err[-2000:]}")
    signal.result.update(json.loads(out.strip().splitlines()[-1]))  # type: ignore[attr-defined]


def site_spec(box: Sandbox, mode: str, **extra: Any) -> dict[str, Any]:
    return {
        "mode": mode,
        "env": box.data["env"],
        "settings": box.data["salto_ks"],
        "site_id": box.data["site_id"],
        "api": box.api,
        "locks": box.data["locks"],
        "iqs": box.data["salto_ks"].get("iqs", {}),
        **extra,
    }


# -- the rows -------------------------------------------------------------------------------


def timing_rows(subjects: list[Subject], redis_url: str | None, rounds: int, runs: int) -> None:
    """Rows 1, 3 and 4: warm opens beside bare PATCHes, alternating versions and runs."""
    with sandbox_process("--iqs", "10", "--locks-per-iq", "10", "--activate") as box:
        box.set_latency(LATENCY)
        got = alternate(subjects, runs, lambda s: child(s, spec=site_spec(box, "open", rounds=60)))
        box.set_latency(0.0)
        ratios = {s: statistics.median(g["open_ms"] / g["bare_ms"] for g in got[s]) for s in got}
        judged(
            "1. warm open under 30 ms latency per request, vs a bare PATCH",
            ratios,
            "×",
            "≤ 1.02×",
            lambda v: v <= 1.02,
        )
        stores: list[tuple[str, str | None, str, float, str, float]] = [
            ("in process", None, "≤ 1 ms", 1.0, "≤ 1.15×", 1.15)
        ]
        if redis_url:
            stores.append(("Redis", redis_url, "≤ 2 ms", 2.0, "≤ 1.5×", 1.5))
        for label, url, cpu_target, cpu_max, ratio_target, ratio_max in stores:
            got = alternate(
                subjects,
                runs,
                partial(child, spec=site_spec(box, "open", rounds=rounds, redis=url)),
            )
            cpu = {s: statistics.median(g["cpu_ms"] for g in got[s]) for s in got}
            bare_cpu = {s: statistics.median(g["bare_cpu_ms"] for g in got[s]) for s in got}
            ratio = {s: statistics.median(g["open_ms"] / g["bare_ms"] for g in got[s]) for s in got}
            judged(
                f"3. client CPU per warm open [{label}]",
                cpu,
                "ms",
                cpu_target,
                at_most(cpu_max),
                note=partial(bare_note, bare_cpu),
            )
            name = f"4. warm open on loopback vs a bare requests PATCH [{label}]"
            judged(name, ratio, "×", ratio_target, at_most(ratio_max))


def cold_row(subjects: list[Subject], redis_url: str | None) -> None:
    """Row 2: the site was read once (by one process, Redis shared); then the token and the
    lock list are gone (deleted from Redis) and a fresh process opens: HTTP round trips one
    after the other until the door opened. Without Redis: a fresh process, site id set."""
    with sandbox_process("--iqs", "10", "--locks-per-iq", "10", "--activate") as box:
        in_a_row = {}
        for subject in subjects:
            spec = site_spec(box, "cold", redis=redis_url)
            child(subject, spec=spec)  # reads the site: token, lists, the first page's size
            forget(redis_url, ("token", "locks"))
            box.set_latency(COLD_LATENCY)
            box.reset()
            child(subject, spec=spec)
            in_a_row[subject] = float(box.round_trips_in_a_row())
            box.set_latency(0.0)
        judged(
            "2. cold open: round trips in a row (token and list expired, site read)",
            in_a_row,
            "round trips",
            "3",
            lambda v: v == 3,
            note=lambda s: "" if redis_url else "no Redis: a fresh process, site never read",
        )


def forget(redis_url: str | None, kinds: tuple[str, ...]) -> None:
    """Delete the plugin's keys of these kinds (``ireserve-salto:<kind>:...``) from Redis."""
    if redis_url is None:
        return
    import redis

    client = redis.Redis.from_url(redis_url)
    for kind in kinds:
        for key in client.scan_iter(match=f"ireserve-salto:{kind}:*"):
            client.delete(key)


def burst_row(subjects: list[Subject], redis_url: str | None) -> None:
    """Row 5: 200 opens at once with an expired token (Salto expired it), Redis, spread
    round-robin over the site's 100 IQs (2 per IQ: all at once, as the OTP budget allows);
    then 200 bare PATCHes the same way."""
    if redis_url is None:
        print("  · 5. skipped: redis-server is not installed")
        return
    with sandbox_process("--iqs", str(BURST // 2), "--locks-per-iq", "2", "--activate") as box:
        share, tokens, opened, reasons = {}, {}, {}, {}
        for subject in subjects:
            spec = site_spec(box, "burst", count=BURST, redis=redis_url)
            with waiting_child(subject, spec=spec) as signal:
                signal("ready")
                box.expire_tokens()
                box.reset()
                signal("go")
                signal("plugin_done")
                tokens[subject] = box.calls("POST /connect/token")
                signal("bare_go")
            got = signal.result  # type: ignore[attr-defined]
            share[subject] = got["per_s"] / got["bare_per_s"]
            opened[subject] = got["opened"]
            reasons[subject] = got["reasons"]
        judged(
            f"5. {BURST} concurrent opens, token expired, Redis: share of bare",
            {s: v * 100 for s, v in share.items()},
            "%",
            "≥ 65 %",
            lambda v: v >= 65,
            note=lambda s: (
                f"{opened[s]}/{BURST} opened, {tokens[s]} token request(s)"
                + (f", {reasons[s]}" if opened[s] < BURST else "")
            ),
        )
        judged(
            f"5. {BURST} concurrent opens, token expired, Redis: token requests",
            {s: float(v) for s, v in tokens.items()},
            "requests",
            "1",
            lambda v: v == 1,
        )


def parks_row(subjects: list[Subject], parks: int) -> None:
    """Row 6: every park's dropdown once, each park its own account and site; peak RSS."""
    with sandbox_process(
        "--accounts", str(parks), "--iqs", "3", "--locks-per-iq", "12", "--activate"
    ) as box:
        spec = {
            "mode": "parks",
            "env": box.data["env"],
            "parks": box.data["parks"][:parks],
            "lock_count": len(box.data["locks"]),
        }
        rss = {subject: child(subject, spec=spec)["rss_mb"] for subject in subjects}
        judged(
            f"6. {parks:,} parks in one process, peak RSS", rss, "MB", "≤ 56 MB", lambda v: v <= 56
        )


def big_site_row(subjects: list[Subject]) -> None:
    """Row 7: the dropdown of a site of 5,000 locks, first (from Salto) and warm."""
    with sandbox_process("--iqs", "25", "--locks-per-iq", "200") as box:
        got = {
            s: child(s, spec=site_spec(box, "bigsite", lock_count=len(box.data["locks"])))
            for s in subjects
        }
        judged(
            "7. first mapping_options of 5,000 locks",
            {s: g["first_ms"] for s, g in got.items()},
            "ms",
            "≤ 400 ms",
            lambda v: v <= 400,
        )
        judged(
            "7. warm mapping_options of 5,000 locks",
            {s: g["warm_ms"] for s, g in got.items()},
            "ms",
            "< 1 ms",
            lambda v: v < 1,
        )


def wave_row(subjects: list[Subject], redis_url: str | None) -> None:
    """Issue 29's row: 16 guests on one healthy IQ at once; all open, none over the
    deadline, never more than 2 codes in flight."""
    stores: list[tuple[str, str | None]] = [("in process", None)]
    if redis_url:
        stores.append(("Redis", redis_url))
    with sandbox_process("--iqs", "2", "--locks-per-iq", str(WAVE), "--activate") as box:
        iq = box.data["locks"][0]["iq_id"]
        locks = [lock["id"] for lock in box.data["locks"] if lock["iq_id"] == iq][:WAVE]
        for label, url in stores:
            slowest, notes, good = {}, {}, {}
            for subject in subjects:
                spec = site_spec(box, "wave", wave_locks=locks, redis=url)
                with waiting_child(subject, spec=spec) as signal:
                    signal("ready")
                    box.reset()
                    box.set_latency(WAVE_LATENCY)
                    signal("go")
                got = signal.result  # type: ignore[attr-defined]
                peak = box.peak_in_flight("PATCH")
                box.set_latency(0.0)
                slowest[subject] = got["max_s"]
                good[subject] = got["opened"] == WAVE and peak <= 2
                notes[subject] = f"{got['opened']}/{got['taps']} opened, in flight ≤ {peak}"
            judged(
                f"8. {WAVE} concurrent opens on one healthy IQ [{label}]: slowest",
                slowest,
                "s",
                f"all open, none over {WAVE_DEADLINE:.0f} s, ≤ 2 in flight",
                lambda v: v <= WAVE_DEADLINE,
                note=notes.__getitem__,
                also=good,
            )


def stream_child(spec: dict[str, Any]) -> dict[str, Any]:
    """The listener in a child of this checkout (no earlier landing has one)."""
    return child(SUBJECTS[0], spec=spec, script=STREAM_CHILD)


def idle_row(sites: int) -> None:
    """Issue 33's row: one listener process holding every site's two hubs; RSS, and CPU
    over 30 s while nothing happens (pings both ways, state writes, lease renewals)."""
    args = ("--sites", str(sites), "--iqs", "1", "--locks-per-iq", "1", "--site-admin")
    with sandbox_process(*args) as box:
        got = stream_child({"mode": "idle", "env": box.data["env"], "parks": box.data["parks"]})
    held = f"{2 * sites:,} connections live after {got['connect_s']:.0f} s"
    report(
        Row(
            f"9. {sites:,} sites in one listener process, both hubs: RSS",
            round(got["rss_mb"], 1),
            "MB",
            "≤ 250 MB",
            got["rss_mb"] <= 250,
            note=held,
        )
    )
    report(
        Row(
            f"9. {sites:,} sites in one listener process: CPU at idle",
            round(got["cpu_pct"], 2),
            "% of a core",
            "≤ 5 %",
            got["cpu_pct"] <= 5,
        )
    )


def lag_row(rate: int = 100, seconds: int = 30) -> None:
    """Issue 33's row: entries made at ``rate`` per second (tag opens through the sandbox),
    from the request that makes each to its ``on_event``."""
    with sandbox_process("--iqs", "3", "--locks-per-iq", "12", "--site-admin") as box:
        spec = {
            "mode": "lag",
            "env": box.data["env"],
            "parks": box.data["parks"][:1],
            "api": box.api,
            "locks": [lock["id"] for lock in box.data["locks"]],
            "rate": rate,
            "count": rate * seconds,
        }
        got = stream_child(spec)
    note = f"{got['delivered']}/{got['sent']} delivered at {got['per_s']:.0f} events/s"
    for name, key, limit in (("p50", "p50_ms", 100), ("p99", "p99_ms", 1000)):
        report(
            Row(
                f"10. event delivery lag, sandbox entry to on_event, {rate}/s: {name}",
                round(got[key], 1),
                "ms",
                f"≤ {limit:,} ms",
                got[key] <= limit and got["delivered"] == got["sent"],
                note=note,
            )
        )


def takeover_row(redis_url: str | None, sites: int, processes: int = 3) -> None:
    """Issue 33's row: ``processes`` listeners on one Redis for ``sites`` sites; the one
    holding most is killed (SIGKILL: no lease released); seconds until every site's two
    hubs are connected again."""
    if redis_url is None:
        print("  · 11. skipped: redis-server is not installed")
        return
    args = ("--sites", str(sites), "--iqs", "1", "--locks-per-iq", "1", "--site-admin")
    with sandbox_process(*args) as box:
        folder = Path(tempfile.mkdtemp(prefix="salto-bench-"))
        spec = folder / "hold.json"
        spec.write_text(
            json.dumps(
                {
                    "mode": "hold",
                    "env": box.data["env"],
                    "parks": box.data["parks"],
                    "redis": redis_url,
                }
            )
        )
        logs = [(folder / f"hold-{n}.err").open("w") for n in range(processes)]
        procs = [
            subprocess.Popen(
                [sys.executable, STREAM_CHILD, str(spec)],
                stdout=subprocess.DEVNULL,
                stderr=log,  # kept in the folder: why a listener died, if one did
                cwd=tempfile.gettempdir(),
            )
            for log in logs
        ]

        def connections() -> int:
            got = box.session.get(f"{box.api}/_sandbox/hub", timeout=120).json()["connections"]
            if os.environ.get("BENCH_TRACE"):
                print("   connections", got, flush=True)
            return int(got)

        seconds, why = float("nan"), ""
        try:
            wait_for(lambda: connections() == 2 * sites, 600)
            procs[0].kill()  # the first to start holds most (all, when it was first)
            killed = time.monotonic()
            wait_for(lambda: connections() < 2 * sites, 30)
            wait_for(lambda: connections() == 2 * sites, 300)
            seconds = time.monotonic() - killed
        except (RuntimeError, requests.RequestException) as exc:  # a miss, named, not a crash
            why = f"not measured: {type(exc).__name__}: {str(exc)[:80]}"
        finally:
            for proc, log in zip(procs, logs, strict=True):
                proc.kill()
                proc.wait(10)
                log.close()
    report(
        Row(
            f"11. takeover of a dead listener's sites ({processes} processes, {sites:,} sites)",
            round(seconds, 1),
            "s",
            "≤ 30 s",
            seconds <= 30,
            note=why,
        )
    )


def wait_for(holds: Callable[[], bool], timeout: float) -> None:
    stop = time.monotonic() + timeout
    while not holds():
        if os.environ.get("BENCH_TRACE"):
            print("   waiting", round(stop - time.monotonic()), flush=True)
        if time.monotonic() > stop:
            raise RuntimeError(f"not within {timeout:.0f} s")
        time.sleep(0.2)


# -- plumbing -------------------------------------------------------------------------------


SUBJECTS: list[Subject] = []


def bare_note(bare_cpu: dict[Subject, float], subject: Subject) -> str:
    return f"a bare requests PATCH: {bare_cpu[subject]:.2f} ms"


def at_most(limit: float) -> Callable[[float], bool]:
    return lambda value: value <= limit


def alternate(
    subjects: list[Subject], runs: int, measure: Callable[[Subject], dict[str, Any]]
) -> dict[Subject, list[dict[str, Any]]]:
    """Each subject measured ``runs`` times, the order reversed every other run."""
    got: dict[Subject, list[dict[str, Any]]] = {s: [] for s in subjects}
    for n in range(runs):
        for subject in subjects if n % 2 == 0 else list(reversed(subjects)):
            got[subject].append(measure(subject))
    return got


def judged(
    name: str,
    values: dict[Subject, float],
    unit: str,
    target: str,
    passes: Callable[[float], bool],
    note: Callable[[Subject], str] | None = None,
    also: dict[Subject, bool] | None = None,
) -> None:
    """One row: this checkout's value judged against the target, the other beside it."""
    this, *others = SUBJECTS
    value = values[this]
    said = note(this) if note else ""
    if note and others and note(others[0]):
        said += f"; previous landing: {note(others[0])}"
    report(
        Row(
            name,
            round(value, 3),
            unit,
            target,
            passes(value) and (also is None or also[this]),
            round(values[others[0]], 3) if others else None,
            said.strip("; "),
        )
    )


def baseline_subject(rev: str) -> Subject:
    """``rev`` in a worktree of its own, with a virtual environment built from that commit's
    own dependencies (``pip install <worktree>[redis]``): an older commit runs on what it
    declared, never on this checkout's venv."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", rev], cwd=ROOT, text=True, capture_output=True, check=True
    ).stdout.strip()
    tree = Path(tempfile.gettempdir()) / f"salto-bench-{commit}"
    if not tree.exists():
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), commit],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    venv = tree / ".bench-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"building {rev} ({commit})'s own environment in {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             f"{tree}[redis]"],
            check=True,
        )  # fmt: skip
    return Subject(f"{rev} ({commit})", str(python))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--rounds", type=int, default=300, help="warm opens per timing run")
    parser.add_argument("--runs", type=int, default=5, help="timing runs (medians)")
    parser.add_argument("--parks", type=int, default=1000)
    parser.add_argument("--sites", type=int, default=1000, help="sites of the listener's rows")
    parser.add_argument("--only", choices=["stream"], help="only the event listener's rows (9-11)")
    parser.add_argument("--against", metavar="REV", help="also measure this revision, beside")
    parser.add_argument("--json", metavar="FILE", help="also write every row as JSON")
    args = parser.parse_args()
    pin_to_cpu(CLIENT_CPU)
    here = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True, capture_output=True
    ).stdout.strip()
    SUBJECTS.append(Subject(f"this ({here or 'checkout'})", sys.executable))
    if args.against:
        SUBJECTS.append(baseline_subject(args.against))
    started = time.perf_counter()
    print(
        "Salto KS plugin benchmarks: "
        + ", ".join(s.name for s in SUBJECTS)
        + " (each in its own processes; sandbox and Redis on the other core)\n"
    )
    with redis_process() as redis_url:
        if args.only != "stream":
            timing_rows(SUBJECTS, redis_url, args.rounds, args.runs)
            cold_row(SUBJECTS, redis_url)
            burst_row(SUBJECTS, redis_url)
            wave_row(SUBJECTS, redis_url)
        idle_row(args.sites)
        lag_row()
        takeover_row(redis_url, args.sites)
    if args.only != "stream":
        big_site_row(SUBJECTS)
        parks_row(SUBJECTS, args.parks)
    missed = [row.row for row in ROWS if row.met is False]
    print(
        f"\n{len(ROWS) - len(missed)} of {len(ROWS)} rows met their target"
        + (f"; missed: {'; '.join(missed)}" if missed else "")
        + f" ({time.perf_counter() - started:.0f} s)"
    )
    if args.json:
        rows = [
            {
                "row": r.row,
                "value": r.value,
                "unit": r.unit,
                "target": r.target,
                "met": r.met,
                "baseline": r.baseline,
            }
            for r in ROWS
        ]
        Path(args.json).write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
