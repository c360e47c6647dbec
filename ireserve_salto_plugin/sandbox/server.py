"""An embedded Salto KS: identity server and Connect API over real HTTP on loopback.

    with SaltoSandbox() as sandbox:
        sandbox.identity_url, sandbox.api_url, sandbox.client_id, sandbox.username, ...

Two threaded HTTP/1.1 servers on ephemeral loopback ports (two hosts, as in real life).
Behaviour follows the API reference; see ``world.py`` for the state and the assumptions.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import secrets
import socket
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from uuid import UUID

from .world import Mail, Site, User, World, seed_park

PAGE_MAX = 100  # ASSUMPTION: default and largest $top (the reference does not know it)
SCOPES = {"user_api.full_access", "openid", "profile", "offline_access"}


class Reply(Exception):
    """Raised by a route to answer with ``status`` and ``body`` (dict/list, or None)."""

    def __init__(self, status: int, body: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def salto_error(status: int, code: int | str, message: str) -> Reply:
    return Reply(status, {"ErrorCode": code, "Message": message})


@dataclass
class Fault:
    """A scripted answer for the next ``times`` requests whose ``METHOD path`` matches."""

    method: str
    path: re.Pattern[str]
    status: int = 500
    body: Any = None
    raw: bytes | None = None  # sent as-is (HTML, truncated JSON)
    headers: dict[str, str] | None = None
    delay: float = 0.0
    reset: bool = False  # close the connection without an answer
    times: int = 1
    drip: float = 0.0  # send the body one byte per ``drip`` seconds (a slow or hostile peer)
    endless: int = 0  # announce and stream this many bytes of "[" (an endless, deep body)


class SaltoSandbox:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        seed: bool = True,
        iqs: int = 3,
        locks_per_iq: int = 12,
        token_ttl: int = 3600,
        clock_offset: float = 0.0,
        allow_offline_access: bool = True,
        filter_supported: bool = True,
        username: str = "service@zandloper.example",
    ) -> None:
        self.host = host
        self.world = World()
        self.client_id = "ireserve-platform"
        self.client_secret = secrets.token_urlsafe(24)
        self.username = username
        self.password = secrets.token_urlsafe(12)
        self.token_ttl = token_ttl
        self.clock_offset = clock_offset
        self.allow_offline_access = allow_offline_access
        self.filter_supported = filter_supported
        self.calls: Counter[str] = Counter()  # "METHOD /path" -> requests seen
        self.grants: Counter[str] = Counter()  # grant_type -> tokens issued
        self.server_seconds: defaultdict[str, float] = defaultdict(float)  # handler time
        self.faults: list[Fault] = []
        self.date_header: str | None = None  # sent as Date instead of the sandbox clock
        self._servers: list[ThreadingHTTPServer] = []
        self._connections: set[socket.socket] = set()
        self.site: Site | None = None
        if seed:
            self.site = seed_park(self.world, username=username, password=self.password,
                                  iqs=iqs, locks_per_iq=locks_per_iq)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SaltoSandbox:
        for routes in (self._identity_routes(), self._api_routes()):
            server = ThreadingHTTPServer((self.host, 0), _handler(self, routes))
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                             daemon=True).start()
            self._servers.append(server)
        return self

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections, as a dead host would."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()
        with self.world.lock:
            connections, self._connections = self._connections, set()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> SaltoSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def identity_url(self) -> str:
        return f"http://{self.host}:{self._servers[0].server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self._servers[1].server_address[1]}"

    def platform_env(self, environment: str = "acceptance") -> dict[str, str]:
        """The host-process variables that point ``environment`` at this sandbox: its two
        hosts and the platform OAuth client. Park settings never name a host."""
        from ..runtime import platform_variables

        return platform_variables(environment, api_url=self.api_url,
                                  identity_url=self.identity_url, client_id=self.client_id,
                                  client_secret=self.client_secret)

    # -- switches and inspection -------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset)

    def set_iq_online(self, iq_id: str, online: bool) -> None:
        with self.world.lock:
            for site in self.world.sites.values():
                if iq_id in site.iqs:
                    site.iqs[iq_id].online = online

    def set_lock_online(self, lock_id: str, online: bool) -> None:
        with self.world.lock:
            lock = self.world.find_lock(lock_id)
            if lock is not None:
                lock.online = online

    def inject(self, method: str, path: str, **kwargs: Any) -> Fault:
        fault = Fault(method.upper(), re.compile(path), **kwargs)
        with self.world.lock:
            self.faults.append(fault)
        return fault

    def expire_tokens(self) -> None:
        with self.world.lock:
            past = self.now() - timedelta(seconds=1)
            self.world.tokens = {t: (u, past) for t, (u, _) in self.world.tokens.items()}

    def mails(self, to: str | None = None) -> list[Mail]:
        with self.world.lock:
            return [m for m in self.world.outbox if to is None or m.to == to]

    def last_pin(self, iq_id: str, to: str | None = None) -> str:
        for mail in reversed(self.mails(to)):
            if mail.iq_id == iq_id:
                return mail.pin
        raise LookupError(f"no PIN was sent for IQ {iq_id}")

    def entries(self, site_id: str | None = None) -> list[dict[str, Any]]:
        with self.world.lock:
            site = self.world.sites[site_id] if site_id else self.site
            assert site is not None
            return list(site.entries)

    def call_count(self, prefix: str = "") -> int:
        return sum(n for key, n in self.calls.items() if key.startswith(prefix))

    def reset_stats(self) -> None:
        with self.world.lock:
            self.calls.clear()
            self.grants.clear()
            self.server_seconds.clear()

    def stats(self) -> dict[str, Any]:
        with self.world.lock:
            return {"calls": dict(self.calls), "grants": dict(self.grants),
                    "server_seconds": dict(self.server_seconds)}

    # -- identity server ---------------------------------------------------------------------

    def _identity_routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Any]]]:
        return [
            ("GET", re.compile(r"/\.well-known/openid-configuration"), self._discovery),
            ("POST", re.compile(r"/connect/token"), self._token),
        ]

    def _discovery(self, req: _Request) -> Any:
        return {
            "issuer": self.identity_url,
            "token_endpoint": f"{self.identity_url}/connect/token",
            "grant_types_supported": ["authorization_code", "client_credentials",
                                      "refresh_token", "password"],
            "scopes_supported": sorted(SCOPES),
        }

    def _token(self, req: _Request) -> Any:
        client = _basic_auth(req.headers.get("Authorization", ""))
        if client != (self.client_id, self.client_secret):
            raise Reply(400, {"error": "invalid_client"})
        form = {k: v[-1] for k, v in parse_qs(req.body.decode("utf-8", "replace")).items()}
        grant = form.get("grant_type")
        world = self.world
        if grant == "password":
            scopes = set(form.get("scope", "").split())
            if not scopes or not scopes <= SCOPES or (
                "offline_access" in scopes and not self.allow_offline_access
            ):
                raise Reply(400, {"error": "invalid_scope"})
            user = world.users.get(form.get("username", ""))
            if user is None or not secrets.compare_digest(user.password,
                                                          form.get("password", "")):
                raise Reply(400, {"error": "invalid_grant",
                                  "error_description": "invalid_username_or_password"})
        elif grant == "refresh_token":
            username = world.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if username is None:
                raise Reply(400, {"error": "invalid_grant"})
            user = world.users[username]
            scopes = {"user_api.full_access", "offline_access"}
        else:
            raise Reply(400, {"error": "unsupported_grant_type"})
        self.grants[grant] += 1
        token = secrets.token_urlsafe(32)
        world.tokens[token] = (user.username,
                               self.now() + timedelta(seconds=self.token_ttl))
        world.tokens_issued.append(token)
        reply = {"access_token": token, "expires_in": self.token_ttl, "token_type": "Bearer",
                 "scope": " ".join(sorted(scopes))}
        if "offline_access" in scopes:
            refresh = secrets.token_urlsafe(32)
            world.refresh_tokens[refresh] = user.username
            world.tokens_issued.append(refresh)
            reply["refresh_token"] = refresh
        return reply

    # -- Connect API -------------------------------------------------------------------------

    def _api_routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Any]]]:
        s = r"/sites/(?P<site>[^/]+)"
        return [
            ("GET", re.compile(r"/v1\.1/sites"), self._sites_v11),
            ("GET", re.compile(r"/v1\.2/sites"), self._sites_v12),
            ("GET", re.compile(rf"/v1\.2{s}"), self._site),
            ("GET", re.compile(rf"/v1\.2{s}/locks"), self._locks),
            ("GET", re.compile(rf"/v1\.2{s}/locks/(?P<lock>[^/]+)"), self._lock),
            ("GET", re.compile(rf"/v1\.2{s}/iqs"), self._iqs),
            ("GET", re.compile(rf"/v1\.2{s}/iqs/(?P<iq>[^/]+)"), self._iq),
            ("GET", re.compile(rf"/v1\.2{s}/iqs/(?P<iq>[^/]+)/secret"), self._secret),
            ("GET", re.compile(rf"/v1\.2{s}/iqs/(?P<iq>[^/]+)/pin"), self._get_pin),
            ("PUT", re.compile(rf"/v1\.2{s}/iqs/(?P<iq>[^/]+)/pin"), self._set_pin),
            ("PATCH", re.compile(rf"/v1\.[12]{s}/locks/(?P<lock>[^/]+)/locking"), self._open),
            ("GET", re.compile(rf"/v1\.1{s}/entries"), self._entries),
            ("GET", re.compile(rf"/v1\.2{s}/entries"), self._no_method),
            # sandbox control, not part of Salto's API (for benchmarks and scripts)
            ("GET", re.compile(r"/_sandbox/stats"), lambda req: self.stats()),
            ("POST", re.compile(r"/_sandbox/reset-stats"), lambda req: self.reset_stats()),
            ("POST", re.compile(r"/_sandbox/expire-tokens"), lambda req: self.expire_tokens()),
            ("GET", re.compile(r"/_sandbox/outbox"), lambda req: [
                {"to": m.to, "channel": m.channel, "iq_id": m.iq_id, "pin": m.pin}
                for m in self.world.outbox]),
        ]

    def _user(self, req: _Request) -> User:
        header = req.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        entry = self.world.tokens.get(token)
        if entry is None or entry[1] <= self.now():
            raise Reply(401, None, {"WWW-Authenticate": 'Bearer error="invalid_token", '
                                   'error_description="The access token is expired"'})
        return self.world.users[entry[0]]

    def _site_for(self, req: _Request, user: User) -> Site:
        site_id = req.match["site"]
        try:
            UUID(site_id)
        except ValueError:
            raise salto_error(400, 1100, "The request received is invalid.") from None
        if site_id not in user.site_ids or site_id not in self.world.sites:
            raise salto_error(404, 1101, "Site not found.")
        return self.world.sites[site_id]

    def _page(self, req: _Request, items: list[Any]) -> dict[str, Any]:
        try:
            top = int(req.query.get("$top", PAGE_MAX))
            skip = int(req.query.get("$skip", 0))
        except ValueError:
            raise salto_error(400, 1102, "The OData filter format is invalid.") from None
        if top < 1 or skip < 0:
            raise salto_error(400, 1102, "The OData filter format is invalid.")
        top = min(top, PAGE_MAX)
        page = items[skip: skip + top]
        link = None
        if skip + top < len(items):
            query = urlencode({"$top": top, "$skip": skip + top}, safe="$")
            link = f"{self.api_url}{req.path}?{query}"
        return {"items": page, "next_page_link": link, "count": None}

    def _visible_sites(self, user: User) -> list[dict[str, Any]]:
        return [self.world.sites[s].as_json() for s in sorted(user.site_ids)]

    def _sites_v11(self, req: _Request) -> Any:
        user = self._user(req)
        sites = self._visible_sites(user)
        flt = req.query.get("$filter")
        if flt is not None:
            match = re.fullmatch(r"site_uid eq '([^']*)'", flt.strip())
            if match is None or not self.filter_supported:
                raise salto_error(400, 1102, "The OData filter format is invalid.")
            sites = [s for s in sites if s["site_uid"] == match.group(1)]
        return {"items": sites, "next_page_link": None, "count": None}

    def _sites_v12(self, req: _Request) -> Any:
        return self._visible_sites(self._user(req))  # a bare array on v1.2 (S17)

    def _site(self, req: _Request) -> Any:
        return self._site_for(req, self._user(req)).as_json()

    def _locks(self, req: _Request) -> Any:
        site = self._site_for(req, self._user(req))
        return self._page(req, [lock.as_json() for lock in site.locks.values()])

    def _lock(self, req: _Request) -> Any:
        site = self._site_for(req, self._user(req))
        lock = site.locks.get(req.match["lock"])
        if lock is None:
            raise salto_error(404, 1101, "Lock not found.")
        return lock.as_json()

    def _iqs(self, req: _Request) -> Any:
        site = self._site_for(req, self._user(req))
        return self._page(req, [iq.as_json() for iq in site.iqs.values()])

    def _iq_of(self, req: _Request) -> tuple[User, Site, str]:
        user = self._user(req)
        site = self._site_for(req, user)
        iq_id = req.match["iq"]
        if iq_id not in site.iqs:
            raise salto_error(404, 1101, "Iq not found.")
        return user, site, iq_id

    def _iq(self, req: _Request) -> Any:
        _, site, iq_id = self._iq_of(req)
        return site.iqs[iq_id].as_json()

    def _secret(self, req: _Request) -> Any:
        user, _, iq_id = self._iq_of(req)
        act = self.world.activation(user, iq_id)
        if act.secret_taken or act.activated:
            raise salto_error(403, 2203, "Cannot get first secret for an already activated Iq.")
        act.secret_taken = True
        return {"secret": act.secret}

    def _get_pin(self, req: _Request) -> Any:
        user, site, iq_id = self._iq_of(req)
        act = self.world.activation(user, iq_id)
        if act.activated:
            # ASSUMPTION: shape of the command_forbidden answer (reference row 10).
            raise salto_error(403, 2203, "command_forbidden")
        if act.pin is None:
            act.pin = f"{secrets.randbelow(10_000):04d}"
        channel = "email" if req.query.get("send_email") == "true" else "sms"
        self.world.outbox.append(Mail(
            to=user.username, channel=channel, iq_id=iq_id, pin=act.pin,
            subject=f"Your PIN for {site.iqs[iq_id].name}",
            body=f"Your Salto KS PIN for IQ {site.iqs[iq_id].name} is {act.pin}.",
        ))
        return None  # 204, no body

    def _set_pin(self, req: _Request) -> Any:
        user, _, iq_id = self._iq_of(req)
        body = req.json()
        otp, delta = body.get("otp"), body.get("delta")
        if not isinstance(otp, str) or not otp:
            raise salto_error(400, 1100, "The otp field is required.")
        if not isinstance(delta, str) or not re.fullmatch(r"[0-9]{4}", delta):
            raise salto_error(400, 1101, "Value of 'delta' is invalid.")
        act = self.world.activation(user, iq_id)
        if act.pin is None or not act.secret_taken:
            raise salto_error(403, 2203, "Operation cannot be executed.")
        refused = self.world.check_otp(act, "set_pin", otp, act.pin, self.now())
        if refused == "otp_blocked":
            raise salto_error(403, 3102, "otp_blocked")
        if refused:
            raise salto_error(400, 3102, "otp_invalid")
        act.pin = "".join(str((int(o) - int(d)) % 10) for o, d in zip(act.pin, delta,
                                                                      strict=True))
        act.activated = True
        act.activation_date = self.now()
        return None

    def _open(self, req: _Request) -> Any:
        user = self._user(req)
        site = self._site_for(req, user)
        lock = site.locks.get(req.match["lock"])
        if lock is None:
            raise salto_error(404, 1101, "Lock not found.")
        body = req.json()
        state = body.get("locked_state")
        if state not in ("none", "locked", "office_mode", "uncertain", "unlocked"):
            raise salto_error(400, 1101, "Value of 'locked_state' is invalid.")
        if not user.remote_access:
            raise salto_error(403, 2203, "Operation cannot be executed.")
        otp = body.get("otp")
        act = self.world.activation(user, lock.iq.id)
        if lock.iq.otp_enabled:
            if not isinstance(otp, str) or not otp:
                raise salto_error(404, "2202", "Otp is invalid")  # code as a string (S17)
            if not act.activated or act.pin is None:
                # ASSUMPTION: shape of pin_not_changed (reference row 16 names only the text)
                raise salto_error(403, 2203, "pin_not_changed")
            refused = self.world.check_otp(act, "locking", otp, act.pin, self.now())
            if refused == "otp_blocked":
                raise salto_error(403, 3102, "otp_blocked")
            if refused:
                raise salto_error(400, 3102, "otp_invalid")
        if not lock.iq.online or not lock.online:
            # ASSUMPTION: the reference does not know this error (open question 8).
            raise salto_error(403, 2203, "Operation cannot be executed.")
        site.entries.append({
            "id": secrets.token_hex(8),
            "utc_date_time": self.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "event_category": "lock_opened" if state == "unlocked" else "lock_" + state,
            "event_detail": "remote_opening",
            "access_by": "remote",
            "user_id": user.id,
            "lock": {"id": lock.id, "customer_reference": lock.name},
        })
        return Reply(200, None)

    def _entries(self, req: _Request) -> Any:
        site = self._site_for(req, self._user(req))
        order = req.query.get("$orderby", "utc_date_time desc").strip()
        if order not in ("utc_date_time desc", "utc_date_time asc", "utc_date_time"):
            raise salto_error(400, 1102, "The OData filter format is invalid.")
        items = sorted(site.entries, key=lambda e: e["utc_date_time"],
                       reverse=order.endswith("desc"))
        top = min(int(req.query.get("$top", 20) or 20), PAGE_MAX)
        return {"items": items[:top], "next_page_link": None, "count": None}

    def _no_method(self, req: _Request) -> Any:
        raise Reply(405, None)


@dataclass
class _Request:
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


def _basic_auth(header: str) -> tuple[str, str] | None:
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, password


def _handler(sandbox: SaltoSandbox,
             routes: list[tuple[str, re.Pattern[str], Callable[..., Any]]]) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "SaltoKsSandbox/1.0"
        sys_version = ""

        def setup(self) -> None:
            super().setup()
            with sandbox.world.lock:
                sandbox._connections.add(self.connection)

        def finish(self) -> None:
            with sandbox.world.lock:
                sandbox._connections.discard(self.connection)
            super().finish()

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def date_time_string(self, timestamp: float | None = None) -> str:
            if sandbox.date_header is not None:
                return sandbox.date_header
            return formatdate(sandbox.now().timestamp(), usegmt=True)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            req = _Request(self.command, parts.path.rstrip("/") or "/", query, self.headers,
                           body)
            started = time.perf_counter()
            control = req.path.startswith("/_sandbox/")
            if not control:
                sandbox.calls[f"{req.method} {req.path}"] += 1
            if self._fault(req):
                return
            try:
                reply = self._route(req)
            except Reply as exc:
                reply = exc
            self._send(reply.status, reply.body, reply.headers)
            if not control:
                sandbox.server_seconds[f"{req.method} {req.path}"] += (
                    time.perf_counter() - started)

        def _route(self, req: _Request) -> Reply:
            allowed = False
            for method, pattern, func in routes:
                match = pattern.fullmatch(req.path)
                if match is None:
                    continue
                allowed = True
                if method != req.method:
                    continue
                req.match = match
                with sandbox.world.lock:
                    result = func(req)
                if isinstance(result, Reply):
                    return result
                return Reply(204 if result is None else 200, result)
            return Reply(405 if allowed else 404, None)

        def _fault(self, req: _Request) -> bool:
            with sandbox.world.lock:
                fault = next((f for f in sandbox.faults if f.method in (req.method, "*")
                              and f.path.search(req.path)), None)
                if fault is None:
                    return False
                fault.times -= 1
                if fault.times <= 0:
                    sandbox.faults.remove(fault)
            if fault.delay:
                time.sleep(fault.delay)
            if fault.reset:
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

        def _send_bytes(self, status: int, data: bytes, ctype: str,
                        headers: dict[str, str]) -> None:
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

    return Handler
