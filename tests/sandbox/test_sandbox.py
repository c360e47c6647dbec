"""The sandbox behaves like docs/salto-ks-api.md says Salto KS does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from ireserve_salto_plugin.salto.otp import salto_otp
from ireserve_salto_plugin.sandbox import SaltoSandbox
from ireserve_salto_plugin.sandbox.world import World
from tests.conftest import first_lock


def token(box: SaltoSandbox) -> dict[str, str]:
    resp = requests.post(
        f"{box.identity_url}/connect/token",
        timeout=5,
        auth=(box.client_id, box.client_secret),
        data={
            "grant_type": "password",
            "username": box.username,
            "password": box.password,
            "scope": "user_api.full_access",
        },
    )
    assert resp.status_code == 200 and "refresh_token" not in resp.json()
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def test_otp_window_is_180_seconds_each_way() -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    for seconds, ok in ((-180, True), (180, True), (-181, False), (181, False)):
        code = salto_otp("0123456789ABCDEF", "1234", now + timedelta(seconds=seconds))
        assert World.otp_matches(code, "0123456789ABCDEF", "1234", now) is ok
    assert World.otp_matches(
        salto_otp("0123456789ABCDEF", "1234", now).upper(), "0123456789ABCDEF", "1234", now
    )  # case-insensitive


def test_discovery_and_token(sandbox: SaltoSandbox) -> None:
    doc = requests.get(f"{sandbox.identity_url}/.well-known/openid-configuration", timeout=5).json()
    assert doc["token_endpoint"] == f"{sandbox.identity_url}/connect/token"
    assert "password" in doc["grant_types_supported"]
    token(sandbox)


def test_api_shapes(sandbox: SaltoSandbox) -> None:
    assert sandbox.site is not None
    api, headers = sandbox.api_url, token(sandbox)
    sites = requests.get(f"{api}/v1.2/sites", headers=headers, timeout=5).json()
    assert isinstance(sites, list) and sites[0]["site_uid"] == "NL6254340082"
    locks = requests.get(
        f"{api}/v1.2/sites/{sandbox.site.id}/locks", headers=headers, params={"$top": 10}, timeout=5
    ).json()
    assert set(locks) == {"items", "next_page_link", "count"} and len(locks["items"]) == 10
    assert locks["next_page_link"] is None and locks["count"] is None  # as Salto sends them
    lock = locks["items"][0]
    assert "name" not in lock and lock["customer_reference"] == "Reception"
    assert set(lock["iq"]) >= {"id", "is_online", "otp_enabled"} and "iq_id" not in lock


@pytest.mark.parametrize(
    "method,path,status,code",
    [
        ("GET", "/v1.2/sites/NL6254340082", 400, 1100),
        ("GET", "/v1.2/sites/{site}/entries", 405, None),
        ("GET", "/v1.1/sites/{site}/entries?$orderby=date", 400, 1102),
        ("GET", "/v1.1/sites?$filter=name eq 'x'", 400, 1102),
        ("GET", "/v1.2/nothing", 404, None),
    ],
)
def test_api_errors(
    sandbox: SaltoSandbox, method: str, path: str, status: int, code: int | None
) -> None:
    assert sandbox.site is not None
    url = sandbox.api_url + path.format(site=sandbox.site.id)
    resp = requests.request(method, url, headers=token(sandbox), timeout=5)
    assert resp.status_code == status
    if code is not None:
        assert resp.json()["ErrorCode"] == code


def test_without_token_is_401_with_www_authenticate(sandbox: SaltoSandbox) -> None:
    resp = requests.get(f"{sandbox.api_url}/v1.2/sites", timeout=5)
    assert resp.status_code == 401 and resp.content == b""
    assert resp.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_open_without_otp_is_2202_as_a_string(sandbox: SaltoSandbox) -> None:
    assert sandbox.site is not None
    lock = first_lock(sandbox)
    resp = requests.patch(
        f"{sandbox.api_url}/v1.1/sites/{sandbox.site.id}/locks/{lock.id}/locking",
        json={"locked_state": "unlocked"},
        headers=token(sandbox),
        timeout=5,
    )
    assert resp.status_code == 404 and resp.json() == {
        "ErrorCode": "2202",
        "Message": "Otp is invalid",
    }


def test_get_pin_without_send_email_goes_by_sms(sandbox: SaltoSandbox) -> None:
    assert sandbox.site is not None
    iq = first_lock(sandbox).iq.id
    resp = requests.get(
        f"{sandbox.api_url}/v1.2/sites/{sandbox.site.id}/iqs/{iq}/pin",
        headers=token(sandbox),
        timeout=5,
    )
    assert resp.status_code == 204 and resp.content == b""
    assert sandbox.mails()[-1].channel == "sms"


def test_stop_drops_keep_alive_connections(sandbox: SaltoSandbox) -> None:
    session = requests.Session()
    url = f"{sandbox.identity_url}/.well-known/openid-configuration"
    assert session.get(url, timeout=5).ok
    sandbox.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(url, timeout=5)


def test_the_sandbox_takes_a_burst_of_connections(sandbox: SaltoSandbox) -> None:
    # 64 connections at once, as the 16-thread tests and the benchmarks open them: the
    # listen backlog (128, not Python's default 5) refuses and resets none.
    import socket

    port = int(sandbox.api_url.rsplit(":", 1)[1])
    socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(64)]
    try:
        for sock in socks:
            sock.sendall(b"GET /_sandbox/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert all(sock.recv(12).startswith(b"HTTP/1.1 200") for sock in socks)
    finally:
        for sock in socks:
            sock.close()
