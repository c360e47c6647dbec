"""Salto's clock, learned from the Date header of its answers."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from ireserve_salto_plugin.clock import CLOCK_RECHECK, SaltoClock
from ireserve_salto_plugin.store import MemoryStore

from .conftest import SkipClock

API = ("https", "connect.my-clay.com", 443)


def date(offset: float, clock: SkipClock) -> str:
    return formatdate(clock.wall() + offset, usegmt=True)


def test_the_offset_is_learned_and_shared_through_the_store() -> None:
    clock, store = SkipClock(), MemoryStore()
    salto = SaltoClock(store, API, clock.clock())
    assert salto.offset() == 0
    salto.observe(date(120, clock), 200)
    assert 119 <= salto.offset() <= 121
    later = SaltoClock(store, API, clock.clock())  # another call of another park
    assert later.offset() == salto.offset()
    assert abs((later.now().timestamp() - clock.wall()) - salto.offset()) < 1
    assert SaltoClock(store, ("https", "other.example", 443), clock.clock()).offset() == 0


def test_it_is_read_again_after_a_minute_or_after_an_error() -> None:
    clock, store = SkipClock(), MemoryStore()
    salto = SaltoClock(store, API, clock.clock())
    salto.observe(date(0, clock), 200)
    salto.observe(date(300, clock), 200)  # within the minute: not read
    assert abs(salto.offset()) <= 1
    salto.observe(date(300, clock), 400)  # an error may be a clock jump: read
    assert 299 <= salto.offset() <= 301
    clock.sleep(CLOCK_RECHECK + 1)
    salto.observe(date(0, clock), 200)
    assert abs(salto.offset()) <= 1


@pytest.mark.parametrize("header", ["Fri, 01 Jan 99999 00:00:00 GMT", "garbage", "x" * 5000])
def test_an_impossible_date_is_ignored(header: str, caplog: pytest.LogCaptureFixture) -> None:
    salto = SaltoClock(MemoryStore(), API, SkipClock().clock())
    salto.observe(header, 200)
    assert salto.offset() == 0 and "impossible Date" in caplog.text


def test_a_date_more_than_a_day_off_is_ignored() -> None:
    clock = SkipClock()
    salto = SaltoClock(MemoryStore(), API, clock.clock())
    salto.observe(date(2 * 86400, clock), 200)
    assert salto.offset() == 0


def test_a_large_offset_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    clock = SkipClock()
    SaltoClock(MemoryStore(), API, clock.clock()).observe(date(-600, clock), 200)
    assert "NTP" in caplog.text
