"""One (account, site) the listener holds: both hubs' connections, their reconnect loops,
and what each message means for the site's parks.

A connection takes a fresh token from the plugin's token source every time (never the
first token kept: the production listener of docs §6b lost a site at its first reconnect
after an hour), renews itself at 80 % of the token's lifetime, and after a drop comes back
within a second, then with jittered backoff capped at :data:`BACKOFF_CAP`. Site-wide
entries are tried first; refused (403), the account's own entries (``&user_id=``), which
confirm its own opens; refused too, the hub waits :data:`PERMISSION_RETRY` and asks again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ireserve_salto_plugin.events.connection import (
    PERMISSION_RETRY,
    Closed,
    Listening,
    Refused,
    backoff,
    hold_connection,
)
from ireserve_salto_plugin.events.matching import Matched, OpenMatcher, logged_since
from ireserve_salto_plugin.events.protocol import (
    CLOSE_TYPE,
    HUBS,
    LockEvent,
    hub_url,
    lock_event,
    messages,
    socket_url,
)
from ireserve_salto_plugin.models import Park
from ireserve_salto_plugin.salto.errors import StoreUnavailable
from ireserve_salto_plugin.store.stream import ALARMS, ENDED_BY

if TYPE_CHECKING:
    from ireserve_salto_plugin.flow.context import ParkContext

log = logging.getLogger("ireserve_salto_plugin.events")

HOLD_SECONDS, HOLD_STEP = 2.0, 0.2  # an own open without its receipt yet is held this long
BACKFILL_SLACK = timedelta(seconds=60)  # the log is read from this long before the drop
BACKFILL_SECONDS = 30.0  # the whole read of Salto's log after a reconnect
EXACT = 0.25  # seconds outside the entry's (whole) second: an open this near is its open
QUEUE_SIZE = 10_000  # messages waiting per site; more are dropped (and counted)


class SiteStream:
    """The streams of one (account, site), for every park on it."""

    def __init__(self, listener: Listening, key: tuple[str, str], ctx: ParkContext) -> None:
        self.listener = listener
        self.account, self.site_id = key
        self.ctx = ctx  # a park's context on this account (its token source, its /me)
        self.parks: dict[str, Park] = {}  # park tag -> park
        self.events_url = ""
        self.user_id: str | None = None  # the account's platform user id (own entries)
        self.scope = "site"  # entries: "site" first, "own" once site-wide was refused
        self.hubs: dict[str, str] = dict.fromkeys(HUBS, "connecting")
        self.last_event_at: str | None = None
        self.connected_since: str | None = None
        self.live_at: datetime | None = None  # when the entries hub was last live
        self.dropped_at: datetime | None = None  # when a live entries connection ended
        self.tasks: list[asyncio.Task[None]] = []
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self.matcher = OpenMatcher(listener.store, listener.book, self.account)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(self._run(hub)) for hub in HUBS]
        self.tasks.append(loop.create_task(self._consume()))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks = []

    def state(self) -> dict[str, Any]:
        """The record ``status`` reads (``store.stream.StreamBook``)."""
        entries, incidents = self.hubs["entries"], self.hubs["incidents"]
        if entries == "live":
            state = "live"
        elif entries == "live_own":
            state = "live_own"
        elif entries == "not_permitted" and incidents == "not_permitted":
            state = "not_permitted"
        else:
            state = entries if entries in ("connecting", "failed") else incidents
        return {
            "state": state,
            "hubs": dict(self.hubs),
            "since": self.connected_since,
            "last_event_at": self.last_event_at,
            "holder": self.listener.name,
        }

    def _set(self, hub: str, state: str) -> None:
        if self.hubs[hub] != state:
            self.hubs[hub] = state
            self.listener.changed(self)

    # -- one hub's connection loop -----------------------------------------------------------

    async def _run(self, hub: str) -> None:
        failures = 0
        while True:
            try:
                renewed = await self._connect_once(hub)
                failures = 0 if renewed else 1
            except asyncio.CancelledError:
                raise
            except Refused as exc:
                if exc.status == 403:
                    if hub == "entries" and self.scope == "site":
                        self.scope = "own"  # the account's own entries: its opens
                        continue
                    self._set(hub, "not_permitted")
                    await asyncio.sleep(PERMISSION_RETRY * random.uniform(0.9, 1.1))
                    self.scope = "site"
                    continue
                failures += 1  # 401: the token source is told, a new token next time
            except Exception as exc:
                failures += 1
                log.info(
                    "salto event stream %s of site %s: %s (retry %d)",
                    hub,
                    self.site_id,
                    type(exc).__name__,
                    failures,
                )
            if hub == "entries" and self.hubs[hub] in ("live", "live_own"):
                self.dropped_at = self.listener.now()  # backfilled from the log once back
            self.listener.count("reconnects", hub)
            if failures >= 3:
                self._set(hub, "failed")
            elif self.hubs[hub] not in ("failed", "not_permitted"):
                self._set(hub, "connecting")
            await asyncio.sleep(backoff(failures) if failures else 0)

    async def _connect_once(self, hub: str) -> bool:
        """One connection, from token to close. True: it ended for its renewal."""
        listener = self.listener
        own = hub == "entries" and self.scope == "own"
        async with listener.connecting:  # a few at a time (the gate of hold_connection)
            token, lifetime = await listener.blocking(self.listener.token, self.ctx)
            if own and self.user_id is None:
                self.user_id = await listener.blocking(listener.user_id, self.ctx, self.site_id)
                if self.user_id is None:
                    raise Refused(403)
            url = hub_url(self.events_url, hub, self.site_id, self.user_id if own else None)
            try:
                connection_id = await listener.blocking(listener.negotiate, url, token)
            except Refused as exc:
                if exc.status == 401:
                    await listener.blocking(listener.expired, self.ctx, token)
                raise

        def live() -> None:
            self._set(hub, "live_own" if own else "live")
            if hub == "entries":
                self.live_at = listener.now()
                self.connected_since = self.live_at.isoformat(timespec="seconds")
                listener.changed(self)
                if self.dropped_at is not None:  # what Salto logged while we were away
                    since, self.dropped_at = self.dropped_at - BACKFILL_SLACK, None
                    asyncio.get_running_loop().create_task(self._backfill(since, own))

        return await hold_connection(
            socket_url(url, connection_id),
            token,
            lifetime,
            gate=listener.connecting,
            live=live,
            take=lambda found: self._take(hub, found),
            skipped=listener.skipped,
        )

    async def _backfill(self, since: datetime, own: bool) -> None:
        """After a drop, Salto's log since shortly before it, oldest first, through the same
        queue (an entry heard already is skipped there): the hub does not replay what it
        sent while the connection was down (docs §6b: assume no replay)."""
        try:
            found = await self.listener.blocking(self._read_log, since, own)
        except Exception as exc:  # (Salto's log unreachable: the gap stays, said in the log)
            log.info("salto event stream: site %s not backfilled (%s)", self.site_id, exc)
            return
        for entry in found:
            try:
                self.queue.put_nowait(("entries", entry))
            except asyncio.QueueFull:
                self.listener.skipped("queue_full", 1)
        self.listener.counted("backfilled", len(found))

    def _read_log(self, since: datetime, own: bool) -> list[dict[str, Any]]:
        gateway = self.ctx.gateway(BACKFILL_SECONDS)
        return logged_since(gateway, self.site_id, since, self.user_id if own else None)

    def _take(self, hub: str, found: list[Any]) -> None:
        for record in found:
            if isinstance(record, dict) and record.get("type") == CLOSE_TYPE:
                raise Closed(str(record.get("error") or "closed by the hub")[:200])
            for message in messages(record):
                try:
                    self.queue.put_nowait((hub, message))
                except asyncio.QueueFull:
                    self.listener.skipped("queue_full", 1)

    # -- what a message means ----------------------------------------------------------------

    async def _consume(self) -> None:
        """Each message in order: claimed once per park (an entry seen before, replayed
        or from another listener process, stops here), matched to the plugin's open it
        confirms (an own open without its receipt yet is held up to 2 s), reported."""
        listener = self.listener
        while True:
            hub, message = await self.queue.get()
            event = lock_event(hub, message)
            if event is None:
                listener.skipped("no_object_with_id", 1)
                continue
            self.last_event_at = listener.now_text()
            fresh = dict(self.parks)  # if the store fails before the claim: every park
            try:
                fresh = await listener.blocking(self._claim, event)
                if not fresh:
                    listener.count("repeats", hub)
                    continue
                matched = await listener.blocking(self._match, event, fresh, False, True)
                if self._own_remote_open(event) and (matched is None or matched[2] > EXACT):
                    asyncio.get_running_loop().create_task(self._hold(event, fresh))
                    continue
                if matched is not None:
                    matched = await listener.blocking(self._match, event, fresh, True, True)
                await listener.blocking(self._report, event, fresh, matched)
            except StoreUnavailable:
                self._unmatched(event, fresh)
            except Exception:
                log.exception(
                    "salto event stream: an event of site %s was not handled", self.site_id
                )

    def _claim(self, event: LockEvent) -> dict[str, Park]:
        """The parks this entry is new to (each entry once per park, in the store); an
        incident changes the site's lock health once, whatever the parks."""
        book = self.listener.book
        if event.kind == "incident" and event.lock_id and event.incident:
            if event.incident in ALARMS or event.incident in ENDED_BY:
                if book.first_time(self.account, "site:" + self.site_id, event.entry_id):
                    now = self.listener.now()
                    info = {"since": (event.at or now).isoformat(), "lock_name": event.lock_name}
                    book.apply_incident(
                        self.account, self.site_id, event.lock_id, event.incident, info, now
                    )
        return {
            tag: park
            for tag, park in list(self.parks.items())
            if book.first_time(self.account, tag, event.entry_id)
        }

    def _own_remote_open(self, event: LockEvent) -> bool:
        user = event.raw.get("user_id")
        return (
            event.kind == "opened"
            and event.access_by in (None, "remote")
            and (self.user_id is None or user == self.user_id)
        )

    async def _hold(self, event: LockEvent, fresh: dict[str, Park]) -> None:
        """An open by this account whose receipt is not written yet (the entry came before
        the open's answer was recorded), or that only an older open of the lock is near:
        looked for again for up to 2 s (an open of the entry's second wins), then
        reported with the nearest open, if any."""
        loop = asyncio.get_running_loop()
        until = loop.time() + HOLD_SECONDS
        near = None
        try:
            while loop.time() < until:
                await asyncio.sleep(HOLD_STEP)
                near = await self.listener.blocking(self._match, event, fresh, False, True)
                if near is not None and near[2] <= EXACT:
                    break
            strict = near is not None and near[2] <= EXACT
            matched = await self.listener.blocking(self._match, event, fresh, True, strict)
            await self.listener.blocking(self._report, event, fresh, matched)
        except StoreUnavailable:
            self._unmatched(event, fresh)

    def _unmatched(self, event: LockEvent, parks: dict[str, Park]) -> None:
        """The store failed while the event was handled: it is told without who asked (the
        door log is in the store), twice if the store had claimed it already."""
        log.warning(
            "salto event stream: the shared store failed; an event of lock %s (site %s) "
            "is told without matching it to the plugin's open",
            event.lock_id,
            self.site_id,
        )
        self.listener.skipped("store_unavailable", 1)
        for park in parks.values():
            self.listener.deliver(park, event)

    def _match(
        self, event: LockEvent, fresh: dict[str, Park], take: bool, strict: bool = False
    ) -> Matched | None:
        live = self.live_at if strict else None
        return self.matcher.match(event, list(fresh), live, take=take)

    def _report(
        self,
        event: LockEvent,
        fresh: dict[str, Park],
        matched: Matched | None,
    ) -> None:
        """To each park the entry is new to; the park whose open it confirms gets who
        asked (a park sharing the account never gets another's), and the confirmation
        is kept for ``confirm_open``."""
        for tag, park in fresh.items():
            told = event
            if matched is not None and matched[0] == tag:
                who = matched[1]
                told = replace(
                    event,
                    attempt_id=who.get("attempt_id"),
                    requested_by=who.get("requested_by"),
                    open_kind=who.get("open_kind"),
                )
                self.listener.book.confirm(
                    self.account,
                    tag,
                    str(who.get("attempt_id")),
                    {
                        "source": "stream",
                        "entry_id": event.entry_id,
                        "utc_date_time": event.raw.get("utc_date_time"),
                        "lock_id": event.lock_id,
                    },
                )
            self.listener.deliver(park, told)
