"""The contract probe: the first contact with a real Salto KS environment, call by call.

It checks whether Salto's answers have the shapes the plugin relies on
(docs/salto-ks-api.md) and reports each as a row: what was expected, what was seen, ok.
Read-only by default: it sends no OTP and opens nothing. Only with explicit requests does
it run the side-effect-free OTP check (PUT pin with delta ``0000``) on one IQ, or one
remote open of one named lock. A different answer is a row that is not ok, never a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ireserve_salto_plugin.salto.api import CONTINUATION
from ireserve_salto_plugin.salto.clock import CLOCK_WARN_SECONDS
from ireserve_salto_plugin.salto.config import Tuning
from ireserve_salto_plugin.salto.errors import SaltoError
from ireserve_salto_plugin.salto.otp import salto_otp
from ireserve_salto_plugin.salto.paging import item_id
from ireserve_salto_plugin.store.guards import credentials_mark
from ireserve_salto_plugin.support.probe_base import (
    IQ_FIELDS,
    LOCK_FIELDS,
    LOCK_IQ_FIELDS,
    MADE_UP_LOCK,
    PAGE_ASKED,
    PAGE_KEYS,
    Check,
    ProbeBase,
    keys_of,
    missing_of,
)


class Probe(ProbeBase):
    def run(self, *, self_test_iq: str | None = None, open_lock: str | None = None) -> list[Check]:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("token", self._token),
            ("site by $filter", self._site_filter),
            ("site list", self._site_list),
            ("locks page", self._locks),
            ("IQs page", self._iqs),
            ("locks: the whole list", lambda: self._whole("locks")),
            ("IQs: the whole list", lambda: self._whole("iqs")),
            ("entries", self._entries),
            ("the account on the site", self._me),
            ("activation state", self._activation),
            ("an error answer", self._error_shape),
            ("Salto's clock", self._clock),
        ]
        if self_test_iq:
            steps.append(
                ("cloud check (PUT pin, delta 0000)", lambda: self._self_test(self_test_iq))
            )
        if open_lock:
            steps.append(("remote open", lambda: self._open(open_lock)))
        for name, step in steps:
            try:
                step()
            except SaltoError as exc:
                self.add(name, "an answer", f"{exc} ({exc.reason})", False)
        return self.checks

    # -- the checks ----------------------------------------------------------------------------

    def _token(self) -> None:
        self.gateway.access_token()
        token = self.gateway.tokens.stored()
        self.add("token", "an access token (password grant)", "received", True)
        refresh = token is not None and token.refresh_token is not None
        self.add(
            "refresh token",
            "with offline_access, if Salto allows it",
            "received" if refresh else "none (the password grant is run again)",
            None,
        )

    def _site_filter(self) -> None:
        body, _ = self._read("/v1.1/sites", {"$filter": f"site_uid eq '{self.settings.site_uid}'"})
        items = body.get("items") if isinstance(body, dict) else None
        found = [
            i
            for i in items or []
            if isinstance(i, dict)
            and i.get("site_uid") == self.settings.site_uid
            and isinstance(i.get("id"), str)
        ]
        self.add(
            "site by $filter",
            "{items: [{id, site_uid}]}",
            f"{{{keys_of(body)}}}, {len(found)} match",
            bool(found),
        )
        if found and self.site_id is None:
            self.site_id = found[0]["id"]

    def _site_list(self) -> None:
        body, _ = self._read("/v1.2/sites")
        found = isinstance(body, list) and any(
            isinstance(i, dict) and i.get("site_uid") == self.settings.site_uid for i in body
        )
        self.add(
            "site list (v1.2)",
            "a bare array holding the site",
            f"{type(body).__name__}{', site found' if found else ''}",
            found,
        )

    def _page(
        self,
        name: str,
        what: str,
        fields: tuple[str, ...],
        nested: tuple[str, tuple[str, ...]] | None = None,
    ) -> None:
        body, _ = self._read(f"/v1.2/sites/{self._site()}/{what}", {"$top": 100, "$skip": 0})
        missing = missing_of(body, PAGE_KEYS)
        self.add(
            f"{name} shape",
            "{" + ", ".join(PAGE_KEYS) + "}",
            "{" + keys_of(body) + "}",
            not missing,
        )
        items = body.get("items") if isinstance(body, dict) else body
        if isinstance(body, dict):
            self.add(
                f"{name} next_page_link, count",
                "null in every sample (paged by $skip)",
                f"{body.get('next_page_link')!r}, {body.get('count')!r}",
                None,
            )
        if not isinstance(items, list) or not items:
            self.add(f"{name} fields", ", ".join(fields), "no items to check", None)
            return
        first = items[0]
        gaps = missing_of(first, fields)
        if nested is not None:
            key, inner = nested
            gaps += [
                f"{key}.{name}"
                for name in missing_of(first.get(key) if isinstance(first, dict) else None, inner)
            ]
        self.add(
            f"{name} fields",
            ", ".join(fields) + (f", {nested[0]}{{{', '.join(nested[1])}}}" if nested else ""),
            "all present" if not gaps else "missing: " + ", ".join(gaps),
            not gaps,
        )

    def _locks(self) -> None:
        self._page("locks", "locks", LOCK_FIELDS, ("iq", LOCK_IQ_FIELDS))

    def _iqs(self) -> None:
        self._page("IQs", "iqs", IQ_FIELDS)

    def _whole(self, what: str) -> None:
        """Every page of a list to an empty one: how many pages and items, the page size
        Salto honours (a short page before the end is a cap), the links' scheme, and
        whether a page repeats ids read before (a Salto that ignores ``$skip``)."""
        path = f"/v1.2/sites/{self._site()}/{what}"
        pages = items = 0
        sizes: list[int] = []
        schemes: set[str] = set()
        ids: set[Any] = set()
        while pages < Tuning().max_pages:
            body, _ = self._read(path, {"$top": PAGE_ASKED, "$skip": items})
            page = body.get("items") if isinstance(body, dict) else body
            pages += 1
            if not isinstance(page, list) or not page:
                break
            found = {item_id(item) for item in page} - {None}
            if found & ids:
                self.add(
                    f"{what}: whole list",
                    "each page new items ($skip honoured)",
                    f"page {pages} repeats page {pages - 1}: Salto KS ignores paging, "
                    f"only the first {items} are known (code paging_ignored)",
                    False,
                )
                return
            ids |= found
            items += len(page)
            sizes.append(len(page))
            link = body.get("next_page_link") if isinstance(body, dict) else None
            if isinstance(link, str) and link:
                schemes.add(urlsplit(link).scheme or "relative")
        capped = any(size < PAGE_ASKED for size in sizes[:-1])
        seen = f"{items} item(s) in {pages} page(s), largest page {max(sizes, default=0)}"
        if schemes:
            seen += ", links: " + "/".join(sorted(schemes))
        self.add(
            f"{what}: whole list",
            f"$top={PAGE_ASKED} honoured, read to an empty page",
            seen + (" (Salto caps pages below $top)" if capped else ""),
            None if capped else True,
        )

    def _me(self) -> None:
        """The account as a site user: can it open at all (docs: "Which account")."""
        user = self.gateway.me(self._site())
        ok = (
            user.remote_access is True
            and user.blocked is not True
            and not user.suspended
            and not user.expired(self.gateway.salto_now())
        )
        self.add(
            "the account on the site",
            "remote_access true, not blocked, subscribed, not expired",
            f"remote_access {user.remote_access}, blocked {user.blocked}, "
            f"subscription {user.subscription_state}, expires_at {user.expires_at}",
            ok,
        )

    def _error_shape(self) -> None:
        """One error answer, of a GET of a lock that does not exist."""
        try:
            self._read(f"/v1.2/sites/{self._site()}/locks/{MADE_UP_LOCK}")
        except SaltoError as exc:
            self.add(
                "error answer (unknown lock)",
                "404 {ErrorCode, Message}",
                f"{exc.status} ErrorCode {exc.code!r}, Message "
                f"{'present' if exc.salto_message else 'absent'}",
                exc.status == 404 and exc.code is not None,
            )
            return
        self.add("error answer (unknown lock)", "404 {ErrorCode, Message}", "200", False)

    def _entries(self) -> None:
        body, resp = self._read(
            f"/v1.1/sites/{self._site()}/entries", {"$top": 20, "$orderby": "utc_date_time desc"}
        )
        items = body.get("items") if isinstance(body, dict) else body
        self.add("entries", "{items} newest first", f"{{{keys_of(body)}}}", isinstance(items, list))
        in_body = isinstance(body, dict) and bool(body.get("continuation_token"))
        self.add(
            "entries continuation",
            "continuation_token in the body when there is more "
            f"(sent back as the {CONTINUATION} header)",
            "in the body"
            if in_body
            else "as a header"
            if resp.headers.get(CONTINUATION)
            else "absent",
            None,
        )

    def _activation(self) -> None:
        body, _ = self._read(f"/v1.2/me/{self._site()}/activated_iqs")
        items = body.get("items") if isinstance(body, dict) else body
        gaps = (
            missing_of(items[0], ("iq_id", "activated"))
            if isinstance(items, list) and items
            else []
        )
        in_app = [
            item.get("iq_id")
            for item in items or []
            if isinstance(item, dict)
            and item.get("activated") is True
            and not self._secret_here(item.get("iq_id"))
        ]
        if in_app:
            self.add(
                "activated at Salto, no secret here",
                "none (a dedicated service account never used in the Salto KS app)",
                ", ".join(map(str, in_app)),
                False,
            )
        self.add(
            "activation state",
            "{items: [{iq_id, activated, activation_date}]}",
            f"{len(items) if isinstance(items, list) else '?'} IQ(s)"
            + (f", missing: {', '.join(gaps)}" if gaps else ""),
            isinstance(items, list) and not gaps,
        )

    def _clock(self) -> None:
        _, resp = self._read("/v1.2/sites")
        header = resp.headers.get("Date")
        self.gateway.clock.observe(header, 400)  # read it now, whatever was learned
        offset = self.gateway.clock_offset()
        self.add("Date header", "an HTTP date", header or "missing", bool(header))
        self.add(
            "clock offset",
            f"within {CLOCK_WARN_SECONDS} s (codes are signed with Salto's time anyway)",
            f"{offset:+.0f} s",
            abs(offset) <= CLOCK_WARN_SECONDS,
        )

    def _self_test(self, iq_id: str) -> None:
        iq = self.settings.iqs.get(iq_id)
        if iq is None or not iq.activated or iq.secret is None or iq.pin is None:
            self.add("cloud check", "an activated IQ in the settings", "not activated", False)
            return
        secret, pin = iq.secret, iq.pin
        if self._signed(
            "cloud check",
            iq_id,
            credentials_mark(secret, pin),
            lambda: self.gateway.set_pin(
                self._site(),
                iq_id,
                delta="0000",
                otp=salto_otp(secret, pin, self.gateway.salto_now()),
            ),
        ):
            self.add(
                "cloud check (PUT pin, delta 0000)",
                "cloud takes it (IQ not asked: not sufficient)",
                "accepted by the cloud",
                True,
            )

    def _open(self, lock_id: str) -> None:
        lock = self.gateway.lock(self._site(), lock_id)
        iq = self.settings.iqs.get(lock.iq_id or "")
        if iq is None or not iq.secret or not iq.pin or not lock.iq_id:
            self.gateway.open_lock(self._site(), lock.id, sign=lambda: None)
        else:
            secret, pin = iq.secret, iq.pin
            if not self._signed(
                "remote open",
                lock.iq_id,
                credentials_mark(secret, pin),
                lambda: self.gateway.open_lock(
                    self._site(),
                    lock.id,
                    sign=(lambda: salto_otp(secret, pin, self.gateway.salto_now())),
                ),
            ):
                return
        self.add("remote open", f"200: {lock.name} opens", "accepted", True)
