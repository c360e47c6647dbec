"""The sandbox's small HTTP framework: routes of ``(method, path pattern, handler)``, a
handler that answers JSON like Salto (``Reply``), scripted faults, and request counters.

A route handler gets a :class:`Request` and returns a JSON-able body (200), ``None`` (204),
or a :class:`Reply`; it may raise :class:`Reply` too. Handlers run under the world's lock.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

from ireserve_salto_plugin.sandbox.view import Fault, SandboxView

Route = tuple[str, re.Pattern[str], Callable[..., Any]]


class Reply(Exception):
    """Raised by a route to answer with ``status`` and ``body`` (dict/list, or None)."""

    def __init__(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def salto_error(status: int, code: int | str, message: str) -> Reply:
    return Reply(status, {"ErrorCode": code, "Message": message})


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Any
    body: bytes
    match: Any = None

    def json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.body or b"null")
        except ValueError:
            raise salto_error(400, 1100, "The request received is invalid.") from None
        if not isinstance(value, dict):
            raise salto_error(400, 1100, "The request received is invalid.")
        return value


def basic_auth(header: str) -> tuple[str, str] | None:
    """The OAuth client of a Basic header: id and secret are form-urlencoded, then joined
    by ``:`` and Base64-encoded (RFC 6749 §2.3.1), so a ``:`` in a secret is unambiguous."""
    if not header.startswith("Basic "):
        return None
    try:
        user, sep, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except ValueError:
        return None
    if not sep:
        return None
    return unquote_plus(user), unquote_plus(password)


class SandboxHandler(BaseHTTPRequestHandler):
    """One request to the sandbox: faults first, then the route; counted and timed."""

    sandbox: SandboxView
    routes: list[Route]
    protocol_version = "HTTP/1.1"
    server_version = "SaltoKsSandbox/1.0"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without TCP_NODELAY the body waits for the
        # client's delayed ACK (40 ms a request); Salto's servers (Kestrel) set it
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.sandbox.world.lock:
            self.sandbox.connections.add(self.connection)

    def finish(self) -> None:
        with self.sandbox.world.lock:
            self.sandbox.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        if self.sandbox.date_header is not None:
            return self.sandbox.date_header
        return formatdate(self.sandbox.now().timestamp(), usegmt=True)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        req = Request(self.command, parts.path.rstrip("/") or "/", query, self.headers, body)
        started = time.perf_counter()
        control = req.path.startswith("/_sandbox/")
        if not control:
            with self.sandbox.world.lock:
                self.sandbox.calls[f"{req.method} {req.path}"] += 1
                if req.headers.get("Cookie"):  # a client that keeps cookies (tests)
                    self.sandbox.cookies_seen.append(f"{req.method} {req.path}")
                self.sandbox.in_flight += 1
                self.sandbox.max_in_flight = max(self.sandbox.max_in_flight, self.sandbox.in_flight)
        try:
            if not control and (self.sandbox.latency or self.sandbox.latency_spread):
                waited = time.perf_counter()
                spread = self.sandbox.latency_spread
                time.sleep(self.sandbox.latency + (self.sandbox.jitter.uniform(0, spread)))
                with self.sandbox.world.lock:  # inside the request, before any answer
                    self.sandbox.spans.append(
                        (f"{req.method} {req.path}", waited, time.perf_counter())
                    )
            if self._fault(req):
                return
            try:
                reply = self._route(req)
            except Reply as exc:
                reply = exc
            self._send(reply.status, reply.body, reply.headers)
        finally:
            if not control:
                with self.sandbox.world.lock:
                    self.sandbox.in_flight -= 1
                    self.sandbox.server_seconds[f"{req.method} {req.path}"] += (
                        time.perf_counter() - started
                    )

    def _route(self, req: Request) -> Reply:
        allowed = False
        for method, pattern, func in self.routes:
            match = pattern.fullmatch(req.path)
            if match is None:
                continue
            allowed = True
            if method != req.method:
                continue
            req.match = match
            with self.sandbox.world.lock:
                result = func(req)
            if isinstance(result, Reply):
                return result
            return Reply(204 if result is None else 200, result)
        return Reply(405 if allowed else 404, None)

    def _fault(self, req: Request) -> bool:
        with self.sandbox.world.lock:
            fault = next(
                (
                    f
                    for f in self.sandbox.faults
                    if f.method in (req.method, "*") and f.path.search(req.path)
                ),
                None,
            )
            if fault is None:
                return False
            fault.times -= 1
            if fault.times <= 0:
                self.sandbox.faults.remove(fault)
        fault.arrived.set()
        if fault.delay:
            time.sleep(fault.delay)
        if fault.after:
            with contextlib.suppress(Reply):
                self._route(req)
        if fault.reset or fault.after:
            self.close_connection = True
            self.connection.close()
            return True
        if fault.drip or fault.endless:
            self._stream(fault)
        elif fault.raw is not None:
            self._send_bytes(fault.status, fault.raw, "text/html", fault.headers or {})
        else:
            self._send(fault.status, fault.body, fault.headers or {})
        return True

    def _stream(self, fault: Fault) -> None:
        """A body that drips or never ends; stops when the client hangs up."""
        data = fault.raw if fault.raw is not None else json.dumps(fault.body).encode()
        length = fault.endless or len(data)
        self.send_response(fault.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(length))
        for key, value in (fault.headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.close_connection = True
        try:
            if fault.endless:
                block = b"[" * 65536
                for _ in range(0, length, len(block)):
                    self.wfile.write(block)
                return
            for byte in data:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(fault.drip)
        except OSError:
            pass  # the client gave up: what a deadline is for

    def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self._send_bytes(status, data, "application/json; charset=utf-8", headers)

    def _send_bytes(self, status: int, data: bytes, ctype: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        if data:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if data:
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


def make_handler(sandbox: SandboxView, routes: list[Route]) -> type:
    """The request handler class of one sandbox."""
    return type("Handler", (SandboxHandler,), {"sandbox": sandbox, "routes": routes})
