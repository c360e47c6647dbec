"""Host values in logs: bounded, printable, and never a reason to raise."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ireserve_salto_plugin.park.text import host_text, iso_utc, local_time


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("boom")


class NotText:
    def __str__(self) -> str:
        return 42  # type: ignore[return-value]


def test_host_text() -> None:
    assert host_text("guest:B-1") == "guest:B-1"
    assert host_text("a\nb\r\x1b[31m") == "a\\x0ab\\x0d\\x1b[31m"
    assert host_text("\u2028") == "\\u2028"
    assert len(host_text("x" * 10_000)) == 80 and host_text("x" * 10_000).endswith("...")
    assert host_text(Unprintable()) == host_text(NotText()) == "<unprintable>"
    assert host_text(12) == "12"


def test_a_raising_host_attribute_is_none() -> None:
    from ireserve_salto_plugin.park.text import host_attr

    class Hostile:
        @property
        def id(self) -> str:
            raise RuntimeError("a bug in the host")

    assert host_attr(Hostile(), "id") is None and host_attr(Hostile(), "missing") is None


def test_times() -> None:
    instant = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # a fixed instant, not "now"
    assert iso_utc(instant) == "2026-07-01T12:00:00Z"  # fixed
    assert local_time(instant, ZoneInfo("Europe/Amsterdam")) == "2026-07-01 14:00 CEST"
    assert local_time(datetime.max.replace(tzinfo=UTC), ZoneInfo("Pacific/Kiritimati")) == (
        "9999-12-31T23:59:59Z"
    )
