"""The open's sign-and-send step, and what Salto's answer to it means.

One code, signed with Salto's time just before it goes, sent inside one of the IQ's OTP
slots (:meth:`OtpBudget.slot`); Salto's rejection or block is counted for every command to
that IQ. Once Salto accepted the command the lock opened: the bookkeeping after it (booking
updates, Salto's time for the receipt) never turns that into a failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ireserve_salto_plugin.flow.attempt import Attempt, door_log_intent
from ireserve_salto_plugin.flow.context import ParkContext
from ireserve_salto_plugin.flow.decision import Stay
from ireserve_salto_plugin.flow.preflight import Checked, offline_reason
from ireserve_salto_plugin.models import OpenResult, Reason
from ireserve_salto_plugin.park.messages import (
    MAY_HAVE_OPENED,
    NOT_SENT,
    NOW_SUSPENDED,
    OTP_MISSING,
    auth_cause,
)
from ireserve_salto_plugin.park.settings import Settings
from ireserve_salto_plugin.park.text import iso_utc, local_time
from ireserve_salto_plugin.salto.cache import Push
from ireserve_salto_plugin.salto.clock import Clock
from ireserve_salto_plugin.salto.errors import (
    AuthError,
    NotFound,
    OtpBlocked,
    OtpMissing,
    OtpRejected,
    SaltoError,
    StoreUnavailable,
    Timeout,
    Unavailable,
)
from ireserve_salto_plugin.salto.gateway import SaltoGateway
from ireserve_salto_plugin.salto.otp import salto_otp
from ireserve_salto_plugin.salto.types import Lock
from ireserve_salto_plugin.store.dedup import OpenBatch
from ireserve_salto_plugin.store.guards import (
    BudgetRefused,
    IqBusy,
    OtpBudget,
    Refusal,
    credentials_mark,
)

log = logging.getLogger("ireserve_salto_plugin.flow.service")

# Refusals after which one read of the lock tells whether it or its IQ is offline (the
# locking call's error for that case is not documented: docs/salto-ks-api.md, "Offline").
DIAGNOSE = (Reason.SALTO_REJECTED, Reason.SALTO_UNAVAILABLE, Reason.PERMISSION_DENIED)


class Sender:
    """Signs and sends one open command, and turns Salto's answer into the result."""

    def __init__(self, budget: OtpBudget, clock: Clock) -> None:
        self.budget, self.clock = budget, clock

    def send(
        self,
        ctx: ParkContext,
        gateway: SaltoGateway,
        site_id: str,
        checked: Checked,
        stay: Stay | None,
        attempt: Attempt,
        claim: OpenBatch,
    ) -> OpenResult:
        """The PATCH itself, inside the IQ's OTP budget (checked by the preflight); without
        a code when the IQ takes none (``otp_enabled`` false and not activated)."""
        lock, iq = checked.lock, checked.iq
        assert lock is not None

        def sign() -> str | None:
            if iq is None or iq.secret is None or iq.pin is None:
                return None
            return salto_otp(iq.secret, iq.pin, gateway.salto_now())

        # who asked, in the door log before the command goes: written with the IQ's slot
        # (one script), so a process that dies before Salto's answer leaves a receipt
        at, now = gateway.salto_now(), self.clock.utcnow()
        intent = door_log_intent(ctx.account.key, ctx.park_tag, attempt, lock.id, at, now)
        attempt.intent = True
        if iq is None:  # an IQ that takes opens without a code: no budget, no slot
            try:
                claim.store.write([], [], intent)
            except StoreUnavailable as exc:
                log.warning("salto open attempt=%s: no intent written: %s", attempt.attempt_id, exc)
            attempt.command_sent = True
            gateway.open_lock(site_id, lock.id, sign=sign)
        else:
            failed = self._within_budget(
                gateway, site_id, lock, (sign, intent), attempt, checked, claim
            )
            if failed is not None:
                return failed
        return self._opened(ctx.settings, gateway, stay, attempt)

    def _within_budget(
        self,
        gateway: SaltoGateway,
        site_id: str,
        lock: Lock,
        steps: tuple[Callable[[], str | None], list[Push]],
        attempt: Attempt,
        checked: Checked,
        claim: OpenBatch,
    ) -> OpenResult | None:
        """The PATCH inside one of the IQ's slots: ``None`` when Salto accepted it, else the
        result (refused or busy before anything was sent, or Salto's rejection or block).
        The slot is given back with the open's result script (``claim``), not in a round
        trip of its own."""
        account, budget, iq_id = gateway.account.key, self.budget, lock.iq_id or ""
        sign, intent = steps  # the code, signed as late as possible; the door log's intent
        assert checked.iq is not None
        mark = credentials_mark(checked.iq.secret, checked.iq.pin)
        deadline = gateway.transport.deadline
        try:
            with budget.slot(
                deadline,
                account,
                iq_id,
                mark,
                checked.budget,
                release=claim.deletes.extend,
                intent=intent,
            ) as state:
                attempt.command_sent = True
                try:
                    gateway.open_lock(site_id, lock.id, sign=sign)
                except OtpBlocked:
                    return self.refused(attempt, Refusal(True, budget.blocked(account, iq_id)))
                except OtpRejected:
                    refusal = budget.rejected(account, iq_id)
                    if refusal is None:
                        return attempt.done(Reason.OTP_REJECTED)
                    until = self._until(attempt, refusal)
                    return attempt.done(Reason.OTP_REJECTED, detail=NOW_SUSPENDED, until=until)
                if not state.known_good:  # before the slot is free: the next may go beside
                    best_effort(budget.accepted, account, iq_id, mark)
        except BudgetRefused as exc:
            return self.refused(attempt, exc.refusal)
        except IqBusy as exc:
            return attempt.done(Reason.IQ_BUSY, retry_after=exc.retry_after)
        return None

    def _opened(
        self, settings: Settings, gateway: SaltoGateway, stay: Stay | None, attempt: Attempt
    ) -> OpenResult:
        """The lock opened: from here on nothing may turn that into a failure."""
        opened_at = self.clock.utcnow().replace(microsecond=0)
        attempt.salto_at = _salto_now(gateway)
        updates: dict[str, Any] = {}
        new_status = None
        try:
            if stay is not None and settings.open_field:
                updates[settings.open_field] = iso_utc(opened_at)
            if stay is not None and settings.checkin_status != stay.status:
                new_status = settings.checkin_status
        except Exception:
            log.exception(
                "salto open attempt=%s: bookkeeping after the open failed", attempt.attempt_id
            )
        return attempt.done(
            Reason.OPENED, opened_at=opened_at, booking_updates=updates, new_status=new_status
        )

    def refused(self, attempt: Attempt, refusal: Refusal) -> OpenResult:
        """No code goes to the IQ now: the reason, until when, and what to do."""
        return attempt.done(
            Reason.OTP_BLOCKED if refusal.blocked else Reason.OTP_SUSPENDED,
            retry_after=round(refusal.retry_after),
            until=self._until(attempt, refusal),
        )

    def _until(self, attempt: Attempt, refusal: Refusal) -> str:
        return local_time(
            self.clock.utcnow() + timedelta(seconds=refusal.retry_after), attempt.zone
        )

    def failed(
        self,
        exc: SaltoError,
        gateway: SaltoGateway,
        site_id: str | None,
        lock_id: str,
        attempt: Attempt,
        settings: Settings,
    ) -> OpenResult:
        """Salto's error (or none at all) as the open's result."""
        if isinstance(exc, StoreUnavailable):
            raise exc
        if isinstance(exc, Timeout):
            attempt.maybe_opened = attempt.command_sent and exc.sent
            detail = MAY_HAVE_OPENED if attempt.maybe_opened else NOT_SENT
            return attempt.done(Reason.TIMEOUT, detail=detail)
        reason = Reason(exc.reason)
        if attempt.command_sent and _answer_lost(exc):
            # the connection broke after the command left: Salto may have taken it
            attempt.maybe_opened = True
            return attempt.done(reason, detail=MAY_HAVE_OPENED, details=str(exc))
        if attempt.command_sent and _answered_with_an_error(exc):
            attempt.answered_error = True  # Salto had the command: never "simply retry"
            return attempt.done(reason, details=str(exc), retry_after=exc.retry_after)
        if site_id is not None and reason in DIAGNOSE:
            reason = _diagnose(gateway, site_id, lock_id) or reason
        if reason is Reason.SALTO_REJECTED and isinstance(exc, NotFound):
            if exc.path and "/locks/" in exc.path:
                reason = Reason.LOCK_NOT_FOUND
        account = gateway.account.username
        detail = ""
        if isinstance(exc, AuthError):
            detail = auth_cause(exc.code, account, attempt.lang)
        elif isinstance(exc, OtpMissing):
            detail = OTP_MISSING
        return attempt.done(
            reason,
            detail=detail,
            details=str(exc),
            retry_after=exc.retry_after,
            account=repr(account),
            site_uid=settings.site_uid,
        )


def _answer_lost(exc: SaltoError) -> bool:
    """The open command left (the connection was made) and no answer came back: the
    connection was reset or closed while Salto had it."""
    return (
        isinstance(exc, Unavailable) and exc.sent and exc.method == "PATCH" and exc.status is None
    )


def _answered_with_an_error(exc: SaltoError) -> bool:
    """Salto answered the open command itself with a 5xx: it had the command."""
    return (
        isinstance(exc, Unavailable)
        and exc.sent
        and exc.method == "PATCH"
        and exc.status is not None
        and exc.status >= 500
    )


def _diagnose(gateway: SaltoGateway, site_id: str, lock_id: str) -> Reason | None:
    """After an unexplained refusal of the open, ask Salto whether lock or IQ is offline
    (the API does not document the locking call's error for that case)."""
    try:
        return offline_reason(gateway.lock(site_id, lock_id))
    except SaltoError:
        return None


def _salto_now(gateway: SaltoGateway) -> datetime | None:
    """Salto's time now (its log's clock), to the second; ``None`` if it cannot be had."""
    try:
        return gateway.salto_now().replace(microsecond=0)
    except Exception:  # bookkeeping after the command: never a reason to fail the open
        log.exception("salto clock not readable after the open")
        return None


def best_effort(action: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Bookkeeping after the command: a store failure is logged, never raised, so a lock
    that opened is reported as opened."""
    try:
        action(*args, **kwargs)
    except StoreUnavailable as exc:
        log.warning("salto bookkeeping skipped (%s): %s", action.__name__, exc)
