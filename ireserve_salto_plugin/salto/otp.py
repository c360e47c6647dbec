"""Salto KS one-time codes.

Salto's OTP is *not* RFC 6238 TOTP: it is the first five hex characters of
``md5(UTC "YYYYMMDDHHMMSS" + secret + pin)``, taken at the current UTC second
(docs/salto-ks-api.md, "OTP"). A TOTP library (pyotp) uses HMAC-SHA1 over a 30-second counter and
cannot produce it, so this is a small pure function instead.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

OTP_LENGTH = 5


def salto_otp(secret: str, pin: str, instant: datetime) -> str:
    """The code Salto expects for ``secret`` + ``pin`` at ``instant`` (aware datetime).

    The secret is used exactly as Salto returned it: its case changes the hash.
    """
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    t = instant if instant.tzinfo is UTC else instant.astimezone(UTC)
    # %-formatting of the six fields: a third of strftime's time, half of an f-string's
    stamp = "%04d%02d%02d%02d%02d%02d" % (  # noqa: UP031
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
    )
    return hashlib.md5(f"{stamp}{secret}{pin}".encode(), usedforsecurity=False).hexdigest()[
        :OTP_LENGTH
    ]


def pin_delta(old_pin: str, new_pin: str) -> str:
    """The ``delta`` for Set PIN: digit-wise ``(old - new) mod 10``, so that new = old - delta.

    ``pin_delta(p, p)`` is ``"0000"``: keep the PIN (a side-effect-free OTP check).
    """
    if len(old_pin) != len(new_pin) or not (old_pin + new_pin).isdigit():
        raise ValueError("PINs must be digit strings of equal length")
    return "".join(str((int(o) - int(n)) % 10) for o, n in zip(old_pin, new_pin, strict=True))


def apply_delta(old_pin: str, delta: str) -> str:
    """The PIN that results from ``delta``: digit-wise ``(old - delta) mod 10``."""
    if len(old_pin) != len(delta) or not (old_pin + delta).isdigit():
        raise ValueError("PIN and delta must be digit strings of equal length")
    return "".join(str((int(o) - int(d)) % 10) for o, d in zip(old_pin, delta, strict=True))
