"""The open, as one pipeline:

    decide → claim → preflight → sign and send → record

:meth:`Opening.guest` decides for a booking (``on_open_request``, ``on_open_door``);
:meth:`Opening.staff` takes a lock staff chose (a test or staff open). Both then run the
same :meth:`Opening.run`: claim the duplicate guard, check the lock and its IQ (the
preflight, the same checklist the explainer shows), sign one code and send it inside the
IQ's OTP budget (:mod:`.sending`), and record the result for waiting taps and the receipts
in one store round trip. Every failure becomes a documented result; a lock that opened is
reported opened, whatever fails after the command.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from ireserve_salto_plugin.flow.attempt import Attempt, door_log_push, receipt_writes
from ireserve_salto_plugin.flow.context import ParkContext, Parks
from ireserve_salto_plugin.flow.decision import (
    BookingError,
    BookingFacts,
    Decision,
    Stay,
    booking_doors,
    decide,
    read_booking,
    resolve_lock,
    to_utc,
)
from ireserve_salto_plugin.flow.preflight import preflight, structural
from ireserve_salto_plugin.flow.sending import Sender, best_effort
from ireserve_salto_plugin.models import OpenResult, Outcome, Park, Reason
from ireserve_salto_plugin.park.i18n import guest_language, translate
from ireserve_salto_plugin.park.messages import GUEST_CALL, STILL_RUNNING, staff_message
from ireserve_salto_plugin.park.settings import Settings
from ireserve_salto_plugin.park.text import host_text
from ireserve_salto_plugin.salto.errors import SaltoError
from ireserve_salto_plugin.salto.gateway import SaltoGateway
from ireserve_salto_plugin.salto.types import canonical_uuid
from ireserve_salto_plugin.store.dedup import Dedup, Duplicate, OpenBatch
from ireserve_salto_plugin.store.guards import OtpBudget

log = logging.getLogger("ireserve_salto_plugin.flow.service")

# ``lock_id`` of an open when the hook was on_open_request (the booking's own lock); any
# other value, None included, came from on_open_door and must be one of the booking's doors
OWN_LOCK: Any = object()


class Opening:
    """The open's steps, for any number of parks; holds no call's state (thread-safe)."""

    def __init__(self, parks: Parks, budget: OtpBudget, dedup: Dedup) -> None:
        self.parks, self.budget, self.dedup = parks, budget, dedup
        self.store, self.tuning, self.clock = parks.store, parks.tuning, parks.clock
        self.sender = Sender(budget, parks.clock)

    # -- decide ------------------------------------------------------------------------------

    def guest(
        self,
        attempt: Attempt,
        park: Park,
        raw: Any,
        booking: BookingFacts,
        now: datetime | None,
        door: Any = OWN_LOCK,
    ) -> OpenResult:
        """A guest's open: the booking's own lock, or ``door`` (one of the booking's doors,
        by the same rules). Booking updates (open time, check-in) only for its own lock."""
        ctx = self.parks.context(park, raw)
        settings = ctx.settings
        attempt.zone = ctx.zone
        attempt.guest_lang = guest_language(booking, settings.guest_address, attempt.lang)
        attempt.way_out = way_out(settings, attempt.guest_lang)
        if not settings.enabled:
            return attempt.done(Reason.INTEGRATION_INACTIVE)
        try:
            decision, stay, own = self.decide(ctx, booking, now, door)
        except BookingError as exc:
            return attempt.done(Reason.BOOKING_INVALID, detail=str(exc))
        if decision.reason is Reason.DOOR_NOT_ALLOWED:
            attempt.lock_id = host_text(door, 60) if door is not None else None
            return attempt.done(Reason.DOOR_NOT_ALLOWED)
        attempt.lock_id = decision.lock_id
        attempt.window = decision.window.opens_at, decision.window.closes_at
        if not decision.allowed or decision.lock_id is None:
            blocker = self._blocker(ctx, decision.lock_id, attempt)
            return blocker or attempt.done(decision.reason, status=host_text(stay.status))
        return self.run(ctx, decision.lock_id, attempt, stay if decision.lock_id == own else None)

    def decide(
        self, ctx: ParkContext, booking: BookingFacts, now: datetime | None, door: Any = OWN_LOCK
    ) -> tuple[Decision, Stay, str | None]:
        """The decision for the booking's own lock, or for ``door`` when it is one of the
        booking's doors (else ``door_not_allowed``); the checked booking; its own lock."""
        settings = ctx.settings
        stay = read_booking(booking, ctx.zone, settings.minutes_before, settings.minutes_after)
        instant = self.clock.utcnow() if now is None else to_utc(now, ctx.zone, "now")
        own = resolve_lock(stay.object_id, settings.mapping, settings.default_lock_id)
        lock_id = own
        if door is not OWN_LOCK:  # on_open_door: a door of the booking's, or refused
            lock_id = door_id(door)
            doors = booking_doors(settings.own_locks(stay.object_id), settings.common_locks)
            if lock_id not in {lock for lock, _ in doors}:
                return Decision(Reason.DOOR_NOT_ALLOWED, None, stay.window), stay, own
        decision = decide(
            status=stay.status,
            open_statuses=settings.opening_statuses,
            window=stay.window,
            now=instant,
            lock_id=lock_id,
        )
        return decision, stay, own

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
        attempt.lock_name = lock.name if lock is not None else None  # the denial names it
        if finding is None:
            return None
        return attempt.done(finding.reason, detail=finding.detail)

    def staff(self, attempt: Attempt, park: Park, raw: Any, lock_id: str) -> OpenResult:
        """A test or staff open of ``lock_id``: no decision, no booking updates."""
        ctx = self.parks.context(park, raw, partial=True)
        attempt.zone = ctx.zone
        if not ctx.settings.enabled:
            return attempt.done(Reason.INTEGRATION_INACTIVE)
        if attempt.kind == "test":
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
                attempt.why,
                attempt.attempt_id,
            )
        return self.run(ctx, lock_id, attempt, None)

    # -- claim → preflight → sign and send → record -------------------------------------------

    def run(
        self, ctx: ParkContext, lock_id: str, attempt: Attempt, stay: Stay | None
    ) -> OpenResult:
        """One open per (park, booking, lock, requester) within the dedup window, across
        workers, in two store round trips when warm (:class:`OpenBatch`): the claim with
        the budget and token reads, then the result with the receipt. A store that fails
        before the command raises ``StoreUnavailable``; after it, it is never a reason to
        fail."""
        gateway = ctx.gateway(self.tuning.open_deadline)
        claim = self._claim(ctx, lock_id, attempt)
        try:
            result = self._checked_send(ctx, gateway, lock_id, attempt, claim, stay)
        except Duplicate:
            first = None
            if claim.key is not None:
                first = self.dedup.wait(claim.key, gateway.transport.deadline)
            return self._repeat(attempt, first)
        except BaseException:
            if claim.key is not None and claim.claimed:
                best_effort(self.dedup.release, claim.key)
            raise
        self._record(ctx, claim, result, attempt)
        return result

    def _claim(self, ctx: ParkContext, lock_id: str, attempt: Attempt) -> OpenBatch:
        """The duplicate guard's claim (made with the preflight's first store read)."""
        key = None
        if self.dedup.window > 0:
            key = Dedup.key(
                ctx.account.key, attempt.park_key, attempt.booking_key, lock_id, attempt.by_key
            )
        return OpenBatch(self.store, key, self.dedup.claim_seconds, (ctx.account.token_key,))

    def _checked_send(
        self,
        ctx: ParkContext,
        gateway: SaltoGateway,
        lock_id: str,
        attempt: Attempt,
        claim: OpenBatch,
        stay: Stay | None,
    ) -> OpenResult:
        site_id: str | None = None
        try:
            site_id = ctx.site_id(gateway)
            checked = preflight(
                ctx.settings,
                gateway,
                site_id,
                lock_id,
                self.budget,
                for_open=True,
                claim_and_read=claim.claim if self.budget.store is self.store else None,
            )
            attempt.lock_name = checked.lock.name if checked.lock else None
            if checked.ready:
                claim.claim()  # made already if the preflight read the IQ's budget
                return self.sender.send(ctx, gateway, site_id, checked, stay, attempt, claim)
            if checked.budget is not None and checked.budget.refusal is not None:
                return self.sender.refused(attempt, checked.budget.refusal)
            finding = checked.findings[0]
            return attempt.done(
                finding.reason, retry_after=finding.retry_after, detail=finding.detail
            )
        except SaltoError as exc:
            return self.sender.failed(exc, gateway, site_id, lock_id, attempt, ctx.settings)

    def _record(
        self, ctx: ParkContext, claim: OpenBatch, result: OpenResult, attempt: Attempt
    ) -> None:
        """Taps waiting now get this result; after a failure a deliberate retry may go
        through again soon, after an open only once the window has passed. The receipts go
        in the same script. Best effort: the lock may have opened."""
        if claim.key is not None and claim.claimed:
            record = {
                "outcome": result.outcome.value,
                "reason": result.reason.value,
                "message": result.message,
                "attempt_id": result.attempt_id,
                "opened_at": result.opened_at.isoformat() if result.opened_at else None,
                "retry_after": result.retry_after,
            }
            # an open that may have happened (no answer came) holds the window as an open
            # does: a second command within it could open the door twice
            held = result.opened or attempt.maybe_opened
            ttl = None if held else self.tuning.failed_dedup_seconds
            claim.sets.append(self.dedup.published(claim.key, record, ttl=ttl))
        claim.sets.extend(
            receipt_writes(ctx.account.key, ctx.park_tag, result, ctx.settings.site_id, attempt)
        )
        claim.pushes.extend(
            door_log_push(ctx.account.key, ctx.park_tag, result, attempt, self.clock.utcnow())
        )
        best_effort(claim.finish)

    def _repeat(self, attempt: Attempt, first: dict[str, Any] | None) -> OpenResult:
        """A second tap within the window: the first attempt's result, or "still running"."""
        if first is None:
            attempt.waiting = True
            return attempt.done(
                Reason.DUPLICATE,
                outcome=Outcome.FAILED,
                retry_after=self.dedup.window,
                first=STILL_RUNNING,
            )
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
        opened_at = first.get("opened_at")
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
