"""Typed errors for everything Salto KS or the network can answer.

One base class with structured context and a small set of subclasses, each carrying the
reason code the plugin reports (a plain string here, the value of the host contract's
``Reason``: this package knows nothing of the plugin around it). Messages name the call and
Salto's error code; they never carry tokens, secrets, PINs, OTPs or response bodies.
Salto's own ``Message`` text is kept on ``salto_message`` for diagnosis, outside ``str()``.
"""

from __future__ import annotations

from typing import Any


class SaltoError(Exception):
    reason: str = "salto_unavailable"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        method: str | None = None,
        path: str | None = None,
        salto_message: str | None = None,
        retry_after: float | None = None,
        sent: bool = True,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.method = method
        self.path = path
        self.salto_message = salto_message
        self.retry_after = retry_after
        # False only when the request provably never reached Salto (safe to resend).
        self.sent = sent

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({str(self)!r}, status={self.status}, code={self.code!r}, "
            f"method={self.method!r}, path={self.path!r})"
        )


class AuthError(SaltoError):
    """The identity server or the API refused our credentials or token."""

    reason = "auth_failed"


class PermissionDenied(SaltoError):
    """The account lacks a right, a subscription, or the site is not released."""

    reason = "permission_denied"


class NotFound(SaltoError):
    reason = "salto_rejected"


class SiteNotFound(NotFound):
    reason = "site_not_found"


class Refused(SaltoError):
    """A 4xx that is not one of the above (invalid request, operation not allowed now)."""

    reason = "salto_rejected"


class OtpRejected(SaltoError):
    reason = "otp_rejected"


class OtpBlocked(SaltoError):
    reason = "otp_blocked"


class NotActivated(SaltoError):
    """The account's IQ activation (Set PIN) is not complete."""

    reason = "iq_not_activated"


class OtpMissing(NotActivated):
    """404 ``2202`` "Otp is invalid": the command carried no code, and the IQ needs one
    (it was believed to take opens without one). A configuration error, never a rejected
    code: nothing is counted against the IQ's OTP budget."""


class Unavailable(SaltoError):
    """5xx, 429, connection failures and answers that are not what the API documents."""

    reason = "salto_unavailable"


class Timeout(Unavailable):
    reason = "timeout"


class StoreUnavailable(SaltoError):
    """The runtime store (Redis) failed or did not answer in time. Not Salto's fault, but
    a failure of the same kind for the caller: nothing was sent after it."""

    reason = "store_unavailable"


def _text(value: Any) -> str | None:
    return str(value)[:200] if value not in (None, "") else None


# (HTTP status or None, ErrorCode or None, lower-case Message fragment or None, class).
# First match wins. Status and code decide (docs/salto-ks-api.md, "OTP blocks", "Errors");
# message text is only a fallback where Salto gives no code. ErrorCode is compared as a
# string: Salto sends it as a number and as a string.
_TABLE: tuple[tuple[int | None, str | None, str | None, type[SaltoError]], ...] = (
    (403, "3102", None, OtpBlocked),  # whatever the message says
    (None, "3102", None, OtpRejected),
    (None, None, "otp_blocked", OtpBlocked),
    (None, None, "otp_invalid", OtpRejected),
    (None, "2202", "otp", OtpMissing),  # a missing code on an otp_enabled IQ
    (None, None, "pin_not_changed", NotActivated),
    (None, "2210", None, PermissionDenied),
    (None, "2212", None, PermissionDenied),
)


def error_for(
    status: int, body: Any, *, method: str, path: str, retry_after: float | None = None
) -> SaltoError:
    """The one status/ErrorCode → error table for API answers that are not 2xx."""
    code = message = None
    if isinstance(body, dict):
        code = _text(body.get("ErrorCode", body.get("errorCode")))
        message = _text(body.get("Message", body.get("message", body.get("title"))))
    needle = (message or "").lower()
    cls: type[SaltoError] | None = None
    for want_status, want_code, want_text, candidate in _TABLE:
        if (
            (want_status is None or want_status == status)
            and (want_code is None or want_code == code)
            and (want_text is None or want_text in needle)
        ):
            cls = candidate
            break
    if cls is None:
        if status == 401:
            cls = AuthError
        elif status == 403:
            cls = PermissionDenied
        elif status == 404:
            cls = NotFound
        elif status == 429 or status >= 500:
            cls = Unavailable
        else:
            cls = Refused
    text = f"Salto KS answered HTTP {status}"
    if code:
        text += f" (ErrorCode {code})"
    return cls(
        f"{text} to {method} {path}",
        status=status,
        code=code,
        method=method,
        path=path,
        salto_message=message,
        retry_after=retry_after,
    )
