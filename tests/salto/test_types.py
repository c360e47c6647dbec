"""Parsing Salto's values as untrusted input, and the dropdown built by the lock list."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ireserve_salto_plugin.salto.errors import Unavailable
from ireserve_salto_plugin.salto.types import (
    Lock,
    LockList,
    parse_iq,
    parse_lock,
    parse_site,
)

LOCK = "4F806A16-03BB-5AE5-817A-8DDF906CB255"


def test_a_lock_as_salto_sends_it() -> None:
    lock = parse_lock(
        {
            "id": LOCK,
            "customer_reference": "Chalet 12",
            "online": True,
            "lock_type": "escutcheon_pin",
            "battery_level": "fresh",
            "iq": {"id": "iq-1", "is_online": False, "otp_enabled": True},
        }
    )
    assert lock.id == LOCK.lower() and lock.name == "Chalet 12"  # ids in canonical form
    assert lock.iq_id == "iq-1" and lock.iq_online is False and not lock.reachable


@pytest.mark.parametrize("item", [None, [], {}, {"id": 7}, {"id": ""}, {"id": "x" * 101}])
def test_a_lock_without_a_usable_id_is_an_error(item: object) -> None:
    with pytest.raises(Unavailable):
        parse_lock(item)


def test_wrong_types_become_none_and_long_names_are_cut() -> None:
    lock = parse_lock(
        {
            "id": "l",
            "customer_reference": "x" * 5000,
            "online": "yes",
            "lock_type": 3,
            "iq": "not an object",
        }
    )
    assert len(lock.name) == 200 and lock.online and not hasattr(lock, "lock_type")
    assert lock.iq_id is None and lock.iq_online is None
    iq = parse_iq({"id": "i", "restore_required": "true", "otp_enabled": 1})
    assert iq.name == "i" and iq.restore_required is False and iq.otp_enabled is None


def test_sites_match_by_site_uid() -> None:
    assert parse_site({"id": "s", "site_uid": "NL6254340082"}, "NL6254340082") is not None
    assert parse_site({"id": "s", "site_uid": "DE4520168385"}, "NL6254340082") is None
    assert parse_site({"site_uid": "NL6254340082"}, "NL6254340082") is None


def test_the_dropdown_is_built_once_and_copied_per_caller() -> None:
    locks = LockList.of(
        [
            parse_lock({"id": "a", "customer_reference": "Reception"}),
            parse_lock({"id": "b", "online": False}),
        ]
    )
    first = locks.options()
    assert first == [
        {"value": "a", "label": "Reception", "online": True, "iq_id": None, "read_at": None},
        {"value": "b", "label": "b (offline)", "online": False, "iq_id": None, "read_at": None},
    ]
    first[0]["label"] = "changed by a caller"
    assert locks.options()[0]["label"] == "Reception"


def test_locks_compare_by_every_field() -> None:
    a = Lock("l1", "Chalet 1", True, "iq", None, True, "low")
    b = Lock("l2", "Chalet 2", True, "iq", None, True, "low")
    assert (a.online, a.iq_online, a.otp_enabled, a.left_open_alarm, a.intrusion_alarm) == (
        True,
        None,
        True,
        None,
        None,
    )
    assert a == replace(a) and hash(a) == hash(replace(a)) and a != b
    assert a != replace(a, intrusion_alarm=True)
    offline = a.with_iq_online(False)
    assert offline.iq_online is False and not offline.reachable and a.iq_online is None
    assert "Chalet 1" in repr(a) and "iq_online=None" in repr(a)
    with pytest.raises(AttributeError):
        a.name = "changed"  # type: ignore[misc]


def test_a_lock_refers_to_its_listed_iq_by_the_iq_s_own_id() -> None:
    iq = parse_iq({"id": "9F1E6B62-0C6A-4E52-8C3B-6C1A0F0D2E11"})
    item = {"id": "l", "iq": {"id": "9f1e6b62-0c6a-4e52-8c3b-6c1a0f0d2e11"}}
    assert parse_lock(item, {iq.id: iq}).iq_id is iq.id  # one id per IQ, not one per lock
    assert parse_lock(item).iq_id == iq.id  # unlisted: its own copy


@pytest.mark.parametrize("size", [3, 600])
def test_a_lock_is_found_by_id_in_a_small_list_and_a_big_one(size: int) -> None:
    locks = LockList.of([Lock(f"l{n}", f"Chalet {n}", True, "iq", True, True) for n in range(size)])
    assert locks.get(f"l{size - 1}") is locks.locks[-1] and locks.get("l0") is locks.locks[0]
    assert locks.get("missing") is None
    assert len(locks.index) == size
    assert bool(locks.built) == (size >= 500)  # a big site's dropdown is built with the list
