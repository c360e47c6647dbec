"""Real Salto KS answers (``tests/samples/``, captured on Salto's acceptance by a third
party: ``tests/samples/SOURCES.md``) against the sandbox and the plugin's parsers.

The sandbox is the project's model of Salto: where it and a sample differ, the sample
wins. For every endpoint the plugin reads, the sandbox must answer with the same field
names, nesting and JSON types (values may differ; a ``null`` in a sample says nothing of
the type), and every sample must parse.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from ireserve_salto_plugin.salto.errors import AuthError, OtpMissing, Refused, error_for
from ireserve_salto_plugin.salto.paging import parse_page
from ireserve_salto_plugin.salto.types import (
    entry_lock,
    parse_activated_iq,
    parse_iq,
    parse_lock,
    parse_site,
    parse_site_user,
)
from ireserve_salto_plugin.sandbox import SaltoSandbox
from tests.salto.test_gateway import gateway_for

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
# captured, but of endpoints the plugin never reads (and the sandbox does not serve)
NOT_READ = {
    "me.json",
    "users.json",
    "site_roles.json",
    "v2_me_roles_403.json",
    "v2_me_permissions_403.json",
    "v2_roles_403.json",
    "v2_permissions_403.json",
}


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    names: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return names[type(value)]


def differences(real: Any, ours: Any, path: str = "$") -> list[str]:
    """Where ``ours`` is not shaped like ``real``: field names, nesting, JSON types. A list
    is compared item by item with all of the sample's items at once: a field one of them
    holds as ``null`` may be ``null`` in ours."""
    if real is None:
        return []  # a null in a sample does not say what the field holds otherwise
    if kind(real) != kind(ours):
        return [f"{path}: {kind(ours)} where Salto sends {kind(real)}"]
    if isinstance(real, dict):
        found = [f"{path}.{name}: missing" for name in real if name not in ours]
        found += [f"{path}.{name}: not in Salto's answer" for name in ours if name not in real]
        return found + [
            line
            for name in real
            if name in ours
            for line in differences(real[name], ours[name], f"{path}.{name}")
        ]
    if isinstance(real, list) and real:
        return [
            line
            for n, item in enumerate(ours)
            for line in item_differences(real, item, f"{path}[{n}]")
        ]
    return []


def item_differences(real: list[Any], ours: Any, path: str) -> list[str]:
    if not all(isinstance(item, dict) for item in real) or not isinstance(ours, dict):
        return differences(real[0], ours, path)
    names = {name for item in real for name in item}
    found = [f"{path}.{name}: missing" for name in names if name not in ours]
    found += [f"{path}.{name}: not in Salto's answer" for name in ours if name not in names]
    for name in names & set(ours):
        values = [item.get(name) for item in real]
        if ours[name] is None and None in values:
            continue
        typed = next((value for value in values if value is not None), None)
        found += differences(typed, ours[name], f"{path}.{name}")
    return sorted(found)


def test_the_shape_comparison_catches_what_it_is_for() -> None:
    """The checker itself: it would fail a sandbox that nests a lock in an entry."""
    real = {"id": "x", "lock_id": "y", "count": None, "items": [{"a": 1}]}
    assert differences(real, {"id": "x", "lock_id": "z", "count": 3, "items": [{"a": 2}]}) == []
    assert differences(real, {"id": "x", "lock": {"id": "y"}, "count": None, "items": []}) == [
        "$.lock_id: missing",
        "$.lock: not in Salto's answer",
    ]
    assert differences({"n": 1}, {"n": "1"}) == ["$.n: string where Salto sends number"]


@pytest.fixture
def box() -> Any:
    with SaltoSandbox() as sandbox:
        yield sandbox


def served(box: SaltoSandbox, path: str, params: dict[str, Any] | None = None) -> Any:
    gateway = gateway_for(box)
    body, _ = gateway.read(path, params)
    return body


def test_every_sample_is_either_compared_or_named_as_not_read() -> None:
    compared = {
        "site.json",
        "iqs.json",
        "iq.json",
        "locks.json",
        "lock.json",
        "site_me.json",
        "me_activated_iqs.json",
        "entries.json",
        "token.json",
        "error_locking_otp_missing_404.json",
        "error_token_invalid_scope_400.json",
    }
    activations = {path.name for path in SAMPLES.glob("user_activated_iqs.*.json")}
    on_disk = {path.name for path in SAMPLES.glob("*.json")}
    assert on_disk == compared | NOT_READ | activations
    assert (SAMPLES / "SOURCES.md").read_text(encoding="utf-8").count("|") > 50


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("site.json", "/v1.2/sites/{site}"),
        ("iqs.json", "/v1.2/sites/{site}/iqs"),
        ("iq.json", "/v1.2/sites/{site}/iqs/{iq}"),
        ("locks.json", "/v1.2/sites/{site}/locks"),
        ("lock.json", "/v1.2/sites/{site}/locks/{lock}"),
        ("site_me.json", "/v1.2/sites/{site}/me"),
        ("me_activated_iqs.json", "/v1.2/me/{site}/activated_iqs"),
    ],
)
def test_the_sandbox_answers_in_the_shape_of_the_real_sample(
    box: SaltoSandbox, name: str, path: str
) -> None:
    assert box.site is not None
    iq = next(iter(box.site.iqs))
    lock = next(iter(box.site.locks))
    box.world.preactivate(box.world.users[box.username])  # the sample's IQ is activated
    ours = served(box, path.format(site=box.site.id, iq=iq, lock=lock))
    assert differences(sample(name), ours) == []


def test_activated_iqs_lists_an_iq_from_get_secret_on_not_yet_activated(box: SaltoSandbox) -> None:
    """Salto lists an IQ ``activated: false`` once the account fetched its secret, before
    Set PIN (the reference, "Lock object fields"); the sandbox listed it only later."""
    assert box.site is not None
    iq = next(iter(box.site.iqs))
    assert served(box, f"/v1.2/me/{box.site.id}/activated_iqs")["items"] == []
    gateway_for(box).iq_secret(box.site.id, iq)
    [item] = served(box, f"/v1.2/me/{box.site.id}/activated_iqs")["items"]
    assert item["iq_id"] == iq and item["activated"] is False
    assert item["activation_date"] is None


def test_the_sandbox_s_entries_are_flat_and_paged_like_salto_s(box: SaltoSandbox) -> None:
    """Salto's entries are flat (``lock_id``, ``lock_customer_reference``), with the
    continuation token in the body: the sandbox once nested a ``lock`` object, and the
    CLI's ``entries`` then showed no lock on real data."""
    assert box.site is not None
    lock = next(iter(box.site.locks.values()))
    user = box.world.users[box.username]
    for _ in range(25):
        box.world.record_remote_entry(box.site, lock, user, "unlocked", box.now())
    ours = served(
        box, f"/v1.1/sites/{box.site.id}/entries", {"$top": 20, "$orderby": "utc_date_time desc"}
    )
    assert differences(sample("entries.json"), ours) == []
    assert len(ours["items"]) == 20 and isinstance(ours["continuation_token"], str)


def test_the_sandbox_s_token_answer_carries_what_salto_s_does(box: SaltoSandbox) -> None:
    """token.json is ECC's summary of the answer (no raw body): its fields and types."""
    real = sample("token.json")
    answer = requests.post(
        f"{box.identity_url}/connect/token",
        auth=(box.client_id, box.client_secret),
        data={
            "grant_type": "password",
            "username": box.username,
            "password": box.password,
            "scope": "user_api.full_access",
        },
        timeout=5,
    ).json()
    assert kind(answer["expires_in"]) == kind(real["expires_in"])
    assert answer["token_type"] == real["token_type"]
    assert answer["scope"] == real["scope_in_response"]
    assert isinstance(answer["access_token"], str) and answer["access_token"]


def test_the_sandbox_s_errors_are_salto_s(box: SaltoSandbox) -> None:
    assert box.site is not None
    gateway = gateway_for(box)
    lock = next(iter(box.site.locks))
    resp = requests.patch(
        f"{box.api_url}/v1.2/sites/{box.site.id}/locks/{lock}/locking",
        json={"locked_state": "unlocked"},
        timeout=5,
        headers={"Authorization": f"Bearer {gateway.access_token()}"},
    )
    assert (resp.status_code, resp.json()) == (404, sample("error_locking_otp_missing_404.json"))
    resp = requests.post(
        f"{box.identity_url}/connect/token",
        auth=(box.client_id, box.client_secret),
        data={
            "grant_type": "password",
            "username": box.username,
            "password": box.password,
            "scope": "user_api.full_access core_api",
        },
        timeout=5,
    )
    assert (resp.status_code, resp.json()) == (400, sample("error_token_invalid_scope_400.json"))


# -- the plugin's parsers read every sample ---------------------------------------------------


def test_the_parsers_read_every_real_sample() -> None:
    site = sample("site.json")
    for body in ([site], {"items": [site], "next_page_link": None, "count": None}):
        items: Any = body if isinstance(body, list) else body["items"]
        parsed = parse_site(items[0], site["site_uid"])
        assert parsed is not None and parsed.id == site["id"] and parsed.name
    items, link, count = parse_page(sample("locks.json"), "/locks")
    lock = parse_lock(items[0])
    assert link is None and count is None
    assert (lock.name, lock.iq_id, lock.online, lock.iq_online, lock.otp_enabled) == (
        "Tür 01",
        "5dfdc54e-8335-11f0-a2ed-6045bd92d38f",
        True,
        True,
        True,
    )
    assert lock.battery_level == "fresh" and lock.battery == "ok"
    assert parse_lock(sample("lock.json")) == lock
    iq = parse_iq(parse_page(sample("iqs.json"), "/iqs")[0][0])
    assert iq == parse_iq(sample("iq.json")) and iq.name == "IQ 01" and not iq.restore_required
    user = parse_site_user(sample("site_me.json"))
    assert (user.remote_access, user.blocked, user.subscription_state) == (
        True,
        False,
        "subscribed",
    )
    activated = [parse_activated_iq(item) for item in sample("me_activated_iqs.json")["items"]]
    assert activated[0].activated and activated[0].iq_id == iq.id
    entries = sample("entries.json")["items"]
    assert {entry_lock(entry) for entry in entries} == {
        ("4d77312f-4a87-41db-a97b-f9d948dcc908", "Tür 01")
    }
    assert isinstance(
        error_for(
            404, sample("error_locking_otp_missing_404.json"), method="PATCH", path="/locking"
        ),
        OtpMissing,
    )
    refused = error_for(
        400, sample("error_token_invalid_scope_400.json"), method="POST", path="/connect/token"
    )
    assert isinstance(refused, Refused | AuthError)


def test_the_cli_s_entries_show_the_lock_names_of_real_entries() -> None:
    """Flat entries as Salto sends them: the lock column is the lock's name."""
    from zoneinfo import ZoneInfo

    from ireserve_salto_plugin.support.tables import entry_rows

    rows = entry_rows(sample("entries.json")["items"], ZoneInfo("Europe/Berlin"))
    assert {row["lock"] for row in rows} == {"Tür 01"}
    assert rows[0]["event"] == "easy_office_mode" and rows[0]["time"].endswith("CEST")
