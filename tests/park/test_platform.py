"""Platform variables (hosts, OAuth client) and tuning come from the host process only."""

from __future__ import annotations

import pytest

from ireserve_salto_plugin.park.fields import SettingsError
from ireserve_salto_plugin.park.platform import PlatformReader, platform_variables, tuning_from_env
from ireserve_salto_plugin.salto.config import DEFAULT_HOSTS, Tuning, origin

CLIENT = {"SALTO_KS_PRODUCTION_CLIENT_ID": "id", "SALTO_KS_PRODUCTION_CLIENT_SECRET": "s3cret"}


def test_default_hosts_and_client() -> None:
    platform = PlatformReader(CLIENT)("production")
    assert (platform.api_url, platform.identity_url) == DEFAULT_HOSTS["production"]
    assert platform.client.client_id == "id" and "s3cret" not in repr(platform)


def test_hosts_can_be_overridden_by_the_platform() -> None:
    env = {
        **CLIENT,
        "SALTO_KS_PRODUCTION_API_URL": "https://api.example.com/",
        "SALTO_KS_PRODUCTION_IDENTITY_URL": "http://127.0.0.1:8080",
    }
    platform = PlatformReader(env)("production")
    assert platform.api_url == "https://api.example.com"
    assert platform.identity_url == "http://127.0.0.1:8080"


def test_variables_are_read_on_every_call() -> None:
    env = dict(CLIENT)
    read = PlatformReader(env)
    assert read("production").api_url == DEFAULT_HOSTS["production"][0]
    env["SALTO_KS_PRODUCTION_API_URL"] = "https://other.example.com"
    assert read("production").api_url == "https://other.example.com"


@pytest.mark.parametrize(
    "url",
    [
        "http://salto.example.com",
        "ftp://127.0.0.1",
        "not a url",
        "https://user:pw@salto.example.com",
        "https://x.com/?a=1",
        "https://x.com:99999",
    ],
)
def test_unsafe_host_variables_are_named(url: str) -> None:
    env = {**CLIENT, "SALTO_KS_PRODUCTION_IDENTITY_URL": url}
    with pytest.raises(SettingsError, match="SALTO_KS_PRODUCTION_IDENTITY_URL") as info:
        PlatformReader(env)("production")
    assert "user:pw" not in str(info.value)


def test_missing_client_variable_is_named() -> None:
    with pytest.raises(SettingsError, match="SALTO_KS_ACCEPTANCE_CLIENT_SECRET"):
        PlatformReader({"SALTO_KS_ACCEPTANCE_CLIENT_ID": "id"})("acceptance")


def test_platform_variables_round_trip() -> None:
    env = platform_variables(
        "acceptance",
        api_url="http://127.0.0.1:1",
        identity_url="http://127.0.0.1:2",
        client_id="c",
        client_secret="s",
    )
    platform = PlatformReader(env)("acceptance")
    assert (platform.api_url, platform.identity_url) == ("http://127.0.0.1:1", "http://127.0.0.1:2")


def test_origin_is_exact() -> None:
    assert origin("https://Connect.my-clay.com/v1.2") == ("https", "connect.my-clay.com", 443)
    assert origin("https://connect.my-clay.com:443/") == origin("https://connect.my-clay.com")
    assert origin("https://connect.my-clay.com.evil.example") != origin(
        "https://connect.my-clay.com"
    )
    assert origin("http://127.0.0.1:80") != origin("http://127.0.0.1:8080")


def test_tuning_defaults_and_variables() -> None:
    assert tuning_from_env({}) == Tuning()
    tuning = tuning_from_env({"SALTO_KS_OPEN_DEADLINE": "20", "SALTO_KS_DEDUP_SECONDS": "0"})
    assert tuning.open_deadline == 20 and tuning.dedup_seconds == 0


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "ten", "1e9", "0x10"])
def test_bad_tuning_variable_is_named(value: str) -> None:
    with pytest.raises(SettingsError, match="SALTO_KS_DEDUP_SECONDS"):
        tuning_from_env({"SALTO_KS_DEDUP_SECONDS": value})
