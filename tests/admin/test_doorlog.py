"""The door log: each open with who asked and Salto's confirmation, the other entries of
Salto's log, as the admin action, the CLI's report (CSV) and the web admin's Logboek."""

from __future__ import annotations

import csv
import io
import json
import os
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.park.platform import sandbox_marked
from ireserve_salto_plugin.reference import Booking, Park, ReferenceHost
from ireserve_salto_plugin.sandbox import SaltoSandbox
from ireserve_salto_plugin.support.cli import main
from tests.conftest import settings_for
from tests.reference.test_admin_web import logged_in


def test_an_open_stamped_by_a_salto_clock_ahead_of_ours_is_in_the_door_log(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: Callable[..., Booking],
) -> None:
    """Found by the soak (clock_jump): the receipts are in Salto's time, so with Salto's
    clock 90 s ahead an open of a moment ago was later than "now" and the door log (until
    now, by default) left it out until our clock caught up."""
    sandbox.clock_offset = 90
    opened = host.open(make_booking(), "guest@example.com")
    assert opened is not None and opened.opened
    result = host.admin(park, INTEGRATION, "door_log")
    assert result.ok, result.message
    assert [r["requested_by"] for r in result.data["rows"] if r["kind"]] == ["guest@example.com"]


def test_who_asked_is_in_the_door_log_before_salto_answers_the_open(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: Callable[..., Booking],
) -> None:
    """Found by the soak (worker_kill): a host process killed while its open was at
    Salto left an open without a receipt. The intent is written with the IQ's slot,
    before the command goes; Salto's answer replaces it; a refused command is not shown."""
    assert host.open(make_booking(), "warm").opened  # type: ignore[union-attr]
    held = sandbox.inject("PATCH", "/locking$", delay=1.0, after=True)
    answers: list[Any] = []
    tapping = threading.Thread(target=lambda: answers.append(host.open(make_booking(), "ann")))
    tapping.start()
    assert held.arrived.wait(5)  # the command is at Salto, no answer yet
    rows = host.admin(park, INTEGRATION, "door_log").data["rows"]
    assert [(r["requested_by"], r["confirmed"]) for r in rows if r["kind"]][-1][0] == "ann"
    tapping.join()
    rows = host.admin(park, INTEGRATION, "door_log").data["rows"]
    ann = [r for r in rows if r["requested_by"] == "ann"]
    assert len(ann) == 1 and ann[0]["attempt_id"] == answers[0].attempt_id
    sandbox.set_lock_online(mapped.id, False)  # refused: sent, not opened
    refused = host.open(make_booking(), "bob")
    assert refused is not None and not refused.opened
    rows = host.admin(park, INTEGRATION, "door_log").data["rows"]
    assert [r["requested_by"] for r in rows if r["kind"]] == ["warm", "ann"]


def test_the_door_log_names_who_asked_and_what_salto_confirmed(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    sandbox: SaltoSandbox,
    make_booking: Callable[..., Booking],
) -> None:
    opened = host.open(make_booking(), "guest@example.com")
    assert opened is not None and opened.opened
    staff = host.admin(
        park, INTEGRATION, "staff_open", lock_id=mapped.id, requested_by="anna", reason="key lost"
    )
    assert staff.ok, staff.message
    sandbox.tag_open(mapped.id)  # a guest's tag: an entry the plugin did not make
    late = host.open(make_booking(), "late@example.com")
    assert late is not None and late.opened
    assert sandbox.site is not None
    sandbox.site.entries.pop()  # the later open is not in Salto's log (yet): it lags
    now = sandbox.now()
    result = host.admin(
        park,
        INTEGRATION,
        "door_log",
        **{
            "from": (now - timedelta(hours=1)).isoformat(),
            "to": (now + timedelta(minutes=1)).isoformat(),
        },
    )
    assert result.ok, result.message
    rows = result.data["rows"]
    mine = {row["attempt_id"]: row for row in rows if row["attempt_id"]}
    assert mine[opened.attempt_id]["confirmed"] == "log"
    assert mine[opened.attempt_id]["kind"] == "guest"
    assert mine[opened.attempt_id]["requested_by"] == "guest@example.com"
    assert mine[staff.data["attempt_id"]]["kind"] == "staff"
    assert mine[staff.data["attempt_id"]]["reason"] == "key lost"
    assert mine[late.attempt_id]["confirmed"] == "not_yet"  # the log lags; not "missing"
    others = [row for row in rows if not row["attempt_id"]]
    assert [(row["by"], row["door"]) for row in others] == [("tag", "Chalet 12")]
    assert all(row["door"] == "Chalet 12" for row in rows)
    assert [row["at"] for row in rows] == sorted(row["at"] for row in rows)


def test_a_period_that_is_not_one_is_refused_by_name(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    result = host.admin(park, INTEGRATION, "door_log", **{"from": "yesterday"})
    assert not result.ok and "(from)" in result.message
    now = sandbox.now()
    too_long = {"from": (now - timedelta(days=60)).isoformat(), "to": now.isoformat()}
    result = host.admin(park, INTEGRATION, "door_log", **too_long)
    assert not result.ok and "31" in result.message


@pytest.mark.redis
def test_report_writes_the_door_log_as_csv(
    sandbox: SaltoSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    redis_store: Any,
) -> None:
    """With Redis the desk's commands share the opens (each command is a process of its
    own; without Redis a report knows only Salto's log)."""
    monkeypatch.setenv("SALTO_KS_REDIS_URL", redis_url)
    user = sandbox.world.users[sandbox.username]
    settings = settings_for(sandbox, iqs=sandbox.world.preactivate(user))
    path = tmp_path / "park.json"
    path.write_text(
        json.dumps({**sandbox_marked(sandbox.platform_env(), os.environ), INTEGRATION: settings})
    )
    path.chmod(0o600)
    lock = next(iter(sandbox.site.locks.values())) if sandbox.site else None
    assert lock is not None
    runner = CliRunner()
    opened = runner.invoke(
        main, ["test-open", "--settings-file", str(path), lock.id, "--by", "=cmd|calc", "--yes"]
    )
    assert opened.exit_code == 0, opened.output
    since = (sandbox.now() - timedelta(minutes=5)).isoformat()
    out = tmp_path / "log.csv"
    report = runner.invoke(
        main,
        [
            "report",
            "--settings-file",
            str(path),
            "--from",
            since,
            "--csv",
            str(out),
            "--lang",
            "nl",
        ],
    )
    assert report.exit_code == 0, report.output
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows[0][:3] == ["tijd", "deur", "gebeurtenis"]
    assert len(rows) == 2
    # who asked, as the host passed it: a spreadsheet shows a formula-like text as text
    assert "'=cmd|calc" in rows[1] and "test" in rows[1] and "log" in rows[1]


def test_the_web_admin_has_a_logboek_with_a_csv_download(
    host: ReferenceHost,
    park: Park,
    mapped: Any,
    make_booking: Callable[..., Booking],
) -> None:
    from ireserve_salto_plugin.reference.admin_web import create_app

    opened = host.open(make_booking(), "guest@example.com")
    assert opened is not None and opened.opened
    web = logged_in(create_app(host, park, token="test-login-token").test_client())
    page = web.get("/log?lang=nl")
    assert page.status_code == 200
    text = page.data.decode()
    assert "Logboek" in text and "guest@example.com" in text and "Chalet 12" in text
    assert ">log<" in text  # confirmed from Salto's log
    download = web.get("/log.csv?lang=nl")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(download.data.decode())))
    assert rows[0][0] == "tijd" and any("guest@example.com" in row for row in rows[1:])
