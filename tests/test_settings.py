from typing import Any

import pytest
from marshmallow import ValidationError

from ireserve_salto_plugin.settings import (
    ENVIRONMENTS,
    SettingsError,
    SettingsSchema,
    client_credentials,
    describe_errors,
)

IQ = "5fc75b2e-95d8-55a7-95f3-2faedc4d26f3"
LOCK = "4f806a16-03bb-5ae5-817a-8ddf906cb255"


def valid(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "environment": "production",
        "username": "service@park.example",
        "password": "correct horse battery staple",
        "site_uid": "NL6254340082",
        "open_statuses": ["confirmed"],
    }
    raw.update(overrides)
    return raw


def errors(raw: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ValidationError) as info:
        SettingsSchema().load(raw)
    return info.value.messages_dict


def test_minimal_settings_and_defaults() -> None:
    settings = SettingsSchema().load(valid())
    assert settings.enabled is True
    assert settings.minutes_before == 0
    assert settings.iqs == {} and settings.mapping == {}
    assert settings.base_api_url == ENVIRONMENTS["production"]["api_url"]
    assert settings.base_identity_url == ENVIRONMENTS["production"]["identity_url"]


def test_full_settings() -> None:
    settings = SettingsSchema().load(valid(
        environment="acceptance", site_id="4c791cba-dfb3-562e-9016-d9c13bbbacdf",
        iqs={IQ: {"secret": "0123456789ABCDEF", "pin": "0042",
                  "activated_at": "2026-11-28T05:00:00+00:00"}},
        minutes_before=1440, open_field="opened_at", checkin_status="checked_in",
        mapping={"chalet-12": LOCK}, default_lock_id=LOCK,
        api_url="http://127.0.0.1:8080", identity_url="https://identity.example.com/",
    ))
    assert settings.iqs[IQ].activated and settings.iqs[IQ].pin == "0042"
    assert settings.base_identity_url == "https://identity.example.com"
    assert settings.open_statuses == ("confirmed",)


def test_unknown_keys_are_rejected() -> None:
    assert "colour" in errors(valid(colour="blue"))
    assert "colour" in errors(valid(iqs={IQ: {"colour": "blue"}}))["iqs"][IQ]["value"]


@pytest.mark.parametrize("uid", ["nl6254340082", "NL625434008", "NLD254340082", "", "NL 625434008"])
def test_bad_site_uid(uid: str) -> None:
    assert "site_uid" in errors(valid(site_uid=uid))


def test_three_digit_pin() -> None:
    messages = errors(valid(iqs={IQ: {"pin": "123"}}))
    assert "pin" in messages["iqs"][IQ]["value"]


def test_empty_open_statuses() -> None:
    assert errors(valid(open_statuses=[]))["open_statuses"] == ["Choose at least one status."]


@pytest.mark.parametrize("value", [-1, 1441, True, "30", 2.5])
def test_minutes_before_range_and_type(value: object) -> None:
    assert "minutes_before" in errors(valid(minutes_before=value))


def test_required_fields_are_named() -> None:
    messages = errors({})
    assert {"environment", "username", "password", "site_uid", "open_statuses"} <= set(messages)


def test_environment_must_be_known() -> None:
    assert "environment" in errors(valid(environment="staging"))


@pytest.mark.parametrize("url", ["http://salto.example.com", "ftp://127.0.0.1", "not a url",
                                 "https://user:pw@salto.example.com", "https://x.com/?a=1"])
def test_url_overrides_must_be_safe(url: str) -> None:
    assert "api_url" in errors(valid(api_url=url))


def test_uuid_fields() -> None:
    messages = errors(valid(site_id="NL6254340082", default_lock_id="x", mapping={"a": "b"},
                            iqs={"not-a-uuid": {}}))
    assert {"site_id", "default_lock_id", "mapping", "iqs"} <= set(messages)


def test_secret_fields_are_marked_and_never_shown() -> None:
    schema = SettingsSchema()
    assert schema.fields["password"].metadata["secret"] is True
    iq_fields = schema.fields["iqs"].value_field.schema.fields  # type: ignore[union-attr]
    assert iq_fields["secret"].metadata["secret"] and iq_fields["pin"].metadata["secret"]
    settings = schema.load(valid(iqs={IQ: {"secret": "0123456789ABCDEF", "pin": "0042"}}))
    text = repr(settings)
    assert "correct horse" not in text and "0123456789ABCDEF" not in text and "0042" not in text
    assert "password" not in schema.dump(settings)


def test_error_text_names_fields_without_values() -> None:
    with pytest.raises(ValidationError) as info:
        SettingsSchema().load(valid(site_uid="secret-ish-value", minutes_before=-5))
    text = describe_errors(info.value.messages)
    assert "site_uid:" in text and "minutes_before:" in text
    assert "secret-ish-value" not in text


def test_client_credentials_from_environment() -> None:
    creds = client_credentials("production", {"SALTO_KS_PRODUCTION_CLIENT_ID": "id",
                                              "SALTO_KS_PRODUCTION_CLIENT_SECRET": "s3cret"})
    assert creds.client_id == "id" and "s3cret" not in repr(creds)


def test_missing_client_variable_is_named() -> None:
    with pytest.raises(SettingsError, match="SALTO_KS_ACCEPTANCE_CLIENT_SECRET"):
        client_credentials("acceptance", {"SALTO_KS_ACCEPTANCE_CLIENT_ID": "id"})
