"""The sandbox's control routes on its API host (``/_sandbox/…``): not part of Salto's
API; for benchmarks, scripts, the demo and a sandbox run by another process."""

from __future__ import annotations

import re
from typing import Any

from ireserve_salto_plugin.sandbox.http import Request, Route, salto_error
from ireserve_salto_plugin.sandbox.view import SandboxView


def _incident(box: SandboxView, req: Request) -> Any:
    body = req.json()
    try:
        return box.incident(str(body.get("lock_id")), str(body.get("type")))
    except LookupError:
        raise salto_error(404, "2202", "Lock not found.") from None


def control_routes(box: SandboxView) -> list[Route]:
    return [
        # sandbox control, not part of Salto's API (for benchmarks and scripts)
        ("GET", re.compile(r"/_sandbox/stats"), lambda req: box.stats()),
        ("POST", re.compile(r"/_sandbox/reset-stats"), lambda req: box.reset_stats()),
        ("POST", re.compile(r"/_sandbox/expire-tokens"), lambda req: box.expire_tokens()),
        (
            "POST",
            re.compile(r"/_sandbox/latency"),
            lambda req: box.set_latency(float(req.json().get("seconds", 0))),
        ),
        (
            "GET",
            re.compile(r"/_sandbox/round-trips"),
            lambda req: {"in_a_row": box.round_trips_in_a_row()},
        ),
        (
            "GET",
            re.compile(r"/_sandbox/peak-in-flight"),
            lambda req: {"peak": box.peak_in_flight(req.query.get("prefix", ""))},
        ),
        (
            "GET",
            re.compile(r"/_sandbox/outbox"),
            lambda req: [
                {"to": m.to, "channel": m.channel, "iq_id": m.iq_id, "pin": m.pin}
                for m in box.world.outbox
            ],
        ),
        # the event hub: connections, an incident at a lock, a tag opening a lock, a cut
        (
            "GET",
            re.compile(r"/_sandbox/hub"),
            lambda req: {
                "connections": box.hub.count(),
                "negotiations": box.hub.negotiations,
                "sent": box.hub.sent,
            },
        ),
        ("POST", re.compile(r"/_sandbox/incident"), lambda req: _incident(box, req)),
        (
            "POST",
            re.compile(r"/_sandbox/tag-open"),
            lambda req: box.tag_open(str(req.json().get("lock_id"))),
        ),
        (
            "POST",
            re.compile(r"/_sandbox/drop-streams"),
            lambda req: {"dropped": box.hub.drop_all()},
        ),
        (
            "POST",
            re.compile(r"/_sandbox/site-admin"),
            lambda req: box.grant_site_admin(admin=bool(req.json().get("admin", True))),
        ),
    ]
