"""The token lifecycle of one Salto KS account, in the style of authlib's token auth: a
valid access token on demand (cached in the store, refreshed a leeway before it expires,
one fetch at a time per account across threads and, with Redis, processes), the refresh
token first and the password grant after, the ``offline_access`` scope dropped when the
client may not have it, and a refused password not tried again for a while.

:class:`BearerAuth` puts the token on each API request as a ``requests`` auth, in the style
of authlib's ``OAuth2Auth``, and replays a request once with a new token when the API
answers 401.

OAuth 2.0 password grant: docs/salto-ks-api.md, "Authentication".
"""

from __future__ import annotations

import hashlib
import logging
import math
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

import requests
from requests.auth import AuthBase

from ireserve_salto_plugin.salto.cache import REFUSED_PASSWORD, SCOPE, TOKEN, Key, Store
from ireserve_salto_plugin.salto.clock import SYSTEM_CLOCK, Clock
from ireserve_salto_plugin.salto.config import ClientCredentials, Origin, origin
from ireserve_salto_plugin.salto.errors import AuthError, Timeout, Unavailable
from ireserve_salto_plugin.salto.transport import Transport, decode_json, retry_after
from ireserve_salto_plugin.salto.types import Token

log = logging.getLogger(__name__)

GRANT_PATH = "/connect/token"
BASE_SCOPE = "user_api.full_access"
SCOPE_WITH_REFRESH = "user_api.full_access offline_access"
TOKEN_LEEWAY = 60.0  # seconds before expires_in at which a token counts as expired
DEFAULT_EXPIRES_IN = 3600.0  # when the identity server does not say
MAX_EXPIRES_IN = 86400.0  # a longer lifetime is cut to this
REFRESH_TOKEN_KEEP = 86400.0  # seconds a refresh token is kept after its access token
REFUSED_PASSWORD_TTL = 300.0  # seconds a refused password is not tried again
SCOPE_TTL = 86400.0  # seconds the scope fallback is remembered
TOKEN_WAIT = 30.0  # longest wait for another caller fetching the same token

# What each OAuth error of the identity server means for an admin ({user}: the account).
OAUTH_ERRORS: dict[str, str] = {
    "invalid_grant": "Salto KS refused the username or password of account {user} (invalid_grant)",
    "invalid_client": "Salto KS refused the platform OAuth client (invalid_client): check the "
    "SALTO_KS_<ENVIRONMENT>_CLIENT_ID and _CLIENT_SECRET variables",
    "unauthorized_client": "The platform OAuth client may not use the password grant "
    "(unauthorized_client): ask Salto to enable it",
}


@dataclass(frozen=True, slots=True)
class Account:
    """Where and as whom to talk to Salto KS. ``key`` identifies it without its secrets."""

    identity_url: str
    api_url: str
    client: ClientCredentials = field(repr=False)
    username: str
    password: str = field(repr=False)
    key: str = field(init=False, repr=False)
    api_origin: Origin = field(init=False, repr=False)
    token_key: Key[Token] = field(init=False, repr=False, compare=False)  # built once

    def __post_init__(self) -> None:
        parts = (
            self.identity_url,
            self.api_url,
            self.client.client_id,
            self.client.client_secret,
            self.username,
            self.password,
        )
        digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]
        object.__setattr__(self, "key", digest)
        object.__setattr__(self, "api_origin", origin(self.api_url))
        object.__setattr__(self, "token_key", TOKEN(digest))


def client_auth(client: ClientCredentials) -> tuple[str, str]:
    """The Basic credentials of the OAuth client: id and secret form-urlencoded first, as
    RFC 6749 §2.3.1 requires (a secret with ``+``, ``%`` or ``:`` is sent unambiguously)."""
    return quote_plus(client.client_id), quote_plus(client.client_secret)


def oauth_message(error: str, grant: str, username: str) -> str:
    if error == "invalid_grant" and grant != "password":
        return f"Salto KS identity server refused the {grant} grant ({error})"
    template = OAUTH_ERRORS.get(error)
    if template is None:
        return f"Salto KS identity server refused the {grant} grant ({error})"
    return template.format(user=repr(username))


class TokenSource:
    def __init__(
        self, account: Account, transport: Transport, store: Store, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.account = account
        self._transport = transport
        self._store = store
        self._clock = clock
        self._key = account.token_key
        # the identity server failed this hook call already: not asked again in it (the
        # call's retries were spent on that fetch; one open sent 9 token requests)
        self._down: Unavailable | None = None

    def _valid(self, token: Token | None) -> bool:
        return token is not None and token.expires_at - TOKEN_LEEWAY > self._clock.wall()

    def access_token(self, fresh: bool = False) -> str:
        """A valid access token; ``fresh`` skips any per-process copy of the shared one."""
        token = self._store.get(self._key, fresh=fresh)
        if token is not None and self._valid(token):
            return token.access_token
        with self._mutex(for_a_token=True):
            # another thread or process may have fetched it meanwhile
            token = self._store.get(self._key, fresh=True)
            if token is not None and self._valid(token):
                return token.access_token
            if self._down is not None:
                raise Unavailable(
                    str(self._down),
                    status=self._down.status,
                    method="POST",
                    path=GRANT_PATH,
                    retry_after=self._down.retry_after,
                    sent=False,
                )
            try:
                new, retries = None, True
                if token and token.refresh_token:
                    new, retries = self._refresh(token)
                new = new or self._password_grant(retries=retries)
            except Timeout:
                raise
            except Unavailable as exc:
                self._down = exc
                raise
            ttl = new.expires_at - self._clock.wall()
            self._store.set(self._key, new, ttl + (REFRESH_TOKEN_KEEP if new.refresh_token else 0))
            return new.access_token

    def renew(self) -> str:
        """A new token by the password grant, whatever is cached: proves the account's
        username and password (and the platform client) against Salto right now."""
        with self._mutex():
            new = self._password_grant()
            ttl = new.expires_at - self._clock.wall()
            self._store.set(self._key, new, ttl + (REFRESH_TOKEN_KEEP if new.refresh_token else 0))
            return new.access_token

    def stored(self) -> Token | None:
        """The token as stored (the probe reports whether a refresh token came back)."""
        return self._store.get(self._key, fresh=True)

    def invalidate(self, used: str) -> None:
        """Mark the token expired (keeping its refresh token) if it is still the one stored."""
        with self._mutex():
            token = self._store.get(self._key, fresh=True)
            if token is not None and token.access_token == used:
                self._store.set(
                    self._key,
                    Token(token.access_token, 0.0, token.refresh_token),
                    REFRESH_TOKEN_KEEP,
                )

    def _mutex(self, *, for_a_token: bool = False) -> AbstractContextManager[None]:
        """One token fetch at a time per account. ``for_a_token`` (a caller that needs any
        valid token, and checks the store again once it holds the mutex): a waiter whose
        store polls (Redis) stops waiting as soon as a valid token is stored, instead of
        taking the mutex after every other waiter, one poll apart. ``renew`` and
        ``invalidate`` always wait for the mutex itself."""
        return self._transport.single_flight(
            self._store,
            self._key,
            TOKEN_WAIT,
            ready=(lambda: self._valid(self._store.get(self._key, fresh=True)))
            if for_a_token
            else None,
        )

    def _password_grant(self, *, retries: bool = True) -> Token:
        refused_key = REFUSED_PASSWORD(self.account.key)
        refused = self._store.get(refused_key)
        if refused is not None:  # never hammer the identity server with a known-bad password
            raise AuthError(
                f"{refused} (not retried for {REFUSED_PASSWORD_TTL // 60:.0f} "
                "minutes unless the password changes)",
                code="invalid_grant",
                method="POST",
                path=GRANT_PATH,
                sent=False,
            )
        try:
            return self._password_grant_call(retries)
        except AuthError as exc:
            if exc.code == "invalid_grant":
                self._store.set(refused_key, str(exc), REFUSED_PASSWORD_TTL)
            raise

    def _password_grant_call(self, retries: bool) -> Token:
        scope_key = SCOPE(self.account.key)
        scope = self._store.get(scope_key) or SCOPE_WITH_REFRESH
        form = {
            "grant_type": "password",
            "username": self.account.username,
            "password": self.account.password,
            "scope": scope,
        }
        try:
            return self._token_call(form, retries)
        except AuthError as exc:
            if exc.code != "invalid_scope" or scope == BASE_SCOPE:
                raise
        # The client may not be allowed offline_access: ask without it, and remember that.
        self._store.set(scope_key, BASE_SCOPE, SCOPE_TTL)
        form["scope"] = BASE_SCOPE
        return self._token_call(form, retries)

    def _refresh(self, token: Token) -> tuple[Token | None, bool]:
        """A token by the refresh grant, or ``None`` and whether the password grant may
        still be retried: after a refused refresh token it may; after a server failure it
        is sent once, unretried, so one hook call asks a failing identity server at most
        three times (the README's "up to 2 retries")."""
        try:
            fresh = self._token_call(
                {"grant_type": "refresh_token", "refresh_token": str(token.refresh_token)}
            )
        except Timeout:
            raise  # the hook's time is up: no second grant
        except (AuthError, Unavailable) as exc:  # refused, or the grant's server failed
            log.info(
                "salto token refresh failed (%s); running the password grant instead",
                exc.code or exc.status or type(exc).__name__,
            )
            return None, isinstance(exc, AuthError)
        if fresh.refresh_token is None:  # keep using the one we have
            fresh = Token(fresh.access_token, fresh.expires_at, token.refresh_token)
        return fresh, True

    def _token_call(self, form: dict[str, str], retries: bool = True) -> Token:
        url = f"{self.account.identity_url}{GRANT_PATH}"
        grant = form["grant_type"]
        client = self.account.client
        resp = self._transport.send(
            "POST",
            url,
            path=GRANT_PATH,
            data=form,
            auth=client_auth(client),
            safe=grant == "password" and retries,
        )
        body = decode_json(resp, "POST", GRANT_PATH, allow_empty=True)
        status = resp.status_code
        if status == 200 and isinstance(body, dict):
            token = self._token_of(body)
            self._transport.telemetry.token(grant)
            return token
        error = body.get("error") if isinstance(body, dict) else None
        if status in (400, 401) and isinstance(error, str):
            raise AuthError(
                oauth_message(error[:60], grant, self.account.username),
                status=status,
                code=error[:60],
                method="POST",
                path=GRANT_PATH,
            )
        if status == 429 or status >= 500 or status == 404:
            raise Unavailable(
                f"Salto KS identity server answered HTTP {status}; try again later",
                status=status,
                method="POST",
                path=GRANT_PATH,
                retry_after=retry_after(resp),
            )
        raise AuthError(
            f"Salto KS identity server answered HTTP {status}",
            status=status,
            method="POST",
            path=GRANT_PATH,
        )

    def _token_of(self, body: dict[str, Any]) -> Token:
        access = body.get("access_token")
        expires_in = body.get("expires_in", DEFAULT_EXPIRES_IN)
        refresh = body.get("refresh_token")
        if (
            isinstance(access, str)
            and access
            and isinstance(expires_in, int | float)
            and not isinstance(expires_in, bool)
            and math.isfinite(expires_in)
        ):
            lifetime = min(max(float(expires_in), 0.0), MAX_EXPIRES_IN)
            return Token(
                access,
                self._clock.wall() + lifetime,
                refresh if isinstance(refresh, str) and refresh else None,
            )
        raise Unavailable(
            "Salto KS identity server sent a token reply without a token",
            status=200,
            method="POST",
            path=GRANT_PATH,
        )


class BearerAuth(AuthBase):
    """The account's bearer token on every Connect API request. A 401 marks the token used
    as expired and replays the request exactly once with a new one (from the response
    hook, on the same adapter, so the replay stays within the call's deadline); a second
    401 is the answer."""

    def __init__(self, tokens: TokenSource) -> None:
        self.tokens = tokens

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.tokens.access_token()}"
        request.hooks["response"].append(self._replay_once)
        return request

    def _replay_once(self, resp: requests.Response, **kwargs: Any) -> requests.Response:
        request = resp.request
        if resp.status_code != 401:  # the replay is sent by the adapter: no hook runs on it
            return resp
        used = str(request.headers.get("Authorization", ""))[len("Bearer ") :]
        log.info(
            "salto %s %s: 401, refreshing the token and replaying once",
            request.method,
            request.path_url.split("?")[0],
        )
        try:
            self.tokens.invalidate(used)
            token = self.tokens.access_token(fresh=True)
        finally:
            resp.close()  # its body is not read: the replay's answer is the one that counts
        replay = request.copy()
        replay.headers["Authorization"] = f"Bearer {token}"
        again: requests.Response = resp.connection.send(replay, **kwargs)
        again.history.append(resp)
        again.request = replay
        return again
