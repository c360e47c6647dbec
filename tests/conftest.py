from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.flow.service import SaltoKsService
from ireserve_salto_plugin.plugin import SaltoKsPlugin
from ireserve_salto_plugin.reference import Booking, Park, ReferenceHost
from ireserve_salto_plugin.salto.clock import Clock
from ireserve_salto_plugin.salto.config import Tuning
from ireserve_salto_plugin.salto.session import make_session
from ireserve_salto_plugin.sandbox import SaltoSandbox
from ireserve_salto_plugin.store.memory import MemoryStore

ZONE = "Europe/Amsterdam"
NO_SLEEP = Clock(sleep=lambda seconds: None)  # retries and backoff without waiting


@pytest.fixture(autouse=True)
def cli_state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The support CLI's state file (its OTP budget) in a folder of the test's own, never
    in the home of whoever runs the suite."""
    folder = tmp_path_factory.mktemp("cli-state")
    monkeypatch.setenv("SALTO_KS_STATE_DIR", str(folder / "ireserve-salto"))
    return folder / "ireserve-salto"


class SkipClock:
    """Real time plus skipped seconds: ``sleep`` skips instead of waiting, so expiry and
    windows can be tested without real sleeps (OTPs stay valid: skips are short)."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def wall(self) -> float:
        return time.time() + self.skipped

    def monotonic(self) -> float:
        return time.monotonic() + self.skipped

    def sleep(self, seconds: float) -> None:
        self.skipped += seconds

    def clock(self) -> Clock:
        return Clock(self.wall, self.monotonic, self.sleep)

    def store(self) -> MemoryStore:
        return MemoryStore(timer=self.monotonic)


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[SaltoSandbox]:
    with SaltoSandbox() as box:
        for name, value in box.platform_env().items():
            monkeypatch.setenv(name, value)
        yield box


def settings_for(box: SaltoSandbox, **overrides: Any) -> dict[str, Any]:
    assert box.site is not None
    raw: dict[str, Any] = {
        "environment": "acceptance",
        "username": box.username,
        "password": box.password,
        "site_uid": box.site.site_uid,
        "open_statuses": ["confirmed"],
        "minutes_before": 30,
        "open_field": "opened_at",
        "checkin_status": "checked_in",
    }
    raw.update(overrides)
    return raw


@pytest.fixture
def service() -> SaltoKsService:
    return SaltoKsService(session=make_session(), store=MemoryStore(), clock=NO_SLEEP)


def install(host: ReferenceHost, service: SaltoKsService) -> SaltoKsService:
    """Give ``host`` a plugin instance of its own on ``service`` (replacing any)."""
    if host.pm.get_plugin(INTEGRATION) is not None:
        host.pm.unregister(name=INTEGRATION)
    host.pm.register(SaltoKsPlugin(service), INTEGRATION)
    return service


def make_service(**options: Any) -> SaltoKsService:
    """A fresh service; ``Tuning`` fields may be passed by name."""
    tuned = {k: options.pop(k) for k in list(options) if k in Tuning.__dataclass_fields__}
    if tuned:
        options["tuning"] = Tuning(**tuned)
    options.setdefault("store", MemoryStore())
    options.setdefault("clock", NO_SLEEP)
    options.setdefault("session", make_session())
    return SaltoKsService(**options)


@pytest.fixture
def host(service: SaltoKsService) -> ReferenceHost:
    """The reference host with a fresh plugin instance: the one pattern for every test
    (test_hooks.py also loads the plugin through its entry point)."""
    host = ReferenceHost(load_entrypoints=False)
    install(host, service)
    return host


UseService = Callable[..., SaltoKsService]


@pytest.fixture
def use_service(host: ReferenceHost) -> UseService:
    """Swap the host's plugin for one on a new service built by :func:`make_service`."""
    return lambda **options: install(host, make_service(**options))


@pytest.fixture
def park(host: ReferenceHost, sandbox: SaltoSandbox) -> Park:
    park = host.add_park(Park("zandloper", ZONE))
    host.save_settings(park, INTEGRATION, settings_for(sandbox))
    return park


def activate(host: ReferenceHost, park: Park, box: SaltoSandbox, iq_id: str) -> None:
    assert host.admin(park, INTEGRATION, "get_pin", iq_id=iq_id).ok
    result = host.admin(park, INTEGRATION, "set_pin", iq_id=iq_id, current_pin=box.last_pin(iq_id))
    assert result.ok, result.message


def first_lock(box: SaltoSandbox, name: str = "Chalet 12") -> Any:
    assert box.site is not None
    return next(lock for lock in box.site.locks.values() if lock.name == name)


@pytest.fixture
def mapped(host: ReferenceHost, park: Park, sandbox: SaltoSandbox) -> Any:
    """Park with Chalet 12 mapped to object ``chalet-12`` and its IQ activated."""
    lock = first_lock(sandbox)
    activate(host, park, sandbox, lock.iq.id)
    park.integrations[INTEGRATION] = {
        **park.integrations[INTEGRATION],
        "mapping": {"chalet-12": lock.id},
    }
    return lock


@pytest.fixture
def make_booking(host: ReferenceHost) -> Callable[..., Booking]:
    """A new booking (own id, so the duplicate-tap guard never joins two of them)."""
    count = iter(range(1, 10_000))

    def make(
        status: str = "confirmed",
        object_id: str = "chalet-12",
        arrival: datetime | None = None,
        days: int = 3,
        departure: datetime | None = None,
    ) -> Booking:
        start = arrival or datetime.now(UTC) - timedelta(hours=1)
        return host.add_booking(
            Booking(
                f"B-{next(count)}",
                object_id,
                status,
                start,
                departure or start + timedelta(days=days),
            )
        )

    return make


def _redis_binary() -> str:
    import os
    import shutil

    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (./dev test installs it)")
        pytest.skip("redis-server is not installed")
    return binary


def _free_port(cluster: bool = False) -> int:
    """A free loopback port; for a cluster node, one whose bus port (+10000) is free too
    (an ephemeral port plus 10000 may not exist at all)."""
    import random
    import socket

    for _ in range(200):
        port = random.randrange(20000, 30000) if cluster else 0
        try:
            with socket.socket() as probe, socket.socket() as bus:
                probe.bind(("127.0.0.1", port))
                if cluster:
                    bus.bind(("127.0.0.1", port + 10000))
                return int(probe.getsockname()[1])
        except OSError:
            continue
    pytest.fail("no free port for redis-server")


def _start_redis(binary: str, workdir: Any, *extra: str) -> tuple[Any, int]:
    import subprocess
    import time

    import redis

    port = _free_port(cluster=bool(extra))
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            return proc, port
        except redis.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    pytest.fail("redis-server did not start")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server of our own on a free loopback port (skipped only outside CI)."""
    proc, port = _start_redis(_redis_binary(), tmp_path_factory.mktemp("redis"))
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis Cluster of 3 masters on loopback, created with ``redis-cli --cluster
    create``, as ``redis+cluster://`` for ``SALTO_KS_REDIS_URL``."""
    import shutil
    import subprocess
    import time

    import redis

    binary = _redis_binary()
    cli = shutil.which("redis-cli") or pytest.fail("redis-cli is not installed")
    nodes = []
    try:
        for index in range(3):
            workdir = tmp_path_factory.mktemp(f"cluster{index}")
            nodes.append(
                _start_redis(
                    binary,
                    workdir,
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    str(workdir / "nodes.conf"),
                    "--cluster-node-timeout",
                    "2000",
                )
            )
        ports = [port for _proc, port in nodes]
        subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
        for _ in range(200):
            infos = [redis.Redis(port=p).cluster("info") for p in ports]
            if all(info.get("cluster_state") == "ok" for info in infos):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the Redis Cluster did not reach cluster_state:ok")
        yield f"redis+cluster://127.0.0.1:{ports[0]}"
    finally:
        for proc, _port in nodes:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.fixture
def redis_store(redis_url: str) -> Any:
    from ireserve_salto_plugin.store.redis import RedisStore

    store = RedisStore.from_url(redis_url)
    store.client.flushdb()
    return store


@pytest.fixture
def cluster_store(redis_cluster_url: str) -> Any:
    from ireserve_salto_plugin.store.redis import RedisStore

    store = RedisStore.from_url(redis_cluster_url)
    store.client.flushall(target_nodes="primaries")
    return store
