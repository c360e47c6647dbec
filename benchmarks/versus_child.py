"""Child process of ``./dev bench --against REV``: one version of the plugin, measured only
through what every version has: the entry point object ``ireserve_salto_plugin.plugin:plugin``,
its hookspecs module, and the ``SALTO_KS_*`` environment (the store is chosen by
``SALTO_KS_REDIS_URL``). Run as a file with ``PYTHONPATH`` set to that version's checkout,
so nothing of this checkout's package is imported here.

``python versus_child.py SPEC_FILE`` (a JSON file) prints one JSON object of figures.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
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


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(spec: dict[str, Any]) -> dict[str, Any]:
    os.environ.update(spec["env"])
    if spec.get("redis"):
        os.environ["SALTO_KS_REDIS_URL"] = spec["redis"]
    import pluggy
    import requests
    from instant import InstantAdapter  # type: ignore[import-not-found]  # this file's folder: imports no plugin code

    from ireserve_salto_plugin import INTEGRATION, hookspecs
    from ireserve_salto_plugin.plugin import plugin

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(plugin, INTEGRATION)
    if spec["mode"] == "parks":
        return many_parks(spec, pm)
    if spec["mode"] == "wave":
        return wave(spec, pm)
    settings = dict(spec["settings"])
    settings["mapping"] = {"obj-0": spec["lock_id"]}
    settings["site_id"] = spec["site_id"]
    park = Park("park-0", "Europe/Amsterdam", {INTEGRATION: settings})
    counter = iter(range(10**9))
    run = f"{os.getpid()}-{time.monotonic_ns()}"  # booking ids of this child only: a shared
    # Redis must not answer them as duplicates of another child's

    def open_once() -> None:
        arrival = datetime.now(UTC) - timedelta(hours=1)
        booking = Booking(
            f"B{run}-{next(counter)}", "obj-0", "confirmed", arrival, arrival + timedelta(days=2)
        )
        result = pm.hook.on_open_request(park=park, booking=booking, requested_by="bench", now=None)
        if result is None or not result.opened:
            raise SystemExit(f"open failed: {result}")

    def timed(func: Any) -> float:
        started = time.perf_counter()
        func()
        return time.perf_counter() - started

    try:
        from ireserve_salto_plugin.salto.otp import salto_otp
    except ImportError:  # before the layout of the package changed
        from ireserve_salto_plugin.otp import (  # type: ignore[import-not-found,no-redef]
            salto_otp,
        )

    def otp() -> str:
        return str(salto_otp(spec["iq"]["secret"], spec["iq"]["pin"], datetime.now(UTC)))

    open_once()  # warm: token, lock list, clock
    rounds = spec["rounds"]
    url = spec["lock_url"]
    bare = requests.Session()
    token = spec["token"]
    figures: dict[str, Any] = {}
    plugin_t: list[float] = []
    bare_t: list[float] = []
    for n in range(rounds):

        def send_bare() -> None:
            bare.patch(
                url,
                json={"locked_state": "unlocked", "otp": otp()},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )

        pair = [(bare_t, send_bare), (plugin_t, open_once)]
        for samples, func in pair if n % 2 else reversed(pair):
            samples.append(timed(func))
    figures["open_us"] = statistics.median(plugin_t) * 1e6
    figures["bare_us"] = statistics.median(bare_t) * 1e6

    session = getattr(getattr(plugin, "service", None), "session", None)
    if isinstance(session, requests.Session):  # every version so far has it
        session.mount(spec["api"], InstantAdapter())
        open_t, call_t = [], []
        for _ in range(rounds):
            open_t.append(timed(open_once))
            call_t.append(
                timed(
                    lambda: session.patch(
                        url,
                        json={"locked_state": "unlocked", "otp": "00000"},
                        headers={"Authorization": f"Bearer {token}"},
                        timeout=10,
                    )
                )
            )
        figures["own_us"] = (statistics.median(open_t) - statistics.median(call_t)) * 1e6
    return figures


def wave(spec: dict[str, Any], pm: Any) -> dict[str, Any]:
    """A check-in wave: one open to warm up (token, lists, the IQ known good), then
    ``spec["ready"]`` is touched and the child waits for ``spec["go"]`` (the parent sets the
    sandbox's latency and clears its counters); then one guest per lock of one IQ taps at
    the same instant (a barrier). Each open's result and seconds."""
    import threading

    from ireserve_salto_plugin import INTEGRATION

    locks = spec["wave_locks"]
    settings = dict(spec["settings"])
    settings["mapping"] = {f"obj-{n}": lock_id for n, lock_id in enumerate(locks)}
    settings["site_id"] = spec["site_id"]
    park = Park("park-wave", "Europe/Amsterdam", {INTEGRATION: settings})
    run = f"{os.getpid()}-{time.monotonic_ns()}"

    def open_one(n: int, tag: str) -> tuple[bool, float, str]:
        arrival = datetime.now(UTC) - timedelta(hours=1)
        booking = Booking(
            f"W{run}-{tag}-{n}", f"obj-{n}", "confirmed", arrival, arrival + timedelta(days=2)
        )
        started = time.perf_counter()
        result = pm.hook.on_open_request(park=park, booking=booking, requested_by="bench", now=None)
        return (
            bool(result and result.opened),
            time.perf_counter() - started,
            str(result.reason.value) if result else "none",
        )

    if not open_one(0, "warm")[0]:
        raise SystemExit("the warm-up open failed")
    Path(spec["ready"]).touch()
    while not Path(spec["go"]).exists():
        time.sleep(0.01)
    barrier = threading.Barrier(len(locks))
    results: list[tuple[bool, float, str]] = []

    def tap(n: int) -> None:
        barrier.wait()
        results.append(open_one(n, "tap"))

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


def many_parks(spec: dict[str, Any], pm: Any) -> dict[str, Any]:
    """Every park's lock dropdown loaded once, through the hook; peak RSS."""
    from ireserve_salto_plugin import INTEGRATION

    for n, settings in enumerate(spec["parks"]):
        park = Park(f"park-{n}", "Europe/Amsterdam", {INTEGRATION: settings})
        if (
            len(pm.hook.mapping_options(integration=INTEGRATION, park=park, refresh=False) or [])
            != spec["locks"]
        ):
            raise SystemExit(f"park-{n}: lock list incomplete")
    return {"rss_mb": rss_mb()}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(Path(sys.argv[1]).read_text()))))
