"""Child process for benchmark 3b: ``python -m benchmarks.workers SPEC_JSON``.

A worker process of a web host: its own plugin on the shared Redis. It waits for the common
start time, then sends ``taps`` opens one after the other (``same``: all on one booking;
``different``: a new booking each), or, for the baseline, ``taps`` bare PATCHes with its
own ``requests.Session`` (``bare``). Prints the reasons and the finish time as JSON.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any


def main(spec: dict[str, Any]) -> dict[str, Any]:
    import os

    os.environ.update(spec["env"])
    import requests

    from ireserve_salto_plugin import INTEGRATION
    from ireserve_salto_plugin.flow.service import SaltoKsService
    from ireserve_salto_plugin.plugin import SaltoKsPlugin
    from ireserve_salto_plugin.reference.host import Booking, Park, ReferenceHost
    from ireserve_salto_plugin.salto.otp import salto_otp
    from ireserve_salto_plugin.salto.session import make_session
    from ireserve_salto_plugin.store.redis import RedisStore

    reasons: Counter[str] = Counter()
    arrival = datetime.now(UTC) - timedelta(hours=1)
    if spec["mode"] == "bare":
        session = requests.Session()
        iq = spec["iq"]
        send: Callable[[], Any] = lambda: session.patch(  # noqa: E731
            spec["url"],
            json={
                "locked_state": "unlocked",
                "otp": salto_otp(iq["secret"], iq["pin"], datetime.now(UTC)),
            },
            headers={"Authorization": f"Bearer {spec['token']}"},
            timeout=10,
        )
        send().raise_for_status()  # warm: connection
    else:
        host = ReferenceHost(load_entrypoints=False)
        host.pm.register(
            SaltoKsPlugin(
                SaltoKsService(session=make_session(), store=RedisStore.from_url(spec["redis"]))
            ),
            INTEGRATION,
        )
        park = host.add_park(Park("park-0", "Europe/Amsterdam", {INTEGRATION: spec["settings"]}))
        host.lock_options(park, INTEGRATION)  # warm: token, lock list, connection
        same = Booking(spec["booking"], "obj-0", "confirmed", arrival, arrival + timedelta(days=2))
        counter = iter(range(10**9))

        def send() -> Any:
            booking = (
                same
                if spec["mode"] == "same"
                else Booking(
                    f"{spec['booking']}-{next(counter)}",
                    "obj-0",
                    "confirmed",
                    arrival,
                    arrival + timedelta(days=2),
                )
            )
            result = host.open(booking, "guest")
            reasons[result.reason.value if result else "none"] += 1
            return result

    ready = time.time()
    time.sleep(max(0.0, spec["start_at"] - ready))
    started = time.time()
    for _ in range(spec["taps"]):
        send()
    return {
        "reasons": reasons,
        "started": started,
        "finished": time.time(),
        "late": ready > spec["start_at"],
    }


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
