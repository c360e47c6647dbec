"""The event listener measured in a process of its own (this checkout only: no earlier
landing had a listener): ``python stream_child.py SPEC`` prints one JSON object.

It starts ``ireserve_salto_plugin.events.EventListener`` the way a host does: on the plugin
instance of the entry point (``ireserve_salto_plugin.plugin:plugin``), its store chosen by
``SALTO_KS_REDIS_URL``, the hosts by ``SALTO_KS_*``.

Modes: ``idle`` (every park's site held, both hubs; RSS and CPU while nothing happens),
``lag`` (tag opens at a fixed rate through the sandbox; from the request that makes the
entry to ``on_event``), ``hold`` (hold the sites until killed; prints nothing: the parent
watches the sandbox's connections).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests


@dataclass
class Park:
    id: str
    timezone: str
    integrations: dict[str, Any]
    locale: str | None = None


def cpu_seconds() -> float:
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def listener(spec: dict[str, Any], on_event: Any = None) -> Any:
    os.environ.update(spec["env"])
    if spec.get("redis"):
        os.environ["SALTO_KS_REDIS_URL"] = spec["redis"]
    from ireserve_salto_plugin.events import EventListener

    parks = [
        Park(f"park-{n}", "Europe/Amsterdam", {"salto_ks": settings})
        for n, settings in enumerate(spec["parks"])
    ]
    return EventListener(lambda: parks, on_event=on_event).start()


def all_live(running: Any, sites: int, timeout: float) -> float:
    """Seconds until every site has both hubs live (site-wide)."""
    started = time.monotonic()
    done = threading.Event()
    while time.monotonic() - started < timeout:
        states = [s.hubs for s in list(running.sites.values())]
        if len(states) == sites and all(
            h == {"entries": "live", "incidents": "live"} for h in states
        ):
            return time.monotonic() - started
        done.wait(0.2)
    raise SystemExit(f"not every site live after {timeout:.0f} s: {len(running.sites)} held")


def idle(spec: dict[str, Any]) -> dict[str, Any]:
    running = listener(spec)
    connect_s = all_live(running, len(spec["parks"]), spec.get("timeout", 600))
    threading.Event().wait(5)  # the first state writes and lease renewals settle
    cpu, wall = cpu_seconds(), time.monotonic()
    threading.Event().wait(spec.get("idle_seconds", 30))
    used = (cpu_seconds() - cpu) / (time.monotonic() - wall)
    result = {"connect_s": connect_s, "rss_mb": rss_mb(), "cpu_pct": used * 100}
    running.stop()
    return result


def lag(spec: dict[str, Any]) -> dict[str, Any]:
    received: dict[str, float] = {}
    seen = threading.Condition()

    def on_event(park: Any, event: Any) -> None:
        with seen:
            received[event.entry_id] = time.monotonic()
            seen.notify_all()

    running = listener(spec, on_event)
    all_live(running, len(spec["parks"]), 60)
    session = requests.Session()
    sent: dict[str, float] = {}
    rate, count = spec["rate"], spec["count"]
    started = time.monotonic()
    for n in range(count):
        due = started + n / rate
        threading.Event().wait(max(0.0, due - time.monotonic()))
        lock = spec["locks"][n % len(spec["locks"])]
        at = time.monotonic()
        entry = session.post(f"{spec['api']}/_sandbox/tag-open", json={"lock_id": lock}, timeout=10)
        sent[entry.json()["id"]] = at
    with seen:
        seen.wait_for(lambda: all(i in received for i in sent), 30)
    running.stop()
    lags = sorted((received[i] - t) * 1000 for i, t in sent.items() if i in received)
    return {
        "p50_ms": statistics.median(lags),
        "p99_ms": lags[int(len(lags) * 0.99) - 1],
        "delivered": len(lags),
        "sent": len(sent),
        "per_s": count / (time.monotonic() - started),
    }


def hold(spec: dict[str, Any]) -> dict[str, Any]:
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("ireserve_salto_plugin.events").setLevel(logging.INFO)  # to stderr
    listener(spec)
    threading.Event().wait()  # until killed
    return {}


MODES = {"idle": idle, "lag": lag, "hold": hold}

if __name__ == "__main__":
    spec = json.loads(Path(sys.argv[1]).read_text())
    print(json.dumps(MODES[spec["mode"]](spec)))
