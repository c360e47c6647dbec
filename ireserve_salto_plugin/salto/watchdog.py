"""Every socket of a call closed when the call's wall-clock deadline passes.

requests' timeouts are per socket read: an answer that drips one byte a second never trips
them. Here every call runs under a :class:`CallGuard` (:func:`guarded`); the sockets it uses
are registered with it (urllib3's connections, made guarded by the pools below), and one
watchdog thread shuts them down when the deadline passes, which ends any blocked read at
once."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

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


class GuardedPool(HTTPConnectionPool):
    def _new_conn(self) -> Any:
        return _guard(super()._new_conn())


class GuardedTlsPool(HTTPSConnectionPool):
    def _new_conn(self) -> Any:
        return _guard(super()._new_conn())
