"""The Redis store, and the guards holding across worker processes that share it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.gateway import Lock, LockList, Site, Token
from ireserve_salto_plugin.redis_store import decode, encode
from ireserve_salto_plugin.sandbox import Park, ReferenceHost, SaltoSandbox

from .test_reliability import use_service

ROOT = Path(__file__).resolve().parent.parent


def test_codec_round_trip() -> None:
    lock = Lock("l1", "Chalet 1", True, "iq1", False, True, "escutcheon_pin", "fresh")
    for value in (Token("a", 12.5, None), Token("a", 1.0, "r"), Site("s", "NL6254340082", None),
                  (3, 1.5), {"outcome": "opened"}, "pending", 7):
        assert decode(encode(value)) == value
    locks = decode(encode(LockList.of([lock])))
    assert locks.locks == (lock,) and locks.by_id["l1"] == lock
    assert decode(None) is None


def test_basic_operations(redis_store: Any) -> None:
    store = redis_store
    assert store.get("k") is None
    store.set("k", {"a": 1}, 5)
    assert store.get("k") == {"a": 1}
    store.delete("k")
    assert store.get("k") is None
    assert store.add("once", "pending", 5) and not store.add("once", "other", 5)
    assert [store.incr("n", 5) for _ in range(3)] == [1, 2, 3]
    assert 0 < store.client.pttl(store.prefix + "n") <= 5000
    store.set("short", 1, 0.05)
    time.sleep(0.1)
    assert store.get("short") is None


def test_mutex_is_exclusive(redis_store: Any) -> None:
    inside: list[int] = []
    overlaps: list[int] = []

    def work() -> None:
        with redis_store.mutex("token:x", timeout=5):
            inside.append(1)
            if len(inside) > 1:
                overlaps.append(1)
            time.sleep(0.02)
            inside.pop()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == []
    with redis_store.mutex("token:y", timeout=1), pytest.raises(TimeoutError):
        other = type(redis_store)(redis_store.client)
        with other.mutex("token:y", timeout=0.2):
            pass


def test_lock_lists_have_a_near_cache(redis_store: Any) -> None:
    locks = LockList.of([Lock("l1", "Chalet 1", True, "iq1", True, True)])
    redis_store.set("locks:a:site", locks, 300)
    redis_store.client.delete(redis_store.prefix + "locks:a:site")
    assert redis_store.get("locks:a:site") is locks  # served locally for a few seconds


def test_the_plugin_on_redis(host: ReferenceHost, park: Park, mapped: Any,
                             sandbox: SaltoSandbox, redis_store: Any,
                             monkeypatch: pytest.MonkeyPatch, make_booking: Any) -> None:
    use_service(monkeypatch, store=redis_store)
    assert host.open(make_booking(), "guest").opened  # type: ignore[union-attr]
    assert host.open(make_booking(), "guest").opened  # type: ignore[union-attr]
    assert redis_store.client.keys(redis_store.prefix + "token:*")
    assert sandbox.call_count("PATCH") == 2


def run_workers(specs: list[dict[str, Any]]) -> list[list[str]]:
    procs = [subprocess.Popen([sys.executable, "-m", "tests.procs", json.dumps(spec)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for spec in specs]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    return outputs


def worker_spec(box: SaltoSandbox, park: Park, redis_url: str, booking: str,
                threads: int, start_at: float) -> dict[str, Any]:
    return {"env": box.platform_env(),
            "redis": redis_url, "park": park.id, "settings": park.integrations[INTEGRATION],
            "booking": booking, "threads": threads, "start_at": start_at}


def test_duplicate_taps_across_processes(host: ReferenceHost, park: Park, mapped: Any,
                                         sandbox: SaltoSandbox, redis_store: Any,
                                         redis_url: str) -> None:
    start = time.time() + 2.0
    spec = worker_spec(sandbox, park, redis_url, "B-42", 5, start)
    results = run_workers([spec, spec])
    flat = sorted(r for out in results for r in out)
    assert flat == ["duplicate"] * 9 + ["opened"]
    assert sandbox.call_count("PATCH") == 1


def test_otp_budget_across_processes(host: ReferenceHost, park: Park, mapped: Any,
                                     sandbox: SaltoSandbox, redis_store: Any,
                                     redis_url: str) -> None:
    sandbox.inject("PATCH", "/locking$", status=403,
                   body={"ErrorCode": 3102, "Message": "otp_blocked"})
    [first] = run_workers([worker_spec(sandbox, park, redis_url, "B-1", 1, 0)])
    [second] = run_workers([worker_spec(sandbox, park, redis_url, "B-2", 1, 0)])
    assert first == ["otp_blocked"] and second == ["otp_blocked"]
    assert sandbox.call_count("PATCH") == 1  # the second process sent no code


def test_stale_near_cached_token_recovers_without_a_second_refresh(
    host: ReferenceHost, park: Park, mapped: Any, sandbox: SaltoSandbox, redis_store: Any,
    redis_url: str, make_booking: Any,
) -> None:
    from ireserve_salto_plugin.plugin import SaltoKsPlugin
    from ireserve_salto_plugin.redis_store import RedisStore
    from ireserve_salto_plugin.service import SaltoKsService

    def worker() -> ReferenceHost:  # a worker process: own plugin, own near-cache
        other = ReferenceHost(load_entrypoints=False)
        other.pm.register(SaltoKsPlugin(SaltoKsService(store=RedisStore.from_url(redis_url))),
                          INTEGRATION)
        other.add_park(park)
        return other

    a, b = worker(), worker()
    assert a.open(make_booking(), "guest").opened  # type: ignore[union-attr]
    assert b.open(make_booking(), "guest").opened  # type: ignore[union-attr]  # B caches it
    sandbox.expire_tokens()
    before = sandbox.call_count("POST /connect/token")
    assert a.open(make_booking(), "guest").opened  # type: ignore[union-attr]  # A refreshes
    assert b.open(make_booking(), "guest").opened  # type: ignore[union-attr]  # B: 401, fresh
    assert sandbox.call_count("POST /connect/token") - before == 1
