"""Store keys: names, value codecs, and what the Redis near-cache may hold."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest

from ireserve_salto_plugin.salto.cache import (
    CLOCK,
    LOCKS,
    REFUSED_PASSWORD,
    SCOPE,
    SITE,
    TOKEN,
    ClockReading,
    Key,
)
from ireserve_salto_plugin.salto.types import Lock, LockList, Site, Token
from ireserve_salto_plugin.store.keys import DUPLICATE, OTP_BLOCK, OTP_REJECT, OTP_SLOT


def through_json(key: Key[Any], value: Any) -> Any:
    return key.spec.codec.load(json.loads(json.dumps(key.spec.codec.dump(value))))


def test_names_are_prefix_tag_and_parts() -> None:
    assert TOKEN("acct").name == "token:{acct}"
    assert LOCKS("acct", "site").name == "locks:{acct}:site"
    assert CLOCK("https://h.example:443").name == "clock:{https://h.example:443}"
    assert TOKEN("a}b{c").name == "token:{ab{c}"  # a tag cannot be closed early


def test_every_key_of_one_account_lies_in_one_cluster_slot() -> None:
    """Redis Cluster runs a script or pipeline only on keys of one slot: the open's claim
    (dedup, budget, token) and its result (dedup, receipt, last open, budget reset)."""
    from redis.crc import key_slot

    from ireserve_salto_plugin.store.dedup import Dedup
    from ireserve_salto_plugin.store.keys import LAST_OPEN, RECEIPT
    from ireserve_salto_plugin.store.redis import PREFIX

    account = "9f2c4e"
    keys = [
        TOKEN(account),
        SITE(account, "NL1"),
        LOCKS(account, "s"),
        SCOPE(account),
        REFUSED_PASSWORD(account),
        OTP_BLOCK(account, "iq"),
        OTP_REJECT(account, "iq", "1"),
        OTP_SLOT(account, "iq", "1"),
        RECEIPT(account, "attempt"),
        LAST_OPEN(account, "success"),
        Dedup.key(account, "park", "B-1", "lock", "guest"),
    ]
    slots = {key_slot((PREFIX + cast(Any, key).name).encode()) for key in keys}
    assert len(slots) == 1
    other = key_slot((PREFIX + TOKEN("another-account").name).encode())
    assert other not in slots  # parks spread over the cluster


def test_values_read_on_every_open_may_be_near_cached_guards_never() -> None:
    assert all(spec.near for spec in (TOKEN, SITE, LOCKS, CLOCK))
    assert not any(
        spec.near for spec in (OTP_BLOCK, OTP_REJECT, OTP_SLOT, DUPLICATE, REFUSED_PASSWORD, SCOPE)
    )


def test_codecs_round_trip() -> None:
    lock = Lock("l", "Chalet", True, "iq", None, True, "low")
    assert through_json(TOKEN("a"), Token("t", 1.5, "r")) == Token("t", 1.5, "r")
    assert through_json(SITE("a", "u"), Site("s", "u", None)) == Site("s", "u", None)
    assert through_json(LOCKS("a", "s"), LockList.of([lock])).locks == (lock,)
    assert through_json(CLOCK("h"), ClockReading(-3.0, 10.0)) == ClockReading(-3.0, 10.0)
    assert through_json(OTP_BLOCK("a", "i"), 12.5) == 12.5


@pytest.mark.parametrize(
    "key,data",
    [
        (TOKEN("a"), {"v": 99, "access_token": "t", "expires_at": 1}),
        (TOKEN("a"), {"__t": "token", "a": "t", "e": 1, "r": None}),
        (OTP_BLOCK("a", "i"), "soon"),
        (OTP_BLOCK("a", "i"), True),
        (DUPLICATE("d"), 3),
    ],
)
def test_another_format_is_refused_not_misread(key: Key[Any], data: Any) -> None:
    with pytest.raises((KeyError, TypeError, ValueError)):
        key.spec.codec.load(data)


def test_the_in_process_store_forgets_the_least_recently_used_first() -> None:
    """A bounded cachetools.LRUCache: reads and writes refresh an entry."""
    from ireserve_salto_plugin.store.keys import DUPLICATE
    from ireserve_salto_plugin.store.memory import MemoryStore

    store = MemoryStore(maxsize=3)
    keys = {name: DUPLICATE("acct", name) for name in "abcde"}
    for name in "abc":
        store.set(keys[name], name, 60)
    assert store.get(keys["a"]) == "a"  # read: now the most recently used
    store.set(keys["d"], "d", 60)  # full: "b" goes, not "a"
    assert [store.get(keys[name]) for name in "abcd"] == ["a", None, "c", "d"]
    store.set(keys["c"], "c2", 60)  # a write refreshes too
    store.set(keys["e"], "e", 60)
    assert store.get(keys["a"]) is None and store.get(keys["c"]) == "c2" and len(store) == 3
