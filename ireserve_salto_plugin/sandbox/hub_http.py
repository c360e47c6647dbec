"""The event hub's HTTP side: negotiate (``POST …/negotiate``) and the WebSocket upgrade,
whose framing is the ``websockets`` package's sans-I/O :class:`ServerProtocol` over the
request's own socket (``hub.py`` holds the hub's state and the connection's life)."""

from __future__ import annotations

import json
import logging
import socket
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.http11 import Request as WsRequest
from websockets.protocol import State
from websockets.server import ServerProtocol

from ireserve_salto_plugin.sandbox.hub import EventHub, Refusal

log = logging.getLogger(__name__)
# websockets logs every handshake header at DEBUG (a client's bearer token among them)
FRAMES = logging.getLogger("ireserve_salto_plugin.sandbox.websocket")
FRAMES.setLevel(logging.INFO)


class HubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub: EventHub  # set on the subclass of each sandbox

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as http.py

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("hub: " + format, *args)

    def _answer(self, status: int, body: Any = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _target(self) -> tuple[str, dict[str, str]]:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        return parts.path, query

    def do_POST(self) -> None:
        path, query = self._target()
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 65536))
        if not path.endswith("/negotiate"):
            self._answer(404)
            return
        if self.hub.unavailable:
            self._answer(503)
            return
        try:
            conn = self.hub.authorize(path[: -len("/negotiate")], query, self.headers)
        except Refusal as refusal:
            self._answer(refusal.status)
            return
        self._answer(200, self.hub.negotiate(conn))

    def do_GET(self) -> None:
        path, query = self._target()
        if (self.headers.get("Upgrade") or "").lower() != "websocket":
            self._answer(400, {"error": "Connection ID required"})
            return
        try:
            conn = self.hub.authorize(path, query, self.headers)
        except Refusal as refusal:
            self._answer(refusal.status)
            return
        if not self.hub.take(query.get("id", ""), conn):
            self._answer(404)
            return
        protocol = ServerProtocol(max_size=65536, logger=FRAMES)
        # the request as it came (http.server read it already), for the protocol's parser
        head = self.requestline + "\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in self.headers.items())
        protocol.receive_data((head + "\r\n").encode("latin-1"))
        request = protocol.events_received()[0]
        assert isinstance(request, WsRequest)
        response = protocol.accept(request)
        protocol.send_response(response)
        for data in protocol.data_to_send():
            self.wfile.write(data)
        self.wfile.flush()
        if protocol.state is not State.OPEN:
            return
        conn.sock, conn.protocol = self.connection, protocol
        self.close_connection = True
        self.hub.serve(conn)
