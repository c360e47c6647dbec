"""``./dev bench`` (``python -m benchmarks``): the open path measured side by side.

Prints one table. Timings are medians over repeated runs; nothing here asserts a timing
(the exact call counts are also asserted in tests/e2e/test_performance.py).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import requests

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.salto.cache import LOCKS, TOKEN, Key
from ireserve_salto_plugin.salto.config import Tuning
from ireserve_salto_plugin.salto.otp import salto_otp
from ireserve_salto_plugin.salto.types import Token

from .harness import (
    CLIENT_CPU,
    Bench,
    Sandbox,
    counting_store,
    make_bench,
    make_store,
    median_us,
    pin_to_cpu,
    redis_process,
    sandbox_process,
    timed,
)
from .instant import InstantAdapter

ROWS: list[tuple[str, str, str, str, str]] = []


def row(
    figure: str, value: str, baseline: str = "", note: str = "", ok: bool | None = None
) -> None:
    """One line of the table; ``ok`` says whether the note's target is met (None: no
    target, a figure to read)."""
    mark = "" if ok is None else ("✓" if ok else "✗")
    ROWS.append((figure, value, baseline, note, mark))
    print(
        f"  {mark or '·'} {figure}: {value}"
        + (f"  | baseline {baseline}" if baseline else "")
        + (f"  | {note}" if note else ""),
        flush=True,
    )


def lock_url(box: Sandbox, index: int = 0) -> str:
    return (
        f"{box.api}/v1.2/sites/{box.data['site_id']}/locks/{box.data['locks'][index]['id']}/locking"
    )


def fresh_otp(box: Sandbox, index: int = 0) -> str:
    iq = box.data["salto_ks"]["iqs"][box.data["locks"][index]["iq_id"]]
    return salto_otp(iq["secret"], iq["pin"], datetime.now(UTC))


# -- 1. calls per open ---------------------------------------------------------------------


def _open_with_latency(box: Sandbox, bench: Bench) -> tuple[int, int]:
    """One open with 20 ms on every Salto request: (round trips in a row, requests)."""
    box.reset()
    box.set_latency(0.02)
    try:
        bench.open()
    finally:
        box.set_latency(0.0)
    return box.round_trips_in_a_row(), box.calls()


def calls_per_open(box: Sandbox, redis_url: str | None, label: str) -> None:
    """Cold opens are judged by Salto round trips *in a row* (requests that overlap count
    once), measured with 20 ms of latency on every request; requests are reported beside."""
    counts, in_a_row = {}, {}
    for with_site_id in (False, True):
        bench = make_bench(box, make_store(redis_url), with_site_id=with_site_id)
        name = "site_id stored" if with_site_id else "site_id not stored"
        in_a_row[name], counts[name] = _open_with_latency(box, bench)
    # The cold open of every day: the token and lock list expired, the store knows the site
    account = bench.service.context(bench.park).account.key
    bench.service.store.delete(TOKEN(account))
    bench.service.store.delete(LOCKS(account, box.data["site_id"]))
    expired = _open_with_latency(box, bench)
    box.reset()
    for _ in range(20):
        bench.open()
    warm = box.calls() / 20
    row(
        f"1. cold open, Salto round trips in a row [{label}]",
        ", ".join(f"{k}: {v}" for k, v in in_a_row.items()),
        ", ".join(f"{k}: {v} requests" for k, v in counts.items()),
        "target ≤ 3 with site_id stored, ≤ 4 without (a site of exactly 100 locks: 2 lock pages)",
        in_a_row["site_id stored"] <= 3 and in_a_row["site_id not stored"] <= 4,
    )
    row(
        f"1. cold open once the site was read before (token and lock list expired, "
        f"site_id stored) [{label}]",
        f"{expired[0]} round trips in a row",
        f"{expired[1]} requests",
        "the open after every lock-list expiry; the row above "
        "is the first open ever (its target is judged there)",
    )
    row(f"1. HTTP requests per warm open [{label}]", f"{warm:g}", "", "target: 1", warm == 1)
    if redis_url:
        store = counting_store(redis_url)
        bench = make_bench(box, store)
        bench.open()
        before = store.client.connection_pool.sends
        for _ in range(20):
            bench.open()
        trips = (store.client.connection_pool.sends - before) / 20
        row(
            f"1. Redis round trips per warm open [{label}]",
            f"{trips:g}",
            "",
            "target ≤ 2 (claim script; result script)",
            trips <= 2,
        )


# -- 2. overhead per open ------------------------------------------------------------------


def overhead(box: Sandbox, redis_url: str | None, label: str, rounds: int, runs: int) -> None:
    bench = make_bench(box, make_store(redis_url))
    bench.open()  # warm: token, lock list, clock offset
    url = lock_url(box)
    bare = requests.Session()
    headers = {"Authorization": f"Bearer {bench.token()}"}
    run_medians = []
    for _ in range(runs):
        plugin_t: list[float] = []
        bare_t: list[float] = []
        for n in range(rounds):
            otp = fresh_otp(box)

            def send_bare(otp: str = otp) -> None:
                bare.patch(
                    url, json={"locked_state": "unlocked", "otp": otp}, headers=headers, timeout=10
                ).raise_for_status()

            pair = [("bare", send_bare), ("plugin", bench.open)]
            for name, func in pair if n % 2 else reversed(pair):
                (bare_t if name == "bare" else plugin_t).append(timed(func))
        run_medians.append((median_us(plugin_t), median_us(bare_t)))
    plugin_us = statistics.median(p for p, _ in run_medians)
    bare_us = statistics.median(b for _, b in run_medians)
    ratios = [p / b for p, b in run_medians]
    target = 1.15 if redis_url else 1.05
    row(
        f"2. warm open, loopback round trip [{label}]",
        f"{plugin_us:.0f} µs (ratio {plugin_us / bare_us:.3f}; runs "
        f"{min(ratios):.3f}-{max(ratios):.3f})",
        f"bare Session.patch {bare_us:.0f} µs",
        f"target ratio ≤ {target}",
        plugin_us / bare_us <= target,
    )

    # The plugin's own work: the open minus its HTTP call, both with the network taken out
    # (an adapter that answers at once), measured interleaved.
    session = bench.service.session
    session.mount(box.api, InstantAdapter())
    bare.mount(box.api, InstantAdapter())
    own, http_plugin, http_bare = [], [], []
    for _ in range(runs):
        open_t, call_t, bare_t = [], [], []
        for _ in range(rounds):
            otp = fresh_otp(box)
            body = {"locked_state": "unlocked", "otp": otp}
            open_t.append(timed(bench.open))
            call_t.append(
                timed(partial(session.patch, url, json=body, headers=headers, timeout=10))
            )
            bare_t.append(timed(partial(bare.patch, url, json=body, headers=headers, timeout=10)))
        own.append(median_us(open_t) - median_us(call_t))
        http_plugin.append(median_us(call_t))
        http_bare.append(median_us(bare_t))
    mine = statistics.median(own)
    if redis_url is None:
        row(
            f"2. plugin's own work per open (open minus its HTTP call) [{label}]",
            f"{mine:.0f} µs (runs {min(own):.0f}-{max(own):.0f})",
            "",
            "target ≤ 120 µs; no network: the call is answered in-process",
            mine <= 120,
        )
    else:
        trip = bare_redis_round_trip(redis_url)
        limit = 2 * trip + 100
        row(
            f"2. plugin's own work per open (open minus its HTTP call) [{label}]",
            f"{mine:.0f} µs (runs {min(own):.0f}-{max(own):.0f}) = {mine / trip:.1f} bare "
            "redis-py round trips",
            f"bare redis-py round trip (GET) {trip:.0f} µs",
            f"target ≤ 2 round trips + 100 µs = {limit:.0f} µs",
            mine <= limit,
        )
    row(
        f"2. client-side cost of the HTTP call itself [{label}]",
        f"{statistics.median(http_plugin):.0f} µs (plugin's session)",
        f"{statistics.median(http_bare):.0f} µs (requests.Session)",
        "the plugin's session reads proxy/CA settings once, not per request",
    )


def bare_redis_round_trip(redis_url: str) -> float:
    """One redis-py GET, median µs: the floor a Redis-backed open pays per round trip."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.set("bench:probe", b"x")
    client.get("bench:probe")
    return statistics.median(
        median_us([timed(lambda: client.get("bench:probe")) for _ in range(500)]) for _ in range(5)
    )


# -- 3. token single flight ----------------------------------------------------------------


def single_flight(box: Sandbox, redis_url: str | None, label: str) -> None:
    locks = 100
    bench = make_bench(box, make_store(redis_url), locks=locks)
    bench.open()
    store = bench.service.store
    key = next(k for k in _token_keys(bench))
    token = store.get(key)
    assert token is not None
    store.set(key, Token(token.access_token, 0.0, token.refresh_token), 3600)  # expired
    box.expire_tokens()
    box.reset()
    jobs = [f"obj-{n % locks}" for n in range(200)]
    failures: list[Any] = []
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not jobs:
                    return
                object_id = jobs.pop()
            try:
                bench.open(object_id)
            except Exception as exc:  # reported, not hidden
                failures.append(exc)

    cpu = box.cpu_seconds()
    client_cpu = time.process_time()
    elapsed = _run_threads(worker, 16)
    client_us = (time.process_time() - client_cpu) / 200 * 1e6
    busy = (box.cpu_seconds() - cpu) / elapsed
    token_calls = box.calls("POST /connect/token")
    patches = box.calls("PATCH")

    # the same load sent bare: 200 PATCHes from 16 threads, one session per thread
    fresh = requests.post(
        f"{box.data['env']['SALTO_KS_ACCEPTANCE_IDENTITY_URL']}/connect/token",
        auth=(
            box.data["env"]["SALTO_KS_ACCEPTANCE_CLIENT_ID"],
            box.data["env"]["SALTO_KS_ACCEPTANCE_CLIENT_SECRET"],
        ),
        data={
            "grant_type": "password",
            "username": box.data["salto_ks"]["username"],
            "password": box.data["salto_ks"]["password"],
            "scope": "user_api.full_access",
        },
        timeout=10,
    ).json()
    headers = {"Authorization": f"Bearer {fresh['access_token']}"}
    otps = {n: fresh_otp(box, n) for n in range(locks)}
    bare_jobs = [n % locks for n in range(200)]
    local = threading.local()

    def bare_worker() -> None:
        local.session = requests.Session()
        while True:
            with lock:
                if not bare_jobs:
                    return
                n = bare_jobs.pop()
            local.session.patch(
                lock_url(box, n),
                json={"locked_state": "unlocked", "otp": otps[n]},
                headers=headers,
                timeout=10,
            ).raise_for_status()

    cpu = box.cpu_seconds()
    bare_elapsed = _run_threads(bare_worker, 16)
    bare_busy = (box.cpu_seconds() - cpu) / bare_elapsed
    share = bare_elapsed / elapsed
    need = 0.8
    row(
        f"3. 200 opens / 100 locks / 16 threads, token expired [{label}]",
        f"{token_calls} token request(s), {patches} PATCHes, {200 / elapsed:.0f} opens/s "
        f"({share:.0%} of bare), client CPU {client_us:.0f} µs per open"
        + (f", {len(failures)} FAILED" if failures else ""),
        f"bare {200 / bare_elapsed:.0f} PATCH/s",
        "target: exactly 1 token request"
        + (f", ≥ {need:.0%} of bare" if need else "")
        + f"; sandbox core busy {busy:.0%} (plugin run), {bare_busy:.0%} (bare run)",
        token_calls == 1 and not failures and (need is None or share >= need),
    )


def _token_keys(bench: Bench) -> list[Key[Token]]:
    return [TOKEN(bench.service.context(bench.park).account.key)]


def _run_threads(target: Any, count: int) -> float:
    threads = [threading.Thread(target=target) for _ in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


# -- 3b. worker processes sharing Redis -----------------------------------------------------


def processes(box: Sandbox, redis_url: str) -> None:
    bench = make_bench(box, make_store(redis_url))
    bench.open()
    settings = dict(bench.park.integrations[INTEGRATION])
    lock = box.data["locks"][0]
    common = {
        "env": box.data["env"],
        "redis": redis_url,
        "settings": settings,
        "taps": 50,
        "url": lock_url(box),
        "token": bench.token(),
        "iq": box.data["salto_ks"]["iqs"][lock["iq_id"]],
    }

    def run(mode: str, booking: str) -> tuple[list[dict[str, Any]], float]:
        start_at = time.time() + 8.0  # every worker imported and warm by then
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.workers",
                    json.dumps(
                        {
                            **common,
                            "mode": mode,
                            "booking": f"{booking}-{n}" if mode != "same" else booking,
                            "start_at": start_at,
                        }
                    ),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for n in range(4)
        ]
        outs = []
        for proc in procs:
            out, _ = proc.communicate(timeout=300)
            if proc.returncode != 0:
                raise RuntimeError(f"worker failed ({mode})")
            outs.append(json.loads(out.strip().splitlines()[-1]))
        if any(o["late"] for o in outs):
            print(f"  (a {mode} worker was not ready at the common start)", flush=True)
        return outs, max(o["finished"] for o in outs) - max(o["started"] for o in outs)

    box.reset()
    outs, _ = run("same", "P-same")
    reasons: dict[str, int] = {}
    for out in outs:
        for reason, n in out["reasons"].items():
            reasons[reason] = reasons.get(reason, 0) + n
    patches = box.calls("PATCH")
    row(
        "3b. 4 processes x 50 taps on one booking, Redis",
        f"{patches} open command(s); " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())),
        "",
        "target: exactly 1 open command",
        patches == 1 and reasons.get("opened", 0) == 1,
    )
    box.reset()
    cpu = box.cpu_seconds()
    _, elapsed = run("different", "P-diff")
    busy = (box.cpu_seconds() - cpu) / elapsed
    cpu = box.cpu_seconds()
    _, bare_elapsed = run("bare", "P-bare")
    bare_busy = (box.cpu_seconds() - cpu) / bare_elapsed
    row(
        "3b. 4 processes x 50 opens of different bookings, Redis",
        f"{200 / elapsed:.0f} opens/s ({bare_elapsed / elapsed:.0%} of bare)",
        f"bare {200 / bare_elapsed:.0f} PATCH/s (4 processes x 50)",
        f"reported against bare; sandbox core busy {busy:.0%} (plugin run), "
        f"{bare_busy:.0%} (bare run)",
    )


# -- 4. big site ---------------------------------------------------------------------------


def big_site() -> None:
    sequential = big_site_once(counts=False, sequential=None)
    big_site_once(counts=True, sequential=sequential)


def big_site_once(*, counts: bool, sequential: float | None) -> float:
    flags = ("--page-counts",) if counts else ()
    with sandbox_process("--iqs", "25", "--locks-per-iq", "200", *flags) as box:
        bench = make_bench(box, make_store(None))

        def options(refresh: bool = False) -> Any:
            return bench.host.pm.hook.mapping_options(
                park=bench.park, integration=INTEGRATION, refresh=refresh
            )

        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        box.reset()
        listed = options()
        gc.collect()
        after = tracemalloc.take_snapshot()
        held = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
        tracemalloc.stop()
        pages = box.calls(contains="/locks")
        # tracemalloc slows the first call: time first reads again, untraced (refresh)
        first = statistics.median(timed(lambda: options(refresh=True)) for _ in range(5))
        label = (
            "count given (pages read 4 at a time)"
            if counts
            else "count null, as Salto sends it (pages one by one)"
        )
        row(
            f"4. big site, 5,000 locks / 25 IQs: first mapping_options, {label}",
            f"{first * 1000:.0f} ms, {pages} list requests, {len(listed)} options",
            f"ceil(5000 / {Tuning().page_size}) = {math.ceil(5000 / Tuning().page_size)} "
            "lock pages + 1 IQ page",
            "target ≤ 400 ms"
            + (f" (count null: {sequential * 1000:.0f} ms)" if sequential is not None else ""),
            first <= 0.4 if counts else None,
        )
        if not counts:
            warm = [timed(options) for _ in range(300)]
            row(
                "4. big site: warm mapping_options",
                f"{median_us(warm):.0f} µs",
                "",
                "target < 1 ms",
                median_us(warm) < 1000,
            )
            row(
                "4. big site: memory the cached site holds",
                f"{held / 1e6:.1f} MB",
                "",
                "target < 10 MB (tracemalloc, lock list + options)",
                held < 10e6,
            )
        return first


# -- 5. many parks -------------------------------------------------------------------------


def many_parks(parks: int) -> None:
    with sandbox_process(
        "--accounts", str(parks), "--iqs", "3", "--locks-per-iq", "12", "--activate"
    ) as box:
        settings_file = box.proc.args[box.proc.args.index("--settings-file") + 1]  # type: ignore
        results = {}
        for mode in ("baseline", "default", "small"):
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.many_parks",
                    str(settings_file),
                    mode,
                    str(parks),
                ],
                capture_output=True,
                text=True,
                timeout=600,
            )
            if out.returncode != 0:
                raise RuntimeError(out.stderr[-2000:])
            results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
        base = results["baseline"]["rss_mb"]
        for mode, note in (
            ("default", "default store size (10,000 entries)"),
            ("small", "store of 1,000 entries"),
        ):
            r = results[mode]
            default = mode == "default"
            row(
                f"5. {parks} parks, own accounts, one process [{note}]",
                f"peak RSS {r['rss_mb']:.0f} MB (+{r['rss_mb'] - base:.0f} MB), "
                f"{r['entries']} store entries; park 1 again: {r['revisit_token_calls']} "
                f"token request(s)",
                f"import-only process {base:.0f} MB",
                ("target ≤ 50 MB; " if default else "")
                + "1 token request on revisit = least recently used park was evicted",
                r["rss_mb"] <= 50 if default else None,
            )


# -- versions side by side (--against REV) ---------------------------------------------------

# -- 7. a check-in wave on one IQ ------------------------------------------------------------

WAVE = 16  # guests tapping at once, one lock each, all on one IQ
WAVE_LATENCY = 0.05  # seconds per request: codes in flight overlap, as over the internet
WAVE_DEADLINE = Tuning().open_deadline


def wave(checkouts: dict[str, Path], redis_url: str | None) -> None:
    """16 guests on one healthy (known good) IQ tap at once, each version in its own child
    process (versus_child.py, mode "wave"), through the hooks only: every door opened,
    none over the open's deadline, and the most PATCHes Salto had in flight at once (the
    OTP budget allows 2)."""
    child = str(Path(__file__).resolve().parent / "versus_child.py")
    stores: list[tuple[str, str | None]] = [("in-process store", None)]
    if redis_url:
        stores.append(("Redis store", redis_url))
    with sandbox_process("--iqs", "2", "--locks-per-iq", str(WAVE), "--activate") as box:
        iq = box.data["locks"][0]["iq_id"]
        locks = [lock["id"] for lock in box.data["locks"] if lock["iq_id"] == iq][:WAVE]
        for label, url in stores:
            cells, met = [], []
            for name, checkout in checkouts.items():
                folder = Path(tempfile.mkdtemp(prefix="salto-wave-"))
                spec = {
                    "env": box.data["env"],
                    "settings": box.data["salto_ks"],
                    "site_id": box.data["site_id"],
                    "wave_locks": locks,
                    "mode": "wave",
                    "redis": url,
                    "ready": str(folder / "ready"),
                    "go": str(folder / "go"),
                }
                (folder / "spec.json").write_text(json.dumps(spec))
                proc = subprocess.Popen(
                    [sys.executable, child, str(folder / "spec.json")],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env={**os.environ, "PYTHONPATH": str(checkout)},
                    preexec_fn=lambda: pin_to_cpu(CLIENT_CPU),
                )
                while not (folder / "ready").exists() and proc.poll() is None:
                    time.sleep(0.01)
                box.reset()
                box.set_latency(WAVE_LATENCY)
                (folder / "go").touch()
                out, err = proc.communicate(timeout=300)
                peak = box.peak_in_flight("PATCH")
                box.set_latency(0.0)
                if proc.returncode != 0:
                    raise RuntimeError(f"{checkout}: {err[-1500:]}")
                got = json.loads(out.strip().splitlines()[-1])
                ok = got["opened"] == WAVE and got["max_s"] <= WAVE_DEADLINE and peak <= 2
                met.append(ok)
                cells.append(
                    f"{name}: {got['opened']}/{got['taps']} opened, slowest "
                    f"{got['max_s']:.2f} s, PATCHes in flight at most {peak}"
                    + (f", failed: {', '.join(got['reasons'])}" if got["reasons"] else "")
                )
            row(
                f"7. {WAVE} concurrent opens on one healthy IQ [{label}]",
                "; ".join(cells),
                "",
                f"target: all opened, none over the {WAVE_DEADLINE:.0f} s deadline, codes "
                f"in flight never above 2 ({WAVE_LATENCY * 1000:.0f} ms per request)",
                met[0],
            )  # judged on this checkout; the other is its baseline


def versions(rev: str, rounds: int, runs: int, parks: int) -> None:
    """The same figures for this checkout and for ``rev`` (a git worktree), measured in the
    same run, alternating, each version in its own child process that drives the plugin
    only through its entry point object, its hooks and ``SALTO_KS_*`` (versus_child.py)."""
    root = Path(__file__).resolve().parent.parent
    commit = subprocess.run(
        ["git", "rev-parse", "--short", rev], cwd=root, text=True, capture_output=True, check=True
    ).stdout.strip()
    tree = Path(tempfile.gettempdir()) / f"salto-bench-{commit}"
    if not tree.exists():
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), commit],
            cwd=root,
            check=True,
            capture_output=True,
        )
    here = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=root,
        text=True,
        capture_output=True,
        check=True,
    ).stdout.strip()
    checkouts = {f"this ({here})": root, f"{rev} ({commit})": tree}
    child = str(Path(__file__).resolve().parent / "versus_child.py")
    with redis_process() as redis_url:
        wave(checkouts, redis_url)

    def measure(checkout: Path, spec: dict[str, Any]) -> dict[str, Any]:
        with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
            json.dump(spec, file)
            file.flush()
            out = subprocess.run(
                [sys.executable, child, file.name],
                text=True,
                capture_output=True,
                timeout=900,
                env={**os.environ, "PYTHONPATH": str(checkout)},
                preexec_fn=lambda: pin_to_cpu(CLIENT_CPU),
            )
        if out.returncode != 0:
            raise RuntimeError(f"{checkout}: {out.stderr[-1500:]}")
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))

    print(f"\nVersions side by side: {', '.join(checkouts)} (alternating, {runs} runs)")
    with redis_process() as redis_url:
        with sandbox_process("--iqs", "10", "--locks-per-iq", "10", "--activate") as box:
            bench = make_bench(box, make_store(None))
            bench.open()
            lock = box.data["locks"][0]
            base = {
                "env": box.data["env"],
                "settings": box.data["salto_ks"],
                "site_id": box.data["site_id"],
                "lock_id": lock["id"],
                "api": box.api,
                "lock_url": lock_url(box),
                "token": bench.token(),
                "rounds": rounds,
                "iq": box.data["salto_ks"]["iqs"][lock["iq_id"]],
                "mode": "open",
            }
            stores: list[tuple[str, str | None]] = [("in-process store", None)] + (
                [("Redis store", redis_url)] if redis_url else []
            )
            for label, url in stores:
                got: dict[str, list[dict[str, Any]]] = {name: [] for name in checkouts}
                for n in range(runs):
                    order = list(checkouts.items())
                    for name, checkout in order if n % 2 == 0 else reversed(order):
                        got[name].append(measure(checkout, {**base, "redis": url}))
                for figure, key in (
                    ("warm open, loopback", "open_us"),
                    ("plugin's own work per open", "own_us"),
                ):
                    cells = []
                    for name in checkouts:
                        values = [g[key] for g in got[name] if key in g]
                        bare = statistics.median(g["bare_us"] for g in got[name])
                        value = statistics.median(values) if values else math.nan
                        cells.append(
                            f"{name}: {value:.0f} µs"
                            + (f" ({value / bare:.3f}x bare)" if key == "open_us" else "")
                        )
                    row(
                        f"V. {figure} [{label}]",
                        "; ".join(cells),
                        "",
                        "same run, alternating; hooks and SALTO_KS_* only",
                    )
    with sandbox_process(
        "--accounts", str(parks), "--iqs", "3", "--locks-per-iq", "12", "--activate"
    ) as box:
        spec = {
            "env": box.data["env"],
            "mode": "parks",
            "parks": box.data["parks"][:parks],
            "locks": len(box.data["locks"]),
        }
        cells = [
            f"{name}: {measure(checkout, spec)['rss_mb']:.0f} MB"
            for name, checkout in checkouts.items()
        ]
        row(
            f"V. {parks} parks in one process, peak RSS",
            "; ".join(cells),
            "",
            "same run; through mapping_options",
        )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--rounds", type=int, default=300, help="opens per timing run")
    parser.add_argument("--runs", type=int, default=5, help="timing runs (medians)")
    parser.add_argument("--parks", type=int, default=1000)
    parser.add_argument(
        "--against", metavar="REV", help="also measure this git revision, side by side (a worktree)"
    )
    parser.add_argument(
        "--versions-only", action="store_true", help="with --against: only the side-by-side rows"
    )
    args = parser.parse_args()
    if args.against and args.versions_only:
        pin_to_cpu(CLIENT_CPU)
        versions(args.against, args.rounds, args.runs, args.parks)
        return
    pin_to_cpu(CLIENT_CPU)
    started = time.perf_counter()
    print("Salto KS plugin benchmarks (sandbox in its own process, loopback HTTP)\n")
    with redis_process() as redis_url:
        with sandbox_process("--iqs", "10", "--locks-per-iq", "10", "--activate") as box:
            stores: list[tuple[str, str | None]] = [("in-process store", None)]
            if redis_url:
                stores.append(("Redis store", redis_url))
            for label, url in stores:
                calls_per_open(box, url, label)
            for label, url in stores:
                overhead(box, url, label, args.rounds, args.runs)
            for label, url in stores:
                single_flight(box, url, label)
            if redis_url:
                processes(box, redis_url)
            stats = box.stats()
            patch_keys = [k for k in stats["calls"] if k.startswith("PATCH")]
            served = sum(stats["calls"][k] for k in patch_keys)
            server_s = sum(stats["server_seconds"][k] for k in patch_keys)
            row(
                "sandbox check: server time per PATCH (handler, incl. OTP check)",
                f"{server_s / served * 1e6:.0f} µs over {served} PATCHes",
                "",
                "compare with the round trips above",
            )
        if not redis_url:
            row("6. Redis store", "skipped: redis-server not installed")
    big_site()
    many_parks(args.parks)
    if not args.against:
        with redis_process() as redis_url:
            wave({"this": Path(__file__).resolve().parent.parent}, redis_url)
    if args.against:
        versions(args.against, args.rounds, args.runs, args.parks)
    print(f"\nTotal {time.perf_counter() - started:.0f} s\n")
    print("| figure | value | baseline | target / note | met |\n|---|---|---|---|---|")
    for figure, value, baseline, note, mark in ROWS:
        print(f"| {figure} | {value} | {baseline} | {note} | {mark} |")
    marks = [mark for *_, mark in ROWS if mark]
    print(f"\n{marks.count('✓')} of {len(marks)} targets met")


if __name__ == "__main__":
    main()
