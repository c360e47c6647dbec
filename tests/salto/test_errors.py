"""One status/ErrorCode table maps Salto's refusals to typed errors and reason codes."""

from __future__ import annotations

import pytest

from ireserve_salto_plugin.models import Reason
from ireserve_salto_plugin.park.fields import SettingsError
from ireserve_salto_plugin.salto.errors import (
    AuthError,
    NotActivated,
    NotFound,
    OtpBlocked,
    OtpMissing,
    OtpRejected,
    PermissionDenied,
    Refused,
    SaltoError,
    StoreUnavailable,
    Unavailable,
    error_for,
)


@pytest.mark.parametrize(
    "status,body,cls",
    [
        (403, {"ErrorCode": 3102, "Message": "otp_blocked"}, OtpBlocked),
        (400, {"ErrorCode": "3102", "Message": "otp_invalid"}, OtpRejected),
        (404, {"ErrorCode": "2202", "Message": "Otp is invalid"}, OtpMissing),  # configuration
        (403, {"ErrorCode": 2203, "Message": "pin_not_changed"}, NotActivated),
        (400, {"ErrorCode": 2210, "Message": "Site not released"}, PermissionDenied),
        (403, {"ErrorCode": 2212}, PermissionDenied),
        (403, {"ErrorCode": 2203, "Message": "Operation cannot be executed."}, PermissionDenied),
        (401, None, AuthError),
        (404, {"ErrorCode": 1101, "Message": "Lock not found."}, NotFound),
        (400, {"ErrorCode": 1100}, Refused),
        (429, None, Unavailable),
        (500, {"ErrorCode": 2201}, Unavailable),
        (503, "not even a dict", Unavailable),
    ],
)
def test_the_table(status: int, body: object, cls: type[SaltoError]) -> None:
    error = error_for(status, body, method="PATCH", path="/v1.2/sites/s/locks/l/locking")
    assert type(error) is cls and error.status == status
    assert error.reason is cls.reason


def test_messages_name_the_call_and_code_but_never_the_body() -> None:
    error = error_for(
        400,
        {"ErrorCode": 3102, "Message": "otp_invalid secret=abc"},
        method="PUT",
        path="/v1.2/sites/s/iqs/i/pin",
    )
    assert str(error) == (
        "Salto KS answered HTTP 400 (ErrorCode 3102) to PUT /v1.2/sites/s/iqs/i/pin"
    )
    assert "secret" not in str(error) and "secret" not in repr(error)
    assert error.salto_message == "otp_invalid secret=abc"  # kept for diagnosis only


def test_every_error_has_a_documented_reason() -> None:
    """The client's errors carry the contract's reason codes as plain strings (the client
    imports nothing of the plugin): each one is a ``Reason``."""
    for cls in (
        AuthError,
        PermissionDenied,
        NotFound,
        Refused,
        OtpRejected,
        OtpBlocked,
        NotActivated,
        Unavailable,
        StoreUnavailable,
    ):
        assert Reason(cls.reason).value == cls.reason
    assert Reason(StoreUnavailable("x").reason) is Reason.STORE_UNAVAILABLE


def test_settings_error_keeps_the_fields() -> None:
    error = SettingsError("pin: Must be exactly 4 digits.", {"pin": ["Must be exactly 4 digits."]})
    assert error.fields == {"pin": ["Must be exactly 4 digits."]}
