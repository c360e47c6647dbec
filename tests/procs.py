"""A separate worker process for the shared-store tests: ``python -m tests.procs JSON``.

It builds its own plugin service on the given Redis, prints ``ready``, waits for a ``go``
line on its standard input (so that the test starts every worker at once, on an event, not
on a time), runs the opens (``threads`` at once) and prints the reasons as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from datetime import UTC, datetime, timedelta

from ireserve_salto_plugin.flow.service import SaltoKsService
from ireserve_salto_plugin.plugin import SaltoKsPlugin
from ireserve_salto_plugin.reference.host import Booking, Park, ReferenceHost
from ireserve_salto_plugin.salto.session import make_session
from ireserve_salto_plugin.store.redis import RedisStore


def main(spec: dict) -> list[str]:  # type: ignore[type-arg]
    os.environ.update(spec["env"])
    host = ReferenceHost(load_entrypoints=False)
    host.pm.register(
        SaltoKsPlugin(
            SaltoKsService(session=make_session(), store=RedisStore.from_url(spec["redis"]))
        ),
        "salto_ks",
    )
    host.add_park(Park(spec["park"], "Europe/Amsterdam", {"salto_ks": spec["settings"]}))
    arrival = datetime.now(UTC) - timedelta(hours=1)
    booking = Booking(
        spec["booking"], "chalet-12", "confirmed", arrival, arrival + timedelta(days=2)
    )
    results: list[str] = []
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("the test did not say go")

    def tap() -> None:
        result = host.open(booking, "guest")
        assert result is not None
        results.append(result.reason.value)

    threads = [threading.Thread(target=tap) for _ in range(spec["threads"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
