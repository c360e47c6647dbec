"""The Salto KS Connect API endpoints the plugin uses: sites, locks, IQs, the remote open,
the log, the account's site user and IQ activations (docs/salto-ks-api.md, "Endpoints").

One :class:`SaltoGateway` per account and hook call (cheap to build); its calls go through
:class:`~.api.SaltoApi` (token, retries, Salto's clock, errors, paging). The site and the
lock list are cached in the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from ireserve_salto_plugin.salto.api import CONTINUATION, SaltoApi, continuation_of, seg
from ireserve_salto_plugin.salto.auth import Account
from ireserve_salto_plugin.salto.cache import FIRST_PAGE, LOCKS, SITE
from ireserve_salto_plugin.salto.errors import (
    NotFound,
    Refused,
    SiteNotFound,
    StoreUnavailable,
    Unavailable,
)
from ireserve_salto_plugin.salto.paging import Listing, read_continued
from ireserve_salto_plugin.salto.types import (
    ActivatedIq,
    Iq,
    Lock,
    LockList,
    Site,
    SiteUser,
    entry_time,
    parse_activated_iq,
    parse_iq,
    parse_lock,
    parse_site,
    parse_site_user,
)

__all__ = ["Account", "SaltoGateway"]

log = logging.getLogger(__name__)

SITE_TTL = 24 * 3600.0  # seconds a Site UID → site id answer is kept
LOCKS_WAIT = 60.0  # longest wait for another caller fetching the same lock list
ENTRIES_TOP = 20
ENTRIES_PAGE = 100  # $top per page of entries
ENTRIES_BACK_PAGES = 10  # pages of the log read back to find one open (1,000 entries)
ENTRIES_UNBOUNDED = 10**9  # no count asked: the page limit ends such a read


class SaltoGateway(SaltoApi):
    """The endpoints the plugin uses (docs/salto-ks-api.md, "Endpoints"), for one account
    and hook call: the site and the lock list are cached in the store."""

    # -- sites -------------------------------------------------------------------------------

    def resolve_site(self, site_uid: str, *, fresh: bool = False) -> Site:
        """Site UID (``NL6254340082``) → site; by ``$filter``, else from the site list.
        ``fresh``: ask Salto even when the answer is cached."""
        key = SITE(self.account.key, site_uid)
        cached = None if fresh else self._store.get(key)
        if cached is not None:
            return cached
        site = None
        try:
            site = self._match_site(
                self._call("GET", "/v1.1/sites", params={"$filter": f"site_uid eq '{site_uid}'"}),
                site_uid,
            )
        except (Refused, NotFound) as exc:
            log.info("salto site $filter refused (%s); falling back to the site list", exc.code)
        if site is None:
            site = self._match_site(self._call("GET", "/v1.2/sites"), site_uid)
        if site is None:
            raise SiteNotFound(
                f"no site with Site UID {site_uid} is visible to account {self.account.username!r}",
                status=404,
                method="GET",
                path="/v1.2/sites",
            )
        self._store.set(key, site, SITE_TTL)
        return site

    @staticmethod
    def _match_site(body: Any, site_uid: str) -> Site | None:
        """``v1.2/sites`` is a bare array, ``v1.1/sites`` a ``{items}`` page."""
        items = (
            body
            if isinstance(body, list)
            else (body.get("items") if isinstance(body, dict) else None)
        )
        if not isinstance(items, list):
            raise Unavailable(
                "Salto KS sent an unexpected site list", method="GET", path="/v1.x/sites"
            )
        return next(
            (site for item in items if (site := parse_site(item, site_uid)) is not None), None
        )

    # -- locks and IQs -----------------------------------------------------------------------

    def locks(self, site_id: str, *, refresh: bool = False, thorough: bool = False) -> LockList:
        """The site's locks and IQs, from the store unless ``refresh`` or older than the
        TTL. Fetched together, the IQ list beside the lock list (in parallel: a cold open
        waits for one of them, not both): an IQ's ``restore_required`` is only in the IQ
        list, and the lock list's second page beside its first. ``thorough`` for lists read
        for people: a cached list that is not complete (the open's quick read) is read
        again, to its end (a short page may be a server cap)."""
        key = LOCKS(self.account.key, site_id)

        def usable(cached: LockList | None) -> bool:
            return cached is not None and (cached.complete or not thorough)

        if not refresh and usable(cached := self._store.get(key)):
            assert cached is not None
            return cached
        with self.transport.single_flight(self._store, key, LOCKS_WAIT):
            if not refresh and usable(cached := self._store.get(key)):
                assert cached is not None
                return cached
            path = f"/v1.2/sites/{seg(site_id)}/locks"
            if self._tuning.parallel_lists:
                with ThreadPoolExecutor(1, thread_name_prefix="salto-iqs") as pool:
                    iq_read = pool.submit(self._iqs, site_id, thorough)
                    lock_read = self._pages(
                        path, thorough=thorough, ahead=FIRST_PAGE(self.account.key, site_id)
                    )
                    iqs = iq_read.result()
            else:
                lock_read = self._pages(path, thorough=thorough)
                iqs = self._iqs(site_id, thorough)
            listed = {iq.id: iq for iq in iqs.items}
            result = LockList.of(
                [parse_lock(item, listed) for item in lock_read.items],
                iqs.items,
                self._wall(),
                complete=lock_read.complete and iqs.complete,
                paging_ignored=lock_read.paging_ignored or iqs.paging_ignored,
            )
            self._store.set(key, result, self._locks_ttl)
            self._telemetry.locks_read(
                site_id, ((lock.battery, lock.alarm) for lock in result.locks)
            )
            return result

    def forget_locks(self, site_id: str) -> None:
        """Drop the cached lock list (and IQ states): the next read asks Salto."""
        self._store.delete(LOCKS(self.account.key, site_id))

    def lock(self, site_id: str, lock_id: str) -> Lock:
        """One lock, fresh from Salto. What it says is written into the cached lock list
        (the lock, and its IQ's online state on every lock of that IQ), so the explainer
        and readiness see what an open just learned."""
        lock = parse_lock(self._call("GET", f"/v1.2/sites/{seg(site_id)}/locks/{seg(lock_id)}"))
        try:
            key = LOCKS(self.account.key, site_id)
            cached = self._store.get(key)
            if cached is not None and (updated := cached.learned(lock)) is not cached:
                self._store.set(key, updated, self._locks_ttl)
        except StoreUnavailable:
            log.warning("salto lock %s read, but the cached list could not be updated", lock_id)
        return lock

    def _iqs(self, site_id: str, thorough: bool) -> Listing:
        listing = self._pages(f"/v1.2/sites/{seg(site_id)}/iqs", thorough=thorough)
        return listing._replace(items=[parse_iq(item) for item in listing.items])

    def iq(self, site_id: str, iq_id: str) -> Iq | None:
        """One IQ, fresh from Salto; ``None`` when Salto does not know it on the site."""
        try:
            return parse_iq(self._call("GET", f"/v1.2/sites/{seg(site_id)}/iqs/{seg(iq_id)}"))
        except NotFound:
            return None

    def iqs(self, site_id: str) -> list[Iq]:
        """The site's IQs, read to the end of the list (they are shown to people)."""
        return self._iqs(site_id, True).items

    # -- IQ activation ------------------------------------------------------------------------

    def _iq_path(self, site_id: str, iq_id: str, what: str) -> str:
        return f"/v1.2/sites/{seg(site_id)}/iqs/{seg(iq_id)}/{what}"

    def iq_secret(self, site_id: str, iq_id: str) -> str:
        """The account's IQ secret. Salto hands it out once: store it at once."""
        path = self._iq_path(site_id, iq_id, "secret")
        body = self._call("GET", path)
        secret = body.get("secret") if isinstance(body, dict) else None
        if not isinstance(secret, str) or not secret:
            raise Unavailable("Salto KS sent no secret", method="GET", path=path)
        return secret

    def request_pin_email(self, site_id: str, iq_id: str) -> None:
        """ "GET PIN": Salto e-mails the IQ PIN to the account (204, no body)."""
        self._send(
            "GET",
            self._iq_path(site_id, iq_id, "pin"),
            params={"send_email": "true"},
            side_effect=True,
        )  # a lost answer: no second e-mail

    def set_pin(self, site_id: str, iq_id: str, *, otp: str, delta: str) -> None:
        """ "Set PIN": activate the account at the IQ; new PIN = current PIN - delta."""
        self._send("PUT", self._iq_path(site_id, iq_id, "pin"), json={"otp": otp, "delta": delta})

    # -- remote open and entries --------------------------------------------------------------

    def open_lock(self, site_id: str, lock_id: str, *, sign: Callable[[], str | None]) -> None:
        """One remote-open command, signed by ``sign()`` right before it is sent (no
        ``otp`` field when it returns ``None``: an IQ without OTP).

        Never resent after Salto answered anything. Resent once, with a fresh OTP and within
        the deadline, only when the request provably never left this machine (connection
        refused or not established).
        """
        path = f"/v1.2/sites/{seg(site_id)}/locks/{seg(lock_id)}/locking"
        for attempt in (1, 2):
            try:
                body = {"locked_state": "unlocked"}
                otp = sign()
                if otp is not None:
                    body["otp"] = otp
                self._send("PATCH", path, json=body)
                return
            except Unavailable as exc:
                if exc.sent or attempt == 2:
                    raise
                log.info("salto PATCH %s never reached Salto; resending once", path)

    def entries(self, site_id: str, top: int = ENTRIES_TOP) -> list[dict[str, Any]]:
        """The newest ``top`` entries of the site's audit log, newest first."""
        return self._entries(site_id, top=top).items

    def entries_since(
        self, site_id: str, since: datetime, max_pages: int = ENTRIES_BACK_PAGES
    ) -> Listing:
        """The site's log, newest first, read back until an entry older than ``since``
        (or the log's end); ``complete`` False when ``max_pages`` pages ended the read
        before that. No OData time filter: none is known to work on entries."""

        def older(entry: dict[str, Any]) -> bool:
            at = entry_time(entry)
            return at is not None and at < since

        return self._entries(site_id, top=ENTRIES_UNBOUNDED, enough=older, max_pages=max_pages)

    def _entries(
        self,
        site_id: str,
        *,
        top: int,
        enough: Callable[[dict[str, Any]], bool] | None = None,
        max_pages: int | None = None,
    ) -> Listing:
        """Entries are not paged by ``$skip``: an answer with more to come carries
        ``continuation_token`` in its body, sent back as the ``CLP-Continuation-Token``
        request header (docs/salto-ks-api.md, "Endpoints", row 17)."""
        path = f"/v1.1/sites/{seg(site_id)}/entries"

        def fetch(params: Mapping[str, Any], token: str | None) -> tuple[Any, str | None]:
            body, resp = self.read(path, params, {CONTINUATION: token} if token else None)
            return body, continuation_of(body, resp)

        return read_continued(
            fetch,
            path,
            top=top,
            page=ENTRIES_PAGE,
            params={"$orderby": "utc_date_time desc"},
            enough=enough,
            max_pages=max_pages or self._tuning.max_pages,
        )

    def me(self, site_id: str) -> SiteUser:
        """The account as a site user: ``remote_access``, ``blocked``, subscription."""
        return parse_site_user(self._call("GET", f"/v1.2/sites/{seg(site_id)}/me"))

    def activated_iqs(self, site_id: str) -> list[ActivatedIq]:
        """Salto's own view of this account's IQ activations on the site, paged like the
        other lists (a big park's later IQs are on later pages)."""
        listing = self._pages(f"/v1.2/me/{seg(site_id)}/activated_iqs", thorough=True)
        return [parse_activated_iq(item) for item in listing.items]
