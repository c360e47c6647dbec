"""The in-process store: expiry, bounded size, and per-key mutexes that never let one
park's work wait on another's."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ireserve_salto_plugin.salto.cache import LOCKS, TOKEN
from ireserve_salto_plugin.store.keys import DUPLICATE, OTP_REJECT
from ireserve_salto_plugin.store.memory import MemoryStore


def test_values_expire_and_the_store_is_bounded() -> None:
    now = [0.0]
    store = MemoryStore(maxsize=3, timer=lambda: now[0])
    store.set(DUPLICATE("a"), "1", ttl=10)
    assert store.get(DUPLICATE("a")) == "1"
    now[0] = 11
    assert store.get(DUPLICATE("a")) is None
    for name in "bcde":
        store.set(DUPLICATE(name), name, ttl=100)
    assert len(store) == 3 and store.get(DUPLICATE("b")) is None  # least recent went first


def test_add() -> None:
    store = MemoryStore()
    key = DUPLICATE("k")
    assert store.add(key, "first", ttl=5) and not store.add(key, "second", ttl=5)
    assert store.get(key) == "first"


def test_holding_one_key_never_blocks_another() -> None:
    # Before: 64 shared lock stripes. Two parks whose keys hashed to the same stripes
    # waited on each other (and deadlocked for 30 s when the pairs crossed).
    store = MemoryStore()
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.mutex(TOKEN("park-a"), timeout=1):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(5)
    try:
        for n in range(500):
            with store.mutex(TOKEN(f"park-{n}-b"), timeout=0.01):
                pass
        with pytest.raises(TimeoutError):
            with store.mutex(TOKEN("park-a"), timeout=0.05):
                pass
    finally:
        release.set()
        thread.join()
    assert store._mutexes == {}  # nothing left behind once nobody holds or waits


def test_a_thread_may_take_its_own_key_again() -> None:
    store = MemoryStore()
    with store.mutex(LOCKS("a", "s"), timeout=1), store.mutex(LOCKS("a", "s"), timeout=1):
        pass


def test_the_file_store_is_shared_by_its_instances_and_survives_a_bad_file(tmp_path: Path) -> None:
    """The support CLI's state file: two runs (two instances) see one budget; entries
    expire; a file that does not parse is started afresh, never a crash."""
    from ireserve_salto_plugin.store.file import FileStore

    now = [1000.0]
    first = FileStore(tmp_path / "budget.json", wall=lambda: now[0])
    second = FileStore(first.path, wall=lambda: now[0])
    key = OTP_REJECT("account", "iq", "1")
    assert first.add(key, 990.0, 60) and not second.add(key, 995.0, 60)
    assert second.claim(DUPLICATE("k"), "pending", 10, [key]) == (True, [990.0])
    now[0] += 61
    assert first.get(key) is None and second.add(key, 1061.0, 60)
    first.path.write_text("{not json")
    assert second.get(key) is None and second.add(key, 1.0, 60)
    with first.mutex(key, 1.0), pytest.raises(TimeoutError), second.mutex(key, 0.05):
        pass
