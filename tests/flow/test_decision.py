import os
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ireserve_salto_plugin.flow.decision import (
    BookingError,
    decide,
    open_window,
    resolve_lock,
    to_utc,
)
from ireserve_salto_plugin.models import Reason

AMS = ZoneInfo("Europe/Amsterdam")
ARRIVAL = datetime(2026, 7, 1, 15, 0, tzinfo=UTC)
DEPARTURE = datetime(2026, 7, 5, 10, 0, tzinfo=UTC)
LOCK = "4f806a16-03bb-5ae5-817a-8ddf906cb255"


def judge(now: datetime, status: str = "confirmed", lock: str | None = LOCK) -> Reason:
    window = open_window(ARRIVAL, DEPARTURE, 30, AMS)
    return decide(
        status=status,
        open_statuses=("confirmed", "checked_in"),
        window=window,
        now=now,
        lock_id=lock,
    ).reason


@pytest.mark.parametrize(
    "now,reason",
    [
        (ARRIVAL - timedelta(minutes=30, seconds=1), Reason.TOO_EARLY),
        (ARRIVAL - timedelta(minutes=30), Reason.OPENED),
        (ARRIVAL, Reason.OPENED),
        (DEPARTURE, Reason.OPENED),
        (DEPARTURE + timedelta(seconds=1), Reason.TOO_LATE),
    ],
)
def test_window_edges(now: datetime, reason: Reason) -> None:
    assert judge(now) is reason


def test_status_gate_comes_first() -> None:
    assert judge(ARRIVAL, status="option") is Reason.STATUS_NOT_ALLOWED
    assert judge(ARRIVAL - timedelta(days=1), status="option") is Reason.STATUS_NOT_ALLOWED


def test_no_lock() -> None:
    assert judge(ARRIVAL, lock=None) is Reason.NO_LOCK_MAPPED


def test_naive_is_park_local_summer_and_winter() -> None:
    assert to_utc(datetime(2026, 7, 1, 17, 0), AMS, "arrival") == ARRIVAL  # CEST, UTC+2
    assert to_utc(datetime(2026, 1, 1, 16, 0), AMS, "arrival") == datetime(
        2026, 1, 1, 15, 0, tzinfo=UTC
    )  # CET, UTC+1


def test_window_across_spring_dst_change() -> None:
    # 2026-03-29 03:30 CEST (UTC+2) = 01:30 UTC; 120 minutes before is 23:30 UTC the day
    # before, which is 00:30 CET: one hour of wall time disappeared in between.
    window = open_window(datetime(2026, 3, 29, 3, 30), datetime(2026, 3, 30, 10, 0), 120, AMS)
    assert window.opens_at == datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
    assert window.opens_at.astimezone(AMS).hour == 0


def test_skipped_and_repeated_wall_times() -> None:
    # 02:30 does not exist on 2026-03-29 in Amsterdam: read with the offset before (CET).
    assert to_utc(datetime(2026, 3, 29, 2, 30), AMS, "arrival") == datetime(
        2026, 3, 29, 1, 30, tzinfo=UTC
    )
    # 02:30 happens twice on 2026-10-25: fold=0 is the first (CEST), fold=1 the second.
    assert to_utc(datetime(2026, 10, 25, 2, 30), AMS, "arrival") == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )
    assert to_utc(datetime(2026, 10, 25, 2, 30, fold=1), AMS, "arrival") == datetime(
        2026, 10, 25, 1, 30, tzinfo=UTC
    )


def test_server_time_zone_does_not_matter() -> None:
    before = os.environ.get("TZ")
    try:
        os.environ["TZ"] = "America/New_York"
        time.tzset()
        assert to_utc(datetime(2026, 7, 1, 17, 0), AMS, "arrival") == ARRIVAL
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_aware_datetimes_in_other_zones() -> None:
    tokyo = ARRIVAL.astimezone(ZoneInfo("Asia/Tokyo"))
    assert to_utc(tokyo, AMS, "arrival") == ARRIVAL


def test_departure_before_arrival() -> None:
    with pytest.raises(BookingError, match="departure is before"):
        open_window(DEPARTURE, ARRIVAL, 0, AMS)


@pytest.mark.parametrize("value", [None, "2026-07-01", 1751382000])
def test_non_datetimes_are_booking_errors(value: object) -> None:
    with pytest.raises(BookingError, match=r"booking\.arrival"):
        open_window(value, DEPARTURE, 0, AMS)


def test_lock_resolution() -> None:
    mapping = {"chalet-12": "lock-12"}
    assert resolve_lock("chalet-12", mapping, "default") == "lock-12"
    assert resolve_lock("chalet-13", mapping, "default") == "default"
    assert resolve_lock("chalet-13", mapping, None) is None


def test_a_date_without_a_time_is_refused_naming_it() -> None:
    """A date-only departure would lock the guest out at midnight before departure day:
    it is refused (booking_invalid), not read as 00:00."""
    from datetime import date

    with pytest.raises(BookingError, match=r"booking\.departure"):
        open_window(datetime(2026, 7, 1, 15, 0), date(2026, 7, 5), 30, AMS)  # fixed dates
