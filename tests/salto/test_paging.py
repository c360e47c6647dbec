"""Partial views of Salto's lists: a list cut by a page cap Salto does not announce, a Salto
that ignores ``$skip``, and lists that are paged at all (``activated_iqs``). What people see,
and any "not found", comes from a complete list or from a direct read of that one thing."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.models import Reason
from ireserve_salto_plugin.park.platform import sandbox_marked
from ireserve_salto_plugin.reference import Booking, Park, ReferenceHost
from ireserve_salto_plugin.sandbox import SaltoSandbox
from ireserve_salto_plugin.support.cli import main
from tests.conftest import activate, install, make_service, settings_for


@pytest.fixture
def big() -> Iterator[SaltoSandbox]:
    """A park of 60 IQs with 2 locks each (120 locks), whose Salto answers at most 50
    items a page, shorter than the 100 asked, without a link or a count."""
    with SaltoSandbox(iqs=60, locks_per_iq=2) as box:
        box.page_cap = 50
        yield box


def host_on(box: SaltoSandbox, monkeypatch: pytest.MonkeyPatch) -> tuple[ReferenceHost, Park]:
    for name, value in box.platform_env().items():
        monkeypatch.setenv(name, value)
    host = ReferenceHost(load_entrypoints=False)
    install(host, make_service())
    park = host.add_park(Park("big", "Europe/Amsterdam"))
    host.save_settings(park, INTEGRATION, settings_for(box))
    return host, park


def lock_at(box: SaltoSandbox, n: int) -> Any:
    assert box.site is not None
    return list(box.site.locks.values())[n]


def booking(n: int, object_id: str) -> Booking:
    start = datetime.now(UTC) - timedelta(hours=1)
    return Booking(f"B-{n}", object_id, "confirmed", start, start + timedelta(days=2))


def test_a_guest_open_never_leaves_a_short_list_for_people(
    big: SaltoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The open reads the lock list to its first short page (fast, on purpose) and once
    cached it as if it were whole: the dropdown then showed 50 of 120 locks, a lock that had
    just opened was "not found", and 50 of 60 IQs were listed."""
    host, park = host_on(big, monkeypatch)
    first, far = lock_at(big, 0), lock_at(big, 110)  # lock 111 is on the third page
    activate(host, park, big, first.iq.id)
    activate(host, park, big, far.iq.id)
    park.integrations[INTEGRATION] = {
        **park.integrations[INTEGRATION],
        "mapping": {"near": first.id, "far": far.id},
    }
    assert host.open(booking(1, "near"), "guest").opened  # type: ignore[union-attr]
    assert len(host.lock_options(park, INTEGRATION)) == 120
    assert host.open(booking(2, "far"), "guest").opened  # type: ignore[union-attr]
    [info] = host.change_status(booking(3, "far"), "confirmed")
    assert Reason.LOCK_NOT_FOUND not in info.warnings
    iqs = host.admin(park, INTEGRATION, "list_iqs")
    assert len(iqs.data["iqs"]) == 60
    late_iq = lock_at(big, 109).iq.id  # IQ 55, on the second page of IQs
    assert host.admin(park, INTEGRATION, "get_pin", iq_id=late_iq).ok


def test_on_booking_status_after_an_open_reads_a_missing_lock_directly(
    big: SaltoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the open's quick read is cached (no dropdown in between): a lock past it is
    read directly before anyone is told it is not on the site."""
    host, park = host_on(big, monkeypatch)
    first, far = lock_at(big, 0), lock_at(big, 110)
    activate(host, park, big, first.iq.id)
    activate(host, park, big, far.iq.id)
    park.integrations[INTEGRATION] = {
        **park.integrations[INTEGRATION],
        "mapping": {"near": first.id, "far": far.id},
    }
    assert host.open(booking(1, "near"), "guest").opened  # type: ignore[union-attr]
    [info] = host.change_status(booking(2, "far"), "confirmed")
    assert Reason.LOCK_NOT_FOUND not in info.warnings and info.lock_name == far.name
    assert big.call_count(f"GET /v1.2/sites/{big.site.id}/locks/{far.id}") >= 1  # type: ignore[union-attr]


def test_activated_iqs_is_read_to_its_last_page(
    big: SaltoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only its first page was read: on a big park later IQs looked "not activated at
    Salto" and the account-trap check missed them."""
    host, park = host_on(big, monkeypatch)
    big.world.preactivate(big.world.users[big.username])  # 60 IQs activated at Salto
    rows = host.admin(park, INTEGRATION, "list_iqs").data["iqs"]
    assert len(rows) == 60 and all(row["salto_activated"] for row in rows)


@pytest.fixture
def no_skip(sandbox: SaltoSandbox) -> SaltoSandbox:
    sandbox.ignore_skip = True
    return sandbox


def test_a_salto_that_ignores_skip_ends_the_read_at_once_with_a_finding(
    host: ReferenceHost, park: Park, no_skip: SaltoSandbox
) -> None:
    """It took 250 requests and then said "Salto KS cannot be reached"; now the second
    page, the same as the first, ends the read: five list requests at most, no repeated
    ids, and ``status`` says what is known."""
    assert no_skip.site is not None
    options = host.lock_options(park, INTEGRATION)
    values = [option["value"] for option in options]
    assert len(values) == len(set(values)) == 36
    assert no_skip.call_count("GET /v1.2/sites/") <= 5
    status = host.admin(park, INTEGRATION, "status")
    codes = [finding["code"] for finding in status.data["findings"]]
    assert "paging_ignored" in codes
    assert "only the first 36 locks are known" in status.message


def test_check_and_the_probe_say_that_paging_is_ignored(
    no_skip: SaltoSandbox, tmp_path: Path
) -> None:
    path = tmp_path / "park.json"
    path.write_text(
        json.dumps(
            {
                **sandbox_marked(no_skip.platform_env(), os.environ),
                "salto_ks": settings_for(no_skip),
            }
        )
    )
    path.chmod(0o600)
    check = CliRunner().invoke(main, ["check", "--settings-file", str(path)])
    assert check.exit_code == 1 and "ignores paging" in check.output, check.output
    probe = CliRunner().invoke(main, ["probe", "--settings-file", str(path)])
    assert "paging_ignored" in probe.output and probe.exit_code == 1, probe.output
