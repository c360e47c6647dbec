"""Two listener processes on one Redis: each event reported once, and a dead one's site
taken over by the other (``ireserve-salto listen --json``, the support command)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import pytest

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.park.platform import sandbox_marked
from ireserve_salto_plugin.reference import Booking, Park, ReferenceHost
from ireserve_salto_plugin.sandbox import SaltoSandbox
from tests.conftest import UseService, first_lock, settings_for
from tests.events.conftest import until

pytestmark = pytest.mark.redis


class Listener:
    """One ``ireserve-salto listen --json`` process and the events it printed."""

    def __init__(self, settings: Path, redis_url: str) -> None:
        env = {**os.environ, "SALTO_KS_REDIS_URL": redis_url}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                *("-m", "ireserve_salto_plugin.support.cli", "listen", "--json"),
                *("--settings-file", str(settings)),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        self.events: list[dict[str, Any]] = []
        self.states: list[dict[str, Any]] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.events), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.states), daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str], into: list[dict[str, Any]]) -> None:
        for line in stream:
            if line.startswith("{"):
                into.append(json.loads(line))

    def stop(self) -> None:
        """SIGTERM (the command stops its listener and releases its leases), then the pipes
        are read to their end and closed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait(15)
        for reader in self.readers:
            reader.join(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def on_redis(
    sandbox: SaltoSandbox, redis_url: str, redis_store: Any, use_service: UseService, tmp_path: Path
) -> Iterator[tuple[Path, Callable[[], Listener]]]:
    """The park's settings file (activated, Chalet 12 mapped) and a way to start listeners;
    the host's own plugin shares the Redis store."""
    user = sandbox.world.users[sandbox.username]
    settings = settings_for(sandbox, iqs=sandbox.world.preactivate(user))
    settings["mapping"] = {"chalet-12": first_lock(sandbox).id}
    path = tmp_path / "park.json"
    path.write_text(
        json.dumps(
            {
                **sandbox_marked(sandbox.platform_env(), os.environ),
                "park_id": "zandloper",
                INTEGRATION: settings,
            }
        )
    )
    path.chmod(0o600)
    use_service(store=redis_store)
    started: list[Listener] = []

    def start() -> Listener:
        started.append(Listener(path, redis_url))
        return started[-1]

    yield path, start
    for listener in started:
        listener.stop()


def test_two_listener_processes_report_each_event_once_and_one_takes_over(
    host: ReferenceHost,
    sandbox: SaltoSandbox,
    on_redis: tuple[Path, Callable[[], Listener]],
) -> None:
    path, start = on_redis
    settings = json.loads(path.read_text())[INTEGRATION]
    host.add_park(Park("zandloper", "Europe/Amsterdam", {INTEGRATION: settings}))
    first, second = start(), start()
    assert until(lambda: sandbox.hub.count("entries") >= 1, timeout=20)
    now = sandbox.now()
    opened = []
    for n in range(3):
        booking = host.add_booking(
            Booking(f"B-{n}", "chalet-12", "confirmed", now, now + timedelta(days=2))
        )
        result = host.open(booking, f"guest-{n}")
        assert result is not None and result.opened
        opened.append(result.attempt_id)

    def printed() -> list[dict[str, Any]]:
        return [e for p in (first, second) for e in p.events]

    assert until(lambda: len(printed()) >= 3, timeout=10)
    assert sorted(e["attempt_id"] for e in printed()) == sorted(opened)
    assert all(e["park"] == "zandloper" for e in printed())
    holder = first if first.events else second
    other = second if holder is first else first
    assert not other.events  # one process holds the site: the other printed nothing
    negotiated = sandbox.hub.negotiations
    holder.proc.kill()  # dies without releasing its lease
    died = time.monotonic()
    assert until(lambda: sandbox.hub.negotiations > negotiated and sandbox.hub.count() >= 1, 40)
    took_over = time.monotonic() - died
    assert took_over <= 30, f"took over after {took_over:.1f} s"
    booking = host.add_booking(
        Booking("B-late", "chalet-12", "confirmed", now, now + timedelta(days=2))
    )
    late = host.open(booking, "guest-late")
    assert late is not None and late.opened
    assert until(lambda: any(e["attempt_id"] == late.attempt_id for e in other.events), 10)
    assert len([e for e in printed() if e["attempt_id"] == late.attempt_id]) == 1


def test_a_lease_taken_in_one_thread_is_renewed_from_another(redis_store: Any) -> None:
    """The listener renews from whichever worker thread is free: redis-py's Lock keeps its
    token thread-locally by default, and a renewal from another thread then raised (every
    listener process of a 3-process bench died at its first renewal)."""
    from ireserve_salto_plugin.events.lease import Leases

    mine, theirs = Leases(redis_store, "mine"), Leases(redis_store, "theirs")
    assert mine.hold("account", "site")
    renewed: list[bool] = []
    thread = threading.Thread(target=lambda: renewed.append(mine.hold("account", "site")))
    thread.start()
    thread.join()
    assert renewed == [True]
    assert not theirs.hold("account", "site")
    mine.release("account", "site")
    assert theirs.hold("account", "site")


def test_leases_without_redis_are_shared_by_the_listeners_of_one_process() -> None:
    from ireserve_salto_plugin.events.lease import Leases
    from ireserve_salto_plugin.store.memory import MemoryStore

    store = MemoryStore()
    mine, theirs = Leases(store, "mine"), Leases(store, "theirs")
    assert mine.hold("a", "s") and mine.hold("a", "s")
    assert not theirs.hold("a", "s")
    mine.release("a", "s")
    assert theirs.hold("a", "s")
