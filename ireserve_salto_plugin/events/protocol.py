"""Salto's event stream as data: the SignalR JSON hub protocol's records (pure functions,
no I/O), and what a message means for a park (:class:`LockEvent`).

The stream (docs/salto-ks-api.md §6b) is an ASP.NET Core SignalR service: negotiate, then a
WebSocket carrying JSON records that end with the 0x1E separator. After the handshake
(``{"protocol":"json","version":1}``) the hub sends invocations of ``ReceiveMessage`` whose
one argument is a JSON **string**: an entry with a REST entry's flat fields, or an
incident. Anything else (not JSON, a list, a number, no ``id``) is counted and skipped,
never a reason to stop listening.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from ireserve_salto_plugin.salto.types import entry_lock, entry_time, text

SEPARATOR = "\x1e"
HANDSHAKE = json.dumps({"protocol": "json", "version": 1}) + SEPARATOR
PING = json.dumps({"type": 6}) + SEPARATOR
INVOCATION, PING_TYPE, CLOSE_TYPE = 1, 6, 7
TARGET = "ReceiveMessage"
HUBS = ("entries", "incidents")  # /v1/hub/<hub>?site_id=… (incidents: path by analogy)
MAX_MESSAGE_BYTES = 64 * 1024  # one frame; an entry is about 1 KB


def hub_url(events_url: str, hub: str, site_id: str, user_id: str | None = None) -> str:
    query = {"site_id": site_id, **({"user_id": user_id} if user_id else {})}
    return f"{events_url}/v1/hub/{hub}?{urlencode(query)}"


def negotiate_url(url: str) -> str:
    """SignalR's negotiate endpoint of a hub URL (``…/hub/entries/negotiate?…``). No
    ``negotiateVersion``: a hub then answers version 0 and the connection's id is its
    ``connectionId`` (what both Python clients do; docs §6b)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/negotiate"))


def socket_url(url: str, connection_id: str | None) -> str:
    """The WebSocket URL of a hub after negotiate (``ws``/``wss``, ``&id=``)."""
    parts = urlsplit(url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    query = parts.query + (f"&{urlencode({'id': connection_id})}" if connection_id else "")
    return urlunsplit(parts._replace(scheme=scheme, query=query))


def records(data: str) -> tuple[list[Any], int]:
    """The hub records in a frame, parsed; and how many were not JSON (counted, skipped)."""
    found, bad = [], 0
    for part in data.split(SEPARATOR):
        if not part:
            continue
        try:
            found.append(json.loads(part))
        except ValueError:
            bad += 1
    return found, bad


def messages(record: Any) -> list[Any]:
    """The ``ReceiveMessage`` arguments of one invocation record, each parsed when it is a
    JSON string (as Salto sends them) or kept when the hub sent an object."""
    if not isinstance(record, dict) or record.get("type") != INVOCATION:
        return []
    if record.get("target") != TARGET or not isinstance(record.get("arguments"), list):
        return []
    found: list[Any] = []
    for argument in record["arguments"]:
        if isinstance(argument, str):
            try:
                found.append(json.loads(argument))
            except ValueError:
                found.append(argument)
        else:
            found.append(argument)
    return found


def incident_type(message: dict[str, Any]) -> str | None:
    """The incident's type: ``type`` (Clay's field), else ``incident_type`` or
    ``event_category`` (the Connect payload is unpublished: docs §6b)."""
    for field_name in ("type", "incident_type", "event_category"):
        value = text(message.get(field_name), 60)
        if value:
            return value
    return None


@dataclass(frozen=True, slots=True)
class LockEvent:
    """What happened at a lock, as the stream said it. ``kind``: ``opened`` (an entry that
    opened a lock), ``incident`` (the incidents hub), ``entry`` (any other entry).
    ``attempt_id`` / ``requested_by`` / ``open_kind``: set when the entry confirms one of
    this plugin's opens for this park. ``raw``: the message as parsed (it may hold guest
    names: never logged)."""

    kind: str
    lock_id: str | None
    lock_name: str | None
    at: datetime | None
    entry_id: str
    access_by: str | None
    raw: dict[str, Any]
    attempt_id: str | None = None
    requested_by: str | None = None
    open_kind: str | None = None
    incident: str | None = None  # the incident's type, for kind "incident"
    category: str | None = None  # the entry's event_category

    def to_dict(self) -> dict[str, Any]:
        """Without ``raw`` (names of guests stay out of logs and the CLI's lines)."""
        return {
            "kind": self.kind,
            "lock_id": self.lock_id,
            "lock_name": self.lock_name,
            "at": self.at.isoformat() if self.at else None,
            "entry_id": self.entry_id,
            "access_by": self.access_by,
            "category": self.category,
            "incident": self.incident,
            "attempt_id": self.attempt_id,
            "requested_by": self.requested_by,
            "open_kind": self.open_kind,
        }


def lock_event(hub: str, message: Any) -> LockEvent | None:
    """The event of one message; ``None`` for what is not a JSON object with an ``id``."""
    if not isinstance(message, dict):
        return None
    entry_id = text(message.get("id"), 100)
    if not entry_id:
        return None
    lock_id, lock_name = entry_lock(message)  # flat, or nested as Clay's incidents
    category = text(message.get("event_category"), 60)
    if hub == "incidents":
        kind = "incident"
    elif category == "lock_opened":
        kind = "opened"
    else:
        kind = "entry"
    return LockEvent(
        kind=kind,
        lock_id=lock_id,
        lock_name=lock_name,
        at=entry_time(message),
        entry_id=entry_id,
        access_by=text(message.get("access_by"), 40),
        raw=message,
        incident=incident_type(message) if hub == "incidents" else None,
        category=category,
    )
