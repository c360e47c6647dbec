"""A listener on the host's plugin instance, and what it reported."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ireserve_salto_plugin.events import EventListener, LockEvent
from ireserve_salto_plugin.flow.service import SaltoKsService
from ireserve_salto_plugin.models import Park
from ireserve_salto_plugin.sandbox import SaltoSandbox


class Heard:
    """What ``on_event`` received, and a wait that returns as soon as it holds."""

    def __init__(self) -> None:
        self.events: list[tuple[Park, LockEvent]] = []
        self._changed = threading.Condition()

    def __call__(self, park: Park, event: LockEvent) -> None:
        with self._changed:
            self.events.append((park, event))
            self._changed.notify_all()

    def wait(self, holds: Callable[[list[LockEvent]], bool], timeout: float = 5.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: holds([e for _, e in self.events]), timeout)

    def of(self, kind: str) -> list[LockEvent]:
        with self._changed:
            return [e for _, e in self.events if e.kind == kind]


def until(holds: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Wait for a condition another thread makes true (looked at every 20 ms)."""
    done = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if holds():
            return True
        done.wait(0.02)
    return holds()


@pytest.fixture
def heard() -> Heard:
    return Heard()


@pytest.fixture
def listen(service: SaltoKsService, heard: Heard) -> Iterator[Callable[..., EventListener]]:
    started: list[EventListener] = []

    def start(*parks: Any, direct: bool = False, **options: Any) -> EventListener:
        """A listener of ``parks`` (``direct``: ``parks[0]`` is the callable itself)."""
        source = parks[0] if direct else (lambda: list(parks))
        listener = EventListener(source, on_event=heard, service=service, **options)
        started.append(listener.start())
        return listener

    yield start
    for listener in started:
        listener.stop()


def live(box: SaltoSandbox, hub: str = "entries", count: int = 1) -> bool:
    return until(lambda: box.hub.count(hub) >= count)
