"""The JSON hub protocol and what a message means (pure), the stream's metrics, and the
sandbox hub's messages against Salto's raw entry samples."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from ireserve_salto_plugin.events.connection import backoff
from ireserve_salto_plugin.events.protocol import (
    HANDSHAKE,
    hub_url,
    lock_event,
    messages,
    negotiate_url,
    records,
    socket_url,
)
from ireserve_salto_plugin.flow.service import SaltoKsService
from ireserve_salto_plugin.reference import Booking, Park, ReferenceHost
from ireserve_salto_plugin.sandbox import SaltoSandbox
from tests.e2e.test_telemetry import points, total
from tests.events.conftest import Heard, live

SAMPLES = Path(__file__).parent.parent / "samples"


def test_records_end_with_the_record_separator_and_bad_ones_are_counted() -> None:
    assert HANDSHAKE == '{"protocol": "json", "version": 1}\x1e'
    found, bad = records('{}\x1e{"type":6}\x1enot json\x1e')
    assert found == [{}, {"type": 6}] and bad == 1


def test_receive_message_carries_a_json_string_or_an_object() -> None:
    entry = {"id": "e-1", "event_category": "lock_opened"}
    as_string = {"type": 1, "target": "ReceiveMessage", "arguments": [json.dumps(entry)]}
    assert messages(as_string) == [entry]
    assert messages({**as_string, "arguments": [entry]}) == [entry]
    assert messages({**as_string, "target": "Other"}) == []
    assert messages({"type": 6}) == []
    assert messages({**as_string, "arguments": ["not json"]}) == ["not json"]


def test_only_json_objects_with_an_id_are_events() -> None:
    for message in ("not json", [1, 2], 42, "", {}, {"id": ""}, None):
        assert lock_event("entries", message) is None
    sample = json.loads((SAMPLES / "entries.json").read_text())["items"][0]
    event = lock_event("entries", sample)
    assert event is not None and event.kind == "entry" and event.access_by == "tag"
    assert event.lock_name == "Tür 01" and event.at is not None and event.at.tzinfo is not None
    opened = lock_event("entries", {**sample, "event_category": "lock_opened"})
    assert opened is not None and opened.kind == "opened"
    assert "user_first_name" not in json.dumps(event.to_dict())  # no guest names in lines


def test_an_incident_in_clay_shape_names_its_lock_from_the_nested_object() -> None:
    sample = json.loads((SAMPLES / "entries.json").read_text())["items"][0]
    clay = {
        "id": "i-1",
        "type": "door_left_open_alarm",
        "utc_date_time": sample["utc_date_time"],  # a time as Salto writes it
        "lock": {"id": "4d77312f-4a87-41db-a97b-f9d948dcc908", "customer_reference": "Tür 01"},
    }
    event = lock_event("incidents", clay)
    assert event is not None and event.kind == "incident"
    assert (event.incident, event.lock_id, event.lock_name) == (
        "door_left_open_alarm",
        "4d77312f-4a87-41db-a97b-f9d948dcc908",
        "Tür 01",
    )


def test_urls_negotiate_without_negotiate_version_and_upgrade_to_ws() -> None:
    url = hub_url("https://eventstreaming-connect-accept.saltoks.com", "entries", "s-1", "u-1")
    assert (
        url
        == "https://eventstreaming-connect-accept.saltoks.com/v1/hub/entries?site_id=s-1&user_id=u-1"
    )
    assert negotiate_url(url).endswith("/v1/hub/entries/negotiate?site_id=s-1&user_id=u-1")
    assert "negotiateVersion" not in negotiate_url(url)
    assert socket_url(url, "c 1").startswith("wss://") and socket_url(url, "c 1").endswith(
        "&id=c+1"
    )


def test_the_backoff_is_within_a_second_first_and_never_over_five() -> None:
    assert all(0 < backoff(1) <= 1.0 for _ in range(200))
    assert all(0 < backoff(n) <= 5.0 for n in range(2, 30) for _ in range(20))


def test_the_events_package_imports_without_opentelemetry() -> None:
    code = (
        "import sys; sys.modules['opentelemetry'] = None\n"
        "import ireserve_salto_plugin.events as e\n"
        "from ireserve_salto_plugin.events.metrics import StreamMetrics\n"
        "from collections import Counter\n"
        "assert not StreamMetrics(Counter).enabled\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_the_hub_sends_salto_entries_with_exactly_the_sample_fields(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: Callable[..., Booking],
    service: SaltoKsService,
    heard: Heard,
) -> None:
    """Where the sandbox and a raw sample differ, the sample wins: a streamed entry has the
    REST entry's flat fields (docs §6b), which are the sample's."""
    from ireserve_salto_plugin.events import EventListener

    reader = InMemoryMetricReader()
    listener = EventListener(
        lambda: [park],
        on_event=heard,
        service=service,
        meter_provider=MeterProvider(metric_readers=[reader]),
    ).start()
    try:
        assert live(sandbox)
        result = host.open(make_booking(), "guest")
        assert result is not None and result.opened
        assert heard.wait(lambda events: len(events) == 1)
        sample = json.loads((SAMPLES / "entries.json").read_text())["items"][0]
        assert set(heard.events[0][1].raw) == set(sample)
        found = points(reader)
        assert total(found, "salto.stream.events", kind="opened") == 1
        assert total(found, "salto.stream.connections", hub="entries", state="live_own") == 1
        assert found["salto.stream.lag"][0].count == 1
    finally:
        listener.stop()
