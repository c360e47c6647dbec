"""The demo's live part: the host starts the event listener beside the hooks; an open is
confirmed by Salto's event stream while its log lags, and a door left open is an alert in
``status`` until its end event."""

from __future__ import annotations

import threading
from datetime import timedelta

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.events import EventListener, LockEvent
from ireserve_salto_plugin.flow.service import SaltoKsService
from ireserve_salto_plugin.models import Park as ParkLike
from ireserve_salto_plugin.reference.demo_steps import Steps
from ireserve_salto_plugin.reference.host import Booking, Park, ReferenceHost
from ireserve_salto_plugin.sandbox.records import LockState
from ireserve_salto_plugin.sandbox.server import SaltoSandbox

WAIT = 5.0  # seconds the demo waits for the stream to say something


class _Heard:
    def __init__(self) -> None:
        self.events: list[LockEvent] = []
        self.changed = threading.Condition()

    def __call__(self, park: ParkLike, event: LockEvent) -> None:
        with self.changed:
            self.events.append(event)
            self.changed.notify_all()

    def wait(self, kind: str, count: int = 1) -> LockEvent | None:
        with self.changed:
            self.changed.wait_for(
                lambda: len([e for e in self.events if e.kind == kind]) >= count, WAIT
            )
            found = [e for e in self.events if e.kind == kind]
        return found[count - 1] if len(found) >= count else None


def live_site(
    out: Steps,
    sandbox: SaltoSandbox,
    service: SaltoKsService,
    host: ReferenceHost,
    park: Park,
    chalet: LockState,
) -> None:
    out.step("The live site: the host starts the event listener (Salto's event stream)")
    sandbox.grant_site_admin()  # the whole site's entries and incidents need a Site Admin
    out.say(f"event streaming service {sandbox.events_url}; the demo's account is a Site Admin")
    heard = _Heard()
    listener = EventListener(lambda: [park], on_event=heard, service=service).start()
    try:
        _until_live(out, host, park)
        _confirmed_by_stream(out, sandbox, host, park, heard)
        _left_open(out, sandbox, host, park, chalet, heard)
    finally:
        listener.stop()
        sandbox.entries_lag = 0


def _until_live(out: Steps, host: ReferenceHost, park: Park) -> None:
    done = threading.Event()
    state = "off"
    for _ in range(int(WAIT / 0.05)):
        state = host.admin(park, INTEGRATION, "status").data["events"]["state"]
        if state == "live":
            break
        done.wait(0.05)
    out.check(state == "live", f"status: data.events.state = {state}")


def _confirmed_by_stream(
    out: Steps, sandbox: SaltoSandbox, host: ReferenceHost, park: Park, heard: _Heard
) -> None:
    out.step("A guest opens; Salto's log lags 10 minutes, its event stream does not")
    sandbox.entries_lag = 600
    now = sandbox.now()
    booking = host.add_booking(
        Booking(
            "B-1002", "chalet-12", "confirmed", now - timedelta(hours=1), now + timedelta(days=3)
        )
    )
    opened = host.open(booking, requested_by="guest:B-1002")
    assert opened is not None
    event = heard.wait("opened")
    out.check(
        opened.opened and event is not None and event.attempt_id == opened.attempt_id,
        f"stream: {event.lock_name if event else '?'} opened, asked by "
        f"{event.requested_by if event else '?'} (attempt {opened.attempt_id})",
    )
    receipt = host.admin(park, INTEGRATION, "confirm_open", attempt_id=opened.attempt_id)
    out.say(receipt.message)
    out.check(receipt.data.get("source") == "stream", "confirm_open: confirmed, source stream")


def _left_open(
    out: Steps,
    sandbox: SaltoSandbox,
    host: ReferenceHost,
    park: Park,
    chalet: LockState,
    heard: _Heard,
) -> None:
    out.step("Chalet 12's door is left open: an incident, then its end")
    sandbox.incident(chalet.id, "door_left_open_alarm")
    out.check(heard.wait("incident") is not None, "incidents hub: door_left_open_alarm")
    status = host.admin(park, INTEGRATION, "status")
    found = [f for f in status.data["findings"] if f["code"] == "door_left_open"]
    for finding in found:
        out.say(f"status finding: {finding['message']}")
    out.check(bool(found), "status shows the open door")
    sandbox.incident(chalet.id, "end_of_door_left_open_alarm")
    out.check(heard.wait("incident", 2) is not None, "incidents hub: end_of_door_left_open_alarm")
    status = host.admin(park, INTEGRATION, "status")
    codes = {f["code"] for f in status.data["findings"]}
    out.check("door_left_open" not in codes, "the alert cleared")
