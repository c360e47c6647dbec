"""Recorded Salto KS conversations, replayed offline.

Replay (the default) needs no server and no network: every test here runs with sockets
blocked. Re-record with ``./dev record`` (the embedded sandbox) or
``SALTO_KS_RECORD=acceptance ./dev record`` (Salto's acceptance environment; see
``cassettes/README.md`` for the variables and the conversations that are sandbox-only).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.flow.service import SaltoKsService
from ireserve_salto_plugin.models import Reason
from ireserve_salto_plugin.park.platform import platform_variables
from ireserve_salto_plugin.plugin import SaltoKsPlugin
from ireserve_salto_plugin.reference import Booking, Park, ReferenceHost
from ireserve_salto_plugin.salto.clock import Clock
from ireserve_salto_plugin.salto.config import ClientCredentials, Tuning
from ireserve_salto_plugin.salto.errors import (
    OtpBlocked,
    OtpRejected,
    PermissionDenied,
    SaltoError,
)
from ireserve_salto_plugin.salto.gateway import Account, SaltoGateway
from ireserve_salto_plugin.salto.otp import pin_delta, salto_otp
from ireserve_salto_plugin.salto.session import make_session
from ireserve_salto_plugin.sandbox import SaltoSandbox
from ireserve_salto_plugin.store.memory import MemoryStore
from tests.cassette_kit import (
    API,
    CASSETTES,
    IDENTITY,
    REDACTED,
    TARGET_FILE,
    Rewriter,
    hygiene_problems,
    make_vcr,
    record_mode,
)
from tests.conftest import NO_SLEEP

MODE = record_mode()
PAGE_SIZE = 5  # small pages, so that the lock list spans three pages
SANDBOX_ONLY = (
    "changes state that cannot be undone on a real site (single-shot secret, "
    "OTP block, offline switch)"
)


@dataclass
class Target:
    """Where a conversation runs: a fresh sandbox, Salto acceptance, or the cassettes."""

    mode: str  # "replay", "sandbox" or "acceptance"
    ids: dict[str, str]
    identity_url: str = IDENTITY
    api_url: str = API
    client: ClientCredentials = field(
        default_factory=lambda: ClientCredentials(REDACTED["client_id"], REDACTED["client_secret"])
    )
    username: str = REDACTED["username"]
    password: str = REDACTED["password"]
    sandbox: SaltoSandbox | None = None
    known_secrets: list[str] = field(default_factory=list)

    def gateway(self, **options: Any) -> SaltoGateway:
        account = Account(
            self.identity_url, self.api_url, self.client, self.username, self.password
        )
        # Lists one after another: vcrpy is not safe across threads (the IQ list read
        # beside the lock list once made a real connection during replay, 1 run in 80,
        # under load). The parallel read is tested on the sandbox, not on tapes.
        return SaltoGateway(
            account,
            session=make_session(),
            store=MemoryStore(),
            tuning=Tuning(page_size=PAGE_SIZE, parallel_lists=False),
            **{"clock": NO_SLEEP, **options},
        )

    def pin(self) -> str:
        """The PIN Salto e-mailed (any 4 digits at replay: PIN and OTP are placeholders)."""
        if self.sandbox is not None:
            return self.sandbox.last_pin(self.ids["iq_id"])
        return os.environ.get("SALTO_KS_RECORD_CURRENT_PIN", "0000")

    def platform_env(self) -> dict[str, str]:
        """The host-process variables for this target: hosts and platform client."""
        return platform_variables(
            "acceptance",
            api_url=self.api_url,
            identity_url=self.identity_url,
            client_id=self.client.client_id,
            client_secret=self.client.client_secret,
        )

    def settings(self, **extra: Any) -> dict[str, Any]:
        return {
            "environment": "acceptance",
            "username": self.username,
            "password": self.password,
            "site_uid": self.ids["site_uid"],
            "open_statuses": ["confirmed"],
            "open_field": "opened_at",
            "checkin_status": "checked_in",
            **extra,
        }

    def collect_secrets(self) -> list[str]:
        values = [self.password, self.client.client_secret, *self.known_secrets]
        if self.sandbox is not None:
            world = self.sandbox.world
            values += [a.secret for a in world.activations.values()]
            values += list(world.tokens) + list(world.refresh_tokens)
            values += [mail.pin for mail in world.outbox]
        return [v for v in values if v and len(v) >= 6]


def _sandbox_target() -> Iterator[Target]:
    with SaltoSandbox(iqs=2, locks_per_iq=6) as box:
        assert box.site is not None
        lock = next(iter(box.site.locks.values()))
        ids = {
            "site_uid": box.site.site_uid,
            "site_id": box.site.id,
            "iq_id": lock.iq.id,
            "lock_id": lock.id,
        }
        yield Target(
            "sandbox",
            ids,
            box.identity_url,
            box.api_url,
            ClientCredentials(box.client_id, box.client_secret),
            box.username,
            box.password,
            box,
        )


def _acceptance_target() -> Iterator[Target]:
    env = os.environ
    need = [
        "SALTO_KS_ACCEPTANCE_CLIENT_ID",
        "SALTO_KS_ACCEPTANCE_CLIENT_SECRET",
        "SALTO_KS_RECORD_USERNAME",
        "SALTO_KS_RECORD_PASSWORD",
        "SALTO_KS_RECORD_SITE_UID",
        "SALTO_KS_RECORD_SITE_ID",
        "SALTO_KS_RECORD_IQ_ID",
        "SALTO_KS_RECORD_LOCK_ID",
    ]
    missing = [name for name in need if not env.get(name)]
    if missing:
        raise RuntimeError("recording against acceptance needs " + ", ".join(missing))
    ids = {
        "site_uid": env["SALTO_KS_RECORD_SITE_UID"],
        "site_id": env["SALTO_KS_RECORD_SITE_ID"],
        "iq_id": env["SALTO_KS_RECORD_IQ_ID"],
        "lock_id": env["SALTO_KS_RECORD_LOCK_ID"],
    }
    yield Target(
        "acceptance",
        ids,
        env.get("SALTO_KS_RECORD_IDENTITY_URL", "https://identity-acc.eu.my-clay.com"),
        env.get("SALTO_KS_RECORD_API_URL", "https://clp-accept-user.my-clay.com"),
        ClientCredentials(
            env["SALTO_KS_ACCEPTANCE_CLIENT_ID"], env["SALTO_KS_ACCEPTANCE_CLIENT_SECRET"]
        ),
        env["SALTO_KS_RECORD_USERNAME"],
        env["SALTO_KS_RECORD_PASSWORD"],
        known_secrets=[
            env.get("SALTO_KS_RECORD_IQ_SECRET", ""),
            env.get("SALTO_KS_RECORD_CURRENT_PIN", ""),
        ],
    )


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replay must never reach anything: any socket connection fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"network access during cassette replay: {args[1:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def target(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Target]:
    if MODE is None:
        request.getfixturevalue("no_network")
        if not TARGET_FILE.exists():
            pytest.fail("cassettes/target.json is missing: run ./dev record")
        yield Target("replay", json.loads(TARGET_FILE.read_text()))
        return
    make = _sandbox_target if MODE == "sandbox" else _acceptance_target
    for real in make():
        yield real
        TARGET_FILE.write_text(json.dumps(real.ids, indent=2, sort_keys=True) + "\n")


@pytest.fixture
def cassette(target: Target, request: pytest.FixtureRequest) -> Iterator[Callable[[str], Any]]:
    """``with cassette("name"):`` records or replays ``cassettes/name.yaml``."""
    rewriter = Rewriter(
        {target.identity_url.rstrip("/"): IDENTITY, target.api_url.rstrip("/"): API}
    )
    recorder = make_vcr(rewriter, MODE)
    written: list[Path] = []

    @contextmanager
    def use(name: str) -> Iterator[Any]:
        if MODE is None and not (CASSETTES / f"{name}.yaml").exists():
            pytest.fail(f"cassette {name}.yaml is missing: run ./dev record")
        written.append(CASSETTES / f"{name}.yaml")
        with recorder.use_cassette(name) as tape:
            yield tape
        if MODE is None:  # the code made exactly the recorded calls
            assert tape.all_played, f"{name}: {tape.play_count} of {len(tape)} played"

    yield use
    if MODE is not None:  # the recording's own secrets must not be in what it wrote
        secrets = tuple(target.collect_secrets())
        for path in written:
            problems = hygiene_problems(path, secrets)
            if problems:
                path.unlink()
                pytest.fail(f"{path.name} was not clean and was deleted: {problems}")


def sandbox_only(target: Target) -> None:
    if target.mode == "acceptance":
        pytest.skip(SANDBOX_ONLY)


def activate(target: Target, gw: SaltoGateway) -> tuple[str, str]:
    """Secret + GET PIN + Set PIN (delta 0000) outside any cassette (sandbox only)."""
    site, iq = target.ids["site_id"], target.ids["iq_id"]
    secret = gw.iq_secret(site, iq)
    gw.request_pin_email(site, iq)
    gw.set_pin(site, iq, otp=salto_otp(secret, target.pin(), datetime.now(UTC)), delta="0000")
    return secret, target.pin()


def credentials(target: Target, gw: SaltoGateway) -> tuple[str, str]:
    """An activated secret + PIN: made in the sandbox, given for acceptance, any at replay."""
    if target.sandbox is not None:
        return activate(target, gw)
    return (
        os.environ.get("SALTO_KS_RECORD_IQ_SECRET", REDACTED["secret"]),
        os.environ.get("SALTO_KS_RECORD_CURRENT_PIN", "0000"),
    )


# -- token ---------------------------------------------------------------------------------


def test_token_password_grant(target: Target, cassette: Any) -> None:
    with cassette("token_password_grant") as tape:
        assert target.gateway().access_token()
    assert len(tape) == 1 and b"grant_type=password" in tape.requests[0].body


def test_token_refresh_after_expiry(target: Target, cassette: Any) -> None:
    clock = [1_900_000_000.0]
    gw = target.gateway(clock=Clock(wall=lambda: clock[0], sleep=lambda s: None))
    with cassette("token_refresh_after_expiry") as tape:
        gw.access_token()
        clock[0] += 3600  # our own clock: the token is past its leeway
        gw.access_token()
    grants = [r.body for r in tape.requests]
    assert len(grants) == 2 and b"grant_type=refresh_token" in grants[1]


def test_token_401_refresh_and_replay(target: Target, cassette: Any) -> None:
    gw = target.gateway()
    with cassette("token_401_refresh_and_replay") as tape:
        site = gw.resolve_site(target.ids["site_uid"])
        if target.sandbox is not None:
            target.sandbox.expire_tokens()
        elif target.mode == "acceptance":
            pytest.skip("Salto's tokens cannot be expired on demand")
        assert gw.iqs(site.id)
    statuses = [r["status"]["code"] for r in tape.responses]
    assert statuses.count(401) == 1 and statuses[-1] == 200


# -- sites ---------------------------------------------------------------------------------


def test_site_resolve_by_filter(target: Target, cassette: Any) -> None:
    with cassette("site_resolve_by_filter") as tape:
        site = target.gateway().resolve_site(target.ids["site_uid"])
    assert site.id == target.ids["site_id"]
    assert "$filter" in tape.requests[-1].uri or "%24filter" in tape.requests[-1].uri


def test_site_resolve_fallback_list(target: Target, cassette: Any) -> None:
    sandbox_only(target)
    if target.sandbox is not None:
        target.sandbox.filter_supported = False
    with cassette("site_resolve_fallback_list") as tape:
        site = target.gateway().resolve_site(target.ids["site_uid"])
    assert site.id == target.ids["site_id"]
    assert tape.requests[-1].uri.endswith("/v1.2/sites")


# -- locks and IQs -------------------------------------------------------------------------


def test_locks_three_pages(target: Target, cassette: Any) -> None:
    with cassette("locks_three_pages") as tape:
        locks = target.gateway().locks(target.ids["site_id"])
    pages = [r for r in tape.requests if r.path.endswith("/locks")]
    assert len(pages) >= 3 and locks.get(target.ids["lock_id"]) is not None
    assert all(lock.name and lock.iq_id for lock in locks.locks)


def test_iqs(target: Target, cassette: Any) -> None:
    with cassette("iqs") as _:
        iqs = target.gateway().iqs(target.ids["site_id"])
    assert target.ids["iq_id"] in {iq.id for iq in iqs}


# -- IQ activation -------------------------------------------------------------------------


def test_iq_secret_then_already_activated(target: Target, cassette: Any) -> None:
    sandbox_only(target)
    site, iq = target.ids["site_id"], target.ids["iq_id"]
    with cassette("iq_secret_first_time"):
        assert target.gateway().iq_secret(site, iq)
    if target.sandbox is not None:  # readable until activated: activate (GET/Set PIN)
        user = target.sandbox.world.users[target.username]
        target.sandbox.world.activation(user, iq).activated = True
    with cassette("iq_secret_already_activated"), pytest.raises(PermissionDenied) as info:
        target.gateway().iq_secret(site, iq)
    assert info.value.code == "2203" and info.value.status == 403


def test_entries(target: Target, cassette: Any) -> None:
    with cassette("entries") as tape:
        entries = target.gateway().entries(target.ids["site_id"], top=5)
    assert isinstance(entries, list) and len(entries) <= 5
    assert all(
        r.headers.get("CLP-disable-odata-v3-conversion") == "true"
        for r in tape.requests
        if "/entries" in r.path
    )


def test_activated_iqs(target: Target, cassette: Any) -> None:
    with cassette("activated_iqs"):
        states = target.gateway().activated_iqs(target.ids["site_id"])
    assert all(state.iq_id for state in states)


def test_get_pin(target: Target, cassette: Any) -> None:
    sandbox_only(target)
    with cassette("get_pin") as tape:
        target.gateway().request_pin_email(target.ids["site_id"], target.ids["iq_id"])
    assert tape.responses[-1]["status"]["code"] == 204


@pytest.mark.parametrize("new_pin", [None, "2468"], ids=["keep", "change"])
def test_set_pin(target: Target, cassette: Any, new_pin: str | None) -> None:
    sandbox_only(target)
    site, iq = target.ids["site_id"], target.ids["iq_id"]
    secret = REDACTED["secret"]
    if target.sandbox is not None:
        setup = target.gateway()
        secret = setup.iq_secret(site, iq)
        setup.request_pin_email(site, iq)
    current = target.pin()
    name = "set_pin_keep" if new_pin is None else "set_pin_change"
    with cassette(name) as tape:
        target.gateway().set_pin(
            site,
            iq,
            otp=salto_otp(secret, current, datetime.now(UTC)),
            delta=pin_delta(current, new_pin or current),
        )
    assert tape.responses[-1]["status"]["code"] == 204
    if target.sandbox is not None:
        act = next(iter(target.sandbox.world.activations.values()))
        assert act.activated and act.pin == (new_pin or current)


# -- remote open ---------------------------------------------------------------------------


def test_open_success(target: Target, cassette: Any) -> None:
    secret, pin = credentials(target, target.gateway())
    gw = target.gateway()
    with cassette("open_success") as tape:
        gw.open_lock(
            target.ids["site_id"],
            target.ids["lock_id"],
            sign=lambda: salto_otp(secret, pin, datetime.now(UTC)),
        )
    assert tape.responses[-1]["status"]["code"] == 200


def test_open_otp_invalid(target: Target, cassette: Any) -> None:
    credentials(target, target.gateway())
    gw = target.gateway()
    with cassette("open_otp_invalid"), pytest.raises(OtpRejected):
        gw.open_lock(target.ids["site_id"], target.ids["lock_id"], sign=lambda: "00000")


def test_open_otp_blocked(target: Target, cassette: Any) -> None:
    sandbox_only(target)
    credentials(target, target.gateway())
    gw = target.gateway()
    with cassette("open_otp_blocked") as tape:
        for _ in range(7):
            with pytest.raises(OtpRejected):
                gw.open_lock(target.ids["site_id"], target.ids["lock_id"], sign=lambda: "00000")
        with pytest.raises(OtpBlocked):
            gw.open_lock(target.ids["site_id"], target.ids["lock_id"], sign=lambda: "00000")
    assert [r["status"]["code"] for r in tape.responses][-2:] == [400, 403]


def test_open_iq_offline(target: Target, cassette: Any) -> None:
    sandbox_only(target)
    secret, pin = credentials(target, target.gateway())
    if target.sandbox is not None:
        target.sandbox.set_iq_online(target.ids["iq_id"], False)
    with cassette("open_iq_offline"), pytest.raises(SaltoError) as info:
        target.gateway().open_lock(
            target.ids["site_id"],
            target.ids["lock_id"],
            sign=lambda: salto_otp(secret, pin, datetime.now(UTC)),
        )
    assert info.value.status == 403
    with cassette("lock_read_iq_offline"):
        lock = target.gateway().lock(target.ids["site_id"], target.ids["lock_id"])
    assert lock.iq_online is False


# -- whole flows through the hooks ---------------------------------------------------------


def _host(target: Target) -> tuple[ReferenceHost, Park]:
    host = ReferenceHost(load_entrypoints=False)
    host.pm.register(
        SaltoKsPlugin(
            SaltoKsService(
                session=make_session(),
                store=MemoryStore(),
                environ=target.platform_env(),
                tuning=Tuning(page_size=PAGE_SIZE, parallel_lists=False),
            )
        ),
        INTEGRATION,
    )
    return host, host.add_park(Park("cassette-park", "Europe/Amsterdam"))


def test_hook_open_request_flow(target: Target, cassette: Any) -> None:
    secret, pin = credentials(target, target.gateway())
    host, park = _host(target)
    park.integrations[INTEGRATION] = target.settings(
        iqs={target.ids["iq_id"]: {"secret": secret, "pin": pin}},
        mapping={"chalet": target.ids["lock_id"]},
    )
    arrival = datetime.now(UTC) - timedelta(hours=1)
    booking = host.add_booking(
        Booking("B-7", "chalet", "confirmed", arrival, arrival + timedelta(days=2))
    )
    with cassette("hook_open_request_flow") as tape:
        result = host.open(booking, "guest:B-7")
    assert result is not None and result.reason is Reason.OPENED, result
    assert booking.status == "checked_in" and booking.fields["opened_at"]
    # token, site, three pages of locks, the IQ list, the open
    assert [r.method for r in tape.requests] == ["POST", "GET", "GET", "GET", "GET", "GET", "PATCH"]


def test_hook_admin_activation_flow(target: Target, cassette: Any) -> None:
    sandbox_only(target)
    host, park = _host(target)
    park.integrations[INTEGRATION] = target.settings()
    iq = target.ids["iq_id"]
    with cassette("hook_admin_activation_flow"):
        got = host.admin(park, INTEGRATION, "get_pin", iq_id=iq)
        assert got.ok, got.message
        done = host.admin(park, INTEGRATION, "set_pin", iq_id=iq, current_pin=target.pin())
    assert done.ok and done.message.startswith("IQ is activated")
    assert park.integrations[INTEGRATION]["iqs"][iq]["activated_at"]


# -- hygiene -------------------------------------------------------------------------------


def test_every_cassette_is_clean() -> None:
    files = [*sorted(CASSETTES.glob("*.yaml")), TARGET_FILE]
    assert len(files) >= 18
    problems = [p for path in files for p in hygiene_problems(path)]
    assert problems == []


def test_hygiene_catches_a_planted_leak(tmp_path: Path) -> None:
    original = (CASSETTES / "hook_open_request_flow.yaml").read_text()
    planted = {
        "bearer": original.replace(
            "Bearer REDACTED-ACCESS-TOKEN", "Bearer Qk9HVVMtdG9rZW4tZm9yLWhoZ2llbmUtdGVzdA", 1
        ),
        "token": original.replace(
            "REDACTED-ACCESS-TOKEN", "kq2Zr8yW1d9Hn3VbXc7Lp5Tf0Gm4Js6Ae2Uo8Ri1Ny3", 1
        ),
        "secret": original.replace("REDACTED-PASSWORD", "hunter2-but-longer", 1),
        "iq_secret": original + "\n# 6F6A0B1C2D3E4F50\n",
    }
    for name, text in planted.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        assert text != original, name
        assert hygiene_problems(path, ("hunter2-but-longer",)), name
    clean = tmp_path / "clean.yaml"
    clean.write_text(original)
    assert hygiene_problems(clean) == []
