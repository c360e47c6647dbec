"""An embedded Salto KS: identity server and Connect API over real HTTP on loopback.

    with SaltoSandbox() as sandbox:
        sandbox.identity_url, sandbox.api_url, sandbox.client_id, sandbox.username, ...

Three threaded HTTP/1.1 servers on ephemeral loopback ports (three hosts, as in real
life): identity, Connect API and the event streaming service (``hub.py``).
Behaviour follows docs/salto-ks-api.md; see ``world.py`` for the state and the assumptions.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import secrets
import socket
import sys
import threading
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from http.server import ThreadingHTTPServer
from typing import Any

from ireserve_salto_plugin.salto.clock import SYSTEM_CLOCK, Clock
from ireserve_salto_plugin.sandbox.connect import ConnectApi
from ireserve_salto_plugin.sandbox.http import make_handler
from ireserve_salto_plugin.sandbox.hub import EventHub
from ireserve_salto_plugin.sandbox.hub_http import HubHandler
from ireserve_salto_plugin.sandbox.identity import IdentityServer
from ireserve_salto_plugin.sandbox.records import Mail, Site, User, stable_id
from ireserve_salto_plugin.sandbox.view import Fault
from ireserve_salto_plugin.sandbox.world import World, seed_park

__all__ = ["Fault", "SaltoSandbox"]

log = logging.getLogger(__name__)

# How often an idle server checks for stop(): short, so that tests (which start and stop a
# sandbox each) do not wait on it; an idle check costs microseconds.
SERVE_POLL_SECONDS = 0.01


class _Server(ThreadingHTTPServer):
    # The default listen backlog of 5 resets connections under the concurrency tests and
    # benchmarks (16 threads, several processes); a real Salto is not that fragile.
    request_queue_size = 128
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a deadline, a reset) is no error of the server's; anything
        else is logged, never printed over the output of whatever runs the sandbox."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        log.exception("sandbox: error while serving %s", client_address)


class SaltoSandbox:
    def __init__(  # noqa: PLR0913 (keyword-only options of a test double, each defaulted)
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
        page_links: bool = False,
        page_counts: bool = False,
        otp_block_after: int = 8,
        username: str = "service@zandloper.example",
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.host = host
        self.clock = clock  # every "now" of this Salto: Date, token expiry, OTPs, entries
        self.world = World(now=self.now)
        self.client_id = "ireserve-platform"
        self.client_secret = secrets.token_urlsafe(24)
        self.username = username
        self.password = secrets.token_urlsafe(12)
        self.token_ttl = token_ttl
        self.clock_offset = clock_offset
        self.allow_offline_access = allow_offline_access
        self.filter_supported = filter_supported
        self.page_links = page_links  # False: next_page_link is null, as Salto sends it
        self.page_counts = page_counts  # False: count is null, as Salto sends it
        self.page_cap: int | None = None  # a server-side page size below the $top asked
        # True: $skip is ignored, every page is the first (no public client pages Connect
        # lists with $skip; whether Salto honours it is unmeasured: docs, "Paging")
        self.ignore_skip = False
        self.latency = 0.0  # seconds added to every API request (a network's round trip)
        # and up to this many more, drawn from ``jitter`` (seed it for a reproducible run)
        self.latency_spread = 0.0
        self.jitter = random.Random()
        self.in_flight = self.max_in_flight = 0  # API requests being served, and the peak
        self.world.otp_block_after = otp_block_after  # Salto blocked after 8, and after 3
        self.calls: Counter[str] = Counter()  # "METHOD /path" -> requests seen
        self.grants: Counter[str] = Counter()  # grant_type -> tokens issued
        self.server_seconds: defaultdict[str, float] = defaultdict(float)  # handler time
        # (request, start, end) of each request's ``latency`` wait (both servers): inside
        # the request and before its answer, so only requests sent in parallel overlap
        self.spans: list[tuple[str, float, float]] = []
        self.faults: list[Fault] = []
        self.date_header: str | None = None  # sent as Date instead of the sandbox clock
        self.without_odata_header: list[str] = []  # API calls that lacked the header
        self.without_accept_json: list[str] = []  # API calls without Accept: application/json
        self.cookies_seen: list[str] = []  # requests (both servers) that carried a Cookie
        self.continuations: dict[str, int] = {}  # entries' continuation token -> offset
        self._servers: list[ThreadingHTTPServer] = []
        self.connections: set[socket.socket] = set()
        # seconds before an entry shows in the REST log (Salto's log is not real-time);
        # the event hub has it at once
        self.entries_lag = 0.0
        self.hub = EventHub(self)
        self.world.on_entry.append(self.hub.entry)
        self.site: Site | None = None
        if seed:
            self.site = seed_park(
                self.world,
                username=username,
                password=self.password,
                iqs=iqs,
                locks_per_iq=locks_per_iq,
            )

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SaltoSandbox:
        """The identity server, the Connect API and the event hub, each on a port of its
        own (in that order: ``_servers[0..2]``)."""
        handlers = [
            make_handler(self, IdentityServer(self).routes()),
            make_handler(self, ConnectApi(self).routes()),
            type("Handler", (HubHandler,), {"hub": self.hub}),
        ]
        for handler in handlers:
            server = _Server((self.host, 0), handler)
            threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": SERVE_POLL_SECONDS},
                daemon=True,
            ).start()
            self._servers.append(server)
        return self

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections, as a dead host would."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()
        self.hub.drop_all()
        with self.world.lock:
            connections, self.connections = self.connections, set()
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

    @property
    def events_url(self) -> str:
        return f"http://{self.host}:{self._servers[2].server_address[1]}"

    def platform_env(self, environment: str = "acceptance") -> dict[str, str]:
        """The host-process variables that point ``environment`` at this sandbox: its three
        hosts and the platform OAuth client (the names ``PlatformReader`` reads). Park
        settings never name a host."""
        prefix = f"SALTO_KS_{environment.upper()}_"
        return {
            prefix + "API_URL": self.api_url,
            prefix + "IDENTITY_URL": self.identity_url,
            prefix + "EVENTS_URL": self.events_url,
            prefix + "CLIENT_ID": self.client_id,
            prefix + "CLIENT_SECRET": self.client_secret,
        }

    # -- switches and inspection -------------------------------------------------------------

    def now(self) -> datetime:
        """This Salto's time: the injected clock plus ``clock_offset`` (a Salto whose clock
        differs from ours)."""
        return self.clock.utcnow() + timedelta(seconds=self.clock_offset)

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

    def set_lock_health(
        self,
        lock_id: str,
        *,
        battery_level: str | None = None,
        left_open_alarm: bool | None = None,
        intrusion_alarm: bool | None = None,
    ) -> None:
        """What the lock reports: its battery (``fresh`` … ``critical``) and its alarms."""
        with self.world.lock:
            lock = self.world.find_lock(lock_id)
            if lock is None:
                return
            if battery_level is not None:
                lock.battery_level = battery_level
            if left_open_alarm is not None:
                lock.left_open_alarm = left_open_alarm
            if intrusion_alarm is not None:
                lock.intrusion_alarm = intrusion_alarm

    def incident(self, lock_id: str, kind: str) -> dict[str, Any]:
        """An incident at a lock (``door_left_open_alarm``, ``end_of_door_left_open_alarm``,
        ``low_battery_warning`` …), streamed on the incidents hub; returns the message."""
        with self.world.lock:
            for site in self.world.sites.values():
                if lock_id in site.locks:
                    return self.hub.incident(site.id, site.locks[lock_id], kind)
        raise LookupError(f"no lock {lock_id}")

    def tag_open(self, lock_id: str, username: str | None = None) -> dict[str, Any]:
        """A guest (another user of the site, or ``username``) opened ``lock_id`` with a
        tag: an entry the API did not make."""
        with self.world.lock:
            for site in self.world.sites.values():
                if lock_id in site.locks:
                    user = self.world.users.get(username or "") or User(
                        "guest", "", stable_id("user", "tag-guest"), {site.id}
                    )
                    return self.world.record_remote_entry(
                        site, site.locks[lock_id], user, "unlocked", self.now(), access_by="tag"
                    )
        raise LookupError(f"no lock {lock_id}")

    def grant_site_admin(self, username: str | None = None, admin: bool = True) -> None:
        """The account becomes a Site Admin (it may stream the whole site), or not."""
        with self.world.lock:
            self.world.users[username or self.username].site_admin = admin

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

    def wrong_pin(self, iq_id: str, username: str | None = None) -> str:
        """A PIN the account (the park's by default) does not have at ``iq_id``, whose codes
        for the next ten minutes cannot pass for the real PIN's by chance."""
        with self.world.lock:
            user = self.world.users[username or self.username]
            act = self.world.activation(user, iq_id)
            if act.pin is None:
                raise LookupError(f"IQ {iq_id} has no PIN yet: run GET PIN first")
            return self.world.pin_that_cannot_pass(act, self.now())

    def entries(self, site_id: str | None = None) -> list[dict[str, Any]]:
        with self.world.lock:
            site = self.world.sites[site_id] if site_id else self.site
            assert site is not None
            return list(site.entries)

    def set_latency(self, seconds: float) -> None:
        """Seconds added to every API request (a network's round trip); 0: none."""
        self.latency = max(0.0, min(seconds, 5.0))

    def round_trips_in_a_row(self) -> int:
        """Requests served one after another, while ``latency`` is set: requests that
        overlap (sent in parallel) count once."""
        with self.world.lock:
            spans = sorted((start, end) for _, start, end in self.spans)
        rows, reach = 0, float("-inf")
        for start, end in spans:
            if start >= reach:
                rows += 1
            reach = max(reach, end) if start < reach else end
        return rows

    def peak_in_flight(self, prefix: str) -> int:
        """The most requests starting with ``prefix`` served at once, while ``latency``
        is set."""
        with self.world.lock:
            events = sorted(
                e
                for key, start, end in self.spans
                if key.startswith(prefix)
                for e in ((start, 1), (end, -1))
            )
        peak = now = 0
        for _, step in sorted(events, key=lambda e: (e[0], e[1])):
            now += step
            peak = max(peak, now)
        return peak

    def call_count(self, prefix: str = "") -> int:
        return sum(n for key, n in self.calls.items() if key.startswith(prefix))

    def reset_stats(self) -> None:
        with self.world.lock:
            self.calls.clear()
            self.spans.clear()
            self.grants.clear()
            self.server_seconds.clear()

    def stats(self) -> dict[str, Any]:
        with self.world.lock:
            return {
                "calls": dict(self.calls),
                "grants": dict(self.grants),
                "server_seconds": dict(self.server_seconds),
            }
