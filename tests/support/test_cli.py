"""The support desk's commands, on the sandbox, through the real CLI (click's runner)."""

from __future__ import annotations

import json
import os
import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ireserve_salto_plugin.admin.actions import AdminActions
from ireserve_salto_plugin.park.platform import sandbox_marked
from ireserve_salto_plugin.sandbox import SaltoSandbox
from ireserve_salto_plugin.support.cli import main
from tests.conftest import first_lock, settings_for


@pytest.fixture
def settings_file(tmp_path: Path, sandbox: SaltoSandbox) -> Path:
    lock = first_lock(sandbox)
    path = tmp_path / "park.json"
    path.write_text(
        json.dumps(
            {
                **sandbox_marked(sandbox.platform_env(), os.environ),
                "timezone": "Europe/Amsterdam",
                "salto_ks": settings_for(sandbox, mapping={"chalet-12": lock.id}),
            }
        )
    )
    path.chmod(0o600)
    return path


def run(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def booking_file(tmp_path: Path, **overrides: Any) -> Path:
    start = datetime.now(UTC) - timedelta(hours=1)
    raw = {
        "id": "B-1",
        "object_id": "chalet-12",
        "status": "confirmed",
        "arrival": start.isoformat(),
        "departure": (start + timedelta(days=2)).isoformat(),
        **overrides,
    }
    path = tmp_path / f"booking-{raw['id']}.json"
    path.write_text(json.dumps(raw))
    return path


def activate(
    settings_file: Path, sandbox: SaltoSandbox, iq_id: str, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """``activate`` as a person runs it: the PIN is typed at the prompt once Salto's
    e-mail (sent by GET PIN) has arrived."""
    import click

    asked: list[str] = []

    def prompt(text: str, **kwargs: Any) -> str:
        asked.append(text)
        assert kwargs.get("hide_input") is True
        return sandbox.last_pin(iq_id)

    monkeypatch.setattr(click, "prompt", prompt)
    result = run("activate", "--settings-file", str(settings_file), iq_id)
    assert asked == ["PIN from the e-mail"]
    return result


def test_version_and_help() -> None:
    assert (
        run("--version").output.startswith("main, version ") or "version" in run("--version").output
    )
    assert "self-test" in run("--help").output


def test_iqs_locks_and_check_before_activation(settings_file: Path, sandbox: SaltoSandbox) -> None:
    listed = run("iqs", "--settings-file", str(settings_file), "--json")
    assert listed.exit_code == 0
    iqs = json.loads(listed.stdout)["data"]["iqs"]
    assert len(iqs) == 3 and not any(iq["activated"] for iq in iqs)
    locks = run("locks", "--settings-file", str(settings_file))
    assert locks.exit_code == 0 and "36 locks" in locks.output
    assert first_lock(sandbox).name in locks.output
    as_json = json.loads(run("locks", "--settings-file", str(settings_file), "--json").stdout)
    assert len(as_json) == 36 and {"id", "name", "online", "iq"} <= set(as_json[0])
    check = run("check", "--settings-file", str(settings_file))
    # connected, but the mapped lock's IQ is not activated: no door can open yet
    assert check.exit_code == 1, check.output
    assert "Connected to Salto KS acceptance" in check.output
    assert "all healthy" not in check.output and "is not activated here" in check.output
    # Salto's Date header has whole seconds: a request across a second's edge reads -1 s
    assert re.search(r"clock offset to Salto: [+-][01] s; last open: none kept", check.output)
    first_lock(sandbox).iq.online = False  # an IQ loses power
    offline = run("check", "--settings-file", str(settings_file), "--json")
    assert offline.exit_code == 1, offline.output
    codes = [f["code"] for f in json.loads(offline.stdout)["data"]["findings"]]
    assert "iq_offline" in codes and "iq_not_activated" in codes


def test_the_cli_s_runs_share_one_otp_budget(
    settings_file: Path, sandbox: SaltoSandbox, monkeypatch: pytest.MonkeyPatch, cli_state_dir: Path
) -> None:
    """Each run started a fresh budget: nine wrong ``self-test`` runs sent nine codes and got
    a real IQ blocked, and ``check`` then said all was in order. Now the runs share the
    budget through an owner-only state file: two codes, then nothing until the window ends,
    and ``check`` says so."""
    iq_id = first_lock(sandbox).iq.id
    assert activate(settings_file, sandbox, iq_id, monkeypatch).exit_code == 0
    data = json.loads(settings_file.read_text())
    data["salto_ks"]["iqs"][iq_id]["pin"] = sandbox.wrong_pin(iq_id)
    settings_file.write_text(json.dumps(data))
    set_pins = sandbox.call_count("PUT")
    answers = [
        run("self-test", "--settings-file", str(settings_file), iq_id, "--json") for _ in range(9)
    ]
    reasons = [json.loads(answer.stdout)["data"]["reason"] for answer in answers]
    assert reasons == ["otp_rejected"] * 2 + ["otp_suspended"] * 7
    assert sandbox.call_count("PUT") == set_pins + 2
    user = sandbox.world.users[sandbox.username]
    assert not sandbox.world.activation(user, iq_id).blocked_until
    state = cli_state_dir / "otp-budget.json"
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(cli_state_dir).st_mode) == 0o700
    check = run("check", "--settings-file", str(settings_file), "--json")
    assert check.exit_code == 1
    codes = [finding["code"] for finding in json.loads(check.stdout)["data"]["findings"]]
    assert "otp_suspended" in codes


def test_the_cli_says_where_its_budget_cannot_be_kept(
    sandbox: SaltoSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_file = tmp_path / "plain.json"  # the platform variables: the environment's
    settings_file.write_text(json.dumps({"salto_ks": settings_for(sandbox)}))
    settings_file.chmod(0o600)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the folder should be")
    monkeypatch.setenv("SALTO_KS_STATE_DIR", str(blocked / "state"))
    result = run("check", "--settings-file", str(settings_file))
    assert result.exit_code == 2
    assert "SALTO_KS_STATE_DIR" in result.output and "Traceback" not in result.output


def test_activate_writes_the_secret_back_then_everything_works(
    tmp_path: Path, settings_file: Path, sandbox: SaltoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    iq_id = first_lock(sandbox).iq.id
    done = activate(settings_file, sandbox, iq_id, monkeypatch)
    assert done.exit_code == 0, done.output
    stored = json.loads(settings_file.read_text())["salto_ks"]["iqs"][iq_id]
    assert stored["secret"] and len(stored["pin"]) == 4 and stored["activated_at"]
    assert stat.S_IMODE(os.stat(settings_file).st_mode) == 0o600
    assert run("self-test", "--settings-file", str(settings_file), iq_id).exit_code == 0
    why = run("why", "--settings-file", str(settings_file), str(booking_file(tmp_path)))
    assert why.exit_code == 0, why.output
    assert "verdict: opened" in why.output
    early = booking_file(
        tmp_path,
        id="B-2",
        arrival=(datetime.now(UTC) + timedelta(days=1)).isoformat(),
        departure=(datetime.now(UTC) + timedelta(days=3)).isoformat(),
    )
    later = run("why", "--settings-file", str(settings_file), str(early), "--json")
    assert later.exit_code == 1 and json.loads(later.stdout)["verdict"] == "too_early"
    sweep = tmp_path / "bookings.json"
    sweep.write_text(
        json.dumps([json.loads(booking_file(tmp_path).read_text()), json.loads(early.read_text())])
    )
    ready = run("readiness", "--settings-file", str(settings_file), str(sweep), "--json")
    assert json.loads(ready.stdout)["summary"] == {"opened": 2}  # each judged at arrival
    assert ready.exit_code == 0
    shown = run("readiness", "--settings-file", str(settings_file), str(sweep))
    header, *rows = shown.stdout.splitlines()
    assert header.split() == ["booking", "arrival", "object", "lock", "verdict", "why"]
    assert any("Chalet 12" in row and "chalet-12" in row and " ready " in row for row in rows)
    assert "…" not in shown.stdout  # messages whole, wrapped, never cut
    assert sandbox.call_count("PATCH") == 0  # nothing was opened by any of this
    entries = run("entries", "--settings-file", str(settings_file), "--json")
    assert entries.exit_code == 0 and "entries" in json.loads(entries.stdout)["data"]


def test_an_unusable_file_is_exit_code_2_with_a_plain_message(
    tmp_path: Path, sandbox: SaltoSandbox
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = CliRunner().invoke(main, ["check", "--settings-file", str(broken)])
    assert result.exit_code == 2 and "not valid JSON" in result.output
    assert "line 1, column 2" in result.output
    assert "Traceback" not in result.output
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                **sandbox_marked(sandbox.platform_env(), os.environ),
                "salto_ks": settings_for(sandbox, minutes_before=-1),
            }
        )
    )
    bad.chmod(0o644)
    result = CliRunner().invoke(main, ["iqs", "--settings-file", str(bad)])
    assert result.exit_code == 2
    assert "readable by other users" in result.output
    assert "Minutes before (minutes_before)" in result.output
    assert sandbox.password not in result.output


def test_salto_being_away_is_exit_code_1(settings_file: Path, sandbox: SaltoSandbox) -> None:
    sandbox.inject("*", "/", status=503, times=50)
    result = CliRunner().invoke(main, ["locks", "--settings-file", str(settings_file)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "Retrying" not in result.output and "total=" not in result.output  # quiet


# -- a settings file never chooses a host, a client or a store --------------------------------


@pytest.mark.parametrize(
    ("block", "named"),
    [
        ({"SALTO_KS_PRODUCTION_IDENTITY_URL": "https://evil.example"}, "never choose a host"),
        ({"SALTO_KS_REDIS_URL": "redis://evil.example:6379"}, "never choose a host"),
    ],
)
def test_a_tenant_file_cannot_redirect_the_platform_credentials(
    tmp_path: Path, sandbox: SaltoSandbox, block: dict[str, str], named: str
) -> None:
    path = tmp_path / "tenant.json"
    path.write_text(json.dumps({"env": block, "salto_ks": settings_for(sandbox)}))
    path.chmod(0o600)
    result = run("check", "--settings-file", str(path))
    assert result.exit_code == 2 and named in result.output
    assert sandbox.call_count("") == 0 and sandbox.grants == {}


@pytest.mark.parametrize(
    ("block", "named"),
    [
        ({"SALTO_KS_ACCEPTANCE_IDENTITY_URL": "https://evil.example"}, "all four"),
        ({"SALTO_KS_REDIS_URL": "redis://127.0.0.1:6379"}, "may not set 'SALTO_KS_REDIS_URL'"),
        (
            {
                "SALTO_KS_ACCEPTANCE_API_URL": "https://evil.example",
                "SALTO_KS_ACCEPTANCE_IDENTITY_URL": "http://127.0.0.1:1",
                "SALTO_KS_ACCEPTANCE_CLIENT_ID": "x",
                "SALTO_KS_ACCEPTANCE_CLIENT_SECRET": "y",
            },
            "SALTO_KS_ACCEPTANCE_API_URL in the settings file must be a loopback sandbox host",
        ),
    ],
)
def test_even_a_sandbox_marked_file_names_only_loopback_sandbox_variables(
    tmp_path: Path, sandbox: SaltoSandbox, block: dict[str, str], named: str
) -> None:
    path = tmp_path / "marked.json"
    path.write_text(
        json.dumps({**sandbox_marked(block, os.environ), "salto_ks": settings_for(sandbox)})
    )
    path.chmod(0o600)
    result = run("check", "--settings-file", str(path))
    assert result.exit_code == 2 and named in result.output, result.output
    assert sandbox.grants == {}


def test_the_cli_says_which_hosts_it_is_about_to_use(
    settings_file: Path, sandbox: SaltoSandbox
) -> None:
    result = CliRunner().invoke(main, ["iqs", "--settings-file", str(settings_file), "--json"])
    assert result.exit_code == 0
    assert (
        f"Salto KS acceptance: identity {sandbox.identity_url}, API {sandbox.api_url}"
        in result.stderr
    )


# -- the secret write-back ----------------------------------------------------------------------


def test_the_write_back_never_follows_a_link_nor_writes_another_user_s_file(tmp_path: Path) -> None:
    from ireserve_salto_plugin.support.files import WriteRefused, write_private

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    target = tmp_path / "park.json"
    (tmp_path / "park.json.partial").symlink_to(victim)  # the old fixed name, planted
    write_private(target, {"secret": "S"})
    assert victim.read_text() == "keep me" and (target.stat().st_mode & 0o777) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "park.json",
        "park.json.partial",
        "victim.txt",
    ]  # no leftovers
    link = tmp_path / "link.json"
    link.symlink_to(victim)
    with pytest.raises(WriteRefused, match="symbolic link"):
        write_private(link, {"secret": "S"})
    assert victim.read_text() == "keep me"
    theirs = tmp_path / "theirs.json"
    theirs.write_text("{}")
    os.chown(theirs, 65534, 65534)
    with pytest.raises(WriteRefused, match="another user"):
        write_private(theirs, {"secret": "S"})


def test_a_failed_write_after_get_pin_keeps_the_secret(
    tmp_path: Path, settings_file: Path, sandbox: SaltoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    real_replace = os.replace

    def refuse(src: Any, dst: Any) -> None:
        if Path(dst) == settings_file:
            raise IsADirectoryError(21, "Is a directory", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", refuse)
    iq_id = first_lock(sandbox).iq.id
    result = run("activate", iq_id, "--settings-file", str(settings_file), "--pin", "0000")
    assert result.exit_code == 2, result.output
    [rescued] = (tmp_path / "home" / ".ireserve-salto").iterdir()
    assert str(rescued) in result.stderr and (rescued.stat().st_mode & 0o777) == 0o600
    secret = json.loads(rescued.read_text())["salto_ks"]["iqs"][iq_id]["secret"]
    act = sandbox.world.activation(sandbox.world.users[sandbox.username], iq_id)
    assert secret == act.secret and secret not in result.output
    assert sandbox.call_count("PUT") == 0  # Set PIN was not run on a secret not kept


def test_hostile_files_and_names_never_reach_the_terminal_raw(
    tmp_path: Path, settings_file: Path, sandbox: SaltoSandbox
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    deep.chmod(0o600)
    result = run("check", "--settings-file", str(deep))
    assert result.exit_code == 2 and "nested too deeply" in result.output
    assert "Traceback" not in result.output
    lock = first_lock(sandbox)
    lock.name = "Chalet \x1b]0;owned\x07\x1b[2J 12"  # escape sequences from Salto
    listed = run("locks", "--settings-file", str(settings_file))
    assert listed.exit_code == 0 and "\x1b" not in listed.output
    assert "\\x1b]0;owned" in listed.output


# -- for people and for scripts -----------------------------------------------------------------


def test_with_json_every_outcome_is_one_json_object_on_stdout(
    tmp_path: Path, settings_file: Path, sandbox: SaltoSandbox
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    bad = run("check", "--settings-file", str(broken), "--json")
    assert bad.exit_code == 2
    assert json.loads(bad.stdout) == {
        "ok": False,
        "error": "unusable",
        "message": json.loads(bad.stdout)["message"],
        "data": {},
    }
    # click's own usage errors too (a missing file printed click's usage text)
    missing = run("check", "--settings-file", str(tmp_path / "nowhere.json"), "--json")
    assert missing.exit_code == 2
    answer = json.loads(missing.stdout)
    assert answer["ok"] is False and answer["error"] == "usage" and answer["data"] == {}
    assert "nowhere.json" in answer["message"] and "does not exist" in answer["message"]
    sandbox.stop()  # Salto away: every command's failure has the same four keys
    for command in ("locks", "check", "iqs", "entries"):
        away = run(command, "--settings-file", str(settings_file), "--json")
        assert away.exit_code == 1, command
        answer = json.loads(away.stdout)
        assert answer["ok"] is False and answer["error"], (command, answer)
        assert {"ok", "error", "message", "data"} <= set(answer), (command, answer)


def test_why_takes_a_booking_from_options(settings_file: Path, sandbox: SaltoSandbox) -> None:
    from datetime import UTC, datetime, timedelta

    arrival = datetime.now(UTC) + timedelta(days=1)
    result = run(
        "why",
        "--settings-file",
        str(settings_file),
        "--object",
        "chalet-12",
        "--arrival",
        arrival.isoformat(),
        "--departure",
        (arrival + timedelta(days=3)).isoformat(),
    )
    assert result.exit_code == 1  # the IQ is not activated yet: said before any time
    assert "booking cli: chalet-12 -> lock Chalet 12" in result.stdout  # its name, not its id
    assert "verdict: iq_not_activated" in result.stdout
    missing = run("why", "--settings-file", str(settings_file), "--object", "chalet-12")
    assert missing.exit_code == 2 and "--arrival and --departure" in missing.output


def test_why_refuses_a_date_without_a_time(settings_file: Path, sandbox: SaltoSandbox) -> None:
    """``--departure 2026-12-09`` read as 00:00 locked the guest out from 00:30 on the
    night before departure day; a date alone is refused, naming the field."""
    day = sandbox.clock.utcnow().date()
    departure = (day + timedelta(days=3)).isoformat()
    result = run(
        "why",
        "--settings-file",
        str(settings_file),
        "--object",
        "chalet-12",
        "--arrival",
        f"{day.isoformat()}T15:00",
        "--departure",
        departure,
    )
    assert result.exit_code == 2
    assert f"departure '{departure}' has no time" in result.output
    assert f"{departure}T10:00" in result.output


def test_test_open_takes_a_lock_name_and_an_unknown_one_is_exit_2(
    settings_file: Path, sandbox: SaltoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = first_lock(sandbox)
    assert activate(settings_file, sandbox, lock.iq.id, monkeypatch).exit_code == 0
    opened = run(
        "test-open", "Chalet 12", "--by", "desk", "--yes", "--settings-file", str(settings_file)
    )
    assert opened.exit_code == 0 and sandbox.call_count("PATCH") == 1
    unknown = run(
        "test-open", "Chalet 99", "--by", "desk", "--yes", "--settings-file", str(settings_file)
    )
    assert unknown.exit_code == 2 and "ireserve-salto locks" in unknown.output
    assert sandbox.call_count("PATCH") == 1


def test_activate_by_the_iq_s_name_and_with_the_pin_already_mailed(
    settings_file: Path, sandbox: SaltoSandbox
) -> None:
    iq = first_lock(sandbox).iq
    asked = run("activate", iq.name, "--settings-file", str(settings_file), input="0000\n")
    assert asked.exit_code in (0, 1)  # "0000" is most likely wrong; the e-mail went out
    mails = len(sandbox.mails())
    stored = json.loads(settings_file.read_text())["salto_ks"]["iqs"][iq.id]
    assert stored["secret"]
    again = run(
        "activate", iq.name, "--settings-file", str(settings_file), "--pin", sandbox.last_pin(iq.id)
    )
    assert again.exit_code == 0, again.output
    assert len(sandbox.mails()) == mails  # --pin with the secret stored: no second e-mail
    unknown = run("activate", "IQ Nowhere", "--settings-file", str(settings_file))
    assert unknown.exit_code == 2 and "ireserve-salto iqs" in unknown.output


def test_entries_show_lock_names_in_park_time_and_take_a_lock_name(
    settings_file: Path, sandbox: SaltoSandbox, host: Any, park: Any, mapped: Any, make_booking: Any
) -> None:
    assert host.open(make_booking(), "guest").opened
    listed = run("entries", "--settings-file", str(settings_file), "--lock", "Chalet 12")
    assert listed.exit_code == 0, listed.output
    assert "Chalet 12" in listed.stdout and '{"id"' not in listed.stdout
    assert "CET" in listed.stdout or "CEST" in listed.stdout  # park-local time
    unknown = run("entries", "--settings-file", str(settings_file), "--lock", "Chalet 999")
    assert unknown.exit_code == 2 and "ireserve-salto locks" in unknown.output


def test_the_command_list_is_never_cut() -> None:
    listed = CliRunner().invoke(main, ["--help"], terminal_width=80).output
    commands = listed.split("Commands:", 1)[1]
    assert "..." not in commands and "test-open" in commands


def test_recent_opens_name_who_asked_for_each_open_of_the_plugin(
    host: Any, park: Any, mapped: Any, make_booking: Any
) -> None:
    """Salto's log says "remote"; the plugin's receipt says who asked (the requester the
    host passed, e.g. ``guest:<booking>`` or ``staff:<user>``)."""
    opened = host.open(make_booking(), "guest:B-7")
    assert opened.opened
    listed = host.admin(park, "salto_ks", "recent_opens", count=5).data["entries"]
    (entry,) = [entry for entry in listed if entry.get("event_category") == "lock_opened"]
    assert entry["requested_by"] == "guest:B-7" and entry["attempt_id"] == opened.attempt_id


def test_each_receipt_names_the_nearest_entry_once(service: Any) -> None:
    """Salto's entry time and the plugin's differ by a second or two: the nearest entry of
    the lock gets the receipt, and one receipt never names two entries."""
    from ireserve_salto_plugin.store.keys import OPENER

    store, account, at = service.store, "acct", 1_800_000_000
    store.set(
        OPENER(account, "L", str(at)),
        {"requested_by": "guest:1", "attempt_id": "a", "park": "P"},
        60,
    )
    store.set(
        OPENER(account, "L", str(at + 4)),
        {"requested_by": "staff:2", "attempt_id": "b", "park": "P"},
        60,
    )

    def entry(second: int, lock: str = "L") -> dict[str, Any]:
        stamp = datetime.fromtimestamp(second, UTC).isoformat().replace("+00:00", "Z")
        return {
            "event_category": "lock_opened",
            "access_by": "remote",
            "lock": {"id": lock},
            "utc_date_time": stamp,
        }

    entries = [entry(at + 5), entry(at + 1), entry(at - 30), entry(at + 1, "M")]
    named = AdminActions(service.parks, service.budget)._with_openers(account, "P", entries)
    assert [e.get("requested_by") for e in named] == ["staff:2", "guest:1", None, None]
    other = AdminActions(service.parks, service.budget)._with_openers(account, "Q", entries)
    assert [e.get("requested_by") for e in other] == [None] * 4  # another park's receipts


@pytest.mark.redis
def test_entries_show_who_asked_when_the_desk_shares_the_hosts_store(
    settings_file: Path,
    use_service: Any,
    host: Any,
    park: Any,
    mapped: Any,
    make_booking: Any,
    redis_store: Any,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_service(store=redis_store)
    assert host.open(make_booking(), "guest:B-8").opened
    monkeypatch.setenv("SALTO_KS_REDIS_URL", redis_url)  # the support desk reads the same
    listed = run("entries", "--settings-file", str(settings_file), "--lock", "Chalet 12")
    assert listed.exit_code == 0, listed.output
    assert "guest:B-8" not in listed.stdout  # the file names no park: not the host's park
    data = json.loads(settings_file.read_text())
    settings_file.write_text(json.dumps({**data, "park_id": park.id}))  # the host's park
    listed = run("entries", "--settings-file", str(settings_file), "--lock", "Chalet 12")
    assert listed.exit_code == 0, listed.output
    assert "requested by" in listed.stdout and "guest:B-8" in listed.stdout


def test_prompts_headers_and_results_in_one_language(
    settings_file: Path, sandbox: SaltoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--lang (else the park's locale): the headers, the lines the CLI writes itself and
    the prompts, not only the plugin's answers."""
    check = run("check", "--settings-file", str(settings_file), "--lang", "nl")
    assert "klokverschil met Salto:" in check.stdout and "laatste opening: geen bewaard" in (
        check.stdout
    )
    assert "hier geactiveerd" in check.stdout and "bij Salto geactiveerd" in check.stdout
    locks = run("locks", "--settings-file", str(settings_file), "--lang", "de")
    assert locks.stdout.splitlines()[0].split()[:2] == ["Name", "ID"]
    assert "36 Schlösser, 0 offline" in locks.stdout
    import click

    asked: list[str] = []

    def prompt(text: str, **kwargs: Any) -> str:
        asked.append(text)
        return "0000"

    monkeypatch.setattr(click, "prompt", prompt)
    lock = first_lock(sandbox)
    run("activate", "--settings-file", str(settings_file), lock.iq.id, "--lang", "nl")
    assert asked == ["PIN uit de e-mail"]
