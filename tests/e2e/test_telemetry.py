"""Metrics and traces of a scripted scenario, read back with OpenTelemetry's in-memory
reader and exporter; and the attempt's log line as structured fields."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ireserve_salto_plugin.reference import Booking, Park, ReferenceHost
from ireserve_salto_plugin.salto.telemetry import Telemetry, endpoint
from ireserve_salto_plugin.sandbox import SaltoSandbox
from tests.conftest import UseService

BookingFactory = Callable[..., Booking]


def points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    found: dict[str, list[Any]] = {}
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


def total(found: dict[str, list[Any]], name: str, **attrs: Any) -> float:
    return sum(
        getattr(p, "value", getattr(p, "count", 0))
        for p in found.get(name, [])
        if all(p.attributes.get(k) == v for k, v in attrs.items())
    )


def test_a_scripted_scenario(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    use_service: UseService,
    make_booking: BookingFactory,
) -> None:
    reader, spans = InMemoryMetricReader(), InMemorySpanExporter()
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(spans))
    service = use_service(telemetry=Telemetry(MeterProvider(metric_readers=[reader]), tracing))
    booking = make_booking()
    assert host.open(booking, "guest").opened  # type: ignore[union-attr]  # cold
    early = make_booking()
    host.open(early, "guest", now=early.arrival - timedelta(hours=3))  # too early
    sandbox.inject("PATCH", "/locking$", status=503)
    host.open(make_booking(), "guest")  # salto_unavailable
    service.budget.blocked(service.context(park).account.key, mapped.iq.id)
    host.open(make_booking(), "guest")  # refused by the OTP budget

    found = points(reader)
    assert total(found, "salto.opens") == 4
    assert total(found, "salto.opens", outcome="opened", reason="opened") == 1
    assert total(found, "salto.opens", outcome="denied", reason="too_early") == 1
    assert total(found, "salto.opens", reason="salto_unavailable") == 1
    # bounded labels: no park (2,500 parks would pass an SDK's 2,000-series limit)
    assert all("park" not in p.attributes for p in found["salto.opens"])
    assert total(found, "salto.otp.refusals", reason="otp_blocked") == 1
    assert total(found, "salto.token.fetches", grant="password") == 1
    locking = "PATCH /v1.2/sites/{id}/locks/{id}/locking"
    assert total(found, "salto.call.duration", endpoint=locking, status=200) == 1
    assert total(found, "salto.call.duration", endpoint=locking, status=503) == 1
    assert total(found, "salto.open.duration") == 4
    finished = spans.get_finished_spans()
    assert [s.name for s in finished] == ["salto.open"] * 4
    assert [dict(s.attributes or {})["salto.reason"] for s in finished] == [
        "opened",
        "too_early",
        "salto_unavailable",
        "otp_blocked",
    ]
    assert all(
        "otp" not in key for s in finished for key in (s.attributes or {}) if key != "salto.reason"
    )
    assert all("salto.requested_by" not in (s.attributes or {}) for s in finished)  # personal data
    assert (
        dict(finished[0].attributes or {})["salto.park"] == "zandloper"
    )  # a span may name the park


def test_a_host_with_few_parks_may_label_opens_by_park(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    use_service: UseService,
    make_booking: BookingFactory,
) -> None:
    reader = InMemoryMetricReader()
    use_service(telemetry=Telemetry(MeterProvider(metric_readers=[reader]), park_label=True))
    assert host.open(make_booking(), "guest").opened  # type: ignore[union-attr]
    assert total(points(reader), "salto.opens", park="zandloper", reason="opened") == 1


def test_endpoints_have_no_ids() -> None:
    assert endpoint("GET", "/v1.2/sites/abc/iqs/def/pin") == "GET /v1.2/sites/{id}/iqs/{id}/pin"
    assert endpoint("GET", "/v1.2/me/abc/activated_iqs") == "GET /v1.2/me/{id}/activated_iqs"


def test_without_an_sdk_no_span_is_started(
    host: ReferenceHost, mapped: Any, make_booking: BookingFactory
) -> None:
    import contextlib

    from opentelemetry import trace

    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)  # none set
    default = Telemetry()
    assert default.enabled and isinstance(default.open_span(), contextlib.nullcontext)
    assert host.open(make_booking(), "guest").opened  # type: ignore[union-attr]


def test_the_log_line_carries_the_attempt_as_fields(
    host: ReferenceHost, mapped: Any, make_booking: BookingFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "ireserve_salto_plugin")
    booking = make_booking()
    result = host.open(booking, "guest")
    assert result is not None
    [record] = [r for r in caplog.records if r.getMessage().startswith("salto open attempt")]
    assert record.salto_attempt_id == result.attempt_id  # type: ignore[attr-defined]
    assert record.salto_booking == booking.id and record.salto_lock == mapped.id  # type: ignore[attr-defined]
    assert record.salto_outcome == "opened" and record.salto_reason == "opened"  # type: ignore[attr-defined]
    assert record.salto_ms > 0  # type: ignore[attr-defined]


def test_store_errors_are_counted(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    use_service: UseService,
    make_booking: BookingFactory,
) -> None:
    from tests.e2e.test_security import dead_redis

    reader = InMemoryMetricReader()
    use_service(store=dead_redis(), telemetry=Telemetry(MeterProvider(metric_readers=[reader])))
    host.open(make_booking(), "guest")
    assert total(points(reader), "salto.store.errors") >= 1
    assert total(points(reader), "salto.opens", reason="store_unavailable") == 1
