from typing import Any, cast

import pytest
from marshmallow import ValidationError

from ireserve_salto_plugin.park.fields import describe_errors
from ireserve_salto_plugin.park.settings import SettingsSchema

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


def test_full_settings() -> None:
    settings = SettingsSchema().load(
        valid(
            environment="acceptance",
            site_id="4c791cba-dfb3-562e-9016-d9c13bbbacdf",
            iqs={
                IQ: {
                    "secret": "0123456789ABCDEF",
                    "pin": "0042",
                    "activated_at": "2026-11-28T05:00:00+00:00",
                }
            },
            minutes_before=1440,
            open_field="opened_at",
            checkin_status="checked_in",
            mapping={"chalet-12": LOCK},
            default_lock_id=LOCK,
        )
    )
    assert settings.iqs[IQ].activated and settings.iqs[IQ].pin == "0042"
    assert settings.open_statuses == ("confirmed",)
    assert settings.opening_statuses == ("confirmed", "checked_in")


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


@pytest.mark.parametrize("key", ["api_url", "identity_url", "token_url", "client_secret"])
@pytest.mark.parametrize(
    "url", ["https://evil.example", "https://169.254.169.254", "http://127.0.0.1:6379"]
)
def test_a_park_cannot_name_a_host(key: str, url: str) -> None:
    # Hosts and the OAuth client are platform variables; in a park's settings they are
    # unknown keys, so "Test connection" can never post credentials elsewhere.
    assert errors(valid(**{key: url}))[key] == ["Unknown field."]


@pytest.mark.parametrize("pin", ["1234\n", "12345", "1234 ", "١٢٣٤"])
def test_pin_must_be_exactly_four_ascii_digits(pin: str) -> None:
    assert "pin" in errors(valid(iqs={IQ: {"pin": pin}}))["iqs"][IQ]["value"]


def test_site_uid_with_a_trailing_newline_is_rejected() -> None:
    assert "site_uid" in errors(valid(site_uid="NL6254340082\n"))


def test_uuids_are_stored_in_canonical_form() -> None:
    settings = SettingsSchema().load(
        valid(
            site_id="{4C791CBA-DFB3-562E-9016-D9C13BBBACDF}",
            mapping={"a": LOCK.upper()},
            default_lock_id=LOCK.replace("-", ""),
            iqs={f"urn:uuid:{IQ}": {"pin": "1234"}},
        )
    )
    assert settings.site_id == "4c791cba-dfb3-562e-9016-d9c13bbbacdf"
    assert settings.mapping == {"a": LOCK} and settings.default_lock_id == LOCK
    assert list(settings.iqs) == [IQ]


def test_uuid_fields() -> None:
    messages = errors(
        valid(
            site_id="NL6254340082", default_lock_id="x", mapping={"a": "b"}, iqs={"not-a-uuid": {}}
        )
    )
    assert {"site_id", "default_lock_id", "mapping", "iqs"} <= set(messages)


def test_secret_fields_are_marked_and_never_shown() -> None:
    schema = SettingsSchema()
    assert schema.fields["password"].metadata["secret"] is True
    iq_fields = cast(Any, schema.fields["iqs"]).value_field.schema.fields
    assert iq_fields["secret"].metadata["secret"] and iq_fields["pin"].metadata["secret"]
    settings = schema.load(valid(iqs={IQ: {"secret": "0123456789ABCDEF", "pin": "0042"}}))
    text = repr(settings)
    assert "correct horse" not in text and "0123456789ABCDEF" not in text and "0042" not in text
    assert "password" not in schema.dump(settings)


def test_error_text_names_fields_without_values() -> None:
    with pytest.raises(ValidationError) as info:
        SettingsSchema().load(valid(site_uid="secret-ish-value", minutes_before=-5))
    text = describe_errors(info.value.messages)
    assert "(site_uid):" in text and "(minutes_before):" in text
    assert "secret-ish-value" not in text


def test_huge_collections_are_refused_before_any_entry_is_read() -> None:
    """A 45 MB mapping cost 10.5 s on the first hook and 31 ms on every later one."""
    import time

    huge = {f"chalet-{n}": "4f806a16-03bb-5ae5-817a-8ddf906cb255" for n in range(200_000)}
    started = time.monotonic()
    with pytest.raises(ValidationError) as info:
        SettingsSchema().load(valid(mapping=huge))
    assert time.monotonic() - started < 5  # refused at once (bound wide for a loaded machine)
    assert info.value.messages == {"mapping": ["At most 10000 objects can be mapped."]}
    with pytest.raises(ValidationError) as info:
        SettingsSchema().load(valid(open_statuses=["s"] * 51))
    assert "open_statuses" in info.value.messages
    assert describe_errors(info.value.messages, lang="nl") == (
        "Statussen voor openen (open_statuses): Hoogstens 50 statussen."
    )
