"""The open flow behind ``on_open_request``, and the service that holds the plugin's
collaborators (store, session, tuning, clock, guards, park contexts) for every hook.

An open: settings and the park's zone → the decision (status, window, lock) → the duplicate
guard → the preflight (lock, IQ activated, OTP budget, online) → one signed command. Every
failure becomes a documented result; a lock that opened is reported opened, whatever fails
after the command.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import requests

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.flow import access, explain
from ireserve_salto_plugin.flow.attempt import Attempt, receipt_writes
from ireserve_salto_plugin.flow.boundary import never_raises
from ireserve_salto_plugin.flow.context import ParkContext, Parks, raw_settings
from ireserve_salto_plugin.flow.decision import (
    BookingError,
    Decision,
    booking_doors,
    decide,
    read_booking,
    resolve_lock,
    to_utc,
)
from ireserve_salto_plugin.flow.preflight import Checked, offline_reason, preflight, structural
from ireserve_salto_plugin.models import (
    AccessInfo,
    Booking,
    Door,
    Explanation,
    OpenResult,
    Outcome,
    Park,
    Readiness,
    Reason,
)
from ireserve_salto_plugin.park.fields import SettingsError
from ireserve_salto_plugin.park.i18n import guest_language, host_language, translate
from ireserve_salto_plugin.park.messages import (
    GUEST_CALL,
    MAY_HAVE_OPENED,
    NOT_SENT,
    NOW_SUSPENDED,
    OTP_MISSING,
    STILL_RUNNING,
    auth_cause,
    staff_message,
)
from ireserve_salto_plugin.park.platform import PlatformReader
from ireserve_salto_plugin.park.settings import Settings
from ireserve_salto_plugin.park.text import host_attr, host_text, iso_utc, local_time
from ireserve_salto_plugin.salto.cache import Store
from ireserve_salto_plugin.salto.clock import SYSTEM_CLOCK, Clock
from ireserve_salto_plugin.salto.config import Tuning
from ireserve_salto_plugin.salto.errors import (
    AuthError,
    NotFound,
    OtpBlocked,
    OtpMissing,
    OtpRejected,
    SaltoError,
    StoreUnavailable,
    Timeout,
)
from ireserve_salto_plugin.salto.gateway import SaltoGateway
from ireserve_salto_plugin.salto.otp import salto_otp
from ireserve_salto_plugin.salto.session import make_session
from ireserve_salto_plugin.salto.telemetry import Telemetry
from ireserve_salto_plugin.salto.types import canonical_uuid
from ireserve_salto_plugin.store.guards import (
    BudgetRefused,
    BudgetState,
    Dedup,
    Duplicate,
    IqBusy,
    OpenBatch,
    OtpBudget,
    Refusal,
    credentials_mark,
)
from ireserve_salto_plugin.store.memory import MemoryStore

log = logging.getLogger(__name__)

# Refusals after which one read of the lock tells whether it or its IQ is offline (the
# locking call's error for that case is not documented: docs/salto-ks-api.md, "Offline").
# ``lock_id`` of ``open`` when the hook was on_open_request (the booking's own lock); any
# other value, None included, came from on_open_door and must be one of the booking's doors
OWN_LOCK: Any = object()
DIAGNOSE = (Reason.SALTO_REJECTED, Reason.SALTO_UNAVAILABLE, Reason.PERMISSION_DENIED)


class SaltoKsService:
    """Everything the hooks need, for any number of parks. Thread-safe."""

    def __init__(
        self,
        *,
        store: Store | None = None,
        session: requests.Session | None = None,
        environ: Mapping[str, str] | None = None,
        tuning: Tuning | None = None,
        clock: Clock = SYSTEM_CLOCK,
        config_error: SettingsError | None = None,
        telemetry: Telemetry | None = None,
        budget_store: Store | None = None,
    ) -> None:
        """``budget_store``: where the OTP budget lives when not in ``store`` (the support
        CLI without Redis: a state file it shares with its later runs)."""
        self.store: Store = store if store is not None else MemoryStore()
        self.session = session if session is not None else make_session()
        self.tuning = tuning = tuning or Tuning()
        self.clock = clock
        self.telemetry = telemetry = telemetry if telemetry is not None else Telemetry()
        if hasattr(self.store, "on_error"):
            self.store.on_error = telemetry.store_error
        self.parks = Parks(
            session=self.session,
            store=self.store,
            tuning=tuning,
            clock=clock,
            platform=PlatformReader(environ),
            config_error=config_error,
            telemetry=telemetry,
        )
        self.budget = OtpBudget(
            budget_store if budget_store is not None else self.store,
            block_seconds=tuning.otp_block_seconds,
            window=tuning.otp_window_seconds,
            clock=clock,
        )
        self.dedup = Dedup(
            self.store,
            window=tuning.dedup_seconds,
            clock=clock,
            claim_seconds=tuning.open_deadline + tuning.dedup_margin,
        )

    def context(self, park: Park, *, partial: bool = False) -> ParkContext:
        """A park's context, for tools and tests; ``SettingsError`` when not usable,
        ``LookupError`` when the park has not enabled the plugin."""
        raw = raw_settings(park)
        if raw is None:
            raise LookupError("the park has not enabled the salto_ks integration")
        return self.parks.context(park, raw, partial=partial)

    # -- the other hooks ---------------------------------------------------------------------

    @never_raises(
        "on_booking_status",
        lambda: AccessInfo(INTEGRATION, False, None, None, None, None, [Reason.INTERNAL_ERROR]),
    )
    def access_info(self, park: Park, booking: Booking, new_status: str) -> AccessInfo | None:
        return access.access_info(self.parks, self.budget, park, booking, new_status)

    @never_raises("mapping_options", list)
    def mapping_options(self, park: Park, refresh: bool) -> list[dict[str, Any]] | None:
        return access.mapping_options(self.parks, park, refresh)

    @never_raises(
        "explain_access",
        lambda: Explanation(
            INTEGRATION,
            Reason.INTERNAL_ERROR,
            "The Salto KS plugin hit an unexpected error; the log has details.",
            None,
            None,
            None,
        ),
    )
    def explain(self, park: Park, booking: Booking, now: datetime | None) -> Explanation | None:
        return explain.explain(self.parks, self.budget, self.clock, park, booking, now)

    @never_raises("access_doors", list)
    def doors(self, park: Park, booking: Booking, now: datetime | None) -> list[Door] | None:
        return explain.doors(self.parks, self.budget, self.clock, park, booking, now)

    @never_raises("readiness", lambda: Readiness(INTEGRATION, [], {Reason.INTERNAL_ERROR.value: 1}))
    def readiness(self, park: Park, bookings: Any, now: datetime | None) -> Readiness | None:
        items = list(bookings) if isinstance(bookings, list | tuple) else []
        return explain.readiness(self.parks, self.budget, self.clock, park, items, now)

    # -- on_open_request -------------------------------------------------------------------

    def open(
        self,
        park: Park,
        booking: Booking,
        requested_by: Any,
        now: datetime | None,
        *,
        lock_id: Any = OWN_LOCK,
    ) -> OpenResult | None:
        """``on_open_request`` (the booking's own lock), or ``on_open_door`` (``lock_id``:
        one of the booking's doors, by the same rules)."""
        raw = raw_settings(park)
        if raw is None:
            return None
        attempt = Attempt(
            attempt_id(), host_attr(park, "id"), host_attr(booking, "id"), requested_by
        )
        attempt.lang, attempt.guest_lang = host_language(park), host_language(booking)
        with self.telemetry.open_span() as span:
            try:
                result = self._open(park, raw, booking, now, attempt, lock_id)
            except Exception:
                log.exception("salto open attempt=%s failed unexpectedly", attempt.attempt_id)
                if attempt.result is not None and attempt.result.opened:
                    result = attempt.result  # the lock opened: say so, whatever failed after
                else:
                    result = attempt.done(Reason.INTERNAL_ERROR)
            try:
                if self.telemetry.enabled:  # the fields are built only when they are used
                    self.telemetry.opened(span, attempt.fields(), attempt.seconds())
            except Exception:  # metrics are never a reason to lose a result
                log.exception("salto telemetry failed")
            return result

    def test_open(
        self, park: Park, lock_id: str, requested_by: str, why: str | None = None
    ) -> OpenResult | None:
        """An audited open of one lock staff chose, without a booking: a test open (the
        only proof that the IQ itself takes the stored secret and PIN; a self-test is
        checked in Salto's cloud only), or with ``why`` a staff open (housekeeping,
        maintenance). Same OTP budget, duplicate guard and receipt as any open; no booking
        updates; the log line says which it was, by whom and why."""
        raw = raw_settings(park)
        if raw is None:
            return None
        kind = "test-open" if why is None else "staff-open"
        attempt = Attempt(attempt_id(), host_attr(park, "id"), kind, requested_by)
        attempt.lang = attempt.guest_lang = host_language(park)
        attempt.kind, attempt.why = ("test", "") if why is None else ("staff", host_text(why))
        attempt.lock_id = lock_id
        try:
            ctx = self.parks.context(park, raw, partial=True)
            attempt.zone = ctx.zone
            if not ctx.settings.enabled:
                return attempt.done(Reason.INTEGRATION_INACTIVE)
            if why is None:
                log.info(
                    "salto test open of lock %s requested by %s (attempt=%s)",
                    lock_id,
                    attempt.requested_by,
                    attempt.attempt_id,
                )
            else:
                log.info(
                    "salto staff open of lock %s requested by %s, reason %s (attempt=%s)",
                    lock_id,
                    attempt.requested_by,
                    host_text(why),
                    attempt.attempt_id,
                )
            return self._guarded_open(ctx, None, lock_id, attempt)
        except SettingsError as exc:
            return attempt.done(Reason.SETTINGS_INVALID, detail=exc.describe(attempt.lang))
        except StoreUnavailable:
            return attempt.done(Reason.STORE_UNAVAILABLE)
        except Exception:
            log.exception("salto test open attempt=%s failed unexpectedly", attempt.attempt_id)
            if attempt.result is not None and attempt.result.opened:
                return attempt.result
            return attempt.done(Reason.INTERNAL_ERROR)

    def _open(
        self,
        park: Park,
        raw: Any,
        booking: Booking,
        now: datetime | None,
        attempt: Attempt,
        door: Any = OWN_LOCK,
    ) -> OpenResult:
        try:
            ctx = self.parks.context(park, raw)
            attempt.zone = ctx.zone
        except SettingsError as exc:
            return attempt.done(Reason.SETTINGS_INVALID, detail=exc.describe(attempt.lang))
        settings = ctx.settings
        attempt.guest_lang = guest_language(booking, settings.guest_address)
        attempt.way_out = way_out(settings, attempt.guest_lang)
        if not settings.enabled:
            return attempt.done(Reason.INTEGRATION_INACTIVE)
        try:
            decision, own = self._decide(ctx, booking, now, door)
        except BookingError as exc:
            return attempt.done(Reason.BOOKING_INVALID, detail=str(exc))
        if decision.reason is Reason.DOOR_NOT_ALLOWED:
            attempt.lock_id = host_text(door, 60) if door is not None else None
            return attempt.done(Reason.DOOR_NOT_ALLOWED)
        attempt.lock_id = decision.lock_id
        attempt.window = decision.window.opens_at, decision.window.closes_at
        if not decision.allowed or decision.lock_id is None:
            blocker = self._blocker(ctx, decision.lock_id, attempt)
            return blocker or attempt.done(
                decision.reason, status=host_text(getattr(booking, "status", None))
            )
        try:  # booking updates (open time, check-in) only for the booking's own lock
            return self._guarded_open(
                ctx, booking if decision.lock_id == own else None, decision.lock_id, attempt
            )
        except StoreUnavailable as exc:
            log.warning("salto open attempt=%s: %s", attempt.attempt_id, exc)
            return attempt.done(Reason.STORE_UNAVAILABLE)

    def _blocker(
        self, ctx: ParkContext, lock_id: str | None, attempt: Attempt
    ) -> OpenResult | None:
        """Before a denial by status or window: what staff must fix first (lock not on the
        site, IQ not activated or reset), so the guest is not told "from 15:00" when the
        door will not open at 15:00 either. Nothing is sent; when Salto or the store cannot
        be asked, the denial stands as it is."""
        if lock_id is None:
            return None
        try:
            gateway = ctx.gateway(self.tuning.open_deadline)
            lock, finding = structural(ctx.settings, gateway, ctx.site_id(gateway), lock_id)
        except SaltoError as exc:
            log.info(
                "salto open attempt=%s: structural check skipped (%s)",
                attempt.attempt_id,
                exc.reason,
            )
            return None
        if finding is None:
            return None
        attempt.lock_name = lock.name if lock is not None else None
        return attempt.done(finding.reason, detail=finding.detail)

    def _decide(
        self, ctx: ParkContext, booking: Booking, now: datetime | None, door: Any = OWN_LOCK
    ) -> tuple[Decision, str | None]:
        """The decision for the booking's own lock, or for ``door`` when it is one of the
        booking's doors (else ``door_not_allowed``); and the booking's own lock."""
        settings = ctx.settings
        facts = read_booking(booking, ctx.zone, settings.minutes_before, settings.minutes_after)
        instant = self.clock.utcnow() if now is None else to_utc(now, ctx.zone, "now")
        own = resolve_lock(facts.object_id, settings.mapping, settings.default_lock_id)
        lock_id = own
        if door is not OWN_LOCK:  # on_open_door: a door of the booking's, or refused
            lock_id = door_id(door)
            doors = booking_doors(settings.own_locks(facts.object_id), settings.common_locks)
            if lock_id not in {lock for lock, _ in doors}:
                return Decision(Reason.DOOR_NOT_ALLOWED, None, facts.window), own
        return decide(
            status=facts.status,
            open_statuses=settings.opening_statuses,
            window=facts.window,
            now=instant,
            lock_id=lock_id,
        ), own

    def _guarded_open(
        self, ctx: ParkContext, booking: Booking | None, lock_id: str, attempt: Attempt
    ) -> OpenResult:
        """One open per (park, booking, lock, requester) within the dedup window, across
        workers, in two store round trips when warm (:class:`OpenBatch`): the claim with
        the budget and token reads, then the result with the receipt. Store failures after
        the command never turn an open into a failure."""
        gateway = ctx.gateway(self.tuning.open_deadline)
        dedup, account = self.dedup, ctx.account.key
        key = (
            Dedup.key(account, attempt.park_key, attempt.booking_key, lock_id, attempt.by_key)
            if dedup.window > 0
            else None
        )
        batch = OpenBatch(self.store, key, dedup.claim_seconds, (ctx.account.token_key,))
        site_id: str | None = None
        try:
            try:
                site_id = ctx.site_id(gateway)
                checked = preflight(
                    ctx.settings,
                    gateway,
                    site_id,
                    lock_id,
                    self.budget,
                    for_open=True,
                    claim_and_read=batch.claim if self.budget.store is self.store else None,
                )
                attempt.lock_name = checked.lock.name if checked.lock else None
                if checked.ready:
                    batch.claim()  # made already if the preflight read the IQ's budget
                    result = self._signed_open(
                        ctx, gateway, site_id, checked, booking, attempt, batch
                    )
                elif checked.budget is not None and checked.budget.refusal is not None:
                    result = self._refused(attempt, checked.budget.refusal)
                else:
                    finding = checked.findings[0]
                    result = attempt.done(
                        finding.reason, retry_after=finding.retry_after, detail=finding.detail
                    )
            except SaltoError as exc:
                result = self._failed(
                    exc, gateway, site_id, lock_id, attempt, ctx.settings.site_uid
                )
        except Duplicate:
            return self._repeat(
                attempt,
                dedup.wait(key, gateway.transport.deadline or 0.0) if key is not None else None,
            )
        except BaseException:
            if key is not None and batch.claimed:
                _best_effort(dedup.release, key)
            raise
        if key is not None and batch.claimed:
            # Taps waiting now get this result; after a failure a deliberate retry may go
            # through again soon, after an open only once the window has passed.
            batch.sets.append(
                dedup.published(
                    key,
                    {
                        "outcome": result.outcome.value,
                        "reason": result.reason.value,
                        "message": result.message,
                        "attempt_id": result.attempt_id,
                        "opened_at": result.opened_at.isoformat() if result.opened_at else None,
                        "retry_after": result.retry_after,
                    },
                    ttl=None if result.opened else self.tuning.failed_dedup_seconds,
                )
            )
        batch.sets.extend(
            receipt_writes(account, ctx.park_tag, result, ctx.settings.site_id, attempt)
        )
        _best_effort(batch.finish)
        return result

    def _repeat(self, attempt: Attempt, first: dict[str, Any] | None) -> OpenResult:
        if first is None:
            return attempt.done(
                Reason.DUPLICATE,
                outcome=Outcome.FAILED,
                retry_after=self.dedup.window,
                first=STILL_RUNNING,
            )
        opened_at = first.get("opened_at")
        try:  # the first attempt's reason, said again in this tap's language
            summary = staff_message(
                Reason(str(first.get("reason"))),
                attempt.lang,
                {
                    "lock": attempt.lock_name or attempt.lock_id or "?",
                    "detail": "",
                    "minutes": "?",
                    "attempt": first.get("attempt_id"),
                },
            )
        except ValueError:
            summary = "?"
        try:
            at = datetime.fromisoformat(opened_at) if opened_at else None
        except ValueError:
            at = None
        return attempt.done(
            Reason.DUPLICATE,
            outcome=Outcome(first["outcome"]),
            opened_at=at,
            retry_after=first.get("retry_after"),
            first=summary,
            details=f"attempt {first.get('attempt_id')}: {first.get('message')}",
        )

    def _failed(
        self,
        exc: SaltoError,
        gateway: SaltoGateway,
        site_id: str | None,
        lock_id: str,
        attempt: Attempt,
        site_uid: str,
    ) -> OpenResult:
        if isinstance(exc, StoreUnavailable):
            raise exc
        if isinstance(exc, Timeout):
            return attempt.done(
                Reason.TIMEOUT,
                detail=(MAY_HAVE_OPENED if attempt.command_sent and exc.sent else NOT_SENT),
            )
        reason = Reason(exc.reason)
        if site_id is not None and reason in DIAGNOSE:
            reason = self._diagnose(gateway, site_id, lock_id) or reason
        if (
            reason is Reason.SALTO_REJECTED
            and isinstance(exc, NotFound)
            and (exc.path and "/locks/" in exc.path)
        ):
            reason = Reason.LOCK_NOT_FOUND
        account = gateway.account.username
        detail = (
            auth_cause(exc.code, account, attempt.lang)
            if isinstance(exc, AuthError)
            else OTP_MISSING
            if isinstance(exc, OtpMissing)
            else ""
        )
        return attempt.done(
            reason,
            detail=detail,
            details=str(exc),
            retry_after=exc.retry_after,
            account=repr(account),
            site_uid=site_uid,
        )

    def _signed_open(
        self,
        ctx: ParkContext,
        gateway: SaltoGateway,
        site_id: str,
        checked: Checked,
        booking: Booking | None,
        attempt: Attempt,
        batch: OpenBatch,
    ) -> OpenResult:
        """The PATCH itself, inside the IQ's OTP budget (checked by the preflight); without
        a code when the IQ takes none (``otp_enabled`` false and not activated)."""
        lock, iq = checked.lock, checked.iq
        assert lock is not None
        iq_id = lock.iq_id or ""

        def sign() -> str | None:
            if iq is None or iq.secret is None or iq.pin is None:
                return None
            return salto_otp(iq.secret, iq.pin, gateway.salto_now())

        if iq is None:  # an IQ that takes opens without a code: no budget to spend
            attempt.command_sent = True
            gateway.open_lock(site_id, lock.id, sign=sign)
        else:
            failed = self._within_budget(
                gateway,
                site_id,
                lock.id,
                iq_id,
                sign,
                attempt,
                credentials_mark(iq.secret, iq.pin),
                checked.budget,
                batch,
            )
            if failed is not None:
                return failed
        # The lock opened: from here on nothing may turn that into a failure.
        opened_at = self.clock.utcnow().replace(microsecond=0)
        attempt.salto_at = _salto_now(gateway)
        updates: dict[str, Any] = {}
        new_status = None
        try:
            settings = ctx.settings
            if booking is not None and settings.open_field:
                updates[settings.open_field] = iso_utc(opened_at)
            if booking is not None and settings.checkin_status != getattr(booking, "status", None):
                new_status = settings.checkin_status
        except Exception:
            log.exception(
                "salto open attempt=%s: bookkeeping after the open failed", attempt.attempt_id
            )
        return attempt.done(
            Reason.OPENED, opened_at=opened_at, booking_updates=updates, new_status=new_status
        )

    def _within_budget(
        self,
        gateway: SaltoGateway,
        site_id: str,
        lock_id: str,
        iq_id: str,
        sign: Callable[[], str | None],
        attempt: Attempt,
        mark: float,
        known: BudgetState | None,
        batch: OpenBatch,
    ) -> OpenResult | None:
        """The PATCH inside one of the IQ's slots (:meth:`OtpBudget.slot`): ``None`` when
        Salto accepted it, else the result (refused or busy before anything was sent, or
        Salto's rejection or block, counted for every command to the IQ). The slot is given
        back with the open's result script (``batch``), not in a round trip of its own."""
        account, budget = gateway.account.key, self.budget
        try:
            with budget.slot(
                gateway.transport, account, iq_id, mark, known, release=batch.deletes.extend
            ) as state:
                attempt.command_sent = True
                try:
                    gateway.open_lock(site_id, lock_id, sign=sign)
                except OtpBlocked:
                    return self._refused(attempt, Refusal(True, budget.blocked(account, iq_id)))
                except OtpRejected:
                    refusal = budget.rejected(account, iq_id)
                    if refusal is None:
                        return attempt.done(Reason.OTP_REJECTED)
                    return attempt.done(
                        Reason.OTP_REJECTED,
                        detail=NOW_SUSPENDED,
                        until=self._until(attempt, refusal),
                    )
                if not state.known_good:  # before the slot is free: the next may go beside
                    _best_effort(budget.accepted, account, iq_id, mark)
        except BudgetRefused as exc:
            return self._refused(attempt, exc.refusal)
        except IqBusy as exc:
            return attempt.done(Reason.IQ_BUSY, retry_after=exc.retry_after)
        return None

    def _until(self, attempt: Attempt, refusal: Refusal) -> str:
        return local_time(
            self.clock.utcnow() + timedelta(seconds=refusal.retry_after), attempt.zone
        )

    def _refused(self, attempt: Attempt, refusal: Refusal) -> OpenResult:
        """No code goes to the IQ now: the reason, until when, and what to do."""
        return attempt.done(
            Reason.OTP_BLOCKED if refusal.blocked else Reason.OTP_SUSPENDED,
            retry_after=round(refusal.retry_after),
            until=self._until(attempt, refusal),
        )

    @staticmethod
    def _diagnose(gateway: SaltoGateway, site_id: str, lock_id: str) -> Reason | None:
        """After an unexplained refusal of the open, ask Salto whether lock or IQ is offline
        (the API does not document the locking call's error for that case)."""
        try:
            return offline_reason(gateway.lock(site_id, lock_id))
        except SaltoError:
            return None


def attempt_id() -> str:
    """A new attempt's id: 32 random hex characters (as ``uuid4().hex``, without building a
    UUID object on every open)."""
    return os.urandom(16).hex()


def door_id(value: Any) -> str | None:
    """A door the host names, in canonical form; ``None`` for what is no lock id."""
    try:
        return canonical_uuid(value) if isinstance(value, str) else None
    except ValueError:
        return None


def way_out(settings: Settings, lang: str) -> str:
    """What a guest whose door cannot open online should do instead, in ``lang``: the
    park's own text for that language, else a call to its reception phone; "" when the
    park set neither (the guest is then sent to reception)."""
    text = settings.guest_fallback_text.get(lang.split("_")[0])
    if text:
        return str(text)
    if settings.reception_phone:
        return translate(GUEST_CALL, lang).format(phone=settings.reception_phone)
    return ""


def _salto_now(gateway: SaltoGateway) -> datetime | None:
    """Salto's time now (its log's clock), to the second; ``None`` if it cannot be had."""
    try:
        return gateway.salto_now().replace(microsecond=0)
    except Exception:  # bookkeeping after the command: never a reason to fail the open
        log.exception("salto clock not readable after the open")
        return None


def _best_effort(action: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Bookkeeping after the command: a store failure is logged, never raised, so a lock
    that opened is reported as opened."""
    try:
        action(*args, **kwargs)
    except StoreUnavailable as exc:
        log.warning("salto bookkeeping skipped (%s): %s", action.__name__, exc)
