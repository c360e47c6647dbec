"""A soak worker: one i-Reserve host process with the plugin loaded by its entry point.

    python -m benchmarks.soak.worker SPEC_FILE NAME

``SPEC_FILE`` (JSON) names the worker and holds every park (settings, bookings) as the
host's database would; the platform variables and ``SALTO_KS_REDIS_URL`` come from the
environment. The worker reads one command a line on stdin, runs each on a pool thread
through the reference host's hooks, and writes one JSON line per answer on stdout: the
command's number, when it started and ended (``time.monotonic``, the same clock in every
process of the machine), the reason and the attempt. Logs (WARNING and up) go to stderr.

With ``"role": "listener"`` it runs the event listener for every park instead, and writes
one JSON line per event.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from ireserve_salto_plugin.reference.host import Booking, Park, ReferenceHost, deep_merge

INTEGRATION = "salto_ks"
POOL = 64  # threads answering commands: a host's request threads
# (old status, new status) pairs the host reports; the bookings themselves stay confirmed
STATUS_CHANGES = (("option", "confirmed"), ("confirmed", "confirmed"), ("confirmed", "cancelled"))

out_lock = threading.Lock()


def emit(record: dict[str, Any]) -> None:
    with out_lock:
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()


class Worker:
    def __init__(self, spec: dict[str, Any], name: str) -> None:
        self.name = name
        self.outbox = str(spec["outbox"])
        self.host = ReferenceHost()  # the plugin, by its entry point
        arrival = datetime.now(UTC) - timedelta(hours=1)
        for item in spec["parks"]:
            park = self.host.add_park(
                Park(item["id"], "Europe/Amsterdam", {INTEGRATION: item["settings"]})
            )
            for booking_id, object_id in item["bookings"]:
                self.host.add_booking(
                    Booking(
                        booking_id,
                        object_id,
                        "confirmed",
                        arrival,
                        arrival + timedelta(days=3),
                        park_id=park.id,
                    )
                )
        self.ops: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "tap": self.tap,
            "status": self.status,
            "options": self.options,
            "sweep": self.sweep,
            "readiness": self.readiness,
            "staff": self.staff,
            "set_pin": self.set_pin,
            "reactivate": self.reactivate,
            "settings": self.settings,
            "doorlog": self.doorlog,
            "memory": self.memory,
        }
        self.baseline: tracemalloc.Snapshot | None = None

    def run(self, command: dict[str, Any]) -> None:
        t0 = time.monotonic()
        try:
            answer = self.ops[command["op"]](command)
        except Exception as exc:  # a hook that raised: the soak's invariant 5 counts it
            logging.getLogger("soak").exception("command %s raised", command["op"])
            answer = {"reason": "raised", "error": type(exc).__name__}
        emit({"n": command["n"], "w": self.name, "t0": t0, "t1": time.monotonic(), **answer})

    def park(self, command: dict[str, Any]) -> Park:
        return self.host.parks[command["park"]]

    def tap(self, command: dict[str, Any]) -> dict[str, Any]:
        result = self.host.open(self.host.bookings[command["booking"]], command["by"])
        if result is None:
            return {"reason": "no_answer"}
        return {
            "reason": result.reason.value,
            "opened": result.opened,
            "attempt": result.attempt_id,
            "lock": result.lock_id,
        }

    def status(self, command: dict[str, Any]) -> dict[str, Any]:
        booking = self.host.bookings[command["booking"]]
        old, new = STATUS_CHANGES[command["change"] % len(STATUS_CHANGES)]
        infos = self.host.pm.hook.on_booking_status(
            park=self.park(command), booking=booking, old_status=old, new_status=new
        )
        got = [info for info in infos if info is not None]
        if not got:
            return {"reason": "no_answer"}
        warnings = [str(w) for w in got[0].warnings]
        reason = "internal_error" if "internal_error" in warnings else "answered"
        return {"reason": reason, "allowed": got[0].allowed, "warnings": warnings}

    def options(self, command: dict[str, Any]) -> dict[str, Any]:
        found = self.host.lock_options(self.park(command), INTEGRATION, bool(command["refresh"]))
        return {"reason": "ok" if found else "empty", "count": len(found)}

    def _admin(self, command: dict[str, Any], action: str, **params: Any) -> dict[str, Any]:
        result = self.host.admin(self.park(command), INTEGRATION, action, **params)
        data = result.data or {}
        return {
            "reason": "ok" if result.ok else str(data.get("reason") or "refused"),
            "attempt": data.get("attempt_id"),
        }

    def sweep(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._admin(command, "status")

    def readiness(self, command: dict[str, Any]) -> dict[str, Any]:
        park = self.park(command)
        bookings = [b for b in self.host.bookings.values() if b.park_id == park.id]
        found = self.host.pm.hook.readiness(park=park, bookings=bookings, now=None)
        return {"reason": "ok" if found is not None else "no_answer"}

    def staff(self, command: dict[str, Any]) -> dict[str, Any]:
        lock = command["lock"]
        answer = self._admin(
            command,
            "staff_open",
            lock_id=lock,
            reason="soak: staff open",
            requested_by=command["by"],
        )
        return {"lock": lock, **answer}

    def _pin(self, command: dict[str, Any]) -> str:
        return str(self.park(command).integrations[INTEGRATION]["iqs"][command["iq"]]["pin"])

    def set_pin(self, command: dict[str, Any]) -> dict[str, Any]:
        """Set PIN keeping the PIN (delta 0000), as an admin confirming an activation."""
        return self._admin(
            command, "set_pin", iq_id=command["iq"], current_pin=self._pin(command), confirm=True
        )

    def reactivate(self, command: dict[str, Any]) -> dict[str, Any]:
        """An IQ activated anew from the admin (after a reset): forget it, GET PIN (the
        secret and the PIN by mail), Set PIN; the IQ's new settings go back to the soak,
        which hands them to every worker (the host's database)."""
        iq = command["iq"]
        self._admin(command, "forget_iq", iq_id=iq, confirm=True)
        asked = self._admin(command, "get_pin", iq_id=iq)
        if asked["reason"] != "ok":
            return asked
        mails = requests.get(self.outbox, timeout=10).json()
        pins = [m["pin"] for m in mails if m["iq_id"] == iq and m["to"] == command["user"]]
        if not pins:
            return {"reason": "no_mail"}
        done = self._admin(command, "set_pin", iq_id=iq, current_pin=pins[-1], confirm=True)
        stored = self.park(command).integrations[INTEGRATION]["iqs"][iq]
        return {**done, "iqs": {iq: stored}}

    def settings(self, command: dict[str, Any]) -> dict[str, Any]:
        park = self.park(command)
        park.integrations[INTEGRATION] = deep_merge(
            park.integrations[INTEGRATION], {"iqs": command["iqs"]}
        )
        return {"reason": "ok"}

    def doorlog(self, command: dict[str, Any]) -> dict[str, Any]:
        """The park's door log since the run began: the opens the plugin recorded."""
        result = self.host.admin(
            self.park(command), INTEGRATION, "door_log", **{"from": command["since"]}
        )
        rows = (result.data or {}).get("rows", [])
        return {"reason": "ok" if result.ok else "refused", "rows": [r for r in rows if r["kind"]]}

    def memory(self, command: dict[str, Any]) -> dict[str, Any]:
        """With ``SOAK_TRACE_MEMORY`` set: ``mark`` takes a snapshot; otherwise the lines
        whose allocations grew most since it (what a growing RSS is made of)."""
        if not tracemalloc.is_tracing():
            return {"reason": "not_tracing"}
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]
        )
        if command.get("mark") or self.baseline is None:
            self.baseline = snapshot
            return {"reason": "ok"}
        stats = snapshot.compare_to(self.baseline, "traceback")[:8]
        return {
            "reason": "ok",
            "grown": [
                f"{stat.size_diff / 1024:+.0f} KiB in {stat.count_diff:+d} blocks at "
                + " < ".join(f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno}" for f in stat.traceback)
                for stat in stats
            ],
        }


def listen(spec: dict[str, Any]) -> None:
    from ireserve_salto_plugin.events import EventListener, LockEvent

    parks = [Park(p["id"], "Europe/Amsterdam", {INTEGRATION: p["settings"]}) for p in spec["parks"]]

    def on_event(park: Any, event: LockEvent) -> None:
        emit({"park": str(park.id), "t": time.monotonic(), **event.to_dict()})

    with EventListener(lambda: parks, on_event=on_event):
        emit({"ready": "listener"})
        for line in sys.stdin:
            if json.loads(line).get("op") == "quit":
                break


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if os.environ.get("SOAK_TRACE_MEMORY"):
        tracemalloc.start(4)
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    if spec.get("role") == "listener":
        listen(spec)
        return
    worker = Worker(spec, sys.argv[2])
    emit({"ready": worker.name})
    with ThreadPoolExecutor(max_workers=POOL) as pool:
        for line in sys.stdin:
            command = json.loads(line)
            if command.get("op") == "quit":
                break
            pool.submit(worker.run, command)


if __name__ == "__main__":
    main()
