"""What the event stream's records say, in the staff's words: the incidents going on at a
lock, and the stream's state for ``status`` (``data.events``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ireserve_salto_plugin.park.i18n import N_, translate
from ireserve_salto_plugin.park.messages import Fill
from ireserve_salto_plugin.park.text import local_time

# incident type -> finding code, and the staff's sentence
INCIDENTS: dict[str, tuple[str, str]] = {
    "door_left_open_alarm": ("door_left_open", N_("{lock}: the door is open since {since}.")),
    "intrusion_alarm": ("intrusion_alarm", N_("{lock}: intrusion alarm since {since}.")),
    "tamper_alarm": ("tamper_alarm", N_("{lock}: tamper alarm since {since}.")),
    "low_battery_warning": (
        "low_battery_warning",
        N_("{lock}: Salto warned of a low battery at {since}."),
    ),
    "lock_connection_lost": (
        "lock_connection_lost",
        N_("{lock}: the lock lost its connection at {since}."),
    ),
    "iq_connection_lost": (
        "iq_connection_lost",
        N_("{lock}: its IQ lost its connection at {since}."),
    ),
}

# data.events.state -> what it means for the park
STATE_WORDS: dict[str, str] = {
    "live": N_(
        "Salto's event stream is live for the whole site: opens are confirmed at once, "
        "incidents (a door left open, alarms, batteries) show here."
    ),
    "live_own": N_(
        "Salto's event stream is live for this account's own opens (they are confirmed at "
        "once); incidents need a Site Admin account."
    ),
    "connecting": N_("The event listener is connecting to Salto's event stream."),
    "not_permitted": N_(
        "Salto refused every event stream to this account: opens are confirmed from Salto's "
        "log (minutes later); incidents need a Site Admin account."
    ),
    "failed": N_(
        "The event listener cannot reach Salto's event stream; it keeps trying. Opens are "
        "confirmed from Salto's log meanwhile."
    ),
    "off": N_(
        "No event listener runs for this site: opens are confirmed from Salto's log "
        "(minutes later) and incidents are not seen. The host's operators can start it."
    ),
}


def incident_lines(
    going: dict[str, dict[str, Any]], lang: str, zone: ZoneInfo, lock: str | None = None
) -> list[tuple[str, str]]:
    """(finding code, sentence) of each incident going on at one lock (``going``:
    incident type -> its record), in ``lang``."""
    lines = []
    for incident, info in sorted(going.items()):
        code, text = INCIDENTS.get(incident, (incident, N_("{lock}: {incident} since {since}.")))
        try:
            since = local_time(datetime.fromisoformat(str(info.get("since"))), zone, seconds=True)
        except ValueError:
            since = "?"
        name = lock or info.get("lock_name") or "?"
        fill = {"lock": name, "since": since, "incident": incident}
        lines.append((code, translate(text, lang).format_map(Fill(fill))))
    return lines


def events_data(record: dict[str, Any], lang: str) -> dict[str, Any]:
    """``data.events``: the state, when it last heard something, and what it means."""
    state = str(record.get("state", "off"))
    return {
        "state": state,
        "hubs": record.get("hubs"),
        "since": record.get("since"),
        "last_event_at": record.get("last_event_at"),
        "meaning": translate(STATE_WORDS.get(state, STATE_WORDS["off"]), lang),
    }
