"""One bounded request: body caps, encodings, Retry-After, JSON as untrusted input, and
which calls are retried."""

from __future__ import annotations

import gzip
import io
import zlib
from typing import Any

import pytest
import requests
from urllib3 import HTTPResponse

from ireserve_salto_plugin.salto.errors import Timeout, Unavailable
from ireserve_salto_plugin.salto.transport import (
    BadEncoding,
    BodyTooLarge,
    Transport,
    decode_json,
    read_body,
    retry_after,
)

from .conftest import SkipClock


def response(body: bytes, status: int = 200, **headers: str) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp.headers.update(headers)
    resp.raw = HTTPResponse(body=io.BytesIO(body), headers=headers, status=status,
                            preload_content=False)
    return resp


def test_read_body_plain_and_compressed() -> None:
    assert read_body(response(b'{"a": 1}'), 100) == b'{"a": 1}'
    packed = gzip.compress(b"x" * 500)
    assert read_body(response(packed, **{"Content-Encoding": "gzip"}), 1000) == b"x" * 500
    deflated = zlib.compress(b"y" * 500)
    assert read_body(response(deflated, **{"Content-Encoding": "deflate"}), 1000) == b"y" * 500


@pytest.mark.parametrize("resp", [
    lambda: response(b"x" * 101),
    lambda: response(b"", **{"Content-Length": "5000000000"}),
    lambda: response(gzip.compress(b"\0" * 10_000_000), **{"Content-Encoding": "gzip"}),
])
def test_read_body_caps_what_it_keeps(resp: Any) -> None:
    with pytest.raises(BodyTooLarge):
        read_body(resp(), 100)


def test_an_answer_from_memory_is_capped_too() -> None:
    resp = requests.Response()
    resp._content = b"x" * 50
    assert read_body(resp, 100) == b"x" * 50
    with pytest.raises(BodyTooLarge):
        read_body(resp, 10)


def test_an_unknown_or_broken_encoding_is_refused() -> None:
    with pytest.raises(BadEncoding):
        read_body(response(b"abc", **{"Content-Encoding": "br"}), 100)
    with pytest.raises(BadEncoding):
        read_body(response(b"not gzip", **{"Content-Encoding": "gzip"}), 100)


@pytest.mark.parametrize("value,expected", [
    ("2", 2.0), ("0.5", 0.5), ("-3", 0.0), ("nan", None), ("inf", None), ("1e12", 86400.0),
    ("soon", None), ("Fri, 01 Jan 99999 00:00:00 GMT", None),
])
def test_retry_after_is_bounded(value: str, expected: float | None) -> None:
    assert retry_after(response(b"", 429, **{"Retry-After": value})) == expected


def test_decode_json_treats_answers_as_untrusted() -> None:
    assert decode_json(response(b'[1]'), "GET", "/x") == [1]
    with pytest.raises(Unavailable, match="nested too deep"):
        decode_json(response(b"[" * 100_000 + b"]" * 100_000), "GET", "/x")
    with pytest.raises(Unavailable, match="not JSON"):
        decode_json(response(b"<html>"), "GET", "/x")
    with pytest.raises(Unavailable, match="empty"):
        decode_json(response(b""), "GET", "/x")
    assert decode_json(response(b"<html>", 502), "GET", "/x") is None


def transport(clock: SkipClock, deadline: float | None = None) -> Transport:
    return Transport(requests.Session(), clock=clock.clock(), deadline=deadline)


def test_reads_are_retried_with_backoff_and_writes_never() -> None:
    clock = SkipClock()
    calls: list[str] = []

    def flaky() -> str:
        calls.append("x")
        if len(calls) < 3:
            raise Unavailable("503", status=503)
        return "ok"

    assert transport(clock).retrying("GET", "/x", flaky) == "ok" and len(calls) == 3
    assert 0.2 < clock.skipped < 1.0  # 0.2 s and 0.4 s, jittered ±50 %
    calls.clear()
    with pytest.raises(Unavailable):
        transport(clock).retrying("PATCH", "/x", flaky)
    assert len(calls) == 1


def test_answers_and_sent_timeouts_are_not_retried() -> None:
    clock = SkipClock()
    for error in (Unavailable("not JSON", status=200), Timeout("slow", sent=True)):
        calls: list[int] = []

        def fail(error: Exception = error, calls: list[int] = calls) -> None:
            calls.append(1)
            raise error

        with pytest.raises(Unavailable):
            transport(clock).retrying("GET", "/x", fail)
        assert calls == [1]


def test_no_wait_and_no_request_past_the_deadline() -> None:
    clock = SkipClock()
    late = transport(clock, deadline=clock.monotonic() + 0.01)
    with pytest.raises(Timeout) as info:
        late.wait_limit(30, "a token")
    assert info.value.sent is False
    with pytest.raises(Timeout) as info:
        late.send("GET", "http://127.0.0.1:9/x", path="/x")
    assert info.value.sent is False
    assert transport(clock, deadline=clock.monotonic() + 5).wait_limit(30, "x") <= 5


def test_the_watchdog_holds_only_the_calls_in_flight() -> None:
    """200,000 calls on a 60 s deadline held 64 MB until their deadlines passed; a guard is
    now released when its call ends."""
    import time

    from ireserve_salto_plugin.salto import session

    far = time.monotonic() + 3600
    for _ in range(20_000):
        with session.guarded(far):
            pass
    assert len(session._watchdog._heap) <= 2 * session.COMPACT_AFTER + 2
    with session.guarded(time.monotonic() + 3600) as live:
        assert any(entry[2] is live for entry in session._watchdog._heap)
