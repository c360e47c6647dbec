"""The only module that speaks HTTP: Salto KS identity server and Connect API.

Endpoint numbers refer to the API reference's endpoint table (§4). Tokens and lock lists
live in the runtime :class:`~ireserve_salto_plugin.store.Store`, keyed so that two parks
with different hosts, clients, accounts or passwords never share an entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import mktime_tz, parsedate_to_datetime, parsedate_tz
from typing import Any
from urllib.parse import quote, urljoin

import requests
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError

from .errors import (
    AuthError,
    NotFound,
    Refused,
    SiteNotFound,
    StoreUnavailable,
    Timeout,
    Unavailable,
    error_for,
)
from .runtime import ClientCredentials, Tuning, origin
from .settings import canonical_uuid
from .store import Store
from .transport import BadEncoding, BodyTooLarge, guarded, make_session, read_body

__all__ = ["Account", "Iq", "Lock", "LockList", "SaltoGateway", "Site", "Token",
           "make_session", "parse_iq", "parse_lock"]

log = logging.getLogger(__name__)

SCOPE = "user_api.full_access"
SCOPE_WITH_REFRESH = "user_api.full_access offline_access"
TOKEN_LEEWAY = 60.0  # seconds before expires_in at which a token counts as expired
DEFAULT_EXPIRES_IN = 3600.0  # when the identity server does not say
MAX_EXPIRES_IN = 86400.0  # a longer lifetime from the identity server is cut to this
REFRESH_TOKEN_KEEP = 86400.0  # seconds a refresh token is kept after its access token
LOCKS_TTL = 300.0  # seconds a site's lock list is served from the store
SITE_TTL = 24 * 3600.0
AUTH_FAIL_TTL = 300.0  # seconds a refused password is not tried again
CLOCK_TTL = 3600.0  # seconds a learned clock offset is kept
CLOCK_WARN_SECONDS = 60
CLOCK_RECHECK = 60.0  # seconds between readings of Salto's Date header
MAX_CLOCK_OFFSET = 86400  # a Date further off than this is not a clock error: ignored
TOKEN_WAIT = 30.0  # longest wait for another caller fetching the same token
LOCKS_WAIT = 60.0  # longest wait for another caller fetching the same lock list
MAX_RETRY_AFTER = 10.0  # a longer Retry-After is not waited for
BACKOFF_BASE = 0.2  # seconds; doubled per retry, jittered ±50 %
MIN_CALL_TIME = 0.05  # seconds; with less left no request is started
_UNREAD: Any = object()
PAGE_SIZE = 100
DEFAULT_TIMEOUT = (3.05, 10.0)  # (connect, read) seconds, on every call


def _seg(value: str) -> str:
    """One path segment: every id put into a path is quoted, ``/`` and ``?`` included."""
    return quote(value, safe="")


def _canonical(value: str) -> str:
    try:
        return canonical_uuid(value)
    except ValueError:
        return value


@dataclass(frozen=True, slots=True)
class Account:
    """Where and as whom to talk to Salto KS. ``key`` identifies it without its secrets."""

    identity_url: str
    api_url: str
    client: ClientCredentials = field(repr=False)
    username: str
    password: str = field(repr=False)
    key: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        parts = (
            self.identity_url, self.api_url, self.client.client_id,
            self.client.client_secret, self.username, self.password,
        )
        digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]
        object.__setattr__(self, "key", digest)


@dataclass(frozen=True, slots=True)
class Token:
    access_token: str = field(repr=False)
    expires_at: float  # wall-clock epoch seconds
    refresh_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    site_uid: str
    name: str | None


@dataclass(frozen=True, slots=True)
class Lock:
    id: str
    name: str
    online: bool
    iq_id: str | None
    iq_online: bool | None
    otp_enabled: bool | None
    lock_type: str | None = None
    battery_level: str | None = None


@dataclass(frozen=True, slots=True)
class Iq:
    id: str
    name: str
    online: bool
    restore_required: bool
    otp_enabled: bool | None
    state: str | None = None


@dataclass(frozen=True, slots=True)
class LockList:
    """A site's locks, in Salto's order, with an index by id."""

    locks: tuple[Lock, ...]
    by_id: Mapping[str, Lock]

    @classmethod
    def of(cls, locks: list[Lock]) -> LockList:
        return cls(tuple(locks), {lock.id: lock for lock in locks})


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _text(value: Any, limit: int = 200) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _id(value: Any) -> str | None:
    """An id from Salto: a non-empty string, UUIDs in canonical form."""
    return _canonical(value) if isinstance(value, str) and 0 < len(value) <= 100 else None


def parse_lock(item: Any) -> Lock:
    lock_id = _id(item.get("id")) if isinstance(item, dict) else None
    if lock_id is None:
        raise Unavailable("Salto KS sent a lock without an id")
    iq: dict[str, Any] = item["iq"] if isinstance(item.get("iq"), dict) else {}
    return Lock(
        id=lock_id,
        name=_text(item.get("customer_reference")) or lock_id,
        online=item.get("online") is not False,
        iq_id=_id(iq.get("id")),
        iq_online=_bool(iq.get("is_online")),
        otp_enabled=_bool(iq.get("otp_enabled")),
        lock_type=_text(item.get("lock_type"), 60),
        battery_level=_text(item.get("battery_level"), 60),
    )


def parse_iq(item: Any) -> Iq:
    iq_id = _id(item.get("id")) if isinstance(item, dict) else None
    if iq_id is None:
        raise Unavailable("Salto KS sent an IQ without an id")
    return Iq(
        id=iq_id,
        name=_text(item.get("customer_reference")) or iq_id,
        online=item.get("online") is not False,
        restore_required=item.get("restore_required") is True,
        otp_enabled=_bool(item.get("otp_enabled")),
        state=_text(item.get("state"), 60),
    )


def _never_sent(exc: BaseException) -> bool:
    """True when the connection was never established, so no byte of the request left."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, OverflowError, IndexError):
            return None
    return min(max(0.0, seconds), 86400.0) if math.isfinite(seconds) else None


class SaltoGateway:
    """Typed calls to Salto KS for one :class:`Account`. Cheap to build per request."""

    def __init__(
        self,
        account: Account,
        *,
        session: requests.Session,
        store: Store,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        get_retries: int = 2,
        page_size: int = PAGE_SIZE,
        locks_ttl: float = LOCKS_TTL,
        deadline: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        tuning: Tuning | None = None,
    ) -> None:
        self.account = account
        self._session = session
        self._store = store
        self._clock = clock
        self._sleep = sleep
        self._timeout = timeout
        self._get_retries = get_retries
        self._page_size = page_size
        self._locks_ttl = locks_ttl
        self._monotonic = monotonic
        self._tuning = tuning or Tuning()
        # A time.monotonic() instant after which no request may start or run on; without
        # one, each call gets its connect and read timeouts as its whole deadline.
        self.deadline = deadline
        self._clock_cache: Any = _UNREAD
        self._api = account.api_url.rstrip("/")
        self._api_origin = origin(self._api)

    def time_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - self._monotonic()

    @contextmanager
    def _mutex(self, key: str, timeout: float) -> Iterator[None]:
        """Single flight per key across threads (and processes, with a shared store),
        never waited for longer than the time left."""
        left = self.time_left()
        if left is not None:
            if left <= MIN_CALL_TIME:
                raise Timeout("no time left to wait for another request to Salto KS",
                              sent=False)
            timeout = min(timeout, left)
        with ExitStack() as stack:
            try:
                stack.enter_context(self._store.mutex(key, timeout=timeout))
            except TimeoutError as exc:
                raise Timeout(f"waited {timeout:.0f}s for another request to Salto KS",
                              sent=False) from exc
            yield

    # -- tokens (endpoint 1) ---------------------------------------------------------------

    @property
    def _token_key(self) -> str:
        return f"token:{self.account.key}"

    def access_token(self, fresh: bool = False) -> str:
        """A valid access token; ``fresh`` skips any per-process copy of the shared one."""
        token = self._store.get(self._token_key, fresh=fresh)
        if token is not None and token.expires_at - TOKEN_LEEWAY > self._clock():
            return str(token.access_token)
        with self._mutex(self._token_key, TOKEN_WAIT):
            # another thread or process may have fetched it meanwhile
            token = self._store.get(self._token_key, fresh=True)
            if token is not None and token.expires_at - TOKEN_LEEWAY > self._clock():
                return str(token.access_token)
            new = self._refresh(token) if token and token.refresh_token else None
            new = new or self._password_grant()
            ttl = new.expires_at - self._clock()
            self._store.set(self._token_key, new,
                            ttl + (REFRESH_TOKEN_KEEP if new.refresh_token else 0))
            return new.access_token

    def invalidate_token(self, used: str) -> None:
        """Mark the token as expired (keeping its refresh token) if it is still the one stored."""
        with self._mutex(self._token_key, TOKEN_WAIT):
            token = self._store.get(self._token_key, fresh=True)
            if token is not None and token.access_token == used:
                self._store.set(self._token_key,
                                Token(token.access_token, 0.0, token.refresh_token),
                                REFRESH_TOKEN_KEEP)

    def _password_grant(self) -> Token:
        refused_key = f"authfail:{self.account.key}"
        refused = self._store.get(refused_key)
        if refused is not None:  # never hammer the identity server with a known-bad password
            raise AuthError(f"{refused} (not retried for {AUTH_FAIL_TTL // 60:.0f} minutes "
                            "unless the password changes)", code="invalid_grant",
                            method="POST", path="/connect/token", sent=False)
        try:
            return self._password_grant_call()
        except AuthError as exc:
            if exc.code == "invalid_grant":
                self._store.set(refused_key, str(exc), AUTH_FAIL_TTL)
            raise

    def _password_grant_call(self) -> Token:
        scope_key = f"scope:{self.account.key}"
        scope = self._store.get(scope_key) or SCOPE_WITH_REFRESH
        form = {
            "grant_type": "password",
            "username": self.account.username,
            "password": self.account.password,
            "scope": scope,
        }
        try:
            return self._token_call(form)
        except AuthError as exc:
            if exc.code != "invalid_scope" or scope == SCOPE:
                raise
        # The client may not be allowed offline_access: ask without it, and remember that.
        self._store.set(scope_key, SCOPE, SITE_TTL)
        form["scope"] = SCOPE
        return self._token_call(form)

    def _refresh(self, token: Token) -> Token | None:
        try:
            fresh = self._token_call(
                {"grant_type": "refresh_token", "refresh_token": str(token.refresh_token)}
            )
        except AuthError:
            log.info("salto token refresh refused; running the password grant again")
            return None
        if fresh.refresh_token is None:  # keep using the one we have
            fresh = Token(fresh.access_token, fresh.expires_at, token.refresh_token)
        return fresh

    def _token_call(self, form: dict[str, str]) -> Token:
        url = f"{self.account.identity_url.rstrip('/')}/connect/token"
        grant = form["grant_type"]
        resp = self._send(
            "POST", url, path="/connect/token", data=form,
            auth=(self.account.client.client_id, self.account.client.client_secret),
            learn_clock=False,
        )
        body = self._json(resp, "POST", "/connect/token", allow_empty=True)
        if resp.status_code == 200 and isinstance(body, dict):
            access = body.get("access_token")
            expires_in = body.get("expires_in", DEFAULT_EXPIRES_IN)
            refresh = body.get("refresh_token")
            if (isinstance(access, str) and access and isinstance(expires_in, int | float)
                    and not isinstance(expires_in, bool) and math.isfinite(expires_in)):
                return Token(
                    access,
                    self._clock() + min(max(float(expires_in), 0.0), MAX_EXPIRES_IN),
                    refresh if isinstance(refresh, str) and refresh else None,
                )
            raise Unavailable("Salto KS identity server sent a token reply without a token",
                              status=200, method="POST", path="/connect/token")
        error = body.get("error") if isinstance(body, dict) else None
        if resp.status_code in (400, 401) and isinstance(error, str):
            raise AuthError(self._oauth_message(error, grant), status=resp.status_code,
                            code=error, method="POST", path="/connect/token")
        if resp.status_code == 429 or resp.status_code >= 500 or resp.status_code == 404:
            raise Unavailable(
                f"Salto KS identity server answered HTTP {resp.status_code}; try again later",
                status=resp.status_code, method="POST", path="/connect/token",
                retry_after=_retry_after(resp),
            )
        raise AuthError(f"Salto KS identity server answered HTTP {resp.status_code}",
                        status=resp.status_code, method="POST", path="/connect/token")

    def _oauth_message(self, error: str, grant: str) -> str:
        if error == "invalid_grant" and grant == "password":
            return (f"Salto KS refused the username or password of account "
                    f"{self.account.username!r} (invalid_grant)")
        if error == "invalid_client":
            return ("Salto KS refused the platform OAuth client (invalid_client): check the "
                    "SALTO_KS_<ENVIRONMENT>_CLIENT_ID and _CLIENT_SECRET variables")
        if error == "unauthorized_client":
            return ("The platform OAuth client may not use the password grant "
                    "(unauthorized_client): ask Salto to enable it")
        return f"Salto KS identity server refused the {grant} grant ({error})"

    # -- HTTP ------------------------------------------------------------------------------

    def _timeouts(self, method: str, path: str) -> tuple[tuple[float, float], float]:
        """(connect, read) timeouts and the call's monotonic deadline."""
        now = self._monotonic()
        if self.deadline is None:
            return self._timeout, now + sum(self._timeout)
        left = self.deadline - now
        if left <= MIN_CALL_TIME:
            raise Timeout(f"no time left for {method} {path}", method=method, path=path,
                          sent=False)
        return (min(self._timeout[0], left), min(self._timeout[1], left)), self.deadline

    def _send(self, method: str, url: str, *, path: str, learn_clock: bool = True,
              **kwargs: Any) -> requests.Response:
        """One request and its whole answer, inside the deadline (body reads included),
        never redirected, at most ``max_body_bytes`` long. ``learn_clock``: the URL is on
        the Connect API's origin, so its ``Date`` is Salto's clock."""
        timeout, deadline = self._timeouts(method, path)
        with guarded(deadline) as guard:
            try:
                resp = self._session.request(method, url, timeout=timeout, stream=True,
                                             **kwargs)
                try:
                    body = read_body(resp, self._tuning.max_body_bytes)
                finally:
                    resp.close()
            except BodyTooLarge:
                raise Unavailable(f"Salto KS sent an answer over "
                                  f"{self._tuning.max_body_bytes // 1_000_000} MB to {method} "
                                  f"{path}", status=resp.status_code, method=method,
                                  path=path) from None
            except BadEncoding:
                raise Unavailable(f"Salto KS sent an answer in an unknown encoding to {method} "
                                  f"{path}", status=resp.status_code, method=method,
                                  path=path) from None
            except requests.ConnectTimeout as exc:
                raise Timeout(f"connecting to Salto KS timed out ({method} {path})",
                              method=method, path=path, sent=False) from exc
            except (requests.RequestException, HTTPError, OSError) as exc:
                never_sent = _never_sent(exc)
                if guard.fired or isinstance(exc, requests.Timeout):
                    raise Timeout(f"Salto KS did not answer in time ({method} {path})",
                                  method=method, path=path, sent=not never_sent) from exc
                raise Unavailable(f"could not reach Salto KS ({method} {path})",
                                  method=method, path=path, sent=not never_sent) from exc
        resp._content = body
        if 300 <= resp.status_code < 400:
            raise Unavailable(f"Salto KS answered {method} {path} with a redirect (HTTP "
                              f"{resp.status_code}); redirects are never followed",
                              status=resp.status_code, method=method, path=path)
        if learn_clock:
            self._observe_clock(resp)
        return resp

    # -- Salto's clock ------------------------------------------------------------------------

    @property
    def _clock_key(self) -> str:
        return f"clock:{self._api}"

    def _learned_clock(self) -> tuple[float, float] | None:
        """(offset, measured at), read from the store once per gateway."""
        if self._clock_cache is _UNREAD:
            self._clock_cache = self._store.get(self._clock_key)
        return self._clock_cache  # type: ignore[no-any-return]

    def clock_offset(self) -> float:
        """Seconds Salto's clock is ahead of ours, learned from its ``Date`` headers."""
        learned = self._learned_clock()
        return float(learned[0]) if learned is not None else 0.0

    def salto_now(self) -> datetime:
        """Our UTC clock corrected by the learned offset: what OTPs are signed with."""
        return datetime.fromtimestamp(self._clock() + self.clock_offset(), UTC)

    def _observe_clock(self, resp: requests.Response) -> None:
        """Learn Salto's clock from ``Date``: when the last reading is older than a minute,
        and after every error answer (an ``otp_invalid`` may be a clock jump)."""
        now = self._clock()
        learned = self._learned_clock()
        if learned is not None and now - learned[1] < CLOCK_RECHECK and resp.status_code < 400:
            return
        header = resp.headers.get("Date")
        if not header:
            return
        try:
            parsed = parsedate_tz(header[:100])
            # Date has whole seconds, truncated: the instant is on average 0.5 s later.
            offset = round(mktime_tz(parsed) + 0.5 - now) if parsed else None
        except (TypeError, ValueError, OverflowError, IndexError):
            offset = None
        if offset is None or abs(offset) > MAX_CLOCK_OFFSET:
            log.warning("Salto KS sent an impossible Date header; it is ignored, not learned "
                        "as Salto's clock")
            return
        if abs(offset) > CLOCK_WARN_SECONDS and (learned is None or learned[0] != offset):
            log.warning("Salto KS clock differs from ours by %+d s; OTPs are signed with "
                        "Salto's time. Check this server's NTP.", offset)
        self._clock_cache = (offset, now)
        try:  # best effort: an answer already received must not be lost to the store
            self._store.set(self._clock_key, self._clock_cache, CLOCK_TTL)
        except StoreUnavailable:
            log.warning("salto clock offset not stored: the shared store is unavailable")

    @staticmethod
    def _json(resp: requests.Response, method: str, path: str, allow_empty: bool = False) -> Any:
        if not resp.content:
            if allow_empty or resp.status_code >= 400:
                return None
            raise Unavailable(f"Salto KS sent an empty answer to {method} {path}",
                              status=resp.status_code, method=method, path=path)
        try:
            return json.loads(resp.content)
        except RecursionError:
            raise Unavailable(f"Salto KS sent JSON nested too deep to {method} {path}",
                              status=resp.status_code, method=method, path=path) from None
        except ValueError:
            if resp.status_code >= 400:
                return None
            raise Unavailable(f"Salto KS sent an answer that is not JSON to {method} {path}",
                              status=resp.status_code, method=method, path=path) from None

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        url: str | None = None,
        expect_body: bool = True,
    ) -> Any:
        """One API call with the bearer token: a 401 refreshes and replays exactly once;
        GETs are retried on 5xx/429/connection errors with jittered backoff."""
        attempts = 1 + (self._get_retries if method == "GET" else 0)
        for attempt in range(attempts):
            try:
                return self._authorised(method, path, params=params, json=json, url=url,
                                        expect_body=expect_body)
            except Unavailable as exc:
                if attempt + 1 >= attempts or (isinstance(exc, Timeout) and exc.sent) or (
                        exc.status is not None and exc.status < 400):
                    raise
                delay = exc.retry_after
                if delay is None:
                    delay = BACKOFF_BASE * (2**attempt) * (0.5 + random.random())
                if delay > MAX_RETRY_AFTER or (self.deadline is not None and
                                    self._monotonic() + delay >= self.deadline):
                    raise
                log.info("salto %s %s unavailable, retry %d in %.2fs", method, path,
                         attempt + 1, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _authorised(self, method: str, path: str, *, params: Mapping[str, Any] | None,
                    json: Any, url: str | None, expect_body: bool) -> Any:
        full = url or f"{self._api}{path}"
        for replay in (False, True):
            token = self.access_token(fresh=replay)
            extra: dict[str, Any] = {"params": params} if params else {}
            resp = self._send(method, full, path=path, json=json,
                              headers={"Authorization": f"Bearer {token}"}, **extra)
            if resp.status_code == 401 and not replay:
                log.info("salto %s %s: 401, refreshing the token and replaying once",
                         method, path)
                self.invalidate_token(token)
                continue
            break
        if resp.status_code >= 400:
            body = self._json(resp, method, path)
            raise error_for(resp.status_code, body, method=method, path=path,
                            retry_after=_retry_after(resp))
        if not expect_body:
            return None
        return self._json(resp, method, path)

    def _pages(self, path: str) -> list[Any]:
        """All items of a list endpoint: ``{items, next_page_link, count}`` or a bare array,
        over ``$top``/``$skip`` pages; ``next_page_link`` is followed on the API's origin
        only. More than ``max_pages`` pages or ``max_items`` items, or a link seen before,
        is an error: never a silently short list, never an endless loop."""
        tuning = self._tuning
        items: list[Any] = []
        url: str | None = None
        params: dict[str, Any] | None = {"$top": self._page_size, "$skip": 0}
        seen: set[str] = set()
        for _ in range(tuning.max_pages):
            body = self._call("GET", path, params=params, url=url)
            if isinstance(body, list):
                page, has_link, link, count = body, False, None, None
            elif isinstance(body, dict) and isinstance(body.get("items"), list):
                page = body["items"]
                has_link, link = "next_page_link" in body, body.get("next_page_link")
                count = body.get("count") if isinstance(body.get("count"), int) else None
            else:
                raise Unavailable(f"Salto KS sent an unexpected list shape for GET {path}",
                                  method="GET", path=path)
            items.extend(page)
            if len(items) > tuning.max_items:
                raise Unavailable(f"Salto KS listed more than {tuning.max_items} items for "
                                  f"GET {path}", method="GET", path=path)
            if isinstance(link, str) and link:
                url, params = self._next_link(link, path, seen), None
                continue
            if has_link or not page or len(page) < self._page_size:
                return items
            if count is not None and len(items) >= count:
                return items
            url, params = None, {"$top": self._page_size, "$skip": len(items)}
        raise Unavailable(f"Salto KS sent more than {tuning.max_pages} pages for GET {path}",
                          method="GET", path=path)

    def _next_link(self, link: str, path: str, seen: set[str]) -> str:
        try:
            url = urljoin(f"{self._api}/", link[:2000])
            same = origin(url) == self._api_origin
        except ValueError:
            raise Unavailable("Salto KS sent a malformed next_page_link", method="GET",
                              path=path) from None
        if not same:
            raise Unavailable("Salto KS sent a next_page_link to another host",
                              method="GET", path=path)
        if url in seen:
            raise Unavailable("Salto KS sent the same next_page_link twice", method="GET",
                              path=path)
        seen.add(url)
        return url

    # -- sites (endpoints 2, 3) --------------------------------------------------------------

    def resolve_site(self, site_uid: str) -> Site:
        """Site UID (``NL6254340082``) → site; by ``$filter``, else from the site list."""
        key = f"site:{self.account.key}:{site_uid}"
        cached = self._store.get(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        site = None
        try:
            body = self._call("GET", "/v1.1/sites",
                              params={"$filter": f"site_uid eq '{site_uid}'"})
            site = self._match_site(body, site_uid)
        except (Refused, NotFound) as exc:
            log.info("salto site $filter refused (%s); falling back to the site list", exc.code)
        if site is None:
            site = self._match_site(self._call("GET", "/v1.2/sites"), site_uid)
        if site is None:
            raise SiteNotFound(f"no site with Site UID {site_uid} is visible to account "
                           f"{self.account.username!r}", status=404, method="GET",
                           path="/v1.2/sites")
        self._store.set(key, site, SITE_TTL)
        return site

    @staticmethod
    def _match_site(body: Any, site_uid: str) -> Site | None:
        items = body if isinstance(body, list) else (
            body.get("items") if isinstance(body, dict) else None)
        if not isinstance(items, list):
            raise Unavailable("Salto KS sent an unexpected site list", method="GET",
                              path="/v1.x/sites")
        for item in items:
            if isinstance(item, dict) and item.get("site_uid") == site_uid:
                site_id = _id(item.get("id"))
                if site_id is not None:
                    return Site(site_id, site_uid, _text(item.get("customer_reference")))
        return None

    # -- locks and IQs (endpoints 5, 6, 7) ---------------------------------------------------

    def _locks_key(self, site_id: str) -> str:
        return f"locks:{self.account.key}:{site_id}"

    def locks(self, site_id: str, *, refresh: bool = False) -> LockList:
        """The site's locks, from the store unless ``refresh`` or older than the TTL."""
        key = self._locks_key(site_id)
        if not refresh:
            cached = self._store.get(key)
            if cached is not None:
                return cached  # type: ignore[no-any-return]
        with self._mutex(key, LOCKS_WAIT):
            if not refresh:
                cached = self._store.get(key)
                if cached is not None:
                    return cached  # type: ignore[no-any-return]
            path = f"/v1.2/sites/{_seg(site_id)}/locks"
            result = LockList.of([parse_lock(item) for item in self._pages(path)])
            self._store.set(key, result, self._locks_ttl)
            return result

    def lock(self, site_id: str, lock_id: str) -> Lock:
        """One lock, fresh from Salto (endpoint 6)."""
        path = f"/v1.2/sites/{_seg(site_id)}/locks/{_seg(lock_id)}"
        return parse_lock(self._call("GET", path))

    def iqs(self, site_id: str) -> list[Iq]:
        return [parse_iq(item) for item in self._pages(f"/v1.2/sites/{_seg(site_id)}/iqs")]

    # -- IQ activation (endpoints 9, 10, 11) -------------------------------------------------

    def iq_secret(self, site_id: str, iq_id: str) -> str:
        """The account's IQ secret. Salto hands it out once: store it at once."""
        path = f"/v1.2/sites/{_seg(site_id)}/iqs/{_seg(iq_id)}/secret"
        body = self._call("GET", path)
        secret = body.get("secret") if isinstance(body, dict) else None
        if not isinstance(secret, str) or not secret:
            raise Unavailable("Salto KS sent no secret", method="GET", path=path)
        return secret

    def request_pin_email(self, site_id: str, iq_id: str) -> None:
        """"GET PIN": Salto e-mails the IQ PIN to the account (204, no body)."""
        path = f"/v1.2/sites/{_seg(site_id)}/iqs/{_seg(iq_id)}/pin"
        self._call("GET", path, params={"send_email": "true"}, expect_body=False)

    def set_pin(self, site_id: str, iq_id: str, *, otp: str, delta: str) -> None:
        """"Set PIN": activate the account at the IQ; new PIN = current PIN - delta."""
        path = f"/v1.2/sites/{_seg(site_id)}/iqs/{_seg(iq_id)}/pin"
        self._call("PUT", path, json={"otp": otp, "delta": delta}, expect_body=False)

    # -- remote open (endpoint 16) and entries (17) ------------------------------------------

    def open_lock(self, site_id: str, lock_id: str, *, sign: Callable[[], str]) -> None:
        """One remote-open command, signed by ``sign()`` right before it is sent.

        Never resent after Salto answered anything. Resent once, with a fresh OTP and within
        the deadline, only when the request provably never left this machine (connection
        refused or not established).
        """
        path = f"/v1.2/sites/{_seg(site_id)}/locks/{_seg(lock_id)}/locking"
        for attempt in (1, 2):
            try:
                self._call("PATCH", path, json={"locked_state": "unlocked", "otp": sign()},
                           expect_body=False)
                return
            except Unavailable as exc:
                if exc.sent or attempt == 2:
                    raise
                log.info("salto PATCH %s never reached Salto; resending once", path)

    def entries(self, site_id: str, top: int = 20) -> list[dict[str, Any]]:
        path = f"/v1.1/sites/{_seg(site_id)}/entries"
        body = self._call("GET", path,
                          params={"$top": top, "$orderby": "utc_date_time desc"})
        items = body.get("items") if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise Unavailable("Salto KS sent an unexpected entry list", method="GET", path=path)
        return [item for item in items if isinstance(item, dict)]
