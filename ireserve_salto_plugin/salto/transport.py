"""Sending one request to Salto and reading its whole, bounded answer within the deadline
of the hook call it serves (the session retries reads); decoding JSON as untrusted input.

Errors are :mod:`.errors` types: :class:`~.errors.Timeout` (``sent`` False only when the
request provably never left), :class:`~.errors.Unavailable` for everything else that is
not an answer (a redirect, a body over the cap, an unknown encoding, JSON too deep).
"""

from __future__ import annotations

import json
import logging
import math
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError

from ireserve_salto_plugin.salto.cache import Key, Store
from ireserve_salto_plugin.salto.clock import SYSTEM_CLOCK, Clock
from ireserve_salto_plugin.salto.config import Tuning
from ireserve_salto_plugin.salto.deadline import NO_DEADLINE, Deadline
from ireserve_salto_plugin.salto.errors import Timeout, Unavailable
from ireserve_salto_plugin.salto.session import MIN_CALL_TIME
from ireserve_salto_plugin.salto.telemetry import NO_TELEMETRY, Telemetry
from ireserve_salto_plugin.salto.watchdog import guarded

log = logging.getLogger(__name__)

CHUNK = 64 * 1024  # bytes read at a time
GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib: a gzip header and trailer
MAX_RETRY_AFTER_HEADER = 86400.0  # a Retry-After is cut to this when reported


class BodyTooLarge(Exception):
    pass


class BadEncoding(Exception):
    pass


def read_body(resp: requests.Response, limit: int) -> bytes:
    """The whole body of a streamed response, at most ``limit`` bytes after decoding
    (gzip and deflate are inflated with the same cap). Raises :class:`BodyTooLarge`,
    :class:`BadEncoding`, or what urllib3 raises when the connection breaks."""
    if resp.raw is None:  # an adapter that answered from memory (tests, benchmarks)
        content = resp._content if isinstance(resp._content, bytes) else b""
        if len(content) > limit:
            raise BodyTooLarge
        return content
    declared = resp.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
    inflate = _inflater(encoding)
    out = bytearray()
    try:
        for chunk in resp.raw.stream(CHUNK, decode_content=False):
            if inflate is not None:
                chunk = inflate.decompress(chunk, limit - len(out) + 1)
                if inflate.unconsumed_tail:
                    raise BodyTooLarge
            out += chunk
            if len(out) > limit:
                raise BodyTooLarge
        if inflate is not None:
            out += inflate.flush()
            if len(out) > limit:
                raise BodyTooLarge
    except zlib.error:
        raise BadEncoding(encoding[:20]) from None
    return bytes(out)


def _inflater(encoding: str) -> Any:
    """A decompressor for ``Content-Encoding`` (None: identity); :class:`BadEncoding` for
    one this client does not read."""
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(GZIP_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    raise BadEncoding(encoding[:20])


def never_sent(exc: BaseException) -> bool:
    """True when the connection was never established, so no byte of the request left."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


def retry_after(resp: requests.Response) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), bounded; else ``None``."""
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
    return min(max(0.0, seconds), MAX_RETRY_AFTER_HEADER) if math.isfinite(seconds) else None


def decode_json(resp: requests.Response, method: str, path: str, allow_empty: bool = False) -> Any:
    """The answer's JSON; ``None`` for an empty or unreadable error answer."""
    if not resp.content:
        if allow_empty or resp.status_code >= 400:
            return None
        raise Unavailable(
            f"Salto KS sent an empty answer to {method} {path}",
            status=resp.status_code,
            method=method,
            path=path,
        )
    try:
        return json.loads(resp.content)
    except RecursionError:
        raise Unavailable(
            f"Salto KS sent JSON nested too deep to {method} {path}",
            status=resp.status_code,
            method=method,
            path=path,
        ) from None
    except ValueError:
        if resp.status_code >= 400:
            return None
        raise Unavailable(
            f"Salto KS sent an answer that is not JSON to {method} {path}",
            status=resp.status_code,
            method=method,
            path=path,
        ) from None


class Transport:
    """Requests for one hook call: the shared session, the call's :class:`Deadline` (without
    one each request gets its connect and read timeouts as its whole deadline), and the
    tuning's caps."""

    def __init__(
        self,
        session: requests.Session,
        *,
        tuning: Tuning | None = None,
        clock: Clock = SYSTEM_CLOCK,
        deadline: Deadline = NO_DEADLINE,
        telemetry: Telemetry = NO_TELEMETRY,
    ) -> None:
        self.session = session
        self.telemetry = telemetry
        self.tuning = tuning = tuning or Tuning()
        self.clock = clock
        self.deadline = deadline
        self.timeout = (tuning.connect_timeout, tuning.read_timeout)
        self.get_retries = tuning.get_retries

    def wait_limit(self, wanted: float, what: str) -> float:
        """How long a wait (for another caller's fetch) may last: never past the deadline."""
        left = self.deadline.left()
        if left is None:
            return wanted
        if left <= MIN_CALL_TIME:
            raise Timeout(f"no time left to wait for {what}", sent=False)
        return min(wanted, left)

    @contextmanager
    def single_flight(
        self, store: Store, key: Key[Any], wanted: float, ready: Callable[[], bool] | None = None
    ) -> Iterator[None]:
        """Hold ``key``'s mutex (one fetch at a time across threads and, with a shared
        store, processes), waiting for another holder at most ``wanted`` seconds and never
        past the deadline. ``ready`` (see :meth:`Store.mutex`): the wait may end without
        the mutex once what the holder fetches is there; the caller checks again."""
        limit = self.wait_limit(wanted, "another request to Salto KS")
        with ExitStack() as stack:
            try:
                stack.enter_context(store.mutex(key, limit, ready))
            except TimeoutError as exc:
                raise Timeout(
                    f"waited {limit:.0f}s for another request to Salto KS", sent=False
                ) from exc
            yield

    def _timeouts(self, method: str, path: str) -> tuple[float, float]:
        left = self.deadline.left()
        if left is None:
            return self.timeout
        if left <= MIN_CALL_TIME:
            raise Timeout(f"no time left for {method} {path}", method=method, path=path, sent=False)
        return min(self.timeout[0], left), min(self.timeout[1], left)

    def send(
        self,
        method: str,
        url: str,
        *,
        path: str,
        side_effect: bool = False,
        safe: bool = False,
        **kwargs: Any,
    ) -> requests.Response:
        """One request and its whole answer, inside the deadline (retries and body reads
        included), never redirected, at most ``max_body_bytes`` long. A GET, or a request
        the caller says is ``safe`` to repeat (a token grant), is retried by the session's
        :class:`~.session.CallRetry` up to ``get_retries`` times (one with a
        ``side_effect`` only when it provably never left); nothing else is retried."""
        timeout = self._timeouts(method, path)
        limit, started, status = self.tuning.max_body_bytes, time.perf_counter(), None
        try:
            with guarded(
                self.deadline.real(fallback=sum(self.timeout)),
                self.get_retries if method == "GET" or safe else 0,
                side_effect,
                self.clock.sleep,
            ) as guard:
                try:
                    resp = self.session.request(method, url, timeout=timeout, stream=True, **kwargs)
                    status = resp.status_code
                    try:
                        body = read_body(resp, limit)
                    finally:
                        if resp.raw is not None:
                            resp.close()
                except BodyTooLarge:
                    raise Unavailable(
                        f"Salto KS sent an answer over {limit // 1_000_000} MB to {method} {path}",
                        status=resp.status_code,
                        method=method,
                        path=path,
                    ) from None
                except BadEncoding:
                    raise Unavailable(
                        f"Salto KS sent an answer in an unknown encoding to {method} {path}",
                        status=resp.status_code,
                        method=method,
                        path=path,
                    ) from None
                except (requests.RequestException, HTTPError, OSError) as exc:
                    sent = not never_sent(exc)
                    if guard.fired or isinstance(exc, requests.Timeout):
                        raise Timeout(
                            f"Salto KS did not answer in time ({method} {path})",
                            method=method,
                            path=path,
                            sent=sent,
                        ) from exc
                    raise Unavailable(
                        f"could not reach Salto KS ({method} {path})",
                        method=method,
                        path=path,
                        sent=sent,
                    ) from exc
        finally:
            self.telemetry.call(method, path, status, time.perf_counter() - started)
        resp._content = body
        if 300 <= resp.status_code < 400:
            raise Unavailable(
                f"Salto KS answered {method} {path} with a redirect (HTTP "
                f"{resp.status_code}); redirects are never followed",
                status=resp.status_code,
                method=method,
                path=path,
            )
        return resp
