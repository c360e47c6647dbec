"""The listener's metrics through OpenTelemetry's API (meter ``ireserve_salto_plugin``),
imported only when the API is installed (the ``otel`` extra): ``import
ireserve_salto_plugin.events`` works without it. Labels are bounded (no site, no park).

| name | kind | attributes |
|---|---|---|
| ``salto.stream.connections`` | gauge | ``hub``, ``state`` |
| ``salto.stream.events`` | counter | ``kind`` (opened, entry, incident) |
| ``salto.stream.reconnects`` | counter | ``hub`` |
| ``salto.stream.skipped`` | counter | ``why`` (not_json, no_object_with_id, queue_full) |
| ``salto.stream.lag`` | histogram (s) | — (Salto's ``utc_date_time`` to ``on_event``) |
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from ireserve_salto_plugin.salto.telemetry import NAME


class StreamMetrics:
    def __init__(
        self, states: Callable[[], Counter[tuple[str, str]]], meter_provider: Any = None
    ) -> None:
        self._states = states
        try:
            from opentelemetry import metrics
        except ImportError:
            self.enabled = False
            return
        self.enabled = True
        meter = (meter_provider or metrics.get_meter_provider()).get_meter(NAME)
        self._events = meter.create_counter("salto.stream.events", description="Events heard")
        self._reconnects = meter.create_counter(
            "salto.stream.reconnects", description="Hub connections made again"
        )
        self._skipped = meter.create_counter(
            "salto.stream.skipped", description="Messages that were no JSON object with an id"
        )
        self._lag = meter.create_histogram(
            "salto.stream.lag", unit="s", description="Salto's entry time to on_event"
        )
        meter.create_observable_gauge(
            "salto.stream.connections",
            callbacks=[self._observe],
            description="Hub connections by state",
        )

    def event(self, kind: str, lag: float | None) -> None:
        if self.enabled:
            self._events.add(1, {"kind": kind})
            if lag is not None:
                self._lag.record(max(lag, 0.0))

    def reconnect(self, hub: str) -> None:
        if self.enabled:
            self._reconnects.add(1, {"hub": hub})

    def skipped(self, why: str, n: int) -> None:
        if self.enabled:
            self._skipped.add(n, {"why": why})

    def _observe(self, _options: Any) -> Iterator[Any]:
        from opentelemetry.metrics import Observation

        for (hub, state), n in self._states().items():
            yield Observation(n, {"hub": hub, "state": state})
