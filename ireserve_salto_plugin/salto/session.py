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
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

POOL_HOSTS = 8  # connection pools kept (Salto has two hosts per environment)
POOL_SIZE = 32  # connections per host, for many threads of one worker


COMPACT_AFTER = 256  # ended guards tolerated in the watchdog's heap before it is rebuilt


class CallGuard:
    """The sockets of one call, shut down by the watchdog when ``deadline`` passes."""

    __slots__ = ("_lock", "_socks", "deadline", "done", "fired")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline  # time.monotonic() instant
        self.fired = False
        self.done = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()

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
                self._thread = threading.Thread(target=self._run, name="salto-deadlines",
                                                daemon=True)
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
    """Run one call (request and body read) in this thread under ``deadline``, a
    ``time.monotonic()`` instant."""

    __slots__ = ("guard",)

    def __init__(self, deadline: float) -> None:
        self.guard = CallGuard(deadline)

    def __enter__(self) -> CallGuard:
        _watchdog.watch(self.guard)
        _current.guard = self.guard
        return self.guard

    def __exit__(self, *exc: object) -> None:
        _current.guard = None
        self.guard.close()
        _watchdog.release(self.guard)


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
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TlsPool}

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = {"http": _Pool, "https": _TlsPool}
        return manager


class SaltoSession(requests.Session):
    """The plugin's one HTTP session.

    - Never follows a redirect, whatever the caller passes.
    - Reads the environment (proxies, ``NO_PROXY``, CA bundle) once per host instead of on
      every request, as requests does with ``trust_env``: that re-scan of ``os.environ``
      was a third of the client-side cost of an open. Proxy settings changed after start-up
      need a restart of the host process.
    """

    def __init__(self, pool: int = POOL_SIZE) -> None:
        super().__init__()
        adapter = _GuardedAdapter(pool_connections=POOL_HOSTS, pool_maxsize=pool)
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        self.headers["User-Agent"] = "ireserve-salto-plugin"
        self.headers["Accept-Encoding"] = "gzip, deflate"
        self.trust_env = False
        self.verify = (os.environ.get("REQUESTS_CA_BUNDLE")
                       or os.environ.get("CURL_CA_BUNDLE") or True)
        self._proxies: dict[str, dict[str, str]] = {}

    def get_redirect_target(self, resp: requests.Response) -> None:
        """No redirect is ever followed, nor prepared: requests would read a 3xx body in
        full (uncapped) to build ``resp.next`` even with ``allow_redirects=False``."""
        return None

    def request(self, method: str | bytes, url: str | bytes,
                *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["allow_redirects"] = False
        if "proxies" not in kwargs:
            text = url.decode() if isinstance(url, bytes) else url
            origin = "/".join(text.split("/", 3)[:3])
            proxies = self._proxies.get(origin)
            if proxies is None:
                proxies = self._proxies[origin] = requests.utils.get_environ_proxies(origin)
            kwargs["proxies"] = proxies
        return super().request(method, url, *args, **kwargs)


def make_session(pool: int = POOL_SIZE) -> requests.Session:
    return SaltoSession(pool)
