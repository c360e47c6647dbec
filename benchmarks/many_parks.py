"""Child process for benchmark 5: ``python -m benchmarks.many_parks FILE MODE PARKS``.

``baseline`` only imports the plugin; ``default`` and ``small`` load every park's lock
dropdown once (token, site, lock list per account), then park 1 again, and report peak RSS.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def rss_kb() -> int:
    """Peak resident set since exec (VmHWM; ru_maxrss would include the parent's image)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def main() -> None:
    path, mode, parks = sys.argv[1], sys.argv[2], int(sys.argv[3])
    from ireserve_salto_plugin import plugin as _plugin  # noqa: F401

    if mode == "baseline":  # a process that only imports the plugin
        print(json.dumps({"rss_mb": rss_kb() / 1024}))
        return
    import os

    import requests

    from ireserve_salto_plugin import INTEGRATION
    from ireserve_salto_plugin.flow.service import SaltoKsService
    from ireserve_salto_plugin.plugin import SaltoKsPlugin
    from ireserve_salto_plugin.reference.host import Park, ReferenceHost
    from ireserve_salto_plugin.salto.session import make_session
    from ireserve_salto_plugin.store.memory import MemoryStore

    data = json.loads(open(path).read())
    os.environ.update(data["env"])
    store = MemoryStore() if mode == "default" else MemoryStore(maxsize=1000)
    host = ReferenceHost(load_entrypoints=False)
    host.pm.register(
        SaltoKsPlugin(SaltoKsService(session=make_session(), store=store)), INTEGRATION
    )
    all_parks = [
        host.add_park(Park(f"park-{n}", "Europe/Amsterdam", {INTEGRATION: settings}))
        for n, settings in enumerate(data["parks"][:parks])
    ]
    for park in all_parks:
        if len(host.lock_options(park, INTEGRATION)) != len(data["locks"]):
            raise SystemExit(f"{park.id}: lock list incomplete")
    api = data["env"]["SALTO_KS_ACCEPTANCE_API_URL"]

    def token_calls() -> int:
        stats = requests.get(f"{api}/_sandbox/stats", timeout=10).json()
        return int(stats["calls"].get("POST /connect/token", 0))

    before = token_calls()
    host.lock_options(all_parks[1], INTEGRATION)
    print(
        json.dumps(
            {
                "rss_mb": rss_kb() / 1024,
                "entries": len(store),
                "revisit_token_calls": token_calls() - before,
            }
        )
    )


if __name__ == "__main__":
    main()
