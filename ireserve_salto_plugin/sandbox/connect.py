"""The sandbox's Connect API: sites, locks, IQs, IQ activation, remote opening and
entries, answering like Salto KS does (docs/salto-ks-api.md). Salto's rules (the OTP check,
the PIN delta, what offline means) live in :class:`~.world.World`; this module maps HTTP
onto them.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from ireserve_salto_plugin.sandbox.control import control_routes
from ireserve_salto_plugin.sandbox.http import Reply, Request, Route, salto_error
from ireserve_salto_plugin.sandbox.records import Mail, Site, User, person_json, stable_id
from ireserve_salto_plugin.sandbox.view import SandboxView
from ireserve_salto_plugin.sandbox.world import Journaled

# the roles of a working remote-open account (tests/samples/site_me.json): not an admin
ROLES = (
    ("site_remote_office_mode_user", "Site Remote Office Mode User"),
    ("site_mobile_user", "Site Mobile User"),
)
ADMIN_ROLE = (("site_admin", "Site Admin"),)
PAGE_MAX = 100  # ASSUMPTION: default and largest $top (docs: "Paging" does not know it)


class ConnectApi:
    def __init__(self, sandbox: SandboxView) -> None:
        self.sandbox = sandbox
        self.world = sandbox.world

    def routes(self) -> list[Route]:
        box = self.sandbox
        s = r"/sites/(?P<site>[^/]+)"
        return [
            ("GET", re.compile(r"/v1\.1/sites"), self._sites_v11),
            ("GET", re.compile(r"/v1\.2/sites"), self._sites_v12),
            ("GET", re.compile(rf"/v1\.2{s}"), self._site),
            ("GET", re.compile(rf"/v1\.2{s}/me"), self._me),
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
            ("GET", re.compile(r"/v1\.2/me/(?P<site>[^/]+)/activated_iqs"), self._activated_iqs),
            *control_routes(box),
        ]

    def _user(self, req: Request) -> User:
        if req.headers.get("CLP-disable-odata-v3-conversion") != "true":
            self.sandbox.without_odata_header.append(f"{req.method} {req.path}")
        if "application/json" not in (req.headers.get("Accept") or ""):
            self.sandbox.without_accept_json.append(f"{req.method} {req.path}")
        header = req.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        entry = self.world.tokens.get(token)
        if entry is None or entry[1] <= self.sandbox.now():
            raise Reply(
                401,
                None,
                {
                    "WWW-Authenticate": 'Bearer error="invalid_token", '
                    'error_description="The access token is expired"'
                },
            )
        return self.world.users[entry[0]]

    def _site_for(self, req: Request, user: User) -> Site:
        site_id = req.match["site"]
        try:
            UUID(site_id)
        except ValueError:
            raise salto_error(400, 1100, "The request received is invalid.") from None
        if site_id not in user.site_ids or site_id not in self.world.sites:
            raise salto_error(404, "2202", "Site not found.")
        return self.world.sites[site_id]

    def _page(
        self, req: Request, items: list[Any], as_json: Callable[[Any], Any] = lambda item: item
    ) -> dict[str, Any]:
        """One page of ``items``; only the page's items are turned into JSON."""
        try:
            top = int(req.query.get("$top", PAGE_MAX))
            skip = int(req.query.get("$skip", 0))
        except ValueError:
            raise salto_error(400, 1102, "The OData filter format is invalid.") from None
        if top < 1 or skip < 0:
            raise salto_error(400, 1102, "The OData filter format is invalid.")
        # A server-side cap below the $top asked (unmeasured at Salto: docs, "Paging"),
        # answered without a link or a count: only a read past the end is empty.
        top = min(top, PAGE_MAX, self.sandbox.page_cap or PAGE_MAX)
        if self.sandbox.ignore_skip:  # a Salto that pages by another means, or not at all
            skip = 0
        page = [as_json(item) for item in items[skip : skip + top]]
        link = None
        # Salto sent null links in every captured sample (docs: "Paging"); links only on
        # request, for tests of link following. ASSUMPTION: their format.
        if self.sandbox.page_links and skip + top < len(items):
            query = urlencode({"$top": top, "$skip": skip + top}, safe="$")
            link = f"{self.sandbox.api_url}{req.path}?{query}"
        # ASSUMPTION: count, when Salto fills it, is the whole list's length (OData's).
        count = len(items) if self.sandbox.page_counts else None
        return {"items": page, "next_page_link": link, "count": count}

    def _visible_sites(self, user: User) -> list[dict[str, Any]]:
        return [self.world.sites[s].as_json() for s in sorted(user.site_ids)]

    def _sites_v11(self, req: Request) -> Any:
        user = self._user(req)
        sites = self._visible_sites(user)
        flt = req.query.get("$filter")
        if flt is not None:
            match = re.fullmatch(r"site_uid eq '([^']*)'", flt.strip())
            if match is None or not self.sandbox.filter_supported:
                raise salto_error(400, 1102, "The OData filter format is invalid.")
            sites = [s for s in sites if s["site_uid"] == match.group(1)]
        return {"items": sites, "next_page_link": None, "count": None}

    def _sites_v12(self, req: Request) -> Any:
        return self._visible_sites(self._user(req))  # a bare array on v1.2 (docs: "Endpoints")

    def _site(self, req: Request) -> Any:
        return self._site_for(req, self._user(req)).as_json()

    def _me(self, req: Request) -> Any:
        """The caller as a site user (docs: "Endpoints", row 15), shaped as Salto's
        (tests/samples/site_me.json): a plain site user with the remote-open roles."""
        user = self._user(req)
        site = self._site_for(req, user)
        return {
            "ownership_state": "site_user",
            "member_of_pods": [],
            "guest_of_pods": [],
            "id": stable_id("site-user", site.id, user.id),
            "user": person_json(user.id, user.username),
            "roles": [
                {
                    "id": stable_id("role", code),
                    "customer_reference": name,
                    "code": code,
                    "parent_id": None,
                    "is_hierarchical": False,
                }
                for code, name in ROLES + (ADMIN_ROLE if user.site_admin else ())
            ],
            "alias": None,
            "toggle_easy_office_mode": False,
            "toggle_manual_office_mode": False,
            "remote_access": user.remote_access,
            "blocked": user.blocked,
            "tag_owned_by_this_site": False,
            "subscription_state": user.subscription_state,
            "override_privacy_mode": False,
            "use_pin": True,
            "data_removal_expires_at": None,
            "expires_at": user.expires_at,
        }

    def _locks(self, req: Request) -> Any:
        site = self._site_for(req, self._user(req))
        return self._page(req, list(site.locks.values()), lambda lock: lock.as_json())

    def _lock(self, req: Request) -> Any:
        site = self._site_for(req, self._user(req))
        lock = site.locks.get(req.match["lock"])
        if lock is None:
            raise salto_error(404, "2202", "Lock not found.")
        return lock.as_json()

    def _iqs(self, req: Request) -> Any:
        site = self._site_for(req, self._user(req))
        return self._page(req, list(site.iqs.values()), lambda iq: iq.as_json())

    def _iq_of(self, req: Request) -> tuple[User, Site, str]:
        user = self._user(req)
        site = self._site_for(req, user)
        iq_id = req.match["iq"]
        if iq_id not in site.iqs:
            raise salto_error(404, "2202", "Iq not found.")
        return user, site, iq_id

    def _iq(self, req: Request) -> Any:
        _, site, iq_id = self._iq_of(req)
        return site.iqs[iq_id].as_json()

    def _secret(self, req: Request) -> Any:
        user, _, iq_id = self._iq_of(req)
        act = self.world.activation(user, iq_id)
        # Readable until the account is activated at the IQ, then 403 (docs: "Endpoints").
        if act.activated:
            raise salto_error(403, 2203, "Cannot get first secret for an already activated Iq.")
        act.secret_taken = True
        return {"secret": act.secret}

    def _get_pin(self, req: Request) -> Any:
        user, site, iq_id = self._iq_of(req)
        act = self.world.activation(user, iq_id)
        if act.activated:
            # ASSUMPTION: shape of the command_forbidden answer (docs: "Endpoints").
            raise salto_error(403, 2203, "command_forbidden")
        if act.pin is None:
            act.pin = self.world.new_pin()
        channel = "email" if req.query.get("send_email") == "true" else "sms"
        self.world.outbox.append(
            Mail(
                to=user.username,
                channel=channel,
                iq_id=iq_id,
                pin=act.pin,
                subject=f"Your PIN for {site.iqs[iq_id].name}",
                body=f"Your Salto KS PIN for IQ {site.iqs[iq_id].name} is {act.pin}.",
            )
        )
        return None  # 204, no body

    def _set_pin(self, req: Request) -> Any:
        user, site, iq_id = self._iq_of(req)
        body = req.json()
        otp, delta = body.get("otp"), body.get("delta")
        if not isinstance(otp, str) or not otp:
            raise salto_error(400, 1100, "The otp field is required.")
        if not isinstance(delta, str) or not re.fullmatch(r"[0-9]{4}", delta):
            raise salto_error(400, 1101, "Value of 'delta' is invalid.")
        act = self.world.activation(user, iq_id)
        if act.pin is None or not act.secret_taken:
            raise salto_error(403, 2203, "Operation cannot be executed.")
        refused = self.world.check_otp(act, "set_pin", otp, act.pin, self.sandbox.now())
        self._journal(user, iq_id, "set_pin", refused or "accepted")
        if refused == "otp_blocked":
            raise salto_error(403, 3102, "otp_blocked")
        if refused:
            raise salto_error(400, 3102, "otp_invalid")
        self.world.set_pin(act, delta, self.sandbox.now())
        # ASSUMPTION: re-activating after a reset restores the IQ (docs: "Which account")
        site.iqs[iq_id].restore_required = False
        return None

    def _open(self, req: Request) -> Any:
        user = self._user(req)
        site = self._site_for(req, user)
        lock = site.locks.get(req.match["lock"])
        if lock is None:
            raise salto_error(404, "2202", "Lock not found.")
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
                raise salto_error(404, "2202", "Otp is invalid")  # code as a string ("OTP blocks")
            if not act.activated or act.pin is None:
                # ASSUMPTION: shape of pin_not_changed (docs: "Errors" names only the text)
                raise salto_error(403, 2203, "pin_not_changed")
            refused = self.world.check_otp(act, "locking", otp, act.pin, self.sandbox.now())
            if refused:
                self._journal(user, lock.iq.id, "locking", refused, lock.id)
            if refused == "otp_blocked":
                raise salto_error(403, 3102, "otp_blocked")
            if refused:
                raise salto_error(400, 3102, "otp_invalid")
        if not self.world.reachable(lock):
            self._journal(user, lock.iq.id, "locking", "offline", lock.id)
            # ASSUMPTION: this error is not documented (docs: "Offline").
            raise salto_error(403, 2203, "Operation cannot be executed.")
        self._journal(user, lock.iq.id, "locking", "accepted", lock.id)
        self.world.record_remote_entry(site, lock, user, state, self.sandbox.now())
        return Reply(200, None)

    def _journal(
        self, user: User, iq_id: str, command: str, result: str, lock_id: str = ""
    ) -> None:
        self.world.journal.append(
            Journaled(
                time.monotonic(),
                self.sandbox.now().timestamp(),
                user.username,
                iq_id,
                lock_id,
                command,
                result,
            )
        )

    def _entries(self, req: Request) -> Any:
        site = self._site_for(req, self._user(req))
        order = req.query.get("$orderby", "utc_date_time desc").strip()
        if order not in ("utc_date_time desc", "utc_date_time asc", "utc_date_time"):
            raise salto_error(400, 1102, "The OData filter format is invalid.")
        if "$skip" in req.query:  # entries have no OData paging (docs: "Endpoints")
            raise salto_error(400, 1102, "The OData filter format is invalid.")
        lag = self.sandbox.entries_lag  # Salto's log is not real-time: younger entries wait
        stamp = f"{self.sandbox.now() - timedelta(seconds=lag):%Y-%m-%dT%H:%M:%SZ}" if lag else "~"
        items = sorted(
            (e for e in site.entries if e["utc_date_time"] <= stamp),
            key=lambda e: (e["utc_date_time"], e["id"]),
            reverse=order.endswith("desc"),
        )
        top = min(int(req.query.get("$top", 20) or 20), PAGE_MAX)
        token = req.headers.get("CLP-Continuation-Token")
        start = self.sandbox.continuations.get(token, -1) if token else 0
        if start < 0:
            raise salto_error(400, 1101, "Value of 'CLP-Continuation-Token' is invalid.")
        page, following = items[start : start + top], None
        if start + top < len(items):
            # An opaque token in the body, sent back as the CLP-Continuation-Token request
            # header (docs: "Endpoints", row 17, raw sample); no next_page_link or count.
            following = secrets.token_urlsafe(12)
            self.sandbox.continuations[following] = start + top
        return {"items": page, "continuation_token": following}

    def _activated_iqs(self, req: Request) -> Any:
        """The caller's IQs, listed from GET secret on (``activated: false`` until Set PIN:
        docs, "Lock object fields"), paged like every list."""
        user = self._user(req)
        site = self._site_for(req, user)
        return self._page(
            req,
            [
                {
                    "iq_id": iq_id,
                    "activation_date": act.activation_date.strftime("%Y-%m-%dT%H:%M:%SZ")
                    if act.activation_date
                    else None,
                    "activated": act.activated,
                }
                for (user_id, iq_id), act in self.world.activations.items()
                if user_id == user.id and iq_id in site.iqs and act.secret_taken
            ],
        )

    def _no_method(self, req: Request) -> Any:
        raise Reply(405, None)
