"""The plugin's one HTTP session: never redirected, retried only where that is safe
(:class:`CallRetry`), keeping no cookies, and every call under the watchdog of
:mod:`.watchdog`, which closes its sockets when its wall-clock deadline passes. Redirects
are never followed, nor prepared (a redirect may carry the password or an OTP to another
host).
"""

from __future__ import annotations

import os
import time
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Self

import requests
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError
from urllib3.util.retry import Retry

from ireserve_salto_plugin.salto.watchdog import (
    GuardedPool,
    GuardedTlsPool,
    current_guard,
)

POOL_HOSTS = 8  # connection pools kept (Salto has two hosts per environment)
POOL_SIZE = 32  # connections per host, for many threads of one worker


RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
BACKOFF_FACTOR = 0.2  # seconds: the first retry at once, then 0.4 s, 0.8 s (+ ≤ 0.1 s jitter)
MAX_RETRY_AFTER = 10.0  # a longer Retry-After is not waited for: the answer is returned
MIN_CALL_TIME = 0.05  # seconds; with less left after a wait no retry is started


NO_RETRY = Retry(0, read=False)  # requests' default


class CallRetry(Retry):
    """urllib3's retry policy, bounded by the call it serves (the thread's
    :class:`CallGuard`): at most ``guard.retries`` times (the transport gives retries to
    GETs and the token grant only, never to the open's PATCH), on a connection error, a
    reset, 429 or 5xx; ``Retry-After`` respected up to :data:`MAX_RETRY_AFTER`; every wait
    within the time the call has left, slept on the call's clock. Never retried: a request
    that timed out or whose deadline fired (it was sent), and a read with a side effect
    unless it provably never left. When a retry is not allowed, the last answer is
    returned as it is (or the error raised)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("total", 10)  # the guard's ``retries`` is the real limit
        kwargs.setdefault("redirect", False)
        kwargs.setdefault("allowed_methods", None)  # the guard's ``retries`` decides
        kwargs.setdefault("status_forcelist", RETRY_STATUSES)
        kwargs.setdefault("backoff_factor", BACKOFF_FACTOR)
        kwargs.setdefault("backoff_jitter", 0.1)
        kwargs.setdefault("raise_on_status", False)
        kwargs.setdefault("raise_on_redirect", False)
        kwargs.setdefault("respect_retry_after_header", True)
        super().__init__(**kwargs)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Self:
        guard = current_guard()
        allowed = (
            guard is not None
            and len(self.history) < guard.retries
            and not guard.fired
            and not isinstance(error, ReadTimeoutError)
            and not (
                guard.side_effect
                and not isinstance(error, NewConnectionError | ConnectTimeoutError)
            )
        )
        if allowed:
            new = super().increment(method, url, response, error, _pool, _stacktrace)
            assert guard is not None
            wait = new.wait_for(response)
            if wait <= MAX_RETRY_AFTER and wait + MIN_CALL_TIME < guard.left():
                return new
        # not retried: exactly what requests' own "no retries" does (it always raises)
        NO_RETRY.increment(method, url, response, error, _pool, _stacktrace)
        raise AssertionError("unreachable")

    def wait_for(self, response: Any) -> float:
        after = self.get_retry_after(response) if response is not None else None
        return after if after is not None else self.get_backoff_time()

    def sleep(self, response: Any = None) -> None:
        guard, wait = current_guard(), self.wait_for(response)
        if wait > 0:
            (guard.sleep if guard is not None else time.sleep)(wait)


class _GuardedAdapter(HTTPAdapter):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_retries=CallRetry(), **kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": GuardedPool, "https": GuardedTlsPool}

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = {"http": GuardedPool, "https": GuardedTlsPool}
        return manager


PROXY_ORIGINS = 16  # origins whose proxy settings are kept (Salto has two per environment)


class NoCookies(DefaultCookiePolicy):
    """Refuses every cookie, to keep and to send."""

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def return_ok(self, cookie: Any, request: Any) -> bool:
        return False


class SaltoSession(requests.Session):
    """The plugin's one HTTP session.

    - Never follows a redirect, whatever the caller passes.
    - Keeps no cookie (one session serves every park).
    - Reads the environment (proxies, ``NO_PROXY``, CA bundle) once per host instead of on
      every request, as requests does with ``trust_env``. Proxy settings changed after
      start-up need a restart of the host process.
    """

    def __init__(self, pool: int = POOL_SIZE) -> None:
        super().__init__()
        adapter = _GuardedAdapter(pool_connections=POOL_HOSTS, pool_maxsize=pool)
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        self.headers["User-Agent"] = "ireserve-salto-plugin"
        self.headers["Accept-Encoding"] = "gzip, deflate"
        self.trust_env = False
        self.verify = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )
        # One session serves every park: a cookie one park's answer sets would go out on
        # the next park's requests (its token request included). Salto needs none: keep none.
        self.cookies = RequestsCookieJar(policy=NoCookies())
        self._proxies: dict[str, dict[str, str]] = {}

    def get_redirect_target(self, resp: requests.Response) -> None:
        """No redirect is ever followed, nor prepared: requests would read a 3xx body in
        full (uncapped) to build ``resp.next`` even with ``allow_redirects=False``."""
        return None

    def request(  # noqa: PLR0913 (requests.Session.request's own signature)
        self,
        method: str | bytes,
        url: str | bytes,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        cookies: Any = None,
        files: Any = None,
        auth: Any = None,
        timeout: Any = None,
        allow_redirects: bool = True,
        proxies: Any = None,
        hooks: Any = None,
        stream: bool | None = None,
        verify: Any = None,
        cert: Any = None,
        json: Any = None,
    ) -> requests.Response:
        """requests' own ``Session.request``, with the proxies of the URL's origin read
        from the environment once, and never a redirect."""
        text = url.decode() if isinstance(url, bytes) else url
        if proxies is None:
            origin = "/".join(text.split("/", 3)[:3])
            proxies = self._proxies.get(origin)
            if proxies is None:
                if len(self._proxies) >= PROXY_ORIGINS:  # bounded, whatever is asked
                    self._proxies.clear()
                proxies = self._proxies[origin] = requests.utils.get_environ_proxies(origin)
        return super().request(
            method,
            text,
            params=params,
            data=data,
            headers=headers,
            cookies=cookies,
            files=files,
            auth=auth,
            timeout=timeout,
            allow_redirects=False,
            proxies=proxies,
            hooks=hooks,
            stream=stream,
            verify=verify,
            cert=cert,
            json=json,
        )


def make_session(pool: int = POOL_SIZE) -> requests.Session:
    return SaltoSession(pool)
