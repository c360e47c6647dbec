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
from ireserve_salto_plugin.flow.wiring import service_from_env
from ireserve_salto_plugin.reference import Park, ReferenceHost
from ireserve_salto_plugin.salto.cache import CLOCK, LOCKS, SITE, TOKEN, ClockReading, Key
from ireserve_salto_plugin.salto.session import make_session
from ireserve_salto_plugin.salto.types import Lock, LockList, Site, Token
from ireserve_salto_plugin.sandbox import SaltoSandbox
from ireserve_salto_plugin.store.keys import (
    DUPLICATE,
    LAST_OPEN,
    OTP_BLOCK,
    OTP_REJECT,
    RECEIPT,
)
from tests.conftest import UseService

ROOT = Path(__file__).resolve().parents[2]


def round_trip(key: Key[Any], value: Any) -> Any:
    return key.spec.codec.load(json.loads(json.dumps(key.spec.codec.dump(value))))


def test_every_key_round_trips_through_json() -> None:
    lock = Lock("l1", "Chalet 1", True, "iq1", False, True, "fresh")
    for key, value in (
        (TOKEN("a"), Token("a", 12.5, None)),
        (TOKEN("a"), Token("a", 1.0, "r")),
        (SITE("a", "NL6254340082"), Site("s", "NL6254340082", None)),
        (CLOCK("https", "h", "443"), ClockReading(3.0, 1.5)),
        (DUPLICATE("d"), {"outcome": "opened"}),
        (DUPLICATE("d"), "pending"),
        (OTP_REJECT("a", "iq", "f"), 7),
    ):
        assert round_trip(key, value) == value
    locks = round_trip(LOCKS("a", "s"), LockList.of([lock]))
    assert locks.locks == (lock,) and locks.get("l1") == lock


def test_lock_lists_are_stored_by_field_name(redis_store: Any) -> None:
    key = LOCKS("a", "site")
    row = {
        "id": "l1",
        "name": "Chalet 1",
        "online": True,
        "iq_id": "iq1",
        "iq_online": True,
        "otp_enabled": True,
        "battery_level": "fresh",
        "a_field_of_a_newer_version": 1,
        "lock_type": "escutcheon_pin",  # kept by an older version: ignored
    }
    redis_store.client.set(redis_store.prefix + key.name, json.dumps({"v": 1, "locks": [row]}))
    [lock] = redis_store.get(key, fresh=True).locks
    assert lock.battery_level == "fresh" and not hasattr(lock, "lock_type")
    for other in ({"v": 2, "locks": []}, {"__t": "locks", "l": [["l1", "x"]]}, [1, 2]):
        redis_store.client.set(redis_store.prefix + key.name, json.dumps(other))
        assert redis_store.get(key, fresh=True) is None  # another format: a miss


def test_basic_operations(redis_store: Any) -> None:
    store = redis_store
    key, once = DUPLICATE("k"), DUPLICATE("once")
    assert store.get(key) is None
    store.set(key, {"a": 1}, 5)
    assert store.get(key) == {"a": 1}
    store.delete(key)
    assert store.get(key) is None
    assert store.add(once, "pending", 5) and not store.add(once, "other", 5)
    assert 0 < store.client.pttl(store.prefix + once.name) <= 5000
    store.set(key, "short", 0.05)
    time.sleep(0.1)
    assert store.get(key) is None


def test_mutex_is_exclusive(redis_store: Any) -> None:
    inside: list[int] = []
    overlaps: list[int] = []

    def work() -> None:
        with redis_store.mutex(TOKEN("x"), timeout=5):
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
    with redis_store.mutex(TOKEN("y"), timeout=1), pytest.raises(TimeoutError):
        other = type(redis_store)(redis_store.client)
        with other.mutex(TOKEN("y"), timeout=0.2):
            pass


def test_lock_lists_have_a_near_cache(redis_store: Any) -> None:
    key = LOCKS("a", "site")
    locks = LockList.of([Lock("l1", "Chalet 1", True, "iq1", True, True)])
    redis_store.set(key, locks, 300)
    redis_store.client.delete(redis_store.prefix + key.name)
    assert redis_store.get(key) is locks  # served locally for a few seconds
    assert redis_store.get(key, fresh=True) is None
    budget = OTP_BLOCK("a", "iq")  # never near-cached
    redis_store.set(budget, 1.0, 300)
    redis_store.client.delete(redis_store.prefix + budget.name)
    assert redis_store.get(budget) is None


def test_the_plugin_on_redis(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    redis_store: Any,
    monkeypatch: pytest.MonkeyPatch,
    make_booking: Any,
) -> None:
    use_service(store=redis_store)
    assert host.open(make_booking(), "guest").opened  # type: ignore[union-attr]
    assert host.open(make_booking(), "guest").opened  # type: ignore[union-attr]
    assert redis_store.client.keys(redis_store.prefix + "token:*")
    assert sandbox.call_count("PATCH") == 2


def run_workers(specs: list[dict[str, Any]]) -> list[list[str]]:
    """Start one worker process per spec, wait until every one is ready, then let them all
    go at once (a barrier on their pipes, no start time)."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.procs", json.dumps(spec)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for spec in specs
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    return outputs


def worker_spec(
    box: SaltoSandbox, park: Park, redis_url: str, booking: str, threads: int
) -> dict[str, Any]:
    return {
        "env": box.platform_env(),
        "redis": redis_url,
        "park": park.id,
        "settings": park.integrations[INTEGRATION],
        "booking": booking,
        "threads": threads,
    }


SHARED = pytest.mark.parametrize("shared", ["redis_store", "cluster_store"])


def shared_url(request: pytest.FixtureRequest, shared: str) -> str:
    """A fresh (flushed) plain Redis or Redis Cluster, as ``SALTO_KS_REDIS_URL``."""
    request.getfixturevalue(shared)
    return str(
        request.getfixturevalue("redis_url" if shared == "redis_store" else "redis_cluster_url")
    )


@SHARED
def test_duplicate_taps_across_processes(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    shared: str,
    request: pytest.FixtureRequest,
) -> None:
    redis_url = shared_url(request, shared)
    spec = worker_spec(sandbox, park, redis_url, "B-42", 5)
    results = run_workers([spec, spec])
    flat = sorted(r for out in results for r in out)
    assert flat == ["duplicate"] * 9 + ["opened"]
    assert sandbox.call_count("PATCH") == 1


@SHARED
def test_otp_budget_across_processes(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    shared: str,
    request: pytest.FixtureRequest,
) -> None:
    redis_url = shared_url(request, shared)
    sandbox.inject(
        "PATCH", "/locking$", status=403, body={"ErrorCode": 3102, "Message": "otp_blocked"}
    )
    [first] = run_workers([worker_spec(sandbox, park, redis_url, "B-1", 1)])
    [second] = run_workers([worker_spec(sandbox, park, redis_url, "B-2", 1)])
    assert first == ["otp_blocked"] and second == ["otp_blocked"]
    assert sandbox.call_count("PATCH") == 1  # the second process sent no code


def test_stale_near_cached_token_recovers_without_a_second_refresh(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    redis_store: Any,
    redis_url: str,
    make_booking: Any,
) -> None:
    from ireserve_salto_plugin.flow.service import SaltoKsService
    from ireserve_salto_plugin.plugin import SaltoKsPlugin
    from ireserve_salto_plugin.store.redis import RedisStore

    def worker() -> ReferenceHost:  # a worker process: own plugin, own near-cache
        other = ReferenceHost(load_entrypoints=False)
        other.pm.register(
            SaltoKsPlugin(
                SaltoKsService(session=make_session(), store=RedisStore.from_url(redis_url))
            ),
            INTEGRATION,
        )
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


class Counting:
    """Counts round trips to Redis: one per packed send (a pipeline is one send)."""

    sends = 0
    log: list[Any] = []

    @classmethod
    def commands(cls, since: int) -> list[str]:
        """The command names sent since ``since`` (for a failing assertion's message)."""
        names = []
        for command in cls.log[since:]:
            raw = command if isinstance(command, bytes) else b"".join(command)
            parts = raw.split(b"\r\n")
            names.append(" ".join(p.decode(errors="replace")[:40] for p in parts[2::2][:3]))
        return names

    @classmethod
    def connection_class(cls) -> Any:
        import redis

        class Connection(redis.Connection):
            def send_packed_command(self, command: Any, check_health: bool = True) -> None:
                cls.sends += 1
                cls.log.append(command)
                super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]

        return Connection


def test_a_warm_open_takes_three_redis_round_trips(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    redis_url: str,
    redis_store: Any,
    make_booking: Any,
) -> None:
    """One script (claim the duplicate guard, read the OTP budget and the token), one for
    a slot of the IQ's codes in flight (taken, and the budget read again with it), one
    script (the result for waiting taps, the receipt, the last open, the slot given
    back)."""
    import redis

    from ireserve_salto_plugin.store.redis import RedisStore

    pool = redis.ConnectionPool.from_url(redis_url, connection_class=Counting.connection_class())
    store = RedisStore(redis.Redis(connection_pool=pool))
    use_service(store=store)
    assert host.open(make_booking(), "guest").opened  # type: ignore[union-attr]  # cold
    for _ in range(3):
        booking = make_booking()
        before = Counting.sends
        result = host.pm.hook.on_open_request(
            park=park, booking=booking, requested_by="guest", now=None
        )
        assert Counting.sends - before == 3, Counting.commands(before)
        assert result.opened
    # and the guards still hold: a double tap is one command
    booking = make_booking()
    patches = sandbox.call_count("PATCH")
    assert host.open(booking, "guest").opened  # type: ignore[union-attr]
    again = host.open(booking, "guest")
    assert again is not None and again.reason.value == "duplicate" and again.opened
    assert sandbox.call_count("PATCH") == patches + 1


def test_a_waiter_ends_its_wait_without_the_lock_once_ready(redis_store: Any) -> None:
    # Waiters for a token poll; once the holder has stored it they stop waiting (they
    # check the token again) instead of taking the lock one after another.
    fetched, through = threading.Event(), threading.Event()
    results: list[str] = []

    def waiter(ready: Any, timeout: float) -> None:
        try:
            with redis_store.mutex(TOKEN("r"), timeout=timeout, ready=ready):
                results.append("through")
                through.set()
        except TimeoutError:
            results.append("timed out")

    with redis_store.mutex(TOKEN("r"), timeout=5):  # the holder, until the end
        thread = threading.Thread(target=waiter, args=(fetched.is_set, 5.0))
        thread.start()
        fetched.set()  # the holder stored the token
        assert through.wait(timeout=5)
        thread.join()
        # not ready: the waiter waits for the lock and times out
        thread = threading.Thread(target=waiter, args=(lambda: False, 0.2))
        thread.start()
        thread.join()
    assert results == ["through", "timed out"]


def test_the_claim_reads_the_token_into_the_near_cache(redis_store: Any) -> None:
    token = Token("abc", 1e12, None)
    redis_store.set(TOKEN("a"), token, 300)
    redis_store._near.clear()
    claimed, [read] = redis_store.claim(DUPLICATE("a", "x"), "pending", 10, [TOKEN("a")])
    assert claimed and read == token
    redis_store.client.delete(redis_store.prefix + TOKEN("a").name)
    assert redis_store.get(TOKEN("a")) == token  # served from the near-cache
    assert redis_store.get(TOKEN("a"), fresh=True) is None  # the shared value is gone
    assert redis_store.claim(DUPLICATE("a", "x"), "pending", 10, []) == (False, [])


def test_a_fresh_read_sees_what_another_worker_wrote(redis_store: Any) -> None:
    first, second = Token("abc", 1e12, None), Token("def", 1e12, None)
    redis_store.set(TOKEN("a"), first, 300)
    assert redis_store.get(TOKEN("a"), fresh=True) == first
    # another worker wrote a new token
    redis_store.client.set(
        redis_store.prefix + TOKEN("a").name, redis_store._encode(TOKEN("a"), second)
    )
    assert redis_store.get(TOKEN("a"), fresh=True) == second
    redis_store.delete(TOKEN("a"))
    assert redis_store.get(TOKEN("a"), fresh=True) is None
    # a value written under two keys: each key reads it back
    record = {"attempt_id": "x", "at": "2026-01-01T00:00:00+00:00"}
    redis_store.write([(RECEIPT("a", "x"), record, 60), (LAST_OPEN("a", "success"), record, 60)])
    assert redis_store.get_many([RECEIPT("a", "x"), LAST_OPEN("a", "success")]) == [record] * 2


def test_the_near_cache_stays_bounded(redis_store: Any) -> None:
    from ireserve_salto_plugin.store.redis import NEAR_CACHE_SIZE

    for n in range(NEAR_CACHE_SIZE + 50):
        redis_store.set(TOKEN(f"p{n}"), Token(f"t{n}", 1e12, None), 300)
    assert len(redis_store._near) == NEAR_CACHE_SIZE
    assert redis_store.get(TOKEN(f"p{NEAR_CACHE_SIZE + 49}")) is not None


@pytest.mark.parametrize("shared", ["redis_store", "cluster_store"])
def test_store_operations_on_plain_redis_and_on_a_cluster(
    shared: str,
    request: pytest.FixtureRequest,
) -> None:
    store = request.getfixturevalue(shared)
    for account in ("park-a", "park-b", "park-c", "park-d"):  # spread over the masters
        claimed, values = store.claim(
            DUPLICATE(account, "h"), "pending", 10, [OTP_BLOCK(account, "iq"), TOKEN(account)]
        )
        assert claimed and values == [None, None]
        store.write(
            [(OTP_BLOCK(account, "iq"), 5.0, 10), (TOKEN(account), Token("t", 1e12, None), 10)],
            [DUPLICATE(account, "h")],
        )
        assert store.get_many([OTP_BLOCK(account, "iq"), OTP_REJECT(account, "iq", "f")]) == [
            5.0,
            None,
        ]
        assert store.add(DUPLICATE(account, "h"), "pending", 10)
        with store.mutex(TOKEN(account), timeout=1):
            pass
    if shared == "cluster_store":
        masters = store.client.get_primaries()
        used = [node for node in masters if store.client.dbsize(target_nodes=node) > 0]
        assert len(masters) == 3 and len(used) >= 2


def test_the_plugin_on_a_redis_cluster(
    use_service: UseService,
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    cluster_store: Any,
    make_booking: Any,
) -> None:
    use_service(store=cluster_store)
    booking = make_booking()
    assert host.open(booking, "guest").opened  # type: ignore[union-attr]
    again = host.open(booking, "guest")
    assert again is not None and again.reason.value == "duplicate"
    assert host.open(make_booking(), "guest").opened  # type: ignore[union-attr]
    assert sandbox.call_count("PATCH") == 2


def test_a_cluster_that_is_down_is_store_unavailable_not_a_crash(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: Any,
) -> None:
    import socket

    from ireserve_salto_plugin.plugin import SaltoKsPlugin

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    service = service_from_env(
        {**sandbox.platform_env(), "SALTO_KS_REDIS_URL": f"redis+cluster://127.0.0.1:{port}"}
    )
    other = ReferenceHost(load_entrypoints=False)
    other.pm.register(SaltoKsPlugin(service), INTEGRATION)
    other.add_park(park)
    result = other.open(make_booking(), "guest")
    assert result is not None and result.reason.value == "store_unavailable"


def test_more_threads_than_connections_wait_for_one_instead_of_failing(redis_url: str) -> None:
    """redis-py's default pool raises MaxConnectionsError past 100 connections: 200 opens at
    once in one worker lost 83 of them to store_unavailable (the benchmark's burst row)."""
    import threading

    from ireserve_salto_plugin.store.redis import POOL_CONNECTIONS, RedisStore

    store = RedisStore.from_url(redis_url)
    store.set(TOKEN("burst"), Token("t", 1e12, None), 300)
    threads = POOL_CONNECTIONS * 2
    barrier, failures = threading.Barrier(threads), []

    def read() -> None:
        barrier.wait()
        try:
            for _ in range(5):
                store.get_many([TOKEN("burst"), TOKEN("other")])
        except Exception as exc:
            failures.append(type(exc).__name__)

    workers = [threading.Thread(target=read) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []


def test_a_mutex_whose_release_failed_is_released_at_the_next_mutex(
    redis_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the soak (Redis killed while a token was fetched; Redis keeps its data over
    the restart): the token mutex stayed held for its 30 s lease, and every open of that
    account waited until its deadline. Now the holder releases it at its next mutex."""
    import redis.lock

    real = redis.lock.Lock.release
    failed: list[int] = []

    def flaky(self: Any) -> None:
        if not failed:
            failed.append(1)
            raise redis.ConnectionError("Connection refused")
        real(self)

    monkeypatch.setattr(redis.lock.Lock, "release", flaky)
    with redis_store.mutex(TOKEN("account"), timeout=1):
        pass  # its release fails: the mutex stays in Redis
    other = type(redis_store)(redis_store.client)
    with pytest.raises(TimeoutError), other.mutex(TOKEN("account"), timeout=0.1):
        pass
    with redis_store.mutex(TOKEN("another"), timeout=1):
        pass  # the store answers again: the first mutex is released first
    with other.mutex(TOKEN("account"), timeout=0.1):
        pass
