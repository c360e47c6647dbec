"""One account's calls to the Salto KS Connect API: the token on every call (:mod:`.auth`,
replayed once after a 401), reads retried (:mod:`.transport`), Salto's clock learned from
its answers (:mod:`.clock`), an answer of 400 or more turned into its typed error, and a
list read to its end (:mod:`.paging`). The endpoints are :mod:`.gateway`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests

from ireserve_salto_plugin.salto.auth import Account, BearerAuth, TokenSource
from ireserve_salto_plugin.salto.cache import Key, Store
from ireserve_salto_plugin.salto.clock import SYSTEM_CLOCK, Clock, SaltoClock
from ireserve_salto_plugin.salto.config import Tuning
from ireserve_salto_plugin.salto.deadline import NO_DEADLINE, Deadline
from ireserve_salto_plugin.salto.errors import (
    error_for,
)
from ireserve_salto_plugin.salto.paging import Listing, parse_page, read_all
from ireserve_salto_plugin.salto.telemetry import NO_TELEMETRY, Telemetry
from ireserve_salto_plugin.salto.transport import Transport, decode_json, retry_after

log = logging.getLogger("ireserve_salto_plugin.salto.gateway")

FIRST_PAGE_TTL = 30 * 24 * 3600.0  # seconds the length of a lock list's first page is kept
# Sent by Salto's own web app and a working production integration on every Connect API
# call (docs/salto-ks-api.md, "Paging"): OData v4 syntax is not rewritten as v3.
ODATA_HEADER = "CLP-disable-odata-v3-conversion"
API_HEADERS = {"Accept": "application/json", ODATA_HEADER: "true"}
CONTINUATION = "CLP-Continuation-Token"  # entries are paged by this header, not $skip


def continuation_of(body: Any, resp: requests.Response | None) -> str | None:
    """The entries' continuation token: in the body (as Salto sends it), else a header."""
    token = body.get("continuation_token") if isinstance(body, dict) else None
    if token is None and resp is not None:
        token = resp.headers.get(CONTINUATION)
    return token if isinstance(token, str) and token else None


def seg(value: str) -> str:
    """One path segment: every id put into a path is quoted, ``/`` and ``?`` included."""
    return quote(value, safe="")


class SaltoApi:
    """The calls of one account within one hook call's deadline (cheap to build)."""

    def __init__(
        self,
        account: Account,
        *,
        session: requests.Session,
        store: Store,
        tuning: Tuning | None = None,
        clock: Clock = SYSTEM_CLOCK,
        deadline: Deadline = NO_DEADLINE,
        telemetry: Telemetry = NO_TELEMETRY,
    ) -> None:
        self.account = account
        self._store = store
        self._tuning = tuning = tuning or Tuning()
        self._page_size = tuning.page_size
        self._locks_ttl = tuning.locks_ttl
        self.transport = Transport(
            session, tuning=tuning, clock=clock, deadline=deadline, telemetry=telemetry
        )
        self.tokens = TokenSource(account, self.transport, store, clock)
        self.auth = BearerAuth(self.tokens)
        self._api = account.api_url
        self._api_origin = account.api_origin
        # told (items read, count if known) after each page of a list: a progress bar
        self.on_page: Callable[[int, int | None], None] | None = None
        self.clock = SaltoClock(store, self._api_origin, clock)
        self._telemetry = telemetry
        self._wall = clock.wall

    def access_token(self, fresh: bool = False) -> str:
        return self.tokens.access_token(fresh)

    def clock_offset(self) -> float:
        return self.clock.offset()

    def salto_now(self) -> datetime:
        return self.clock.now()

    # -- calls ---------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        url: str | None = None,
        side_effect: bool = False,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """One API request with the account's token (:class:`~.auth.BearerAuth`), retried
        by the session when it is a read; an answer of 400 or more is its error."""
        return self._answered(
            self.transport.send(
                method,
                url or f"{self._api}{path}",
                path=path,
                auth=self.auth,
                side_effect=side_effect,
                headers={**API_HEADERS, **headers} if headers else API_HEADERS,
                **kwargs,
            ),
            method,
            path,
        )

    def _answered(self, resp: requests.Response, method: str, path: str) -> requests.Response:
        """Salto's clock learned from the answer; an answer of 400 or more is its error."""
        self.clock.observe(resp.headers.get("Date"), resp.status_code)
        if resp.status_code >= 400:
            raise error_for(
                resp.status_code,
                decode_json(resp, method, path),
                method=method,
                path=path,
                retry_after=retry_after(resp),
            )
        return resp

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call's decoded answer (a url is a next_page_link, checked same-origin)."""
        return decode_json(self._send(method, path, **kwargs), method, path)

    def read(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[Any, requests.Response]:
        """A GET of any Connect API path, with its answer (the probe looks at shapes)."""
        resp = self._send("GET", path, params=params, headers=headers)
        return decode_json(resp, "GET", path), resp

    def _pages(
        self, path: str, *, thorough: bool = False, ahead: Key[float] | None = None
    ) -> Listing:
        """All items of a list endpoint (:mod:`.paging`); ``thorough``: a short page ends
        the list only when ``count`` says so or one more read comes back empty. ``ahead``:
        the key that remembers, for a site whose first page was full at the last read, that
        page's length: the second page is then asked together with the first (a site of
        fewer locks has no such key)."""
        first: list[int] = []

        def fetch(params: Mapping[str, Any] | None, url: str | None) -> Any:
            body = self._call("GET", path, params=params, url=url)
            if params is not None and params.get("$skip") == 0:
                first.append(len(parse_page(body, path)[0]))
            return body

        known = self._store.get(ahead) if ahead is not None else None
        listing = read_all(
            fetch,
            path,
            api=self._api,
            page_size=self._page_size,
            tuning=self._tuning,
            on_page=self.on_page,
            thorough=thorough,
            ahead=known is not None and known >= self._page_size,
        )
        if ahead is not None and first:
            full = first[0] >= self._page_size
            if full and first[0] != known:
                self._store.set(ahead, first[0], FIRST_PAGE_TTL)
            elif not full and known is not None:  # kept only for sites of full pages
                self._store.delete(ahead)
        return listing
