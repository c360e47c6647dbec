"""The plugin's one HTTP session: never redirected, and every socket of a call closed
when the call's wall-clock deadline passes.

requests' timeouts are per socket read: an answer that drips one byte a second never trips
them. Here every call runs under a :class:`CallGuard` (:func:`guarded`); the sockets it
uses are registered with it, and one watchdog thread shuts them down when the deadline
passes, which ends any blocked read at once. Redirects are never followed, nor prepared
(a redirect may carry the password or an OTP to another host).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Self

import requests
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError
from urllib3.util.retry import Retry

POOL_HOSTS = 8  # connection pools kept (Salto has two hosts per environment)
POOL_SIZE = 32  # connections per host, for many threads of one worker


COMPACT_AFTER = 256  # ended guards tolerated in the watchdog's heap before it is rebuilt


class CallGuard:
    """One call: its sockets, shut down by the watchdog when ``deadline`` passes, and what
    :class:`CallRetry` may do for it (how many retries, how to wait)."""

    __slots__ = ("_lock", "_socks", "deadline", "done", "fired", "retries", "side_effect", "sleep")

    def __init__(
        self,
        deadline: float,
        retries: int = 0,
        side_effect: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.deadline = deadline  # time.monotonic() instant
        self.retries = retries  # for a read (or a token grant); 0 for everything else
        self.side_effect = side_effect  # a read that must not arrive twice (GET PIN)
        self.sleep = sleep  # the injected clock's, so tests do not wait
        self.fired = False
        self.done = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def attach(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if self.done:
                return
            if self.fired:
                _shutdown(sock)
            else:
                self._socks.append(sock)

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.fired = True
            socks, self._socks = self._socks, []
        for sock in socks:
            _shutdown(sock)

    def close(self) -> None:
        with self._lock:
            self.done = True
            self._socks.clear()


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread for the process, sleeping until the nearest deadline."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, CallGuard]] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._ended = 0  # guards in the heap whose call has ended

    def release(self, guard: CallGuard) -> None:
        """A call ended before its deadline: its guard is dropped from the heap soon (the
        heap is rebuilt once ended guards are more than half of it), so memory follows the
        calls in flight, not the calls of the last deadline's span."""
        with self._cond:
            self._ended += 1
            if self._ended > COMPACT_AFTER and self._ended * 2 > len(self._heap):
                self._heap = [entry for entry in self._heap if not entry[2].done]
                heapq.heapify(self._heap)
                self._ended = 0

    def watch(self, guard: CallGuard) -> None:
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="salto-deadlines", daemon=True
                )
                self._thread.start()
            earliest = not self._heap or guard.deadline < self._heap[0][0]
            heapq.heappush(self._heap, (guard.deadline, next(self._seq), guard))
            if earliest:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                deadline, _, guard = self._heap[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                if guard.done:
                    self._ended = max(0, self._ended - 1)
                    continue
            guard.expire()


_watchdog = _Watchdog()
_current = threading.local()


class guarded:
    """Run one call (request, retries and body read) in this thread under ``deadline``, a
    ``time.monotonic()`` instant. Nests: a token fetched while a request is prepared runs
    under its own guard, and the outer one is current again afterwards."""

    __slots__ = ("guard", "outer")

    def __init__(
        self,
        deadline: float,
        retries: int = 0,
        side_effect: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.guard = CallGuard(deadline, retries, side_effect, sleep)
        self.outer: CallGuard | None = None

    def __enter__(self) -> CallGuard:
        _watchdog.watch(self.guard)
        self.outer = getattr(_current, "guard", None)
        _current.guard = self.guard
        return self.guard

    def __exit__(self, *exc: object) -> None:
        _current.guard = self.outer
        self.guard.close()
        _watchdog.release(self.guard)


def current_guard() -> CallGuard | None:
    return getattr(_current, "guard", None)


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


def _attach(sock: Any) -> None:
    guard: CallGuard | None = getattr(_current, "guard", None)
    if guard is not None:
        guard.attach(sock)


# Both attach the connection's socket to the calling thread's guard as it connects and
# before it waits for an answer (two small classes rather than a mixin mypy cannot check).
class _GuardedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _attach(self.sock)

    def getresponse(self) -> Any:
        _attach(self.sock)
        return super().getresponse()


class _GuardedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _attach(self.sock)

    def getresponse(self) -> Any:
        _attach(self.sock)
        return super().getresponse()


def _guard(conn: Any) -> Any:
    """Plain urllib3 connections become guarded ones. Not via ConnectionCls: recorders such
    as vcrpy patch that attribute on urllib3's pools, and must keep working."""
    if type(conn) is HTTPConnection:
        conn.__class__ = _GuardedHTTPConnection
    elif type(conn) is HTTPSConnection:
        conn.__class__ = _GuardedHTTPSConnection
    return conn


class _Pool(HTTPConnectionPool):
    def _new_conn(self) -> Any:
        return _guard(super()._new_conn())


class _TlsPool(HTTPSConnectionPool):
    def _new_conn(self) -> Any:
        return _guard(super()._new_conn())


class _GuardedAdapter(HTTPAdapter):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_retries=CallRetry(), **kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TlsPool}

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = {"http": _Pool, "https": _TlsPool}
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

    def request(
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
