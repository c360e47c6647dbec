"""Security IV: the attacks of the last round turned into tests (each failed on the code
before its fix). Hosts are loopback only; a "listener" is a socket on another port of this
machine that must receive nothing."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.park.platform import sandbox_marked
from ireserve_salto_plugin.reference import Booking, Park, ReferenceHost
from ireserve_salto_plugin.sandbox import SaltoSandbox
from ireserve_salto_plugin.support.cli import main
from tests.conftest import settings_for

BookingFactory = Callable[..., Booking]


class Listener:
    """A TCP listener on a loopback port of its own: counts who connects to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    other = Listener()
    yield other
    other.close()


def hostile_page(box: SaltoSandbox, other: Listener) -> dict[str, Any]:
    """A full first page whose link urlsplit reads as the API's own host and urllib3 (which
    sends the request) as the listener's."""
    assert box.site is not None
    api_port = box.api_url.rsplit(":", 1)[1]
    locks = [lock.as_json() for lock in box.site.locks.values()]
    items = (locks * 3)[:100]
    for n, item in enumerate(items):
        item = dict(item)
        item["id"] = f"00000000-0000-4000-8000-{n:012d}"
        items[n] = item
    link = (
        f"http://127.0.0.1:{other.port}\\@127.0.0.1:{api_port}"
        f"/v1.2/sites/{box.site.id}/locks?$top=100&$skip=100"
    )
    return {"items": items, "next_page_link": link, "count": None}


@pytest.mark.parametrize("reader", ["dropdown", "refresh_locks", "status", "open", "probe"])
def test_a_next_page_link_with_a_backslash_sends_nothing_to_another_host(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    listener: Listener,
    make_booking: BookingFactory,
    reader: str,
    tmp_path: Path,
) -> None:
    """``https://attacker\\@api/...`` passed the origin check (urlsplit) while urllib3
    connected to the attacker with the park's Bearer token. Every list reader refuses it."""
    assert sandbox.site is not None
    sandbox.inject(
        "GET",
        f"/v1.2/sites/{sandbox.site.id}/locks$",
        status=200,
        body=hostile_page(sandbox, listener),
        times=20,
    )
    if reader == "dropdown":
        assert host.lock_options(park, INTEGRATION) == []
    elif reader == "refresh_locks":
        assert not host.admin(park, INTEGRATION, "refresh_locks").ok
    elif reader == "status":
        assert not host.admin(park, INTEGRATION, "status").ok
    elif reader == "open":
        host.pm.hook.on_open_request(
            park=park, booking=make_booking(), requested_by="guest", now=None
        )
    else:
        path = tmp_path / "park.json"
        path.write_text(
            json.dumps(
                {
                    **sandbox_marked(sandbox.platform_env(), os.environ),
                    "salto_ks": settings_for(sandbox),
                }
            )
        )
        path.chmod(0o600)
        CliRunner().invoke(main, ["probe", "--settings-file", str(path)])
    assert listener.connections == 0


@pytest.mark.parametrize(
    "link",
    [
        "https://attacker.example\\@connect.my-clay.com/v1.2/sites/S/locks?$skip=100",
        "https://user:pw@connect.my-clay.com/v1.2/x",
        "https://connect.my-clay.com/v1.2/x\r\nHost: attacker.example",
        "https://connect.my-clay.com/v1.2/x y",
        "https://connect.my-clay.com:8443/v1.2/x",
        "//attacker.example/v1.2/x",
    ],
)
def test_a_hostile_link_is_refused_by_the_parser_that_sends(link: str) -> None:
    from ireserve_salto_plugin.salto.errors import Unavailable
    from ireserve_salto_plugin.salto.paging import next_link

    with pytest.raises(Unavailable, match="next_page_link"):
        next_link(
            link,
            "/locks",
            "https://connect.my-clay.com",
            ("https", "connect.my-clay.com", 443),
            set(),
        )


def test_a_link_is_rebuilt_on_the_api_s_origin() -> None:
    from ireserve_salto_plugin.salto.paging import next_link

    assert (
        next_link(
            "/v1.2/sites/S/locks?$top=100&$skip=100",
            "/locks",
            "https://connect.my-clay.com",
            ("https", "connect.my-clay.com", 443),
            set(),
        )
        == "https://connect.my-clay.com/v1.2/sites/S/locks?$top=100&$skip=100"
    )


# -- parks kept apart -------------------------------------------------------------------------


def test_a_cookie_one_park_is_sent_reaches_no_other_park(
    service: Any,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    """One HTTP session serves every park: park A's ``Set-Cookie`` went out on park B's
    requests, ``/connect/token`` included (cookies ignore ports: both loopback servers
    got it). The session keeps no cookie."""
    assert sandbox.site is not None
    sandbox.inject(
        "GET",
        "/locks$",
        status=200,
        times=1,
        headers={"Set-Cookie": "ARRAffinity=park-a; Path=/; HttpOnly"},
        body={
            "items": [lock.as_json() for lock in sandbox.site.locks.values()],
            "next_page_link": None,
            "count": None,
        },
    )
    assert host.lock_options(park, INTEGRATION, refresh=True)
    sandbox.expire_tokens()  # the next call: 401, a token request, the replay
    assert host.open(make_booking(), "guest").opened  # type: ignore[union-attr]
    assert sandbox.call_count("POST /connect/token") >= 2
    assert sandbox.cookies_seen == []
    assert len(service.session.cookies) == 0


def test_parks_sharing_one_salto_account_see_only_their_own_receipts(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    """Park B's ``status`` showed park A's last open with ``requested_by:
    guest:jan.jansen@example.com``. Receipts and the last open/failure are kept per park;
    the shared site's entries stay visible to B, without A's requester."""
    other = host.add_park(Park("de-duinen", "Europe/Amsterdam"))
    other.integrations[INTEGRATION] = dict(park.integrations[INTEGRATION])  # same account
    opened = host.open(make_booking(), "guest:jan.jansen@example.com")
    assert opened is not None and opened.opened
    mine = host.admin(park, INTEGRATION, "status")
    assert mine.data["last_success"]["requested_by"] == "guest:jan.jansen@example.com"
    theirs = host.admin(other, INTEGRATION, "status")
    assert theirs.data["last_success"] is None
    assert "jan.jansen" not in json.dumps(theirs.data)
    entries = host.admin(other, INTEGRATION, "recent_opens", lock_id=mapped.id).data["entries"]
    assert entries and all("requested_by" not in entry for entry in entries)
    assert "jan.jansen" not in json.dumps(entries)
    receipt = host.admin(other, INTEGRATION, "confirm_open", attempt_id=opened.attempt_id)
    assert not receipt.ok and "No open with that attempt id" in receipt.message
    named = host.admin(park, INTEGRATION, "recent_opens", lock_id=mapped.id).data["entries"]
    assert named[0]["requested_by"] == "guest:jan.jansen@example.com"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("guest:\x00", "guest:\\x00"),  # a control character and its escaped text
        ("guest:" + "x" * 1000 + "a", "guest:" + "x" * 1000 + "b"),  # alike in the first 1,000
        (42, "42"),  # a number and its text
    ],
)
def test_different_requesters_never_share_a_duplicate_guard(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
    first: Any,
    second: Any,
) -> None:
    """The guard keyed requesters by their escaped text, cut at 1,000 characters: another
    requester got ``duplicate`` and nothing was sent. The key is a digest of the exact
    value."""
    booking = make_booking()
    results = [
        host.pm.hook.on_open_request(park=park, booking=booking, requested_by=who, now=None)
        for who in (first, second)
    ]
    assert [result.reason.value for result in results] == ["opened", "opened"]
    assert sandbox.call_count("PATCH") == 2
    again = host.pm.hook.on_open_request(park=park, booking=booking, requested_by=first, now=None)
    assert again.reason.value == "duplicate" and sandbox.call_count("PATCH") == 2


# -- values read back from the store are checked -----------------------------------------------


@pytest.mark.parametrize(
    "record",
    [
        {"reason": "opened", "message": "x", "attempt_id": "a"},  # no outcome
        {
            "outcome": "opened",
            "reason": "opened",
            "message": 1,
            "attempt_id": "a",
            "opened_at": "yesterday",
            "retry_after": None,
        },  # forged
        "not pending",
    ],
)
def test_a_duplicate_record_that_is_not_ours_is_a_miss(
    use_service: Any,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
    redis_store: Any,
    record: Any,
) -> None:
    """A record without ``outcome`` gave ``internal_error``, a forged one a false
    ``duplicate``: both are misses now, and the open goes through once."""
    from ireserve_salto_plugin.flow.attempt import exact_key
    from ireserve_salto_plugin.store.dedup import Dedup
    from ireserve_salto_plugin.store.keys import DUPLICATE

    service = use_service(store=redis_store)
    booking = make_booking()
    ctx = service.context(park)
    key = Dedup.key(
        ctx.account.key, exact_key(park.id), exact_key(booking.id), mapped.id, exact_key("guest")
    )
    assert key.spec is DUPLICATE
    redis_store.client.set(redis_store.prefix + key.name, json.dumps(record))
    result = host.open(booking, "guest")
    assert result is not None and result.reason.value == "opened", result and result.message
    assert sandbox.call_count("PATCH") == 1


def test_a_cached_lock_whose_flags_are_not_booleans_is_read_again(
    use_service: Any,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
    redis_store: Any,
) -> None:
    """A lock flag ``"no"`` read back from the store was taken for true."""
    from ireserve_salto_plugin.salto.cache import LOCKS

    service = use_service(store=redis_store)
    assert host.lock_options(park, INTEGRATION)
    ctx = service.context(park)
    assert sandbox.site is not None
    key = LOCKS(ctx.account.key, sandbox.site.id)
    name = redis_store.prefix + key.name
    raw = json.loads(redis_store.client.get(name))
    for row in raw["locks"]:
        row["online"] = "no"
    redis_store.client.set(name, json.dumps(raw))
    redis_store._near.clear()  # what this process kept of the list: read the store again
    sandbox.set_lock_online(mapped.id, False)
    reads = sandbox.call_count(f"GET /v1.2/sites/{sandbox.site.id}/locks")
    options = {o["value"]: o for o in host.lock_options(park, INTEGRATION)}
    assert options[mapped.id]["online"] is False  # Salto's word, not the forged "no"
    assert sandbox.call_count(f"GET /v1.2/sites/{sandbox.site.id}/locks") > reads


# -- every switch honoured -----------------------------------------------------------------------


def test_staff_opens_off_switches_test_opens_off_too(
    host: ReferenceHost, park: Park, mapped: Any, sandbox: SaltoSandbox, tmp_path: Path
) -> None:
    """With ``staff_open_enabled: false`` a lock still opened by ``test_open``, without a
    booking and without a reason."""
    park.integrations[INTEGRATION] = {**park.integrations[INTEGRATION], "staff_open_enabled": False}
    result = host.admin(
        park, INTEGRATION, "test_open", lock_id=mapped.id, requested_by="staff:piet"
    )
    assert not result.ok and result.data["reason"] == "staff_open_disabled"
    path = tmp_path / "park.json"
    path.write_text(
        json.dumps(
            {
                **sandbox_marked(sandbox.platform_env(), os.environ),
                "salto_ks": park.integrations[INTEGRATION],
            }
        )
    )
    path.chmod(0o600)
    cli = CliRunner().invoke(
        main, ["test-open", mapped.id, "--by", "piet", "--yes", "--settings-file", str(path)]
    )
    assert cli.exit_code == 1 and "switched off" in cli.output
    assert sandbox.call_count("PATCH") == 0


def test_a_staff_or_test_open_s_receipt_says_what_it_was(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    staff = host.admin(
        park,
        INTEGRATION,
        "staff_open",
        lock_id=mapped.id,
        reason="housekeeping",
        requested_by="staff:anna",
    )
    assert staff.ok
    status = host.admin(park, INTEGRATION, "status")
    assert status.data["last_success"]["kind"] == "staff"
    assert status.data["last_success"]["why"] == "housekeeping"
    [entry] = host.admin(park, INTEGRATION, "recent_opens", lock_id=mapped.id, count=1).data[
        "entries"
    ]
    assert (entry["requested_by"], entry["open_kind"], entry["open_reason"]) == (
        "staff:anna",
        "staff",
        "housekeeping",
    )
    from zoneinfo import ZoneInfo

    from ireserve_salto_plugin.support.tables import entry_rows

    [row] = entry_rows([entry], ZoneInfo("Europe/Amsterdam"))
    assert row["requested by"] == "staff: staff:anna (housekeeping)"


@pytest.mark.parametrize("action", ["set_pin", "forget_iq"])
def test_set_pin_on_an_activated_iq_and_forget_iq_need_a_confirmation(
    host: ReferenceHost, park: Park, mapped: Any, sandbox: SaltoSandbox, action: str
) -> None:
    """Each Set PIN try spends a real code; forgetting an IQ cannot be undone by GET PIN.
    Without ``"confirm": true`` nothing is sent and nothing changes."""
    params: dict[str, Any] = {"iq_id": mapped.iq.id}
    if action == "set_pin":
        params["current_pin"] = park.integrations[INTEGRATION]["iqs"][mapped.iq.id]["pin"]
    puts, stored = (
        sandbox.call_count("PUT"),
        dict(park.integrations[INTEGRATION]["iqs"][mapped.iq.id]),
    )
    refused = host.admin(park, INTEGRATION, action, **params)
    assert not refused.ok and refused.data["reason"] == "confirm_required"
    assert sandbox.call_count("PUT") == puts
    assert park.integrations[INTEGRATION]["iqs"][mapped.iq.id] == stored
    done = host.admin(park, INTEGRATION, action, **params, confirm=True)
    assert done.ok, done.message
    from ireserve_salto_plugin.form import json_schema

    [listed] = [a for a in json_schema()["x-actions"] if a["name"] == action]
    assert "confirm" in listed["params"]


# -- small things that must not crash or leak ---------------------------------------------------


def test_verbose_probe_with_a_cassette_prints_no_token(
    sandbox: SaltoSandbox, tmp_path: Path
) -> None:
    """``ireserve-salto -v probe --cassette`` printed the live access and refresh tokens
    (vcrpy's INFO line of the raw answer): ``-v`` raises only the plugin's own loggers.
    Run as a person runs it, in a process of its own."""
    import os
    import subprocess
    import sys

    path = tmp_path / "park.json"
    path.write_text(
        json.dumps(
            {
                **sandbox_marked(sandbox.platform_env(), os.environ),
                "salto_ks": settings_for(sandbox),
            }
        )
    )
    path.chmod(0o600)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "ireserve_salto_plugin.support.cli",
            "-v",
            "probe",
            "--settings-file",
            str(path),
            "--cassette",
            str(tmp_path / "probe.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    printed = run.stdout + run.stderr
    assert sandbox.world.tokens_issued
    leaked = [token for token in sandbox.world.tokens_issued if token in printed]
    assert leaked == []


def test_probe_on_a_deeply_nested_settings_file_says_so(tmp_path: Path) -> None:
    """It raised RecursionError with a traceback; every other command said it plainly."""
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    path.chmod(0o600)
    result = CliRunner().invoke(main, ["probe", "--settings-file", str(path)])
    assert result.exit_code == 2 and "nested too deeply" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_on_open_door_without_a_door_is_refused(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
) -> None:
    """``lock_id=None`` opened the booking's own lock: the contract says a door from
    ``access_doors``."""
    result = host.pm.hook.on_open_door(
        park=park, booking=make_booking(), requested_by="guest", now=None, lock_id=None
    )
    assert result is not None and result.reason.value == "door_not_allowed"
    assert sandbox.call_count("PATCH") == 0


def test_a_get_never_changes_the_park_s_language(
    host: ReferenceHost, park: Park, mapped: Any
) -> None:
    from ireserve_salto_plugin.reference.admin_web import create_app
    from tests.reference.test_admin_web import TOKEN, logged_in

    park.locale = "nl"
    web = logged_in(create_app(host, park, token=TOKEN).test_client())
    assert web.get("/open-a-door?lang=de").status_code == 200
    assert web.get("/?tab=details&lang=en").status_code == 200
    assert park.locale == "nl"


@pytest.mark.parametrize("token", ["abc\x00def", "weiter€", "line\nbreak"])
def test_a_continuation_token_that_is_not_printable_ascii_is_refused(
    sandbox: SaltoSandbox, token: str
) -> None:
    """Sent back as a request header, a NUL or a character outside latin-1 crashed the
    request with a traceback; it is a bad answer from Salto now, and nothing is sent raw."""
    from ireserve_salto_plugin.salto.errors import Unavailable
    from tests.salto.test_gateway import gateway_for

    assert sandbox.site is not None
    gateway = gateway_for(sandbox)
    path = f"/v1.1/sites/{sandbox.site.id}/entries"
    sandbox.inject(
        "GET",
        f"{path}$",
        status=200,
        times=1,
        body={"items": [{"id": f"e{n}"} for n in range(100)], "continuation_token": token},
    )
    with pytest.raises(Unavailable, match="continuation token"):
        gateway.entries(sandbox.site.id, top=150)
    assert sandbox.call_count(f"GET {path}") == 1


def test_the_status_of_the_largest_settings_stays_small(
    host: ReferenceHost, park: Park, mapped: Any, sandbox: SaltoSandbox
) -> None:
    """10,000 objects of 10 locks each (the most the schema takes), none on the site: the
    status was a 31.8 MB message with 100,100 findings. Findings are grouped: one per
    code, with the count and the first few names."""
    import uuid

    mapping = {
        f"object-{n}": [str(uuid.UUID(int=n * 10 + k + 1)) for k in range(10)]
        for n in range(10_000)
    }
    park.integrations[INTEGRATION] = {**park.integrations[INTEGRATION], "mapping": mapping}
    status = host.admin(park, INTEGRATION, "status")
    codes = [finding["code"] for finding in status.data["findings"]]
    assert codes.count("lock_not_found") == 1 and len(codes) == len(set(codes))
    [missing] = [f for f in status.data["findings"] if f["code"] == "lock_not_found"]
    assert "99999 more of the same" in missing["message"] and "…" in missing["message"]
    assert len(json.dumps(status.data)) + len(status.message) < 100_000


def test_a_tenant_cannot_forge_the_sandbox_marker(
    sandbox: SaltoSandbox, listener: Listener, tmp_path: Path
) -> None:
    """A tenant wrote ``"written_by": "ireserve-salto sandbox"`` and an ``env`` pointing at a
    loopback port of its choosing, and the support CLI sent the park's login there. The
    marker is signed with this machine's sandbox key; a file without that signature (or
    with one made by another key) names no host."""
    from ireserve_salto_plugin.park.platform import SANDBOX_WRITER

    forged_env = {
        **sandbox.platform_env(),
        "SALTO_KS_ACCEPTANCE_IDENTITY_URL": f"http://127.0.0.1:{listener.port}",
        "SALTO_KS_ACCEPTANCE_API_URL": f"http://127.0.0.1:{listener.port}",
    }
    for marker in (
        {"written_by": SANDBOX_WRITER, "env": forged_env},
        {"written_by": SANDBOX_WRITER, "env": forged_env, "signature": "0" * 64},
    ):
        path = tmp_path / "forged.json"
        path.write_text(json.dumps({**marker, "salto_ks": settings_for(sandbox)}))
        path.chmod(0o600)
        result = CliRunner().invoke(main, ["check", "--settings-file", str(path)])
        assert result.exit_code == 2 and "signature" in result.output, result.output
    assert listener.connections == 0
