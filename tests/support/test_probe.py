"""The contract probe against the sandbox: read-only by default, every shape as expected,
a scrubbed cassette; and against answers of another shape, rows that differ, no crash."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.reference import Park, ReferenceHost
from ireserve_salto_plugin.sandbox import SaltoSandbox
from ireserve_salto_plugin.support.probe_run import run_probe
from ireserve_salto_plugin.support.recording import hygiene_problems
from tests.conftest import activate, first_lock


def settings_file(tmp_path: Path, raw: dict[str, Any]) -> str:
    path = tmp_path / "park.json"
    path.write_text(json.dumps(raw))
    os.chmod(path, 0o600)
    return str(path)


def run(path: str, **options: Any) -> tuple[int, str]:
    lines: list[str] = []
    code = run_probe(path, echo=lines.append, environ=dict(os.environ), **options)
    return code, "\n".join(lines)


def test_a_read_only_probe_of_the_sandbox(
    tmp_path: Path, park: Park, sandbox: SaltoSandbox
) -> None:
    code, out = run(settings_file(tmp_path, park.integrations[INTEGRATION]))
    assert code == 0, out
    assert "DIFFERS" not in out and "site by $filter" in out and "locks fields" in out
    assert sandbox.call_count("PUT") == 0 and sandbox.call_count("PATCH") == 0
    assert sandbox.world.otps_seen == []  # no code was sent


def test_self_test_open_and_a_clean_cassette(
    tmp_path: Path, host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    lock = first_lock(sandbox)
    activate(host, park, sandbox, lock.iq.id)
    tape = tmp_path / "first-contact.yaml"
    code, out = run(
        settings_file(tmp_path, park.integrations[INTEGRATION]),
        self_test=lock.iq.id,
        open_lock=lock.id,
        cassette=str(tape),
    )
    assert code == 0, out
    flat = " ".join(out.split())  # long cells wrap
    assert "cloud check" in flat and "IQ not asked" in flat and "remote open" in flat
    assert "hygiene scan clean" in out
    assert sandbox.entries()[-1]["lock_id"] == lock.id
    assert tape.exists() and hygiene_problems(tape, (sandbox.password, sandbox.client_secret)) == []
    text = tape.read_text()
    assert sandbox.api_url not in text and "api.salto-ks.invalid" in text


def test_answers_of_another_shape_are_reported_not_fatal(
    tmp_path: Path, park: Park, sandbox: SaltoSandbox
) -> None:
    assert sandbox.site is not None
    sandbox.inject(
        "GET",
        "/locks$",
        status=200,
        times=3,
        body={
            "items": [{"id": "l1", "name": "renamed field", "online": True}],
            "next_page_link": None,
        },
    )  # no count, no customer_reference, no iq
    sandbox.inject(
        "GET",
        "/activated_iqs$",
        status=403,
        times=3,
        body={"ErrorCode": "2203", "Message": "Operation cannot be executed."},
    )
    code, out = run(settings_file(tmp_path, park.integrations[INTEGRATION]), as_json=True)
    assert code == 1
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows["locks shape"]["ok"] is False and "count" not in rows["locks shape"]["seen"]
    assert "customer_reference" in rows["locks fields"]["seen"]
    assert "iq.is_online" in rows["locks fields"]["seen"]
    assert rows["activation state"]["ok"] is False
    assert "ErrorCode 2203" in rows["activation state"]["seen"]
    assert rows["IQs shape"]["ok"] is True


@pytest.mark.parametrize(
    "raw,named", [({"environment": "staging"}, "environment"), ("not json", "not valid JSON")]
)
def test_unusable_settings_are_named(tmp_path: Path, raw: Any, named: str) -> None:
    path = tmp_path / "park.json"
    path.write_text(raw if isinstance(raw, str) else json.dumps(raw))
    code, out = run(str(path))
    assert code == 2 and named in out


def test_the_command_line(tmp_path: Path, park: Park, sandbox: SaltoSandbox) -> None:
    from click.testing import CliRunner

    from ireserve_salto_plugin.support.cli import main

    path = settings_file(tmp_path, park.integrations[INTEGRATION])
    os.chmod(path, 0o644)
    result = CliRunner().invoke(main, ["probe", "--settings-file", path])
    assert result.exit_code == 0, result.output
    assert "readable by other users" in result.output and "Salto's clock" not in result.output
    assert "clock offset" in result.output


def test_the_probe_reads_whole_lists_the_account_and_an_error_answer(
    tmp_path: Path, park: Park, sandbox: SaltoSandbox
) -> None:
    sandbox.page_cap = 20  # 36 locks: pages of 20 and 16, then an empty one
    lock = first_lock(sandbox)
    sandbox.world.activate_in_app(sandbox.world.users[sandbox.username], lock.iq.id)
    code, out = run(settings_file(tmp_path, park.integrations[INTEGRATION]))
    assert code == 1, out  # a row differs: the account was used in the Salto KS app
    out = " ".join(out.split())  # long cells wrap
    assert "36 item(s) in 3 page(s), largest page 20 (Salto caps pages below $top)" in out
    assert "remote_access True, blocked False" in out
    assert "activated at Salto, no secret here" in out and lock.iq.id in out
    assert "404 ErrorCode '2202'" in out
    assert "continuation_token in the body" in out
    assert sandbox.call_count("PUT") == 0 and sandbox.call_count("PATCH") == 0


def test_a_pin_that_occurs_by_chance_in_ids_dates_or_sizes_is_not_a_leak(tmp_path: Path) -> None:
    """Found by the 30-run loop: PIN 2018 "leaked" through a number elsewhere in the tape."""
    tape = tmp_path / "tape.yaml"
    # a recorded tape's fixed dates, not "now"
    tape.write_text(
        'interactions:\n- request: {body: \'{"otp": "REDACTED-OTP"}\', headers: {},'
        " method: PUT, uri: 'https://api.salto-ks.invalid/v1.2/x'}\n"
        '  response:\n    body: {string: \'{"id": "4c791cba-2018-4e16-9016-'
        'd9c13bbbacdf", "at": "2018-11-28T10:20:18Z"}\'}\n'
        "    headers: {Content-Length: ['2018'], Date: ['Sat, "  # fixed
        "28 Nov 2026 10:20:18 GMT']}\n    status: {code: 200, message: OK}\n"
    )
    assert hygiene_problems(tape, ("2018",)) == []
    tape.write_text(tape.read_text().replace('"REDACTED-OTP"', '"2018"'))
    problems = hygiene_problems(tape, ("2018",))  # the PIN itself, as a value
    assert any("a secret used in the recording" in problem for problem in problems)
