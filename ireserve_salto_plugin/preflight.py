"""The one checklist before an open, shared by ``on_open_request`` (which stops at the
first problem) and ``on_booking_status`` (which reports them all as warnings):

    lock exists at Salto → its IQ is activated for the account → the IQ's OTP budget allows
    a code → IQ and lock online

(the mapping and the status gate come before, in :mod:`.decision`). Offline as seen in the
cached lock list is confirmed with a fresh read before an open fails on it, so a lock that
came back is not refused on stale data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import StoreUnavailable
from .gateway import SaltoGateway
from .guards import BudgetState, OtpBudget, credentials_fingerprint
from .models import Reason
from .salto_types import Lock
from .settings import IqCredentials, Settings


@dataclass(frozen=True, slots=True)
class Finding:
    reason: Reason
    retry_after: float | None = None


@dataclass(slots=True)
class Checked:
    lock: Lock | None = None
    iq: IqCredentials | None = None  # set when activated
    fingerprint: str = ""
    budget: BudgetState | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.findings and self.lock is not None and self.iq is not None


def offline_reason(lock: Lock) -> Reason | None:
    if lock.iq_online is False:
        return Reason.IQ_OFFLINE
    return None if lock.online else Reason.LOCK_OFFLINE


def find_lock(gateway: SaltoGateway, site_id: str, lock_id: str) -> Lock | None:
    lock = gateway.locks(site_id).by_id.get(lock_id)
    if lock is None:  # mapped after the list was cached? look once more
        lock = gateway.locks(site_id, refresh=True).by_id.get(lock_id)
    return lock


def preflight(settings: Settings, gateway: SaltoGateway, site_id: str, lock_id: str,
              budget: OtpBudget, *, for_open: bool) -> Checked:
    """Run the checklist. ``for_open``: stop at the first finding, confirm offline with a
    fresh read, and let a store failure propagate (nothing may be sent after it)."""
    checked = Checked()

    def found(reason: Reason, retry_after: float | None = None) -> bool:
        checked.findings.append(Finding(reason, retry_after))
        return for_open

    lock = find_lock(gateway, site_id, lock_id) if for_open else (
        gateway.locks(site_id).by_id.get(lock_id))
    checked.lock = lock
    if lock is None:
        found(Reason.LOCK_NOT_FOUND)
        return checked
    iq = settings.iqs.get(lock.iq_id or "")
    if lock.iq_id is None or iq is None or not iq.activated:
        if found(Reason.IQ_NOT_ACTIVATED):
            return checked
    else:
        checked.iq, checked.fingerprint = iq, credentials_fingerprint(iq)
        try:
            checked.budget = budget.state(gateway.account.key, lock.iq_id, checked.fingerprint)
        except StoreUnavailable:
            if for_open:
                raise
            found(Reason.STORE_UNAVAILABLE)
        refusal = checked.budget.refusal if checked.budget is not None else None
        if refusal is not None and found(
                Reason.OTP_BLOCKED if refusal.blocked else Reason.OTP_SUSPENDED,
                round(refusal.retry_after)):
            return checked
    offline = offline_reason(lock)
    if offline is not None and for_open:
        offline = offline_reason(gateway.lock(site_id, lock.id))
    if offline is not None:
        found(offline)
    return checked
