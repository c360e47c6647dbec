"""The hooks' façade: :class:`SaltoKsService` holds the plugin's collaborators (store,
session, tuning, clock, guards, park contexts) and answers every hook; none raises (each
answers its documented fallback, :func:`~.boundary.never_raises`). The open itself is one
pipeline in :mod:`.opening`; the other hooks live in :mod:`.access` and :mod:`.explain`.
The session and the store are built by the composition root (:mod:`.wiring`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import requests

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.flow import access, explain, readiness
from ireserve_salto_plugin.flow.attempt import Attempt
from ireserve_salto_plugin.flow.boundary import never_raises
from ireserve_salto_plugin.flow.context import ParkContext, Parks, raw_settings
from ireserve_salto_plugin.flow.decision import BookingFacts
from ireserve_salto_plugin.flow.opening import OWN_LOCK, Opening
from ireserve_salto_plugin.models import (
    AccessInfo,
    Booking,
    Door,
    Explanation,
    OpenResult,
    Park,
    Readiness,
    Reason,
)
from ireserve_salto_plugin.park.fields import SettingsError
from ireserve_salto_plugin.park.i18n import guest_language, host_language
from ireserve_salto_plugin.park.platform import PlatformReader
from ireserve_salto_plugin.park.text import host_attr, host_text
from ireserve_salto_plugin.salto.cache import Store
from ireserve_salto_plugin.salto.clock import SYSTEM_CLOCK, Clock
from ireserve_salto_plugin.salto.config import Tuning
from ireserve_salto_plugin.salto.errors import StoreUnavailable
from ireserve_salto_plugin.salto.telemetry import Telemetry
from ireserve_salto_plugin.store.dedup import Dedup
from ireserve_salto_plugin.store.guards import OtpBudget
from ireserve_salto_plugin.store.memory import MemoryStore

__all__ = ["OWN_LOCK", "SaltoKsService"]

log = logging.getLogger(__name__)


class SaltoKsService:
    """Everything the hooks need, for any number of parks. Thread-safe."""

    def __init__(
        self,
        *,
        session: requests.Session,
        store: Store | None = None,
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
        self.session = session
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
        self.opening = Opening(self.parks, self.budget, self.dedup)

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
        return readiness.readiness(self.parks, self.budget, self.clock, park, items, now)

    # -- on_open_request, on_open_door, test and staff opens -------------------------------

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
        facts = BookingFacts.read(booking)  # the only read of the host's booking
        attempt = Attempt(attempt_id(), host_attr(park, "id"), facts.id, requested_by)
        attempt.lang = host_language(park)
        attempt.guest_lang = guest_language(facts, "je", attempt.lang)
        with self.telemetry.open_span() as span:
            result = settled(attempt, self.opening.guest, park, raw, facts, now, lock_id)
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
        return settled(attempt, self.opening.staff, park, raw, lock_id)


def settled(attempt: Attempt, step: Callable[..., OpenResult], *args: Any) -> OpenResult:
    """``step(attempt, *args)``, whatever escaped it: settings that cannot be used are
    ``settings_invalid``, a store that failed before the command ``store_unavailable``; a
    bug is logged and ``internal_error``, unless the lock had already opened (then it is
    reported opened)."""
    try:
        return step(attempt, *args)
    except SettingsError as exc:
        return attempt.done(Reason.SETTINGS_INVALID, detail=exc.describe(attempt.lang))
    except StoreUnavailable as exc:
        log.warning("salto open attempt=%s: %s", attempt.attempt_id, exc)
        if attempt.result is not None and attempt.result.opened:
            return attempt.result
        return attempt.done(Reason.STORE_UNAVAILABLE)
    except Exception:
        log.exception("salto open attempt=%s failed unexpectedly", attempt.attempt_id)
        if attempt.result is not None and attempt.result.opened:
            return attempt.result  # the lock opened: say so, whatever failed after
        return attempt.done(Reason.INTERNAL_ERROR)


def attempt_id() -> str:
    """A new attempt's id: 32 random hex characters."""
    return uuid.uuid4().hex
