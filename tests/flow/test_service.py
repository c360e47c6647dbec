"""The open flow's promises that the hook tests do not reach: a lock that opened is
reported opened whatever fails after the command, and a bug is an internal_error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ireserve_salto_plugin.flow import opening, sending
from ireserve_salto_plugin.flow import service as service_module
from ireserve_salto_plugin.models import Outcome, Reason
from ireserve_salto_plugin.reference import Booking, ReferenceHost
from ireserve_salto_plugin.sandbox import SaltoSandbox

BookingFactory = Callable[..., Booking]


def test_a_failure_after_the_command_keeps_the_open(
    host: ReferenceHost,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(instant: Any) -> str:
        raise RuntimeError("a bug in the bookkeeping")

    monkeypatch.setattr(sending, "iso_utc", broken)
    result = host.open(make_booking(), "guest")
    assert result is not None and result.reason is Reason.OPENED
    assert result.opened_at is not None and result.booking_updates == {}
    assert sandbox.call_count("PATCH") == 1 and "bookkeeping after the open" in caplog.text


def test_a_bug_before_the_command_is_an_internal_error(
    host: ReferenceHost,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in the preflight")

    monkeypatch.setattr(opening, "preflight", broken)
    result = host.open(make_booking(), "guest")
    assert result is not None and result.reason is Reason.INTERNAL_ERROR
    assert result.outcome is Outcome.FAILED and result.attempt_id in result.message
    assert sandbox.call_count("PATCH") == 0


def test_a_park_without_the_integration_gets_none(
    host: ReferenceHost, make_booking: BookingFactory
) -> None:
    from ireserve_salto_plugin.reference import Park

    host.parks = {"other": Park("other", "Europe/Amsterdam")}
    assert host.open(make_booking(), "guest") is None
    assert host.change_status(make_booking(), "confirmed") == []


@pytest.mark.parametrize("known_good", [False, True])
def test_a_store_that_fails_once_the_command_was_sent_keeps_the_open(
    use_service: Any,
    host: ReferenceHost,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: BookingFactory,
    known_good: bool,
) -> None:
    """Giving back the IQ's slot (and noting the accepted code) happens after the PATCH: a
    store failing then must not turn an opened lock into ``store_unavailable``."""
    from ireserve_salto_plugin.salto.errors import StoreUnavailable
    from ireserve_salto_plugin.store.memory import MemoryStore

    failing = [False]

    class FailsAfterThePatch(MemoryStore):
        def write(self, sets: Any, deletes: Any = (), pushes: Any = ()) -> None:
            if failing[0] and sandbox.call_count("PATCH") > opens_before:
                raise StoreUnavailable("redis went away")
            super().write(sets, deletes, pushes)

        def set(self, key: Any, value: Any, ttl: float) -> None:
            if failing[0] and sandbox.call_count("PATCH") > opens_before:
                raise StoreUnavailable("redis went away")
            super().set(key, value, ttl)

    use_service(store=FailsAfterThePatch())
    if known_good:
        assert host.open(make_booking(), "guest").opened  # type: ignore[union-attr]
    opens_before = sandbox.call_count("PATCH")
    failing[0] = True
    result = host.open(make_booking(), "guest")
    assert result is not None and result.reason is Reason.OPENED, result and result.message
    assert sandbox.call_count("PATCH") == opens_before + 1


def test_a_store_outage_in_on_booking_status_is_store_unavailable_not_an_internal_error(
    use_service: Callable[..., Any],
    host: ReferenceHost,
    park: Any,
    mapped: Any,
    make_booking: BookingFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Found by the soak (redis_kill): Salto's clock offset, read from the store after the
    cached lock check, raised past the hook's handling: ``internal_error`` and a traceback
    in the log, where the store's outage is ``store_unavailable``."""
    from ireserve_salto_plugin.salto.cache import CLOCK
    from ireserve_salto_plugin.salto.errors import StoreUnavailable
    from ireserve_salto_plugin.store.memory import MemoryStore

    failing = [False]

    class ClockUnreadable(MemoryStore):
        def get(self, key: Any, *, fresh: bool = False) -> Any:
            if failing[0] and key.spec is CLOCK:
                raise StoreUnavailable("redis went away")
            return super().get(key, fresh=fresh)

    use_service(store=ClockUnreadable())
    host.change_status(make_booking(), "confirmed")  # the lock list is cached now
    failing[0] = True
    infos = host.change_status(make_booking(), "confirmed")
    assert [info.warnings for info in infos] == [[Reason.STORE_UNAVAILABLE]]
    assert not [record for record in caplog.records if record.exc_info]


@pytest.mark.parametrize(
    ("module", "name", "call", "expected"),
    [
        (
            "access",
            "access_info",
            lambda s, p, b: s.access_info(p, b, "confirmed"),
            lambda r: r.warnings == [Reason.INTERNAL_ERROR],
        ),
        (
            "access",
            "mapping_options",
            lambda s, p, b: s.mapping_options(p, False),
            lambda r: r == [],
        ),
        (
            "explain",
            "explain",
            lambda s, p, b: s.explain(p, b, None),
            lambda r: r.verdict is Reason.INTERNAL_ERROR,
        ),
        ("explain", "doors", lambda s, p, b: s.doors(p, b, None), lambda r: r == []),
        (
            "readiness",
            "readiness",
            lambda s, p, b: s.readiness(p, [b], None),
            lambda r: r.summary == {"internal_error": 1},
        ),
    ],
)
def test_every_hook_answers_its_fallback_when_a_bug_escapes(
    service: Any,
    park: Any,
    make_booking: BookingFactory,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    module: str,
    name: str,
    call: Any,
    expected: Any,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(getattr(service_module, module), name, broken)
    assert expected(call(service, park, make_booking()))
    assert "failed unexpectedly" in caplog.text and "RuntimeError: a bug" in caplog.text
