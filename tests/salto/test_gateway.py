"""Every gateway call against the sandbox over loopback HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ireserve_salto_plugin.salto.clock import Clock
from ireserve_salto_plugin.salto.config import ClientCredentials, Tuning
from ireserve_salto_plugin.salto.errors import (
    AuthError,
    NotFound,
    OtpBlocked,
    OtpMissing,
    OtpRejected,
    PermissionDenied,
    Refused,
    Timeout,
    Unavailable,
    error_for,
)
from ireserve_salto_plugin.salto.gateway import Account, SaltoGateway
from ireserve_salto_plugin.salto.otp import pin_delta, salto_otp
from ireserve_salto_plugin.salto.session import make_session
from ireserve_salto_plugin.sandbox import SaltoSandbox
from ireserve_salto_plugin.store.memory import MemoryStore
from tests.conftest import NO_SLEEP, first_lock


def gateway_for(
    box: SaltoSandbox, store: MemoryStore | None = None, **options: Any
) -> SaltoGateway:
    """A gateway on the sandbox; ``Tuning`` fields (page_size, get_retries, ...) by name."""
    account = Account(
        box.identity_url,
        box.api_url,
        ClientCredentials(box.client_id, box.client_secret),
        box.username,
        box.password,
    )
    tuned = {k: options.pop(k) for k in list(options) if k in Tuning.__dataclass_fields__}
    options.setdefault("clock", NO_SLEEP)
    store = store if store is not None else MemoryStore()
    return SaltoGateway(
        account, session=make_session(), store=store, tuning=Tuning(**tuned), **options
    )


def activate(gw: SaltoGateway, box: SaltoSandbox, iq_id: str) -> tuple[str, str]:
    assert box.site is not None
    secret = gw.iq_secret(box.site.id, iq_id)
    gw.request_pin_email(box.site.id, iq_id)
    pin = box.last_pin(iq_id)
    gw.set_pin(box.site.id, iq_id, otp=salto_otp(secret, pin, datetime.now(UTC)), delta="0000")
    return secret, pin


# -- token ---------------------------------------------------------------------------------


def test_token_is_cached_and_reused(sandbox: SaltoSandbox) -> None:
    gw = gateway_for(sandbox)
    gw.resolve_site("NL6254340082")
    gw.iqs(gw.resolve_site("NL6254340082").id)
    assert sandbox.call_count("POST /connect/token") == 1


def test_expired_token_uses_the_refresh_token(sandbox: SaltoSandbox) -> None:
    clock = [1_000_000.0]
    gw = gateway_for(sandbox, clock=Clock(wall=lambda: clock[0], sleep=lambda s: None))
    gw.access_token()
    clock[0] += 3600 - 59  # inside the leeway: counts as expired
    gw.access_token()
    assert sandbox.grants == {"password": 1, "refresh_token": 1}


def test_refused_refresh_falls_back_to_password(sandbox: SaltoSandbox) -> None:
    clock = [1_000_000.0]
    gw = gateway_for(sandbox, clock=Clock(wall=lambda: clock[0], sleep=lambda s: None))
    gw.access_token()
    sandbox.world.refresh_tokens.clear()
    clock[0] += 7200
    gw.access_token()
    assert sandbox.grants == {"password": 2}


def test_client_without_offline_access_gets_plain_scope(monkeypatch: pytest.MonkeyPatch) -> None:
    with SaltoSandbox(allow_offline_access=False) as box:
        store = MemoryStore()
        gateway_for(box, store).access_token()
        gateway_for(box, store).access_token()
        # one invalid_scope answer, then the plain scope, remembered for the next token
        assert box.call_count("POST /connect/token") == 2
        assert box.grants == {"password": 1}


def test_401_refreshes_and_replays_once(sandbox: SaltoSandbox) -> None:
    gw = gateway_for(sandbox)
    site = gw.resolve_site("NL6254340082")
    sandbox.expire_tokens()  # the API now refuses the cached token
    assert len(gw.iqs(site.id)) == 3
    # the 401, its replay, and the empty page after it (IQs are read to the end)
    assert sandbox.calls[f"GET /v1.2/sites/{site.id}/iqs"] == 3


def test_401_twice_is_auth_error(sandbox: SaltoSandbox) -> None:
    gw = gateway_for(sandbox)
    sandbox.inject("GET", "/iqs$", status=401, times=2)
    with pytest.raises(AuthError):
        gw.iqs(gw.resolve_site("NL6254340082").id)


def test_wrong_password_names_account_not_password(sandbox: SaltoSandbox) -> None:
    account = Account(
        sandbox.identity_url,
        sandbox.api_url,
        ClientCredentials(sandbox.client_id, sandbox.client_secret),
        sandbox.username,
        "wrong-password-123",
    )
    gw = SaltoGateway(account, session=make_session(), store=MemoryStore())
    with pytest.raises(AuthError) as info:
        gw.access_token()
    assert sandbox.username in str(info.value) and "wrong-password-123" not in str(info.value)
    assert info.value.code == "invalid_grant"
    assert sandbox.call_count("POST /connect/token") == 1  # never retried in a loop


def test_wrong_client_secret(sandbox: SaltoSandbox) -> None:
    account = Account(
        sandbox.identity_url,
        sandbox.api_url,
        ClientCredentials(sandbox.client_id, "nope"),
        sandbox.username,
        sandbox.password,
    )
    with pytest.raises(AuthError, match="invalid_client"):
        SaltoGateway(account, session=make_session(), store=MemoryStore()).access_token()


def test_identity_server_answering_html(sandbox: SaltoSandbox) -> None:
    sandbox.inject("POST", "/connect/token", status=502, raw=b"<html>Bad gateway</html>", times=3)
    with pytest.raises(Unavailable):
        gateway_for(sandbox).access_token()
    assert sandbox.call_count("POST /connect/token") == 3  # the password grant: 2 retries


# -- sites ---------------------------------------------------------------------------------


def test_resolve_site_by_filter(sandbox: SaltoSandbox) -> None:
    assert sandbox.site is not None
    site = gateway_for(sandbox).resolve_site("NL6254340082")
    assert site.id == sandbox.site.id and site.name == sandbox.site.name
    assert sandbox.call_count("GET /v1.1/sites") == 1
    assert sandbox.call_count("GET /v1.2/sites") == 0


def test_resolve_site_falls_back_to_bare_array_list() -> None:
    with SaltoSandbox(filter_supported=False) as box:
        assert box.site is not None
        site = gateway_for(box).resolve_site("NL6254340082")
        assert site.id == box.site.id
        assert box.call_count("GET /v1.2/sites") == 1


def test_unknown_site_uid(sandbox: SaltoSandbox) -> None:
    from ireserve_salto_plugin.salto.errors import SiteNotFound

    with pytest.raises(SiteNotFound, match="DE4520168385"):
        gateway_for(sandbox).resolve_site("DE4520168385")


# -- locks and IQs -------------------------------------------------------------------------


@pytest.mark.parametrize("links", [False, True])
def test_locks_over_several_pages(links: bool) -> None:
    with SaltoSandbox(iqs=4, locks_per_iq=9, page_links=links) as box:
        assert box.site is not None
        gw = gateway_for(box, page_size=5)
        locks = gw.locks(box.site.id)
        assert [lock.id for lock in locks.locks] == list(box.site.locks)
        assert box.call_count(f"GET /v1.2/sites/{box.site.id}/locks") == 8  # ceil(36 / 5)
        chalet = locks.get(first_lock(box).id)
        assert chalet is not None and chalet.name == "Chalet 12"
        assert chalet.iq_id == first_lock(box).iq.id
        assert chalet.online and chalet.iq_online is True and chalet.otp_enabled is True


def test_a_big_site_with_null_links_loses_no_lock() -> None:
    # Salto answers full pages with next_page_link null: paging goes on by $skip. Before,
    # a null link ended the list, and a park of 230 locks got a dropdown of 100.
    with SaltoSandbox(iqs=23, locks_per_iq=10) as box:
        assert box.site is not None
        gw = gateway_for(box)
        assert len(gw.locks(box.site.id).locks) == 230
        assert box.call_count(f"GET /v1.2/sites/{box.site.id}/locks") == 3
        assert len(gw.iqs(box.site.id)) == 23


def test_a_site_of_full_pages_reads_its_second_page_beside_the_first() -> None:
    # Salto sends neither a link nor a count: a site of exactly 100 locks ends with an empty
    # second page. Once a read found the first page full, the next asks both at once.
    with SaltoSandbox(iqs=10, locks_per_iq=10) as box:
        assert box.site is not None
        path = f"GET /v1.2/sites/{box.site.id}/locks"
        gw = gateway_for(box)
        box.latency = 0.2  # so that requests in parallel are seen to overlap
        assert len(gw.locks(box.site.id).locks) == 100
        assert box.call_count(path) == 2 and box.peak_in_flight(path) == 1  # unknown yet
        assert len(gw.locks(box.site.id, refresh=True).locks) == 100
        assert box.call_count(path) == 4 and box.peak_in_flight(path) == 2
    with SaltoSandbox(iqs=3, locks_per_iq=12) as small:
        assert small.site is not None
        gw = gateway_for(small)
        gw.locks(small.site.id)
        gw.locks(small.site.id, refresh=True)  # a short first page: never a spare read
        assert small.call_count(f"GET /v1.2/sites/{small.site.id}/locks") == 2
        from ireserve_salto_plugin.salto.cache import FIRST_PAGE

        # and nothing is kept for it: a thousand small parks hold no such entry
        assert gw._store.get(FIRST_PAGE(gw.account.key, small.site.id)) is None


def test_with_a_count_the_pages_are_read_in_order_and_end_at_the_count() -> None:
    """Salto sends ``count`` null; where a server sends it, it ends the list (no extra
    empty page) and nothing is read ahead of it beyond the one spare page of the lock list."""
    with SaltoSandbox(iqs=4, locks_per_iq=9, page_counts=True) as box:
        assert box.site is not None
        gw = gateway_for(box, page_size=5)
        locks = gw.locks(box.site.id)
        assert [lock.id for lock in locks.locks] == list(box.site.locks)  # in order
        assert locks.complete
        assert box.call_count(f"GET /v1.2/sites/{box.site.id}/locks") == 8  # no extra page
        assert box.peak_in_flight(f"GET /v1.2/sites/{box.site.id}/locks") <= 2


def test_a_count_that_lies_costs_no_lock_and_no_endless_read() -> None:
    with SaltoSandbox(iqs=2, locks_per_iq=6) as box:
        assert box.site is not None
        items = [{"id": f"lock-{i}", "customer_reference": f"L{i}"} for i in range(12)]
        # count says 7 but there are 12; then a count of a billion
        box.inject(
            "GET",
            "/locks$",
            status=200,
            body={"items": items[:5], "next_page_link": None, "count": 7},
        )
        box.inject(
            "GET",
            "/locks$",
            status=200,
            body={"items": items[5:10], "next_page_link": None, "count": 7},
        )
        box.inject(
            "GET",
            "/locks$",
            status=200,
            body={"items": items[10:], "next_page_link": None, "count": 10**9},
        )
        locks = gateway_for(box, page_size=5).locks(box.site.id)
        assert [lock.name for lock in locks.locks] == [f"L{i}" for i in range(12)]


def test_one_failing_page_of_several_fails_the_list_never_a_short_one() -> None:
    from ireserve_salto_plugin.salto.errors import SaltoError

    with SaltoSandbox(iqs=4, locks_per_iq=9, page_counts=True) as box:
        assert box.site is not None
        gw = gateway_for(box, page_size=5)
        gw.locks(box.site.id)
        box.inject(
            "GET",
            "/locks$",
            status=200,
            body={
                "items": [{"id": f"x{i}"} for i in range(5)],
                "next_page_link": None,
                "count": 36,
            },
        )
        box.inject(
            "GET", "/locks$", status=404, body={"ErrorCode": 404, "Message": "gone"}, times=3
        )
        with pytest.raises(SaltoError):
            gw.locks(box.site.id, refresh=True)
        assert len(gw.locks(box.site.id).locks) == 36  # the list before, not a short one


def test_paging_stops_at_count(sandbox: SaltoSandbox) -> None:
    assert sandbox.site is not None
    page = {"items": [{"id": f"l{i}"} for i in range(5)], "next_page_link": None, "count": 5}
    sandbox.inject("GET", "/locks$", status=200, body=page)
    assert len(gateway_for(sandbox, page_size=5).locks(sandbox.site.id).locks) == 5
    assert sandbox.call_count(f"GET /v1.2/sites/{sandbox.site.id}/locks") == 1


def test_lock_list_is_cached_until_refresh(sandbox: SaltoSandbox) -> None:
    assert sandbox.site is not None
    gw = gateway_for(sandbox)
    gw.locks(sandbox.site.id)
    gw.locks(sandbox.site.id)
    path = f"GET /v1.2/sites/{sandbox.site.id}/locks"
    assert sandbox.calls[path] == 1
    gw.locks(sandbox.site.id, refresh=True)
    assert sandbox.calls[path] == 2


def test_paging_without_next_link_stops_on_a_short_page(sandbox: SaltoSandbox) -> None:
    assert sandbox.site is not None
    items = [{"id": f"lock-{i}", "customer_reference": f"L{i}"} for i in range(7)]
    sandbox.inject("GET", "/locks$", status=200, body=items[:5])
    sandbox.inject("GET", "/locks$", status=200, body=items[5:])
    locks = gateway_for(sandbox, page_size=5).locks(sandbox.site.id)
    assert [lock.name for lock in locks.locks] == [f"L{i}" for i in range(7)]


def test_next_page_link_to_another_host_is_refused(sandbox: SaltoSandbox) -> None:
    assert sandbox.site is not None
    sandbox.inject(
        "GET",
        "/locks$",
        status=200,
        body={"items": [], "next_page_link": "https://evil.example/steal"},
    )
    with pytest.raises(Unavailable, match="another host"):
        gateway_for(sandbox).locks(sandbox.site.id)


def test_one_lock_and_iqs(sandbox: SaltoSandbox) -> None:
    assert sandbox.site is not None
    gw = gateway_for(sandbox)
    lock = first_lock(sandbox)
    sandbox.set_lock_online(lock.id, False)
    assert gw.lock(sandbox.site.id, lock.id).online is False
    iqs = gw.iqs(sandbox.site.id)
    assert [iq.name for iq in iqs] == ["IQ Reception", "IQ North", "IQ South"]
    assert all(iq.online and not iq.restore_required for iq in iqs)


# -- IQ activation -------------------------------------------------------------------------


def test_secret_is_readable_until_activation(sandbox: SaltoSandbox) -> None:
    # docs/salto-ks-api.md, "Endpoints": readable before activation, 403 2203 after.
    assert sandbox.site is not None
    gw = gateway_for(sandbox)
    iq = first_lock(sandbox).iq.id
    secret = gw.iq_secret(sandbox.site.id, iq)
    assert len(secret) == 16 and gw.iq_secret(sandbox.site.id, iq) == secret
    activate(gw, sandbox, iq)
    with pytest.raises(PermissionDenied) as info:
        gw.iq_secret(sandbox.site.id, iq)
    assert info.value.code == "2203" and info.value.status == 403


def test_get_pin_is_204_and_mails_the_pin(sandbox: SaltoSandbox) -> None:
    assert sandbox.site is not None
    iq = first_lock(sandbox).iq.id
    gateway_for(sandbox).request_pin_email(sandbox.site.id, iq)
    mail = sandbox.mails()[-1]
    assert mail.channel == "email" and mail.to == sandbox.username and len(mail.pin) == 4


def test_set_pin_keep_and_change(sandbox: SaltoSandbox) -> None:
    assert sandbox.site is not None
    gw = gateway_for(sandbox)
    iq = first_lock(sandbox).iq.id
    secret, pin = activate(gw, sandbox, iq)
    act = next(iter(sandbox.world.activations.values()))
    assert act.activated and act.pin == pin
    new = "1357"
    gw.set_pin(
        sandbox.site.id,
        iq,
        otp=salto_otp(secret, pin, datetime.now(UTC)),
        delta=pin_delta(pin, new),
    )
    assert act.pin == new


def test_set_pin_with_wrong_pin_is_otp_rejected(sandbox: SaltoSandbox) -> None:
    assert sandbox.site is not None
    gw = gateway_for(sandbox)
    iq = first_lock(sandbox).iq.id
    secret = gw.iq_secret(sandbox.site.id, iq)
    gw.request_pin_email(sandbox.site.id, iq)
    wrong = sandbox.wrong_pin(iq)
    with pytest.raises(OtpRejected):
        gw.set_pin(
            sandbox.site.id, iq, otp=salto_otp(secret, wrong, datetime.now(UTC)), delta="0000"
        )


def test_get_pin_after_activation_is_forbidden(sandbox: SaltoSandbox) -> None:
    assert sandbox.site is not None
    gw = gateway_for(sandbox)
    iq = first_lock(sandbox).iq.id
    activate(gw, sandbox, iq)
    with pytest.raises(PermissionDenied) as info:
        gw.request_pin_email(sandbox.site.id, iq)
    assert info.value.salto_message == "command_forbidden"


# -- remote open ---------------------------------------------------------------------------


def test_open_lock(sandbox: SaltoSandbox) -> None:
    assert sandbox.site is not None
    gw = gateway_for(sandbox)
    lock = first_lock(sandbox)
    secret, pin = activate(gw, sandbox, lock.iq.id)
    gw.open_lock(sandbox.site.id, lock.id, sign=lambda: salto_otp(secret, pin, datetime.now(UTC)))
    entries = gw.entries(sandbox.site.id)
    assert entries[0]["event_category"] == "lock_opened"
    assert entries[0]["lock_id"] == lock.id and entries[0]["access_by"] == "remote"


def test_open_with_wrong_otp_then_blocked(sandbox: SaltoSandbox) -> None:
    assert sandbox.site is not None
    gw = gateway_for(sandbox)
    lock = first_lock(sandbox)
    secret, pin = activate(gw, sandbox, lock.iq.id)
    for _ in range(7):
        with pytest.raises(OtpRejected):
            gw.open_lock(sandbox.site.id, lock.id, sign=lambda: "00000")
    with pytest.raises(OtpBlocked):
        gw.open_lock(sandbox.site.id, lock.id, sign=lambda: "00000")
    with pytest.raises(OtpBlocked):  # even a good code, for 20 minutes
        gw.open_lock(
            sandbox.site.id, lock.id, sign=lambda: salto_otp(secret, pin, datetime.now(UTC))
        )
    sandbox.clock_offset = 20 * 60 + 1
    gw.open_lock(sandbox.site.id, lock.id, sign=lambda: salto_otp(secret, pin, sandbox.now()))


def test_open_before_activation_is_not_activated(sandbox: SaltoSandbox) -> None:
    assert sandbox.site is not None
    from ireserve_salto_plugin.salto.errors import NotActivated

    with pytest.raises(NotActivated):
        gateway_for(sandbox).open_lock(
            sandbox.site.id, first_lock(sandbox).id, sign=lambda: "abcde"
        )


def test_open_is_never_retried(sandbox: SaltoSandbox) -> None:
    assert sandbox.site is not None
    lock = first_lock(sandbox)
    sandbox.inject("PATCH", "/locking$", status=503)
    with pytest.raises(Unavailable):
        gateway_for(sandbox).open_lock(sandbox.site.id, lock.id, sign=lambda: "abcde")
    assert sandbox.call_count("PATCH") == 1


# -- error shapes, retries, timeouts --------------------------------------------------------


@pytest.mark.parametrize(
    "status,body,cls,code",
    [
        (400, {"ErrorCode": 3102, "Message": "otp_invalid"}, OtpRejected, "3102"),
        (403, {"ErrorCode": "3102", "Message": "otp_blocked"}, OtpBlocked, "3102"),
        (404, {"ErrorCode": "2202", "Message": "Otp is invalid"}, OtpMissing, "2202"),
        (400, {"ErrorCode": 1100, "Message": "The request received is invalid."}, Refused, "1100"),
        (400, {"ErrorCode": 2210, "Message": "Site not released"}, PermissionDenied, "2210"),
        (
            403,
            {"ErrorCode": 2203, "Message": "Operation cannot be executed."},
            PermissionDenied,
            "2203",
        ),
        (
            403,
            {"type": "x", "title": "Forbidden", "status": 403, "traceId": "t"},
            PermissionDenied,
            None,
        ),
        (404, None, NotFound, None),
        (
            500,
            {"ErrorCode": 2201, "Message": "An internal error has occurred."},
            Unavailable,
            "2201",
        ),
        (429, None, Unavailable, None),
    ],
)
def test_error_table(status: int, body: Any, cls: type, code: str | None) -> None:
    error = error_for(status, body, method="GET", path="/x")
    assert type(error) is cls and error.code == code and error.status == status
    assert "Message" not in str(error)


def test_get_is_retried_on_5xx_and_429(sandbox: SaltoSandbox) -> None:
    assert sandbox.site is not None
    slept: list[float] = []
    gw = gateway_for(sandbox, clock=Clock(sleep=slept.append))
    gw.access_token()
    sandbox.inject("GET", "/iqs$", status=503)
    sandbox.inject("GET", "/iqs$", status=429, headers={"Retry-After": "2"})
    assert len(gw.iqs(sandbox.site.id)) == 3
    # 503, 429, the page, and the empty page after it (IQs are read to the end)
    assert sandbox.calls[f"GET /v1.2/sites/{sandbox.site.id}/iqs"] == 4
    assert slept == [2.0]  # the first retry at once, the second after Retry-After


def test_garbage_bodies_are_typed_errors(sandbox: SaltoSandbox) -> None:
    assert sandbox.site is not None
    gw = gateway_for(sandbox, get_retries=0)
    sandbox.inject("GET", "/iqs$", status=200, raw=b'{"items": [')
    with pytest.raises(Unavailable, match="not JSON"):
        gw.iqs(sandbox.site.id)
    sandbox.inject("GET", "/iqs$", status=200, body={"items": "nope"})
    with pytest.raises(Unavailable, match="unexpected list"):
        gw.iqs(sandbox.site.id)
    sandbox.inject("GET", "/iqs$", status=200, body={"items": [{"no": "id"}]})
    with pytest.raises(Unavailable, match="without an id"):
        gw.iqs(sandbox.site.id)


def test_every_call_has_a_timeout(sandbox: SaltoSandbox) -> None:
    assert sandbox.site is not None
    gw = gateway_for(sandbox, connect_timeout=1.0, read_timeout=0.2, get_retries=0)
    gw.access_token()
    sandbox.inject("GET", "/iqs$", status=200, body={"items": []}, delay=0.6)
    with pytest.raises(Timeout):
        gw.iqs(sandbox.site.id)


def test_connection_refused_is_unavailable_and_not_sent() -> None:
    with SaltoSandbox() as box:
        gw = gateway_for(box, get_retries=0)
    with pytest.raises(Unavailable) as info:
        gw.access_token()
    assert info.value.sent is False


def test_sandbox_date_header_follows_its_clock(sandbox: SaltoSandbox) -> None:
    import requests

    sandbox.clock_offset = 120
    resp = requests.get(f"{sandbox.identity_url}/.well-known/openid-configuration", timeout=5)
    from email.utils import parsedate_to_datetime

    skew = parsedate_to_datetime(resp.headers["Date"]) - datetime.now(UTC)
    assert timedelta(seconds=115) < skew < timedelta(seconds=125)


def test_session_reads_proxies_from_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import requests

    from ireserve_salto_plugin.salto.session import SaltoSession

    seen: list[Any] = []

    class Capture(requests.adapters.HTTPAdapter):
        def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            seen.append(kwargs.get("proxies"))
            raise requests.ConnectionError("captured")

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/park-ca.pem")
    session = SaltoSession()
    session.mount("https://", Capture())
    session.mount("http://", Capture())
    for url in (
        "https://connect.my-clay.com/v1.2/sites",
        "http://127.0.0.1:9/x",
        "https://connect.my-clay.com/v1.2/sites/x",
    ):
        with pytest.raises(requests.ConnectionError):
            session.get(url, timeout=1)
    assert seen[0]["https"] == "http://proxy.example:3128"
    assert "http" not in seen[1] and "https" not in seen[1]  # NO_PROXY: loopback direct
    assert seen[2] == seen[0] and len(session._proxies) == 2  # resolved once per host
    assert session.verify == "/etc/ssl/park-ca.pem"


def test_a_failing_page_read_ahead_fails_the_list_and_a_failing_first_page_too() -> None:
    from ireserve_salto_plugin.salto.config import Tuning
    from ireserve_salto_plugin.salto.errors import Unavailable
    from ireserve_salto_plugin.salto.paging import read_all

    items = [{"id": f"l{i}"} for i in range(150)]

    def fetch_failing(skip_fails: int) -> Any:
        def fetch(params: Any, url: Any) -> Any:
            if params["$skip"] == skip_fails:
                raise Unavailable("page lost", method="GET", path="/locks")
            return items[params["$skip"] : params["$skip"] + params["$top"]]

        return fetch

    def read(fetch: Any) -> list[Any]:
        return read_all(
            fetch,
            "/locks",
            api="https://api.test",
            page_size=100,
            tuning=Tuning(),
            ahead=True,
        ).items

    assert read(fetch_failing(-1)) == items  # both pages at once, then the short second
    for skip in (100, 0):  # the page read ahead, or the first: never a short list
        with pytest.raises(Unavailable, match="page lost"):
            read(fetch_failing(skip))
