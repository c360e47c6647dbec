"""The one checklist before an open, shared by ``on_open_request`` (which stops at the
first problem) and ``on_booking_status`` (which reports them all as warnings):

    lock exists at Salto → its IQ is activated for the account (and was not reset: Salto's
    ``restore_required``) → the IQ's OTP budget allows a code → IQ and lock online

An IQ whose ``otp_enabled`` is false takes opens without a code (docs/salto-ks-api.md,
"OTP"): it needs no activation and spends no OTP budget. When it is activated anyway, a
code is sent as usual.

(the mapping and the status gate come before, in :mod:`.decision`). Offline as seen in the
cached lock list is confirmed with a fresh read before an open fails on it, so a lock that
came back is not refused on stale data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ireserve_salto_plugin.models import Reason
from ireserve_salto_plugin.park.i18n import N_
from ireserve_salto_plugin.park.settings import IqCredentials, Settings
from ireserve_salto_plugin.salto.cache import Key
from ireserve_salto_plugin.salto.errors import NotFound, StoreUnavailable
from ireserve_salto_plugin.salto.gateway import SaltoGateway
from ireserve_salto_plugin.salto.types import Lock, LockList
from ireserve_salto_plugin.store.guards import BudgetState, OtpBudget, credentials_mark

RESTORE_REQUIRED = N_(
    " (Salto KS says the IQ was reset: restore_required; its secret and PIN are no longer valid)"
)


@dataclass(frozen=True, slots=True)
class Finding:
    reason: Reason
    retry_after: float | None = None
    detail: str = ""


@dataclass(slots=True)
class Checked:
    lock: Lock | None = None
    iq: IqCredentials | None = None  # set when activated
    budget: BudgetState | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.findings and self.lock is not None


def offline_reason(lock: Lock) -> Reason | None:
    if lock.iq_online is False:
        return Reason.IQ_OFFLINE
    return None if lock.online else Reason.LOCK_OFFLINE


def find_lock(
    gateway: SaltoGateway, site_id: str, lock_id: str, *, refresh: bool = True
) -> tuple[LockList, Lock | None]:
    """The lock from the (cached) list. A lock missing from it is read directly before it
    is called missing, with ``refresh`` or when the list is not complete (the open's quick
    read may be cut short by a page cap Salto does not announce: docs/salto-ks-api.md,
    "Paging"); with ``refresh`` also because the list may be older than the mapping."""
    locks = gateway.locks(site_id)
    lock = locks.get(lock_id)
    if lock is None and (refresh or not locks.complete):
        try:
            lock = gateway.lock(site_id, lock_id)
        except NotFound:
            lock = None
    return locks, lock


def structural(
    settings: Settings, gateway: SaltoGateway, site_id: str, lock_id: str, *, refresh: bool = True
) -> tuple[Lock | None, Finding | None]:
    """What staff must fix before this lock can ever open, whatever the time: the lock is
    on the site, and its IQ is activated here and was not reset. Checked before status and
    window, so a guest is never told a time at which the door would not open either."""
    locks, lock = find_lock(gateway, site_id, lock_id, refresh=refresh)
    if lock is None:
        return None, Finding(Reason.LOCK_NOT_FOUND)
    state = locks.iqs.get(lock.iq_id or "")
    if state is not None and state.restore_required:
        return lock, Finding(Reason.IQ_NOT_ACTIVATED, detail=RESTORE_REQUIRED)
    iq = settings.iqs.get(lock.iq_id or "")
    if (lock.iq_id is None or iq is None or not iq.activated) and lock.otp_enabled is not False:
        return lock, Finding(Reason.IQ_NOT_ACTIVATED)
    return lock, None


def preflight(
    settings: Settings,
    gateway: SaltoGateway,
    site_id: str,
    lock_id: str,
    budget: OtpBudget,
    *,
    for_open: bool,
    confirm: bool | None = None,
    claim_and_read: Callable[[Sequence[Key[float]]], list[Any]] | None = None,
) -> Checked:
    """Run the checklist. ``for_open``: stop at the first finding and let a store failure
    propagate (nothing may be sent after it). ``confirm`` (default: ``for_open``): as an
    open does, read a lock missing from the cached list directly, and confirm offline
    with a fresh read of the lock (``checked.lock`` is then that read); without
    ``for_open`` (the explainer) the lock is always read fresh.
    ``claim_and_read``: the open's claim of its duplicate guard, made where the IQ's OTP
    budget is read, so that the claim and the budget read are one store round trip (a
    second tap stops here with ``Duplicate``, before anything is sent)."""
    confirm = for_open if confirm is None else confirm
    checked = Checked()

    def found(reason: Reason, retry_after: float | None = None, detail: str = "") -> bool:
        checked.findings.append(Finding(reason, retry_after, detail))
        return for_open

    lock, blocker = structural(settings, gateway, site_id, lock_id, refresh=confirm)
    checked.lock = lock
    if lock is None:
        found(Reason.LOCK_NOT_FOUND)
        return checked
    iq = settings.iqs.get(lock.iq_id or "")
    if blocker is not None:
        if found(blocker.reason, detail=blocker.detail):
            return checked
    elif lock.iq_id is None or iq is None or not iq.activated:
        pass  # an IQ that takes opens without a code
    else:
        checked.iq = iq
        try:
            keys = budget.keys(gateway.account.key, lock.iq_id)
            checked.budget = budget.state_of(
                claim_and_read(keys) if claim_and_read else budget.store.get_many(keys),
                credentials_mark(iq.secret, iq.pin),
            )
        except StoreUnavailable:
            if for_open:
                raise
            found(Reason.STORE_UNAVAILABLE)
        refusal = checked.budget.refusal if checked.budget is not None else None
        if refusal is not None and found(
            Reason.OTP_BLOCKED if refusal.blocked else Reason.OTP_SUSPENDED,
            round(refusal.retry_after),
        ):
            return checked
    offline = offline_reason(lock)
    if confirm and (offline is not None or not for_open):
        # an open confirms offline before failing on it; the explainer always reads the
        # lock fresh, so it agrees with what an open just found
        checked.lock = lock = gateway.lock(site_id, lock.id)
        offline = offline_reason(lock)
    if offline is not None:
        found(offline)
    return checked
