"""What the sandbox's request handlers may see of the sandbox: its knobs (pages, faults,
latency, the clock), its counters, and the scripted :class:`Fault`. The handlers are given
an object of this shape; they never import the server that builds them."""

from __future__ import annotations

import random
import re
import socket
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ireserve_salto_plugin.sandbox.world import World

if TYPE_CHECKING:
    from ireserve_salto_plugin.sandbox.hub import EventHub


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
    # the request is served first (an open takes effect), then the connection is dropped
    # without an answer: the answer lost on its way back
    after: bool = False
    # Set when a request meets this fault, before any delay: tests order threads on it.
    arrived: threading.Event = field(default_factory=threading.Event, repr=False)


class SandboxView(Protocol):
    world: World

    @property
    def api_url(self) -> str: ...

    @property
    def identity_url(self) -> str: ...

    client_id: str
    client_secret: str
    token_ttl: int
    allow_offline_access: bool
    filter_supported: bool
    page_links: bool
    page_counts: bool
    page_cap: int | None
    ignore_skip: bool
    latency: float
    latency_spread: float
    jitter: random.Random
    in_flight: int
    max_in_flight: int
    calls: Counter[str]
    grants: Counter[str]
    server_seconds: defaultdict[str, float]
    spans: list[tuple[str, float, float]]
    faults: list[Fault]
    date_header: str | None
    without_odata_header: list[str]
    without_accept_json: list[str]
    cookies_seen: list[str]
    continuations: dict[str, int]
    entries_lag: float
    connections: set[socket.socket]

    def now(self) -> datetime: ...

    # control routes of the sandbox (benchmarks and scripts), not part of Salto's API
    def stats(self) -> dict[str, Any]: ...

    def reset_stats(self) -> None: ...

    def expire_tokens(self) -> None: ...

    def set_latency(self, seconds: float) -> None: ...

    def round_trips_in_a_row(self) -> int: ...

    def peak_in_flight(self, prefix: str) -> int: ...

    hub: EventHub

    def incident(self, lock_id: str, kind: str) -> dict[str, Any]: ...

    def tag_open(self, lock_id: str, username: str | None = None) -> dict[str, Any]: ...

    def grant_site_admin(self, username: str | None = None, admin: bool = True) -> None: ...
