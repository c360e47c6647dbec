"""The sandbox's event streaming service: a SignalR hub speaking the real protocol, on a
host of its own (as Salto's ``eventstreaming-connect-…`` beside the Connect API).

- ``POST /v1/hub/{entries|incidents}/negotiate?site_id=…[&user_id=…]`` with the Connect
  API's token (``Authorization: Bearer`` or ``?access_token=``): 401 for a token that is
  not valid now, 403 when the account may not subscribe (site-wide needs Site Admin;
  ``user_id`` must be its own), else ``connectionId`` and the WebSocket transport (version
  0, as the hub answers a client that does not send ``negotiateVersion``).
- ``GET`` the same path with ``&id=<connectionId>`` and ``Upgrade: websocket``: the JSON
  hub protocol (records end with 0x1E): handshake, ``ReceiveMessage`` invocations whose
  one argument is a JSON **string**, pings, and a close message (``type`` 7).

The WebSocket framing is the ``websockets`` package's sans-I/O :class:`ServerProtocol`
over the request's socket. ASSUMPTIONS (docs §6b does not know them): permissions are
checked at negotiate; a connection whose token expires is closed with an error (on by
default: the harsher world); incidents carry ``type`` and the lock's flat fields;
nothing is replayed after a reconnect unless :attr:`EventHub.replay_last` is set.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from ireserve_salto_plugin.sandbox.records import AMSTERDAM, ENTRY_TTL, User
from ireserve_salto_plugin.sandbox.world import World


class Salto(Protocol):
    """What the hub needs of its sandbox: the world (tokens, users, sites) and its clock."""

    world: World

    def now(self) -> datetime: ...


log = logging.getLogger(__name__)
SEP = "\x1e"
HUBS = ("entries", "incidents")
PING_SECONDS = 15.0  # ASP.NET Core SignalR's default keep-alive
TICK = 1.0  # how often a connection's thread looks at its token and its ping (2,000 at once)


@dataclass(eq=False)
class HubConnection:
    """One client of the hub."""

    user: User
    site_id: str
    hub: str
    own: str | None  # the user_id it subscribed with (its own entries only)
    expires: datetime
    sock: socket.socket | None = None
    protocol: ServerProtocol | None = None
    ready: bool = False  # the handshake is done: messages may flow
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, text: str) -> bool:
        with self.lock:
            if self.protocol is None or self.sock is None:
                return False
            if self.protocol.state is not State.OPEN:
                return False
            self.protocol.send_text(text.encode())
            return self._flush()

    def _flush(self) -> bool:
        assert self.protocol is not None and self.sock is not None
        try:
            for data in self.protocol.data_to_send():
                if data:
                    self.sock.sendall(data)
        except OSError:
            return False
        return True

    def close(self, error: str | None = None) -> None:
        """A close message (``type`` 7), then the WebSocket's close frame."""
        if error is not None:
            self.send(json.dumps({"type": 7, "error": error, "allowReconnect": True}) + SEP)
        with self.lock:
            if self.protocol is not None and self.protocol.state is State.OPEN:
                self.protocol.send_close(1000 if error is None else 1011)
                self._flush()

    def drop(self) -> None:
        """Gone without a close frame (a client sees 1006)."""
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)


def invocation(message: Any) -> str:
    argument = message if isinstance(message, str) else json.dumps(message)
    return json.dumps({"type": 1, "target": "ReceiveMessage", "arguments": [argument]}) + SEP


class EventHub:
    """The hub's state and switches (thread-safe; one per sandbox)."""

    def __init__(self, sandbox: Salto) -> None:
        self.sandbox = sandbox
        self.lock = threading.Lock()
        self.pending: dict[str, HubConnection] = {}  # connectionId -> negotiated
        self.connections: set[HubConnection] = set()
        self.close_on_expiry = True  # a connection whose token expired is closed
        self.replay_last = 0  # entries sent again to every new connection
        self.unavailable = False  # negotiate answers 503 (the service is down)
        self.ping_seconds = PING_SECONDS
        self.negotiations = 0  # negotiate calls answered 200
        self.refused: list[tuple[str, str]] = []  # (hub, why) of each 401/403
        self.sent = 0  # ReceiveMessage invocations sent

    # -- what the sandbox's world does ---------------------------------------------------------

    def entry(self, site_id: str, entry: dict[str, Any]) -> None:
        """An entry Salto logged: to the site's entries subscribers (an own-entries
        subscriber only when it is the entry's user)."""
        text = invocation(json.dumps(entry))
        for conn in self._listening(site_id, "entries"):
            if conn.own is None or conn.own == entry.get("user_id"):
                self._send(conn, text)

    def incident(self, site_id: str, lock: Any, kind: str) -> dict[str, Any]:
        """An incident at ``lock`` (a sandbox ``LockState``): to the incidents hub."""
        now = self.sandbox.now()
        message = {
            "id": secrets.token_hex(16),
            "type": kind,
            "utc_date_time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "local_date_time": now.astimezone(AMSTERDAM).strftime("%Y-%m-%dT%H:%M:%S"),
            "lock_id": lock.id,
            "lock_customer_reference": lock.name,
            "iq_id": lock.iq.id,
            "iq_customer_reference": lock.iq.name,
            "ttl_in_seconds": ENTRY_TTL,
            "expiration_date_time": (now + timedelta(seconds=ENTRY_TTL)).strftime(
                "%Y-%m-%dT%H:%M:%S.000Z"
            ),
        }
        text = invocation(json.dumps(message))
        for conn in self._listening(site_id, "incidents"):
            self._send(conn, text)
        return message

    def send_raw(self, record_or_argument: str, *, whole_record: bool = False) -> None:
        """A malformed message to every connection: an argument that is no JSON object
        (``whole_record``: a record that is no JSON at all)."""
        text = (record_or_argument + SEP) if whole_record else invocation(record_or_argument)
        for conn in self._listening(None, None):
            self._send(conn, text)

    def drop_all(self) -> int:
        """Every connection gone at once, without close frames (a network cut)."""
        with self.lock:
            conns = list(self.connections)
        for conn in conns:
            conn.drop()
        return len(conns)

    def count(self, hub: str | None = None) -> int:
        with self.lock:
            return sum(1 for c in self.connections if c.ready and hub in (None, c.hub))

    def _listening(self, site_id: str | None, hub: str | None) -> list[HubConnection]:
        with self.lock:
            return [
                c
                for c in self.connections
                if c.ready and site_id in (None, c.site_id) and hub in (None, c.hub)
            ]

    def _send(self, conn: HubConnection, text: str) -> None:
        if conn.send(text):
            with self.lock:
                self.sent += 1

    # -- negotiate and connect -----------------------------------------------------------------

    def authorize(self, path: str, query: dict[str, str], headers: Any) -> HubConnection:
        """The connection a request may open; raises ``Refusal`` (401/403/404)."""
        parts = path.strip("/").split("/")
        if len(parts) < 3 or parts[:2] != ["v1", "hub"] or parts[2] not in HUBS:
            raise Refusal(404, "no such hub")
        hub = parts[2]
        auth = headers.get("Authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else query.get("access_token", "")
        world = self.sandbox.world
        with world.lock:
            holder = world.tokens.get(token)
            if holder is None or holder[1] <= self.sandbox.now():
                self.refused.append((hub, "401"))
                raise Refusal(401, "")
            user = world.users[holder[0]]
            site_id, own = query.get("site_id", ""), query.get("user_id") or None
            if site_id not in user.site_ids:
                self.refused.append((hub, "403 site"))
                raise Refusal(403, "")
            if own is not None and (own != user.id or hub != "entries"):
                self.refused.append((hub, "403 user_id"))
                raise Refusal(403, "")
            if own is None and not user.site_admin:
                self.refused.append((hub, "403 site-wide"))
                raise Refusal(403, "")
        return HubConnection(user, site_id, hub, own, holder[1])

    def negotiate(self, conn: HubConnection) -> dict[str, Any]:
        connection_id = secrets.token_urlsafe(16)
        with self.lock:
            self.pending[connection_id] = conn
            self.negotiations += 1
        return {
            "connectionId": connection_id,
            "availableTransports": [
                {"transport": "WebSockets", "transferFormats": ["Text", "Binary"]},
                {"transport": "ServerSentEvents", "transferFormats": ["Text"]},
                {"transport": "LongPolling", "transferFormats": ["Text", "Binary"]},
            ],
        }

    def take(self, connection_id: str, conn: HubConnection) -> bool:
        """The negotiated connection ``id`` names, for the same account, site and hub."""
        with self.lock:
            pending = self.pending.pop(connection_id, None)
        return (
            pending is not None
            and pending.user is conn.user
            and (pending.site_id, pending.hub, pending.own) == (conn.site_id, conn.hub, conn.own)
        )

    def serve(self, conn: HubConnection) -> None:
        """The connection's life, on its request's thread: handshake, then pings and
        messages until the client leaves, the server drops it or its token expires."""
        assert conn.sock is not None and conn.protocol is not None
        with self.lock:
            self.connections.add(conn)
        next_ping = time.monotonic() + self.ping_seconds
        try:
            conn.sock.settimeout(TICK)
            while conn.protocol.state is State.OPEN:
                if self.close_on_expiry and conn.expires <= self.sandbox.now():
                    conn.close("Connection closed with an error. Unauthorized")
                    break
                if conn.ready and time.monotonic() >= next_ping:
                    conn.send(json.dumps({"type": 6}) + SEP)
                    next_ping = time.monotonic() + self.ping_seconds
                try:
                    data = conn.sock.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                with conn.lock:
                    conn.protocol.receive_data(data)
                    frames = conn.protocol.events_received()
                    conn._flush()
                for frame in frames:
                    if isinstance(frame, Frame) and frame.opcode is Opcode.TEXT:
                        self._received(conn, bytes(frame.data).decode(errors="replace"))
        except OSError:
            pass
        finally:
            with self.lock:
                self.connections.discard(conn)

    def _received(self, conn: HubConnection, text: str) -> None:
        for part in text.split(SEP):
            if not part:
                continue
            try:
                record = json.loads(part)
            except ValueError:
                conn.close("Invalid message")
                return
            if not conn.ready and isinstance(record, dict) and record.get("protocol") == "json":
                conn.send("{}" + SEP)
                conn.ready = True
                self._replay(conn)
            elif isinstance(record, dict) and record.get("type") == 7:
                conn.close()

    def _replay(self, conn: HubConnection) -> None:
        if not self.replay_last or conn.hub != "entries":
            return
        world = self.sandbox.world
        with world.lock:
            site = world.sites.get(conn.site_id)
            entries = list(site.entries[-self.replay_last :]) if site else []
        for entry in entries:
            if conn.own is None or conn.own == entry.get("user_id"):
                self._send(conn, invocation(json.dumps(entry)))


class Refusal(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(status)
        self.status, self.text = status, text
