"""One bounded request: body caps, encodings, Retry-After, JSON as untrusted input, and
which calls the session's retry policy retries (against the sandbox, a real server)."""

from __future__ import annotations

import gzip
import io
import zlib
from typing import Any

import pytest
import requests
from urllib3 import HTTPResponse

from ireserve_salto_plugin.salto.config import Tuning
from ireserve_salto_plugin.salto.deadline import Deadline
from ireserve_salto_plugin.salto.errors import Timeout, Unavailable
from ireserve_salto_plugin.salto.session import make_session
from ireserve_salto_plugin.salto.transport import (
    BadEncoding,
    BodyTooLarge,
    Transport,
    decode_json,
    read_body,
    retry_after,
)
from ireserve_salto_plugin.sandbox import SaltoSandbox
from tests.conftest import SkipClock


def response(
    body: bytes, status: int = 200, headers: dict[str, str] | None = None
) -> requests.Response:
    headers = headers or {}
    resp = requests.Response()
    resp.status_code = status
    resp.headers.update(headers)
    resp.raw = HTTPResponse(
        body=io.BytesIO(body), headers=headers, status=status, preload_content=False
    )
    return resp


def test_read_body_plain_and_compressed() -> None:
    assert read_body(response(b'{"a": 1}'), 100) == b'{"a": 1}'
    packed = gzip.compress(b"x" * 500)
    assert read_body(response(packed, headers={"Content-Encoding": "gzip"}), 1000) == b"x" * 500
    deflated = zlib.compress(b"y" * 500)
    assert (
        read_body(response(deflated, headers={"Content-Encoding": "deflate"}), 1000) == b"y" * 500
    )


@pytest.mark.parametrize(
    "resp",
    [
        lambda: response(b"x" * 101),
        lambda: response(b"", headers={"Content-Length": "5000000000"}),
        lambda: response(gzip.compress(b"\0" * 10_000_000), headers={"Content-Encoding": "gzip"}),
    ],
)
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
        read_body(response(b"abc", headers={"Content-Encoding": "br"}), 100)
    with pytest.raises(BadEncoding):
        read_body(response(b"not gzip", headers={"Content-Encoding": "gzip"}), 100)


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2", 2.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("nan", None),
        ("inf", None),
        ("1e12", 86400.0),
        ("soon", None),
        ("Fri, 01 Jan 99999 00:00:00 GMT", None),
    ],
)
def test_retry_after_is_bounded(value: str, expected: float | None) -> None:
    assert retry_after(response(b"", 429, headers={"Retry-After": value})) == expected


def test_decode_json_treats_answers_as_untrusted() -> None:
    assert decode_json(response(b"[1]"), "GET", "/x") == [1]
    with pytest.raises(Unavailable, match="nested too deep"):
        decode_json(response(b"[" * 100_000 + b"]" * 100_000), "GET", "/x")
    with pytest.raises(Unavailable, match="not JSON"):
        decode_json(response(b"<html>"), "GET", "/x")
    with pytest.raises(Unavailable, match="empty"):
        decode_json(response(b""), "GET", "/x")
    assert decode_json(response(b"<html>", 502), "GET", "/x") is None


def transport(
    clock: SkipClock,
    deadline: float | None = None,
    session: requests.Session | None = None,
    **tuning: Any,
) -> Transport:
    return Transport(
        session or requests.Session(),
        clock=clock.clock(),
        deadline=Deadline(deadline, clock.clock()),
        tuning=Tuning(**tuning),
    )


def test_reads_are_retried_with_backoff_and_writes_never() -> None:
    """The session's urllib3 Retry: a GET again at once, then after a backoff; a PATCH
    (the open) never; waits slept on the call's clock."""
    clock = SkipClock()
    with SaltoSandbox() as box:
        url = f"{box.api_url}/v1.2/sites"
        box.inject("GET", "/v1.2/sites$", status=503, times=2)
        resp = transport(clock, session=make_session()).send("GET", url, path="/x")
        assert resp.status_code == 401  # the third try reached the API (no token here)
        assert box.call_count("GET /v1.2/sites") == 3
        assert 0.4 <= clock.skipped <= 0.5  # at once, then 0.4 s (+ up to 0.1 s jitter)
        box.inject("PATCH", "/locking$", status=503)
        resp = transport(clock, session=make_session()).send(
            "PATCH", f"{box.api_url}/v1.2/sites/s/locks/l/locking", path="/x", json={}
        )
        assert resp.status_code == 503 and box.call_count("PATCH") == 1


def test_answers_sent_timeouts_and_side_effects_are_not_retried() -> None:
    clock = SkipClock()
    with SaltoSandbox() as box:
        url = f"{box.api_url}/v1.2/sites"
        slow = transport(clock, session=make_session(), read_timeout=0.3)
        box.inject("GET", "/v1.2/sites$", status=200, body={}, delay=3)
        with pytest.raises(Timeout) as info:
            slow.send("GET", url, path="/x")
        assert info.value.sent and box.call_count("GET /v1.2/sites") == 1
        box.calls.clear()
        box.inject("GET", "/v1.2/sites$", status=503, times=3)
        resp = transport(clock, session=make_session()).send(
            "GET", url, path="/x", side_effect=True
        )
        assert resp.status_code == 503 and box.call_count("GET /v1.2/sites") == 1
        box.calls.clear()
        box.faults.clear()
        box.inject("GET", "/v1.2/sites$", status=429, headers={"Retry-After": "60"})
        resp = transport(clock, session=make_session()).send("GET", url, path="/x")
        assert resp.status_code == 429 and box.call_count("GET /v1.2/sites") == 1


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

    from ireserve_salto_plugin.salto import watchdog as session

    far = time.monotonic() + 3600
    for _ in range(20_000):
        with session.guarded(far):
            pass
    assert len(session._watchdog._heap) <= 2 * session.COMPACT_AFTER + 2
    with session.guarded(time.monotonic() + 3600) as live:
        assert any(entry[2] is live for entry in session._watchdog._heap)


class _Capture(requests.adapters.HTTPAdapter):
    """Keeps what would be sent and answers 204 without any I/O."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: Any, *args: Any, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        resp = requests.Response()
        resp.status_code, resp._content, resp.request = 204, b"", request
        resp.url = request.url or ""
        return resp


class _Bearer(requests.auth.AuthBase):
    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = "Bearer t"
        return r


@pytest.mark.parametrize(
    "call",
    [
        {
            "method": "PATCH",
            "json": {"locked_state": "unlocked", "otp": "12345"},
            "headers": {"Accept": "application/json", "User-Agent": None},
            "auth": _Bearer(),
        },
        {
            "method": "GET",
            "params": {"$top": 100, "$skip": 0, "$filter": "a eq 'b c'"},
            "headers": {"CLP-Continuation-Token": "x/y"},
            "auth": _Bearer(),
        },
        {
            "method": "POST",
            "data": {"grant_type": "password", "username": "a@b", "scope": "x y"},
            "auth": ("client", "secret"),
        },
    ],
)
def test_the_session_prepares_what_requests_prepares(call: dict[str, Any]) -> None:
    # What the plugin's session sends is byte for byte what requests' own path sends.
    url = "http://salto.test/v1.2/sites/s/locks"
    sent = []
    for session in (make_session(), requests.Session()):
        session.trust_env = False
        session.headers["User-Agent"] = "ireserve-salto-plugin"
        session.headers["Accept-Encoding"] = "gzip, deflate"
        adapter = _Capture()
        session.mount("http://", adapter)
        session.request(url=url, timeout=5, **call)
        (request,) = adapter.sent
        sent.append((request.method, request.url, dict(request.headers), request.body))
    assert sent[0] == sent[1]
