"""Salto's clock, learned from the Date header of its answers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from pathlib import Path

import pytest

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.flow.service import SaltoKsService
from ireserve_salto_plugin.plugin import SaltoKsPlugin
from ireserve_salto_plugin.reference import Booking, Park, ReferenceHost
from ireserve_salto_plugin.salto.clock import CLOCK_RECHECK, SaltoClock, clock_key
from ireserve_salto_plugin.salto.session import make_session
from ireserve_salto_plugin.sandbox import SaltoSandbox
from ireserve_salto_plugin.store.memory import MemoryStore
from tests.conftest import ZONE, SkipClock, activate, first_lock, settings_for

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


def test_it_is_read_again_after_a_minute_after_an_error_or_at_once_after_a_jump() -> None:
    """Within the minute a Date that agrees (±2 s, whole seconds) is not learned again; one
    that does not is a jump of Salto's clock and is learned at once (the soak found 60 s of
    receipts stamped 90 s off after Salto's clock jumped back)."""
    clock, store = SkipClock(), MemoryStore()
    salto = SaltoClock(store, API, clock.clock())
    salto.observe(date(0, clock), 200)
    stored = store.get(clock_key(API))
    salto.observe(date(2, clock), 200)  # within the minute and ±2 s: not learned again
    assert store.get(clock_key(API)) == stored and abs(salto.offset()) <= 1
    salto.observe(date(300, clock), 200)  # Salto's clock jumped: learned at once
    assert 299 <= salto.offset() <= 301
    salto.observe(date(0, clock), 200)  # and back
    assert abs(salto.offset()) <= 1
    salto.observe(date(1, clock), 400)  # an error may be a clock jump: read
    assert 0 <= salto.offset() <= 2
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


# -- the suite's own clock ----------------------------------------------------------------------

SHIFT_DAYS = float(os.environ.get("SALTO_KS_TEST_SHIFT_DAYS", "").strip() or 0)
SHIFT_CODE = (
    "import os, tempfile, time\n"
    "with tempfile.NamedTemporaryFile() as f:\n"
    "    print((time.time() - os.stat(f.name).st_mtime) / 86400)\n"
)


def shifted_days(tmp_path: Path) -> float:
    """How far this process's wall clock is from the kernel's (a new file's mtime)."""
    marker = tmp_path / "now"
    marker.touch()
    return (time.time() - marker.stat().st_mtime) / 86400


def test_the_wall_clock_is_shifted_exactly_when_ci_asks(tmp_path: Path) -> None:
    """`.ci/run` runs the suite again a year ahead and a year back; this proves the shift
    reached this process and a Python subprocess (the worker processes, the CLI), and that
    an unshifted run is not shifted by accident."""
    assert abs(shifted_days(tmp_path) - SHIFT_DAYS) < 0.01
    out = subprocess.run(
        [sys.executable, "-c", SHIFT_CODE], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert abs(float(out) - SHIFT_DAYS) < 0.01
    assert abs(datetime.now(UTC).timestamp() - time.time()) < 1  # datetime moved alike


def test_the_sandbox_and_the_plugin_move_on_one_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """One injected clock for the plugin and for "Salto": a day passes for both, with no
    wait. The token has expired for both (the plugin fetches a new one without a 401), the
    OTP is signed and checked at the new time, and Salto's entry carries it."""
    clock = SkipClock()
    with SaltoSandbox(clock=clock.clock()) as box:
        for name, value in box.platform_env().items():
            monkeypatch.setenv(name, value)
        host = ReferenceHost(load_entrypoints=False)
        host.pm.register(
            SaltoKsPlugin(
                SaltoKsService(session=make_session(), store=clock.store(), clock=clock.clock())
            ),
            INTEGRATION,
        )
        park = host.add_park(Park("zandloper", ZONE))
        lock = first_lock(box)
        host.save_settings(park, INTEGRATION, settings_for(box, mapping={"chalet-12": lock.id}))
        activate(host, park, box, lock.iq.id)
        start = clock.clock().utcnow()
        clock.sleep(86400)  # a day later, for the plugin and for Salto
        booking = host.add_booking(
            Booking(
                "B-1",
                "chalet-12",
                "confirmed",
                start + timedelta(hours=23),
                start + timedelta(days=3),
            )
        )
        result = host.open(booking, "guest:B-1")
        assert result is not None and result.opened, result and result.message
        assert sum(box.grants.values()) == 2 and box.call_count("PATCH") == 1
        [entry] = box.entries()
        seen = datetime.strptime(entry["utc_date_time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert abs((seen - (start + timedelta(days=1))).total_seconds()) < 60
