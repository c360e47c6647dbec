"""The token lifecycle's parts that the gateway tests do not reach: the OAuth error map,
the account's key, and token lifetimes from an untrusted identity server."""

from __future__ import annotations

import math

import pytest
import requests

from ireserve_salto_plugin.salto.auth import (
    MAX_EXPIRES_IN,
    Account,
    TokenSource,
    oauth_message,
)
from ireserve_salto_plugin.salto.config import ClientCredentials
from ireserve_salto_plugin.salto.errors import Unavailable
from ireserve_salto_plugin.salto.transport import Transport
from ireserve_salto_plugin.store.memory import MemoryStore
from tests.conftest import SkipClock


def account(password: str = "pw-1", api: str = "https://api.example") -> Account:
    return Account(
        "https://id.example",
        api,
        ClientCredentials("c", "client-s3cret"),
        "u@park.example",
        password,
    )


def test_the_oauth_error_map() -> None:
    assert "username or password of account 'u'" in oauth_message("invalid_grant", "password", "u")
    assert "refresh_token grant" in oauth_message("invalid_grant", "refresh_token", "u")
    assert "SALTO_KS_<ENVIRONMENT>_CLIENT_ID" in oauth_message("invalid_client", "password", "u")
    assert "ask Salto to enable it" in oauth_message("unauthorized_client", "password", "u")
    assert oauth_message("temporarily_unavailable", "password", "u").endswith(
        "(temporarily_unavailable)"
    )


def test_the_account_key_identifies_without_secrets() -> None:
    first = account()
    assert first.key == account().key
    assert len({first.key, account("pw-2").key, account(api="https://b.example").key}) == 3
    text = repr(first)
    assert "pw-1" not in text and "client-s3cret" not in text and first.key not in text


@pytest.mark.parametrize(
    "expires_in,lifetime",
    [
        (3600, 3600.0),
        (1e308, MAX_EXPIRES_IN),
        (-5, 0.0),
        (None, None),
        ("3600", None),
        (True, None),
        (math.inf, None),
    ],
)
def test_token_lifetimes_are_bounded(expires_in: object, lifetime: float | None) -> None:
    clock = SkipClock()
    source = TokenSource(
        account(), Transport(requests.Session(), clock=clock.clock()), MemoryStore(), clock.clock()
    )
    body = {"access_token": "t", "expires_in": expires_in}
    if lifetime is None:
        with pytest.raises(Unavailable):
            source._token_of(body)
    else:
        token = source._token_of(body)
        assert abs(token.expires_at - clock.wall() - lifetime) < 1
