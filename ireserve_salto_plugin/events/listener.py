"""The event listener: Salto's event stream for every park, in one background thread.

    with EventListener(lambda: host.parks_with_salto(), on_event=alert) as listener:
        ...  # the host runs; opens are confirmed, incidents become findings

``parks`` is called again every :data:`PARKS_SECONDS` (parks added, removed or
re-configured are followed). One subscription per (account, site), to both hubs
(``site.py``), held by one listener process at a time (``lease.py``). Each Salto entry is
reported once per park (by entry id, in the store: across reconnects, replays and
processes). What the listener learns goes to the store of the plugin instance the host
loaded (``ireserve_salto_plugin.plugin:plugin``), so that process's hooks (and, with
Redis, every process's) see confirmations, incidents and the stream's state.

It adds no hook: the host starts it (a worker process, or a thread of its own process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from ireserve_salto_plugin.events.connection import CONNECTING, HTTP_SECONDS, negotiate
from ireserve_salto_plugin.events.lease import RENEW_SECONDS, Leases
from ireserve_salto_plugin.events.metrics import StreamMetrics
from ireserve_salto_plugin.events.protocol import LockEvent
from ireserve_salto_plugin.events.site import SiteStream
from ireserve_salto_plugin.models import Park
from ireserve_salto_plugin.park.fields import SettingsError
from ireserve_salto_plugin.plugin import plugin
from ireserve_salto_plugin.salto.errors import SaltoError
from ireserve_salto_plugin.store.stream import StreamBook

if TYPE_CHECKING:
    from ireserve_salto_plugin.flow.context import ParkContext
    from ireserve_salto_plugin.flow.service import SaltoKsService

log = logging.getLogger("ireserve_salto_plugin.events")
T = TypeVar("T")

PARKS_SECONDS = 30.0  # the parks are read again this often (``refresh``; at most 60 s)
STATE_SECONDS = 30.0  # each held site's state is written again this often
WORKERS = 16  # threads for the store, the token source and negotiate
CALLBACK_WORKERS = 4  # threads that call ``on_event`` (a slow host never stalls a stream)


class EventListener:
    """Listens to Salto's event stream for ``parks()``. ``start()`` returns at once."""

    def __init__(
        self,
        parks: Callable[[], Iterable[Park]],
        *,
        on_event: Callable[[Park, LockEvent], Any] | None = None,
        service: SaltoKsService | None = None,
        refresh: float = PARKS_SECONDS,
        meter_provider: Any = None,
    ) -> None:
        """``refresh``: seconds between two calls of ``parks`` (at most 60);
        ``meter_provider``: OpenTelemetry's (the global one by default; tests)."""
        if service is None:  # the plugin instance the host loaded: its store, its hooks
            service = plugin.service
        self.service = service
        self.store = service.store
        self.book = StreamBook(service.store)
        self.parks = parks
        self.refresh = min(max(refresh, 0.1), 60.0)
        self.on_event = on_event
        self.name = uuid.uuid4().hex[:12]
        self.leases = Leases(service.store, self.name)
        self.sites: dict[tuple[str, str], SiteStream] = {}
        self.stats: Counter[str] = Counter()
        self._wanted: dict[tuple[str, str], tuple[ParkContext, dict[str, Park], str]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self._dirty: set[tuple[str, str]] = set()
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="salto-events")
        # leases and states on a thread of their own: behind the pool's queue of 2,000
        # negotiations a renewal came after its lease ran out, and the sites flapped
        self._own = ThreadPoolExecutor(1, thread_name_prefix="salto-leases")
        self._callbacks = ThreadPoolExecutor(CALLBACK_WORKERS, thread_name_prefix="salto-on-event")
        self._started = threading.Event()
        self.connecting = asyncio.Semaphore(CONNECTING)  # made again in the loop's thread
        self.metrics = StreamMetrics(self._connection_states, meter_provider)

    def _connection_states(self) -> Counter[tuple[str, str]]:
        return Counter(
            (hub, state) for site in list(self.sites.values()) for hub, state in site.hubs.items()
        )

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> EventListener:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._thread_main, name="salto-event-listener", daemon=True
            )
            self._thread.start()
            self._started.wait(5)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close every connection, release the leases and mark the sites ``off``."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._own.shutdown(wait=False, cancel_futures=True)
        self._callbacks.shutdown(wait=True, cancel_futures=False)

    def __enter__(self) -> EventListener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        self.connecting = asyncio.Semaphore(CONNECTING)
        self._started.set()
        loop = asyncio.get_running_loop()
        next_parks = next_lease = next_state = 0.0
        try:
            while not self._stopping.is_set():
                now = loop.time()
                if now >= next_parks:
                    next_parks = now + self.refresh
                    await self._follow_parks()
                    next_lease = now  # a park added or gone is followed at once
                if now >= next_lease:
                    next_lease = now + RENEW_SECONDS
                    try:
                        await self._follow_leases()
                    except Exception:  # (the store failed: the leases run out, others hold)
                        log.exception("salto event listener: the leases were not renewed")
                if now >= next_state:
                    next_state = now + STATE_SECONDS
                    self._dirty.update(self.sites)
                if self._dirty:
                    dirty, self._dirty = self._dirty, set()
                    records = [(key, self.sites[key].state()) for key in dirty if key in self.sites]
                    await self._leasing(self._write_states, records)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 0.25)
        finally:
            await self._close_all()

    async def _close_all(self) -> None:
        held = list(self.sites.items())
        self.sites = {}
        await asyncio.gather(*(site.stop() for _, site in held), return_exceptions=True)
        await self._leasing(self._release, [key for key, _ in held])

    def _release(self, keys: list[tuple[str, str]]) -> None:
        for account, site in keys:
            with contextlib.suppress(Exception):
                self.book.set_state(account, site, {"state": "off"})
            self.leases.release(account, site)

    # -- which sites -------------------------------------------------------------------------

    async def _follow_parks(self) -> None:
        try:
            self._wanted = await self.blocking(self._read_parks)
        except Exception:
            log.exception("salto event listener: reading the parks failed")
            return
        for key, site in self.sites.items():
            wanted = self._wanted.get(key)
            if wanted is not None:
                site.ctx, site.parks, site.events_url = wanted

    def _read_parks(self) -> dict[tuple[str, str], tuple[ParkContext, dict[str, Park], str]]:
        wanted: dict[tuple[str, str], tuple[ParkContext, dict[str, Park], str]] = {}
        skipped = 0
        for park in self.parks():
            try:
                ctx = self.service.context(park, partial=True)
                if not ctx.settings.enabled:
                    continue
                site_id = ctx.site_id(ctx.gateway(HTTP_SECONDS))
                events_url = self.service.parks.platform(ctx.settings.environment).events_url
            except LookupError:  # the park has not enabled the plugin
                continue
            except (SettingsError, SaltoError) as exc:
                skipped += 1
                log.info("salto event listener: a park is skipped (%s)", type(exc).__name__)
                continue
            key = (ctx.account.key, site_id)
            entry = wanted.get(key)
            if entry is None:
                entry = wanted[key] = (ctx, {}, events_url)
            entry[1][ctx.park_tag] = park
        self.stats["parks_skipped"] = skipped
        return wanted

    async def _follow_leases(self) -> None:
        keys = list(self._wanted)
        held = await self._leasing(self._hold, keys)
        for key in [key for key in self.sites if key not in held]:
            site = self.sites.pop(key)
            await site.stop()
            log.info("salto event listener: site %s is no longer held here", key[1])
        for key in held:
            if key not in self.sites:
                ctx, parks, events_url = self._wanted[key]
                site = SiteStream(self, key, ctx)
                site.parks, site.events_url = parks, events_url
                self.sites[key] = site
                site.start()
        gone = [key for key in self.sites if key not in self._wanted]
        for key in gone:
            await self.sites.pop(key).stop()
            await self._leasing(self._release, [key])

    def _hold(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        return {key for key in keys if self.leases.hold(*key)}

    def _write_states(self, records: list[tuple[tuple[str, str], dict[str, Any]]]) -> None:
        for (account, site), record in records:
            try:
                self.book.set_state(account, site, record)
            except Exception:
                self.stats["store_errors"] += 1

    # -- for the sites -------------------------------------------------------------------------

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def _leasing(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._own, fn, *args)

    def changed(self, site: SiteStream) -> None:
        self._dirty.add((site.account, site.site_id))

    def count(self, what: str, hub: str) -> None:
        self.stats[f"{what}:{hub}"] += 1
        if what == "reconnects":
            self.metrics.reconnect(hub)

    def counted(self, what: str, n: int) -> None:
        self.stats[what] += n

    def skipped(self, why: str, n: int) -> None:
        """A message that is no JSON object with an id: counted, logged, never fatal."""
        self.stats[f"skipped:{why}"] += n
        self.metrics.skipped(why, n)
        log.info("salto event stream: %d message(s) skipped (%s)", n, why)

    def now(self) -> datetime:
        return self.service.clock.utcnow()

    def now_text(self) -> str:
        return self.now().astimezone(UTC).isoformat(timespec="seconds")

    def deliver(self, park: Park, event: LockEvent) -> None:
        self.stats[f"events:{event.kind}"] += 1
        lag = (self.now() - event.at).total_seconds() if event.at is not None else None
        self.metrics.event(event.kind, lag)
        if self.on_event is not None:
            self._callbacks.submit(self._call, park, event)

    def _call(self, park: Park, event: LockEvent) -> None:
        assert self.on_event is not None
        try:
            self.on_event(park, event)
        except Exception:
            log.exception("salto event listener: on_event raised")

    # -- Salto, through the plugin's own session and token source ------------------------------

    def token(self, ctx: ParkContext) -> tuple[str, float]:
        """A valid token of the account and the seconds it has left (for the renewal)."""
        gateway = ctx.gateway(HTTP_SECONDS)
        token = gateway.access_token()
        stored = gateway.tokens.stored()
        left = 3600.0
        if stored is not None and stored.access_token == token:
            left = stored.expires_at - self.service.clock.wall()
        return token, max(left, 1.0)

    def expired(self, ctx: ParkContext, token: str) -> None:
        ctx.gateway(HTTP_SECONDS).tokens.invalidate(token)

    def user_id(self, ctx: ParkContext, site_id: str) -> str | None:
        try:
            return ctx.gateway(HTTP_SECONDS).me(site_id).user_id
        except SaltoError:
            return None

    def negotiate(self, url: str, token: str) -> str:
        return negotiate(self.service.session, url, token)
