"""The exact call counts behind the benchmarks (timings are in benchmarks/, not here)."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

import ireserve_salto_plugin
from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.flow.service import SaltoKsService
from ireserve_salto_plugin.plugin import SaltoKsPlugin
from ireserve_salto_plugin.reference import Booking, Park, ReferenceHost
from ireserve_salto_plugin.salto.cache import TOKEN, Store
from ireserve_salto_plugin.salto.session import make_session
from ireserve_salto_plugin.salto.types import Token
from ireserve_salto_plugin.sandbox import SaltoSandbox
from ireserve_salto_plugin.store.memory import MemoryStore
from tests.conftest import settings_for


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SaltoSandbox, dict[str, Any]]]:
    with SaltoSandbox(iqs=10, locks_per_iq=10) as box:
        for name, value in box.platform_env().items():
            monkeypatch.setenv(name, value)
        assert box.site is not None
        locks = list(box.site.locks)
        raw = settings_for(
            box,
            checkin_status=None,
            iqs=box.world.preactivate(box.world.users[box.username]),
            mapping={f"obj-{n}": lock for n, lock in enumerate(locks)},
        )
        yield box, raw


def make_host(raw: dict[str, Any], store: Store) -> tuple[ReferenceHost, SaltoKsService]:
    service = SaltoKsService(session=make_session(), store=store)
    host = ReferenceHost(load_entrypoints=False)
    host.pm.register(SaltoKsPlugin(service), INTEGRATION)
    host.add_park(Park("p", "Europe/Amsterdam", {INTEGRATION: raw}))
    return host, service


def booking(n: int, object_id: str) -> Booking:
    arrival = datetime.now(UTC) - timedelta(hours=1)
    return Booking(f"B{n}", object_id, "confirmed", arrival, arrival + timedelta(days=1))


def concurrent_opens_with_expired_token(
    box: SaltoSandbox, raw: dict[str, Any], store: Store
) -> list[Any]:
    host, service = make_host(raw, store)
    assert host.open(booking(-1, "obj-0"), "warm").opened  # type: ignore[union-attr]
    key = TOKEN(service.context(host.parks["p"]).account.key)
    token = store.get(key)
    assert token is not None
    store.set(key, Token(token.access_token, 0.0, token.refresh_token), 60)
    box.expire_tokens()
    box.calls.clear()
    jobs = list(range(200))
    results: list[Any] = []
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not jobs:
                    return
                n = jobs.pop()
            results.append(host.open(booking(n, f"obj-{n % 100}"), "load"))

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_200_concurrent_opens_with_an_expired_token_make_one_token_request(site: Any) -> None:
    box, raw = site
    results = concurrent_opens_with_expired_token(box, raw, MemoryStore())
    assert len(results) == 200 and all(r.opened for r in results)
    assert box.call_count("POST /connect/token") == 1
    assert box.call_count("PATCH") == 200 and sum(box.calls.values()) == 201


@pytest.mark.redis
def test_the_same_with_the_redis_store(site: Any, redis_store: Any) -> None:
    box, raw = site
    results = concurrent_opens_with_expired_token(box, raw, redis_store)
    assert all(r.opened for r in results)
    assert box.call_count("POST /connect/token") == 1


def test_warm_open_is_one_request_cold_six_or_five(site: Any) -> None:
    # Cold: token, site, the lock list, the IQ list, the open. The site has exactly 100
    # locks and Salto sends neither a next_page_link nor a count, so a full first page
    # needs one more (empty) page to know the list ended: 6, and 5 with site_id stored.
    box, raw = site
    for settings, expected in ((raw, 6), ({**raw, "site_id": box.site.id}, 5)):
        host, _ = make_host(settings, MemoryStore())
        box.calls.clear()
        assert host.open(booking(1, "obj-1"), "cold").opened  # type: ignore[union-attr]
        assert sum(box.calls.values()) == expected
        box.calls.clear()
        for n in range(2, 12):
            assert host.open(booking(n, f"obj-{n}"), "warm").opened  # type: ignore[union-attr]
        assert sum(box.calls.values()) == 10 and box.call_count("PATCH") == 10


def test_big_site_takes_one_request_per_page_and_is_then_cached(monkeypatch: Any) -> None:
    with SaltoSandbox(iqs=25, locks_per_iq=200) as box:
        for name, value in box.platform_env().items():
            monkeypatch.setenv(name, value)
        assert box.site is not None
        host, _ = make_host(settings_for(box, site_id=box.site.id), MemoryStore())
        park = host.parks["p"]
        first = host.lock_options(park, INTEGRATION)
        # 5000 / 100 full pages and an empty one (Salto sends no link and no count), and
        # one short page of 25 IQs confirmed by an empty one (a dropdown is read for people)
        locks = f"GET /v1.2/sites/{box.site.id}/locks"
        assert len(first) == 5000 and box.call_count(locks) == 51
        assert box.call_count("GET /v1.2/sites") == 53
        again = host.lock_options(park, INTEGRATION)
        assert again == first and box.call_count("GET /v1.2/sites") == 53
        again[0]["label"] = "changed by the host"
        assert host.lock_options(park, INTEGRATION)[0]["label"] != "changed by the host"


def test_settings_are_validated_once_until_they_change(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ireserve_salto_plugin.park.settings import SettingsSchema

    _, raw = site
    host, _ = make_host(raw, MemoryStore())
    loads: list[int] = []
    real = SettingsSchema.load

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        loads.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SettingsSchema, "load", counting)
    for n in range(5):
        assert host.open(booking(n, f"obj-{n}"), "x").opened  # type: ignore[union-attr]
    assert len(loads) == 1
    raw["minutes_before"] = 5  # the admin saved the page: parsed again, once
    for n in range(5, 8):
        assert host.open(booking(n, f"obj-{n}"), "x").opened  # type: ignore[union-attr]
    assert len(loads) == 2


def test_a_warm_open_goes_down_the_pipeline_in_one_direction(site: Any) -> None:
    """From the hook to the session, one direction: hook → façade → the open's pipeline →
    its send step → the endpoint → the account's calls → transport, each module entered
    once (no closure back into the gateway, no transport → gateway → transport). Read from
    ``on_open_request`` to the frame that calls the session (the session's own frame and
    those below it are not the plugin's path: auth, retries and the watchdog run there)."""
    _box, raw = site
    host, _ = make_host(raw, MemoryStore())
    assert host.open(booking(0, "obj-0"), "warm").opened  # type: ignore[union-attr]
    package = str(Path(ireserve_salto_plugin.__file__).parent)
    stacks: list[list[str]] = []
    send = requests.Session.send

    def spy(self: requests.Session, request: Any, **kwargs: Any) -> Any:
        if request.method == "PATCH":
            stacks.append(
                [
                    f"{Path(frame.filename).name}:{frame.name}"
                    for frame in traceback.extract_stack()[:-1]
                    if frame.filename.startswith(package)
                ]
            )
        return send(self, request, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(requests.Session, "send", spy)
        assert host.open(booking(1, "obj-0"), "warm").opened  # type: ignore[union-attr]
    (stack,) = stacks
    path = stack[stack.index("plugin.py:on_open_request") :]
    path = [frame for frame in path if not frame.startswith("session.py:")]
    modules = [frame.split(":")[0] for frame in path]
    runs = [name for n, name in enumerate(modules) if n == 0 or modules[n - 1] != name]
    assert runs == [
        "plugin.py",
        "service.py",
        "opening.py",
        "sending.py",
        "gateway.py",
        "api.py",
        "transport.py",
    ], path
    assert path[-1] == "transport.py:send"
    print("\n".join(path))  # the frames of a warm open (pytest -s shows them)
