from datetime import UTC, datetime, timedelta, timezone

import pytest

from ireserve_salto_plugin.salto.otp import apply_delta, pin_delta, salto_otp
from ireserve_salto_plugin.sandbox.world import make_otp

NOON = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def test_reference_vectors() -> None:
    # docs/salto-ks-api.md, "OTP" (vectors computed from the formula): secret
    # 0123456789ABCDEF, PIN 1234.
    assert salto_otp("0123456789ABCDEF", "1234", NOON) == "008c4"
    assert salto_otp("0123456789ABCDEF", "1234", NOON + timedelta(seconds=1)) == "e4429"
    assert salto_otp("0123456789abcdef", "1234", NOON) == "5a1d3"


def test_uses_utc_whatever_the_offset_of_the_instant() -> None:
    plus_two = NOON.astimezone(timezone(timedelta(hours=2)))
    assert salto_otp("0123456789ABCDEF", "1234", plus_two) == "008c4"


def test_whole_second_no_rounding() -> None:
    assert salto_otp("0123456789ABCDEF", "1234", NOON.replace(microsecond=999_999)) == "008c4"


def test_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        salto_otp("0123456789ABCDEF", "1234", NOON.replace(tzinfo=None))


def test_sandbox_signer_agrees() -> None:
    assert make_otp("6F6A0B1C2D3E4F50", "4821", NOON) == salto_otp("6F6A0B1C2D3E4F50", "4821", NOON)


def test_delta_reference_example() -> None:
    # 6596 with delta 6995 gives 0601 (new = old - delta, digit-wise mod 10).
    assert apply_delta("6596", "6995") == "0601"
    assert pin_delta("6596", "0601") == "6995"


def test_keep_pin_is_zero_delta() -> None:
    assert pin_delta("4821", "4821") == "0000"


@pytest.mark.parametrize("old,new", [("0000", "9999"), ("1234", "4321"), ("9090", "0909")])
def test_delta_round_trip(old: str, new: str) -> None:
    assert apply_delta(old, pin_delta(old, new)) == new


@pytest.mark.parametrize("old,new", [("123", "1234"), ("12a4", "1234")])
def test_delta_rejects_bad_pins(old: str, new: str) -> None:
    with pytest.raises(ValueError):
        pin_delta(old, new)


def test_a_wrong_pin_can_pass_by_chance_so_tests_take_one_that_cannot() -> None:
    """Seen in CI: PIN 4328 signed a code that Salto's window accepts for PIN 4327 (five hex
    characters, +-180 s). The sandbox's wrong PIN for tests is never such a PIN."""
    from ireserve_salto_plugin.sandbox.records import Activation
    from ireserve_salto_plugin.sandbox.world import OTP_WINDOW, World

    secret, at = "5BFA1E53814B9A43", datetime(2027, 12, 1, 14, 17, 43, tzinfo=UTC)
    assert World.otp_matches(make_otp(secret, "4328", at), secret, "4327", at)
    wrong = World.pin_that_cannot_pass(Activation(secret, pin="4327"), at)
    assert wrong not in ("4327", "4328")
    real: dict[str, list[int]] = {}
    for s in range(-240, 781):
        real.setdefault(make_otp(secret, "4327", at + timedelta(seconds=s)), []).append(s)
    assert all(
        abs(t - s) > OTP_WINDOW
        for t in range(-60, 601)
        for s in real.get(make_otp(secret, wrong, at + timedelta(seconds=t)), [])
    )
