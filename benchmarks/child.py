"""One version of the plugin, measured in a process of its own: ``python child.py SPEC``
prints one JSON object of figures. Run with that version's own Python environment (this
checkout's venv, or the one ``--against`` built for another commit), so nothing of another
checkout is imported. It reaches the plugin only through what every version has: the entry
point object ``ireserve_salto_plugin.plugin:plugin``, the hookspecs module and the
``SALTO_KS_*`` environment (the store is chosen by ``SALTO_KS_REDIS_URL``).

Modes (``spec["mode"]``): ``open`` (warm opens beside bare PATCHes, alternating; client CPU
per open), ``cold`` (one open of a fresh process: no token, no lock list; the site id set),
``burst`` (200 concurrent opens spread round-robin over the site's IQs, then 200 bare
PATCHes the same way), ``wave`` (one guest per lock of one IQ at once), ``parks`` (every
park's dropdown once; peak RSS), ``bigsite`` (first and warm ``mapping_options``).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


@dataclass
class Park:
    id: str
    timezone: str
    integrations: dict[str, Any]
    locale: str | None = None


@dataclass
class Booking:
    id: str
    object_id: str
    status: str
    arrival: datetime
    departure: datetime
    fields: dict[str, Any] = field(default_factory=dict)
    locale: str | None = None


RUN = f"{os.getpid()}-{time.monotonic_ns()}"  # booking ids of this child only: a shared
# Redis must not answer them as duplicates of another child's


def rss_mb() -> float:
    """Peak resident set since exec (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def timed(func: Callable[[], Any]) -> float:
    started = time.perf_counter()
    func()
    return time.perf_counter() - started


class Plugin:
    """The version's plugin behind a real pluggy PluginManager, and its parks."""

    def __init__(self, spec: dict[str, Any]) -> None:
        os.environ.update(spec["env"])
        if spec.get("redis"):
            os.environ["SALTO_KS_REDIS_URL"] = spec["redis"]
        import pluggy

        from ireserve_salto_plugin import INTEGRATION, hookspecs
        from ireserve_salto_plugin.plugin import plugin

        self.integration = INTEGRATION
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.pm.register(plugin, INTEGRATION)
        self.counter = iter(range(10**9))

    def park(self, spec: dict[str, Any], mapping: dict[str, str], name: str = "park-0") -> Park:
        settings = {**spec["settings"], "mapping": mapping, "site_id": spec["site_id"]}
        return Park(name, "Europe/Amsterdam", {self.integration: settings})

    def open(self, park: Park, object_id: str = "obj-0") -> Any:
        arrival = datetime.now(UTC) - timedelta(hours=1)
        booking = Booking(
            f"B{RUN}-{next(self.counter)}", object_id, "confirmed", arrival, arrival + timedelta(2)
        )
        return self.pm.hook.on_open_request(
            park=park, booking=booking, requested_by="bench", now=None
        )

    def must_open(self, park: Park, object_id: str = "obj-0") -> None:
        result = self.open(park, object_id)
        if result is None or not result.opened:
            raise SystemExit(f"open failed: {result}")


def signer(spec: dict[str, Any]) -> Callable[[str], str]:
    """A fresh OTP for a lock's IQ (bare PATCHes sign as the plugin does)."""
    from ireserve_salto_plugin.salto.otp import salto_otp

    iqs = spec["iqs"]
    return lambda iq_id: str(salto_otp(iqs[iq_id]["secret"], iqs[iq_id]["pin"], datetime.now(UTC)))


def bare_token(session: Any, spec: dict[str, Any]) -> str:
    """The bare client's own token: one password grant, as any integration would."""
    from urllib.parse import quote_plus

    env, settings = spec["env"], spec["settings"]
    prefix = "SALTO_KS_ACCEPTANCE_"
    resp = session.post(
        env[prefix + "IDENTITY_URL"] + "/connect/token",
        data={
            "grant_type": "password",
            "username": settings["username"],
            "password": settings["password"],
            "scope": "user_api.full_access",
        },
        auth=(quote_plus(env[prefix + "CLIENT_ID"]), quote_plus(env[prefix + "CLIENT_SECRET"])),
        timeout=30,
    )
    resp.raise_for_status()
    return str(resp.json()["access_token"])


def bare_patch(session: Any, spec: dict[str, Any], lock: dict[str, Any], sign: Any) -> None:
    resp = session.patch(
        f"{spec['api']}/v1.2/sites/{spec['site_id']}/locks/{lock['id']}/locking",
        json={"locked_state": "unlocked", "otp": sign(lock["iq_id"])},
        headers={"Authorization": f"Bearer {session.token}"},
        timeout=30,
    )
    resp.raise_for_status()


def bare_session(spec: dict[str, Any], pool: int = 10) -> Any:
    """A plain ``requests`` session with its own token (the bare client)."""
    import requests

    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=pool))
    session.token = bare_token(session, spec)  # type: ignore[attr-defined]
    return session


def warm_opens(spec: dict[str, Any]) -> dict[str, Any]:
    """Warm opens of one lock beside bare ``requests`` PATCHes of it, alternating; the
    medians, and the client's CPU per open (this process; the sandbox is another)."""
    plugin = Plugin(spec)
    lock = spec["locks"][0]
    park = plugin.park(spec, {"obj-0": lock["id"]})
    plugin.must_open(park)  # warm: token, lock list, clock
    bare, sign = bare_session(spec), signer(spec)
    bare_patch(bare, spec, lock, sign)  # warm: connection
    opens: list[float] = []
    bares: list[float] = []
    cpu = bare_cpu = 0.0
    for n in range(spec["rounds"]):
        if n % 2:
            started = time.process_time()
            bares.append(timed(lambda: bare_patch(bare, spec, lock, sign)))
            bare_cpu += time.process_time() - started
        started = time.process_time()
        opens.append(timed(lambda: plugin.must_open(park)))
        cpu += time.process_time() - started
        if not n % 2:
            started = time.process_time()
            bares.append(timed(lambda: bare_patch(bare, spec, lock, sign)))
            bare_cpu += time.process_time() - started
    return {
        "open_ms": statistics.median(opens) * 1000,
        "bare_ms": statistics.median(bares) * 1000,
        "cpu_ms": cpu / len(opens) * 1000,
        "bare_cpu_ms": bare_cpu / len(bares) * 1000,
    }


def cold_open(spec: dict[str, Any]) -> dict[str, Any]:
    """One open by a process that holds nothing yet (the park's settings name the site)."""
    plugin = Plugin(spec)
    lock = spec["locks"][0]
    seconds = timed(lambda: plugin.must_open(plugin.park(spec, {"obj-0": lock["id"]})))
    return {"seconds": seconds}


def burst(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec["count"]`` opens at once (a barrier), each its own booking, spread round-robin
    over the site's IQs; then as many bare PATCHes the same way. Opens per second of each."""
    plugin = Plugin(spec)
    by_iq: dict[str, list[dict[str, Any]]] = {}
    for lock in spec["locks"]:
        by_iq.setdefault(lock["iq_id"], []).append(lock)
    rings = list(by_iq.values())
    count = spec["count"]
    chosen = [rings[n % len(rings)][(n // len(rings)) % len(rings[0])] for n in range(count)]
    park = plugin.park(spec, {f"obj-{n}": lock["id"] for n, lock in enumerate(chosen)})
    for n in range(len(rings)):
        plugin.must_open(park, f"obj-{n}")  # warm: token, lists, each IQ known good
    Path(spec["ready"]).touch()
    while not Path(spec["go"]).exists():  # the parent expires the tokens meanwhile
        time.sleep(0.01)

    def run(task: Callable[[int], bool]) -> tuple[float, int]:
        barrier = threading.Barrier(count + 1)
        done: list[bool] = []

        def one(n: int) -> None:
            barrier.wait()
            done.append(task(n))

        threads = [threading.Thread(target=one, args=(n,)) for n in range(count)]
        for thread in threads:
            thread.start()
        barrier.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started, sum(done)

    reasons: dict[str, int] = {}
    if os.environ.get("BENCH_DEBUG"):
        import logging

        logging.basicConfig(level=logging.WARNING)

    def open_one(n: int) -> bool:
        result = plugin.open(park, f"obj-{n}")
        reason = str(result.reason.value) if result else "none"
        reasons[reason] = reasons.get(reason, 0) + 1
        return bool(result and result.opened)

    elapsed, opened = run(open_one)
    Path(spec["plugin_done"]).touch()  # the parent counts the token requests now
    while not Path(spec["bare_go"]).exists():
        time.sleep(0.01)
    session, sign = bare_session(spec, pool=count), signer(spec)

    def bare_one(n: int) -> bool:
        bare_patch(session, spec, chosen[n], sign)
        return True

    bare_elapsed, _ = run(bare_one)
    return {
        "opened": opened,
        "reasons": reasons,
        "per_s": count / elapsed,
        "bare_per_s": count / bare_elapsed,
    }


def wave(spec: dict[str, Any]) -> dict[str, Any]:
    """One guest per lock of one IQ taps at the same instant, after one warm open."""
    plugin = Plugin(spec)
    locks = spec["wave_locks"]
    park = plugin.park(spec, {f"obj-{n}": lock_id for n, lock_id in enumerate(locks)})
    plugin.must_open(park)
    Path(spec["ready"]).touch()
    while not Path(spec["go"]).exists():
        time.sleep(0.01)
    barrier = threading.Barrier(len(locks))
    results: list[tuple[bool, float, str]] = []

    def tap(n: int) -> None:
        barrier.wait()
        started = time.perf_counter()
        result = plugin.open(park, f"obj-{n}")
        reason = str(result.reason.value) if result else "none"
        results.append((bool(result and result.opened), time.perf_counter() - started, reason))

    threads = [threading.Thread(target=tap, args=(n,)) for n in range(len(locks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "opened": sum(1 for ok, _, _ in results if ok),
        "taps": len(results),
        "max_s": max(seconds for _, seconds, _ in results),
        "reasons": sorted({reason for ok, _, reason in results if not ok}),
    }


def many_parks(spec: dict[str, Any]) -> dict[str, Any]:
    """Every park's lock dropdown loaded once, through the hook; peak RSS."""
    plugin = Plugin(spec)
    for n, settings in enumerate(spec["parks"]):
        park = Park(f"park-{n}", "Europe/Amsterdam", {plugin.integration: settings})
        options = plugin.pm.hook.mapping_options(
            integration=plugin.integration, park=park, refresh=False
        )
        if len(options or []) != spec["lock_count"]:
            raise SystemExit(f"park-{n}: lock list incomplete")
    return {"rss_mb": rss_mb()}


def big_site(spec: dict[str, Any]) -> dict[str, Any]:
    """The dropdown of a big site: first (read from Salto, refresh) and warm (cached)."""
    plugin = Plugin(spec)
    park = plugin.park(spec, {})

    def options(refresh: bool) -> int:
        found = plugin.pm.hook.mapping_options(
            integration=plugin.integration, park=park, refresh=refresh
        )
        return len(found or [])

    if options(False) != spec["lock_count"]:
        raise SystemExit("the big site's list is incomplete")
    first = statistics.median(timed(lambda: options(True)) for _ in range(5))
    warm = statistics.median(timed(lambda: options(False)) for _ in range(300))
    return {"first_ms": first * 1000, "warm_ms": warm * 1000}


MODES = {
    "open": warm_opens,
    "cold": cold_open,
    "burst": burst,
    "wave": wave,
    "parks": many_parks,
    "bigsite": big_site,
}

if __name__ == "__main__":
    spec = json.loads(Path(sys.argv[1]).read_text())
    print(json.dumps(MODES[spec["mode"]](spec)))
