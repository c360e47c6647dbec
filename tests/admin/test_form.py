"""The settings form as data: metadata on every field, the JSON Schema export, the
admin buttons, and the merge that keeps secrets when a form is saved."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.admin.actions import ACTIONS
from ireserve_salto_plugin.form import json_schema, merge_settings
from ireserve_salto_plugin.park.fields import FORM, TABS, WIDGETS
from ireserve_salto_plugin.park.i18n import LANGUAGES
from ireserve_salto_plugin.park.settings import SettingsSchema
from ireserve_salto_plugin.reference import Park, ReferenceHost
from ireserve_salto_plugin.sandbox import SaltoSandbox
from tests.conftest import activate, settings_for

UUID = "8a0f8a0e-1c52-4d8e-9a51-2d3c4b5a6f70"


def test_every_field_of_config_schema_carries_what_a_form_needs(host: ReferenceHost) -> None:
    schema = host.pm.hook.config_schema(integration=INTEGRATION)
    assert set(schema.fields) == set(FORM)
    orders = []
    for name, field in schema.fields.items():
        meta = field.metadata
        assert set(meta["x-label"]) == set(LANGUAGES) and all(meta["x-label"].values()), name
        assert set(meta["x-help"]) == set(LANGUAGES), name
        assert meta["x-tab"] in dict(TABS) and meta["x-widget"] in WIDGETS, name
        orders.append(meta["x-order"])
    assert sorted(orders) == list(range(1, len(FORM) + 1))
    assert schema.fields["site_id"].metadata["readOnly"] is True
    assert schema.fields["iqs"].metadata["readOnly"] is True
    assert schema.fields["password"].metadata["x-secret"] is True
    assert schema.fields["password"].metadata["x-widget"] == "password"
    assert [c["value"] for c in schema.fields["environment"].metadata["x-choices"]] == [
        "acceptance",
        "production",
    ]


def test_the_export_is_valid_json_schema_2020_12_and_validates_settings(
    sandbox: SaltoSandbox,
) -> None:
    schema = json_schema()
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    good = settings_for(
        sandbox,
        iqs={UUID: {"secret": "s", "pin": "1234"}},
        mapping={"chalet-1": UUID},
        site_id=UUID,
    )
    assert not list(validator.iter_errors(good))
    assert SettingsSchema().load(good)  # the plugin agrees
    for bad in (
        {**good, "environment": "staging"},
        {**good, "api_url": "https://evil"},
        {k: v for k, v in good.items() if k != "username"},
        {**good, "minutes_before": -5},
        {**good, "open_statuses": []},
    ):
        assert list(validator.iter_errors(bad)), bad


def render(schema: dict[str, Any], lang: str) -> dict[str, list[tuple[str, str, str, bool]]]:
    """What a host in a browser does with the export alone: tabs, in order, each with its
    fields as (label, widget, key, editable), and the buttons."""
    props = schema["properties"]
    page: dict[str, list[tuple[str, str, str, bool]]] = {}
    for tab in schema["x-tabs"]:
        rows = sorted(tab["fields"], key=lambda key: props[key]["x-order"])
        page[tab["label"][lang]] = [
            (
                props[key]["x-label"][lang],
                props[key]["x-widget"],
                key,
                not props[key].get("readOnly", False),
            )
            for key in rows
        ]
        page[tab["label"][lang]] += [
            (action["label"][lang], "button", action["name"], True)
            for action in schema["x-actions"]
            if action["tab"] == tab["name"]
        ]
    return page


def test_a_host_renders_the_form_from_the_export_alone() -> None:
    page = render(json_schema(), "nl")
    assert list(page) == ["Authenticatie", "IQ's activeren", "Details", "Slot per accommodatie"]
    auth = page["Authenticatie"]
    assert ("Wachtwoord", "password", "password", True) in auth
    assert ("Site-ID", "text", "site_id", False) in auth
    assert ("Site-ID ophalen", "button", "resolve_site", True) in auth
    iq = {row[2] for row in page["IQ's activeren"]}
    assert {"iqs", "get_pin", "set_pin", "self_test", "list_iqs"} <= iq
    assert ("Minuten vooraf", "number", "minutes_before", True) in page["Details"]
    assert page["Slot per accommodatie"][0] == (
        "Slot per accommodatie",
        "mapping_table",
        "mapping",
        True,
    )
    schema = json_schema()
    assert schema["properties"]["password"]["writeOnly"] is True
    assert schema["properties"]["environment"]["enum"] == ["acceptance", "production"]
    assert set(schema["required"]) == {
        "environment",
        "username",
        "password",
        "site_uid",
        "open_statuses",
    }


def test_every_admin_action_is_described_and_exists(host: ReferenceHost, park: Park) -> None:
    """One registry: each button has a label, a tab and what runs it; the form export
    lists exactly these."""
    assert all(action.run is not None and action.label for action in ACTIONS)
    assert [a["name"] for a in json_schema()["x-actions"]] == [a.name for a in ACTIONS]
    assert all(action.tab in dict(TABS) for action in ACTIONS)
    set_pin = next(action for action in ACTIONS if action.name == "set_pin")
    assert set_pin.params == ("iq_id", "current_pin", "new_pin", "expert", "confirm")


STORED = {
    "environment": "acceptance",
    "username": "u@example.com",
    "password": "old",
    "site_uid": "NL6254340082",
    "site_id": UUID,
    "open_statuses": ["confirmed"],
    "iqs": {UUID: {"secret": "only-once", "pin": "1234"}},
}


@pytest.mark.parametrize("empty", ["", None, "missing"])
def test_saving_the_form_without_retyping_secrets_keeps_them(empty: Any) -> None:
    submitted: dict[str, Any] = {k: v for k, v in STORED.items() if k not in ("iqs", "password")}
    if empty != "missing":
        submitted["password"] = empty
    submitted["minutes_before"] = 15
    merged = merge_settings(STORED, submitted)
    assert merged["password"] == "old" and merged["iqs"] == STORED["iqs"]
    assert merged["minutes_before"] == 15 and merged["site_id"] == UUID


def test_a_dump_drops_secrets_by_design_so_it_must_never_be_stored() -> None:
    dumped = SettingsSchema().dump(SettingsSchema().load(STORED))
    assert "password" not in dumped
    assert "secret" not in dumped["iqs"][UUID]  # storing a dump would lose it for good
    merged = merge_settings(STORED, dumped)
    assert merged["password"] == "old" and merged["iqs"][UUID]["secret"] == "only-once"


def test_merge_keeps_read_only_fields_and_takes_new_values() -> None:
    forged = {
        **STORED,
        "password": "new",
        "site_id": "00000000-0000-0000-0000-000000000000",
        "iqs": {UUID: {"secret": "forged", "pin": "0000"}},
    }
    merged = merge_settings(STORED, forged)
    assert merged["password"] == "new"  # a typed secret replaces the stored one
    assert merged["site_id"] == UUID and merged["iqs"] == STORED["iqs"]
    moved = merge_settings(STORED, {**STORED, "site_uid": "DE4520168385"})
    assert "site_id" not in moved  # it belonged to the old site


def test_the_reference_host_saves_a_form_and_opens_still_work(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox, mapped: Any, make_booking: Any
) -> None:
    stored = park.integrations[INTEGRATION]
    submitted = {k: v for k, v in stored.items() if k not in ("iqs", "site_id")}
    submitted["password"] = ""
    host.save_form(park, INTEGRATION, submitted)
    assert park.integrations[INTEGRATION]["iqs"] == stored["iqs"]
    result = host.open(make_booking(), "guest")
    assert result is not None and result.opened, result


def test_activation_then_form_save_keeps_the_new_secret(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    assert sandbox.site is not None
    iq_id = next(iter(sandbox.site.iqs))
    activate(host, park, sandbox, iq_id)
    secret = park.integrations[INTEGRATION]["iqs"][iq_id]["secret"]
    host.save_form(park, INTEGRATION, {**settings_for(sandbox), "password": None})
    assert park.integrations[INTEGRATION]["iqs"][iq_id]["secret"] == secret


def test_stored_settings_in_any_mapping_keep_their_secrets() -> None:
    from types import MappingProxyType

    merged = merge_settings(MappingProxyType(STORED), {**STORED, "password": ""})
    assert merged["iqs"] == STORED["iqs"] and merged["site_id"] == STORED["site_id"]
    assert merged["password"] == STORED["password"]
    assert merge_settings(None, {"username": "u"}) == {"username": "u"}
    with pytest.raises(TypeError):
        merge_settings(["not", "a", "mapping"], STORED)
