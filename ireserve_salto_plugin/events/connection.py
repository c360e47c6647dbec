"""One connection to a hub of Salto's event stream: negotiate (over the plugin's own HTTP
session), the WebSocket, the JSON hub protocol's handshake, pings and close message, and
the renewal at 80 % of the token's lifetime. ``site.py`` runs the reconnect loop around it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import requests
import websockets
from websockets.asyncio.client import connect

from ireserve_salto_plugin.events.protocol import (
    HANDSHAKE,
    MAX_MESSAGE_BYTES,
    PING,
    LockEvent,
    negotiate_url,
    records,
)
from ireserve_salto_plugin.models import Park
from ireserve_salto_plugin.salto.cache import Store
from ireserve_salto_plugin.store.stream import StreamBook

if TYPE_CHECKING:
    from ireserve_salto_plugin.flow.context import ParkContext

T = TypeVar("T")

# websockets logs every handshake header at DEBUG (the Authorization header with the access
# token among them): its connections log to this logger, which never says DEBUG
FRAMES = logging.getLogger("ireserve_salto_plugin.events.websocket")
FRAMES.setLevel(logging.INFO)

RENEW_AT = 0.8  # of the token's lifetime: the connection is renewed then, once
BACKOFF_FIRST, BACKOFF_CAP = 1.0, 5.0  # seconds: the first retry within 1 s, then ≤ 5 s
PERMISSION_RETRY = 600.0  # seconds before a refused subscription is asked for again
PING_SECONDS = 15.0  # SignalR's keep-alive: a ping sent after this long without sending
SILENCE_SECONDS = 35.0  # nothing heard for this long (the hub pings every 15 s): gone
OPEN_SECONDS = 10.0  # WebSocket upgrade and hub handshake
CONNECTING = 32  # connections being made at once per listener (token, negotiate, upgrade)
NEGOTIATE_BYTES = 64 * 1024
HTTP_SECONDS = 10.0  # token, /me and negotiate, each


class Refused(Exception):
    """The hub answered 401 (``status``) or 403."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the event stream answered {status}")
        self.status = status


class Closed(Exception):
    """The hub closed the connection (a close message, or the socket)."""


def backoff(failures: int) -> float:
    """Seconds before retry number ``failures``: within 1 s first, then doubling, ≤ 5 s,
    each with jitter (so 1,000 sites do not come back in one instant)."""
    if failures <= 1:
        return random.uniform(0.05, BACKOFF_FIRST)
    return float(min(BACKOFF_CAP, 0.5 * 2 ** (failures - 1)) * random.uniform(0.5, 1.0))


class Listening(Protocol):
    """What a site's streams use of the listener (:class:`~.listener.EventListener`)."""

    name: str
    store: Store
    book: StreamBook
    connecting: asyncio.Semaphore  # connections being made at once

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T: ...

    def token(self, ctx: ParkContext) -> tuple[str, float]: ...

    def expired(self, ctx: ParkContext, token: str) -> None: ...

    def user_id(self, ctx: ParkContext, site_id: str) -> str | None: ...

    def negotiate(self, url: str, token: str) -> str: ...

    def changed(self, site: Any) -> None: ...

    def count(self, what: str, hub: str) -> None: ...

    def skipped(self, why: str, n: int) -> None: ...

    def counted(self, what: str, n: int) -> None: ...

    def now(self) -> datetime: ...

    def now_text(self) -> str: ...

    def deliver(self, park: Park, event: LockEvent) -> None: ...


def negotiate(session: requests.Session, url: str, token: str) -> str:
    """SignalR's negotiate: the connection's id (version 0), bounded in bytes and time; the
    plugin's own session (no redirects followed: the platform's host only)."""
    resp = session.post(
        negotiate_url(url),
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=(3.05, HTTP_SECONDS),
        allow_redirects=False,
        stream=True,
    )
    with resp:
        if resp.status_code in (401, 403):
            raise Refused(resp.status_code)
        if resp.status_code != 200:
            raise ConnectionError(f"negotiate answered {resp.status_code}")
        body = resp.raw.read(NEGOTIATE_BYTES + 1, decode_content=True)
    if len(body) > NEGOTIATE_BYTES:
        raise ConnectionError("negotiate answered more than 64 KB")
    data = json.loads(body)
    connection_id = data.get("connectionId") if isinstance(data, dict) else None
    transports = data.get("availableTransports") if isinstance(data, dict) else None
    if not isinstance(connection_id, str) or not 0 < len(connection_id) <= 200:
        raise ConnectionError("negotiate answered without a connectionId")
    if isinstance(transports, list) and not any(
        isinstance(t, dict) and t.get("transport") == "WebSockets" for t in transports
    ):
        raise ConnectionError("the hub offers no WebSocket transport")
    return connection_id


async def hold_connection(
    url: str,
    token: str,
    lifetime: float,
    *,
    gate: asyncio.Semaphore,
    live: Callable[[], None],
    take: Callable[[list[Any]], None],
    skipped: Callable[[str, int], None],
) -> bool:
    """One WebSocket to a negotiated hub until it closes (``Closed``) or its token nears
    its end (True: renew it now, with a new token). The upgrade and the handshake are made
    inside ``gate`` (a few at a time: 2,000 at once timed out on a busy core, and their
    retries kept it busy)."""
    async with gate:
        ws = await connect(
            url,
            additional_headers={"Authorization": f"Bearer {token}"},
            compression=None,  # a zlib context per connection costs ~64 KB; entries are small
            proxy=None,  # the platform's host only, never a proxy from the environment
            max_size=MAX_MESSAGE_BYTES,
            max_queue=64,
            open_timeout=OPEN_SECONDS,
            ping_interval=None,  # SignalR's own pings (below)
            close_timeout=2,
            user_agent_header="ireserve-salto-plugin",
            logger=FRAMES,
        )
        try:
            await ws.send(HANDSHAKE)
            async with asyncio.timeout(OPEN_SECONDS):
                first = await ws.recv()
            text = first if isinstance(first, str) else first.decode("utf-8", "replace")
            found, _ = records(text)
            if not found or not isinstance(found[0], dict) or found[0].get("error"):
                raise Closed("the hub refused the handshake")
        except BaseException:
            await ws.close()
            raise
    try:
        live()
        take(found[1:])
        return await _listen(ws, lifetime, take, skipped)
    finally:
        await ws.close()


async def _listen(
    ws: Any,
    lifetime: float,
    take: Callable[[list[Any]], None],
    skipped: Callable[[str, int], None],
) -> bool:
    loop = asyncio.get_running_loop()
    renew_at = loop.time() + RENEW_AT * lifetime
    heard = sent = loop.time()
    while True:
        now = loop.time()
        if now >= renew_at:
            return True  # closed by the ``async with``; a new token next
        if now - heard > SILENCE_SECONDS:
            raise Closed("the hub went silent")
        if now - sent >= PING_SECONDS:
            await ws.send(PING)
            sent = now
        wait = min(renew_at, heard + SILENCE_SECONDS, sent + PING_SECONDS) - now
        try:
            async with asyncio.timeout(max(wait, 0.01)):  # no task per receive (wait_for's)
                frame = await ws.recv()
        except TimeoutError:
            continue
        except websockets.ConnectionClosed as exc:
            raise Closed(f"closed ({exc.rcvd.code if exc.rcvd else 1006})") from None
        heard = loop.time()
        found, bad = records(frame if isinstance(frame, str) else frame.decode("utf-8", "replace"))
        if bad:
            skipped("not_json", bad)
        take(found)
