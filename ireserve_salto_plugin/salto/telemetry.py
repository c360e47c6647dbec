"""Metrics and traces through OpenTelemetry's API (``pip install
ireserve-salto-plugin[otel]``). A no-op unless the host installs an SDK and configures
providers; without the API installed, nothing is imported and nothing is recorded.

Instruments (meter and tracer ``ireserve_salto_plugin``):

| name | kind | attributes |
|---|---|---|
| ``salto.opens`` | counter | ``outcome``, ``reason`` (and ``park`` when the host opts in) |
| ``salto.open.duration`` | histogram (s) | ``outcome`` |
| ``salto.call.duration`` | histogram (s) | ``endpoint`` (ids replaced by ``{id}``), ``status`` |
| ``salto.token.fetches`` | counter | ``grant`` |
| ``salto.otp.refusals`` | counter | ``reason`` (``otp_blocked``, ``otp_suspended``) |
| ``salto.store.errors`` | counter | — |

Each open is also a span ``salto.open`` with the attempt's fields, less ``requested_by``
(a guest's e-mail address is personal data). No secret, token, PIN or OTP is ever an
attribute. Labels stay bounded: a per-park label would exceed an SDK's 2,000-series limit
at 2,500 parks, so it is added only with ``SALTO_KS_METRICS_PARK_LABEL=1`` (or
``Telemetry(park_label=True)``) for a host with few parks.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any

NAME = "ireserve_salto_plugin"
MAX_SITES = 4096  # lock lists remembered for the salto.locks gauge
PERSONAL = frozenset({"requested_by"})  # never a span attribute or a metric label
_IDS = re.compile(r"/(sites|locks|iqs|me|pin)/[^/]+")


def endpoint(method: str, path: str) -> str:
    """``GET /v1.2/sites/{id}/locks``: a path with its ids replaced, for low cardinality."""
    return f"{method} {_IDS.sub(lambda m: f'/{m.group(1)}/{{id}}', path)}"


class Telemetry:
    """The plugin's instruments. Providers may be injected (tests); by default the
    global ones of the OpenTelemetry API are used, which are no-ops without an SDK."""

    def __init__(
        self,
        meter_provider: Any = None,
        tracer_provider: Any = None,
        park_label: bool | None = None,
    ) -> None:
        self.park_label = (
            os.environ.get("SALTO_KS_METRICS_PARK_LABEL") == "1"
            if park_label is None
            else park_label
        )
        try:
            from opentelemetry import metrics, trace
        except ImportError:
            self.enabled = False
            return
        self.enabled = True
        meter = (meter_provider or metrics.get_meter_provider()).get_meter(NAME)
        self._trace = trace
        self._tracer_provider = tracer_provider
        self._traced = False  # a global tracer provider was set
        self._trace_checked = float("-inf")
        self._tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer(NAME)
        self._opens = meter.create_counter("salto.opens", description="Open attempts")
        self._open_seconds = meter.create_histogram(
            "salto.open.duration", unit="s", description="Open attempts, end to end"
        )
        self._call_seconds = meter.create_histogram(
            "salto.call.duration", unit="s", description="Calls to Salto KS"
        )
        self._tokens = meter.create_counter(
            "salto.token.fetches", description="Tokens fetched from Salto KS"
        )
        self._refusals = meter.create_counter(
            "salto.otp.refusals", description="Opens the OTP budget refused"
        )
        self._store_errors = meter.create_counter(
            "salto.store.errors", description="Shared store failures"
        )
        # site → (battery, alarm) → locks, from the lock lists this process read last
        self._health: OrderedDict[str, Counter[tuple[str, bool]]] = OrderedDict()
        self._health_lock = threading.Lock()
        meter.create_observable_gauge(
            "salto.locks",
            callbacks=[self._observe_locks],
            description="Locks by battery state and alarm setting, as last read from Salto KS",
        )

    def open_span(self) -> AbstractContextManager[Any]:
        if not self.enabled or not self._tracing():
            return nullcontext()  # no SDK configured (yet): spans would be no-ops
        return self._tracer.start_as_current_span("salto.open")

    def _tracing(self) -> bool:
        """Whether spans go anywhere: an injected provider, or a global one the host set.
        The global one is looked at again at most once a second until it is set (it can be
        set once only), not on every open."""
        if self._tracer_provider is not None or self._traced:
            return True
        now = time.monotonic()
        if now < self._trace_checked + 1.0:
            return False
        self._trace_checked = now
        self._traced = not isinstance(
            self._trace.get_tracer_provider(), self._trace.ProxyTracerProvider
        )
        return self._traced

    def opened(self, span: Any, fields: dict[str, Any], seconds: float) -> None:
        if not self.enabled:
            return
        labels = {"outcome": fields["outcome"], "reason": fields["reason"]}
        if self.park_label:
            labels["park"] = fields["park"]
        self._opens.add(1, labels)
        self._open_seconds.record(seconds, {"outcome": fields["outcome"]})
        if fields["reason"] in ("otp_blocked", "otp_suspended"):
            self._refusals.add(1, {"reason": fields["reason"]})
        if span is not None and hasattr(span, "set_attributes"):
            span.set_attributes(
                {f"salto.{k}": v for k, v in fields.items() if v is not None and k not in PERSONAL}
            )

    def call(self, method: str, path: str, status: int | None, seconds: float) -> None:
        if self.enabled:
            self._call_seconds.record(
                seconds, {"endpoint": endpoint(method, path), "status": status or 0}
            )

    def token(self, grant: str) -> None:
        if self.enabled:
            self._tokens.add(1, {"grant": grant})

    def locks_read(self, site: str, health: Iterable[tuple[str, bool]]) -> None:
        """A site's lock list was read: its locks as (battery, alarm), for ``salto.locks``."""
        if not self.enabled:
            return
        counts = Counter(health)
        with self._health_lock:
            self._health[site] = counts
            self._health.move_to_end(site)
            while len(self._health) > MAX_SITES:
                self._health.popitem(last=False)

    def _observe_locks(self, _options: Any) -> Iterator[Any]:
        from opentelemetry.metrics import Observation

        with self._health_lock:
            sites = list(self._health.items())
        if self.park_label:  # opted in: one series per site
            for site, counts in sites:
                for (battery, alarm), n in counts.items():
                    yield Observation(n, {"battery": battery, "alarm": alarm, "site": site})
            return
        total: Counter[tuple[str, bool]] = Counter()
        for _, counts in sites:
            total.update(counts)
        for (battery, alarm), n in total.items():  # bounded: 5 x 2 series
            yield Observation(n, {"battery": battery, "alarm": alarm})

    def store_error(self) -> None:
        if self.enabled:
            self._store_errors.add(1)


NO_TELEMETRY = Telemetry.__new__(Telemetry)
NO_TELEMETRY.enabled = False
