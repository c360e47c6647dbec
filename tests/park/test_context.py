"""A park's context: settings parsed once and compared by value, the account on the
platform's hosts read from the environment on every use."""

from __future__ import annotations

from typing import Any

import pytest

from ireserve_salto_plugin.flow.context import Parks
from ireserve_salto_plugin.park.fields import SettingsError
from ireserve_salto_plugin.park.platform import PlatformReader
from ireserve_salto_plugin.reference import Park
from ireserve_salto_plugin.salto.clock import SYSTEM_CLOCK
from ireserve_salto_plugin.salto.config import Tuning
from ireserve_salto_plugin.salto.session import make_session
from ireserve_salto_plugin.store.memory import MemoryStore

ENV = {"SALTO_KS_ACCEPTANCE_CLIENT_ID": "id", "SALTO_KS_ACCEPTANCE_CLIENT_SECRET": "s3cret"}


def raw(**overrides: Any) -> dict[str, Any]:
    return {
        "environment": "acceptance",
        "username": "u@park.example",
        "password": "pw-1",
        "site_uid": "NL6254340082",
        "open_statuses": ["confirmed"],
        **overrides,
    }


def parks(env: dict[str, str], **options: Any) -> Parks:
    return Parks(
        session=make_session(),
        store=MemoryStore(),
        tuning=Tuning(),
        clock=SYSTEM_CLOCK,
        platform=PlatformReader(env),
        **options,
    )


def test_settings_are_parsed_once_while_equal_by_value() -> None:
    factory = parks(ENV)
    park = Park("p", "Europe/Amsterdam")
    first = factory.settings(park, raw())
    assert factory.settings(park, raw()) is first  # an equal copy: not parsed again
    changed = factory.settings(park, raw(minutes_before=15))
    assert changed is not first and changed.minutes_before == 15
    other = factory.settings(Park("q", "Europe/Amsterdam"), raw(minutes_before=15))
    assert other is not changed  # per park


def test_invalid_settings_and_zones_are_settings_errors() -> None:
    factory = parks(ENV)
    with pytest.raises(SettingsError, match="minutes_before"):
        factory.settings(Park("p", "UTC"), raw(minutes_before=-1))
    with pytest.raises(SettingsError, match="open_statuses"):
        factory.settings(Park("p", "UTC"), raw(open_statuses=[{1, 2}]))
    with pytest.raises(SettingsError):
        factory.settings(Park("p", "UTC"), "not settings")
    ctx = factory.context(Park("p", "Mars/Olympus_Mons"), raw())
    with pytest.raises(SettingsError, match=r"park\.timezone"):
        assert ctx.zone


def test_the_account_follows_the_platform_variables() -> None:
    env = dict(ENV)
    factory = parks(env)
    park = Park("p", "UTC")
    first = factory.context(park, raw()).account
    assert first is factory.context(park, raw()).account  # cached
    env["SALTO_KS_ACCEPTANCE_API_URL"] = "https://api.example.com"
    moved = factory.context(park, raw()).account
    assert moved.api_url == "https://api.example.com" and moved.key != first.key
    assert factory.context(park, raw(password="pw-2")).account.key != moved.key


def test_a_platform_error_stops_every_context() -> None:
    factory = parks(ENV, config_error=SettingsError("SALTO_KS_DEDUP_SECONDS must be ..."))
    with pytest.raises(SettingsError, match="SALTO_KS_DEDUP_SECONDS"):
        factory.context(Park("p", "UTC"), raw())
    with pytest.raises(SettingsError, match="SALTO_KS_ACCEPTANCE_CLIENT_SECRET"):
        parks({"SALTO_KS_ACCEPTANCE_CLIENT_ID": "id"}).context(Park("p", "UTC"), raw())
