"""on_booking_status: ``allowed`` says only whether the status allows opening; everything
operational is a warning."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.models import Reason
from ireserve_salto_plugin.reference import Booking, Park, ReferenceHost
from ireserve_salto_plugin.sandbox import SaltoSandbox
from tests.conftest import UseService

BookingFactory = Callable[..., Booking]


def status(host: ReferenceHost, booking: Booking, new: str) -> Any:
    [info] = host.change_status(booking, new)
    return info


def test_the_check_in_status_allows_opening(
    host: ReferenceHost, mapped: Any, make_booking: BookingFactory
) -> None:
    info = status(host, make_booking(), "checked_in")
    assert info.allowed and info.warnings == [] and info.lock_name == "Chalet 12"


def test_the_rollback_switch_and_other_statuses(
    host: ReferenceHost, park: Park, mapped: Any, make_booking: BookingFactory
) -> None:
    assert not status(host, make_booking(), "option").allowed
    park.integrations[INTEGRATION]["enabled"] = False
    info = status(host, make_booking(), "confirmed")
    assert not info.allowed and info.warnings == [Reason.INTEGRATION_INACTIVE]


def test_warnings_do_not_change_allowed(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    use_service: UseService,
    make_booking: BookingFactory,
) -> None:
    sandbox.set_iq_online(mapped.iq.id, False)
    info = status(host, make_booking(), "confirmed")
    assert info.allowed and info.warnings == [Reason.IQ_OFFLINE]
    sandbox.clock_offset = 600
    use_service()  # a fresh store: Salto's clock is learned from the first answer
    info = status(host, make_booking(), "confirmed")
    assert info.allowed and Reason.CLOCK_SKEW in info.warnings


def test_a_booking_that_cannot_be_read_is_rejected_the_same_way_as_by_an_open(
    host: ReferenceHost, park: Park, mapped: Any, make_booking: BookingFactory
) -> None:
    park.integrations[INTEGRATION]["default_lock_id"] = mapped.id
    booking = make_booking()
    booking.object_id = 42  # type: ignore[assignment]
    info = status(host, booking, "confirmed")
    assert info.warnings == [Reason.BOOKING_INVALID] and info.lock_id is None
    assert host.open(booking, "guest").reason is Reason.BOOKING_INVALID  # type: ignore[union-attr]
