"""The support desk's admin actions: integration status, the site's IQs, a cloud check of
the IQ codes that opens no door (necessary, not sufficient: Salto's cloud answers, not the
IQ), and receipts of opens from Salto's entry log. None sends an open command.

Opens leave a receipt in the store (:func:`receipt_writes`, best effort, after the result
is decided): the attempt's lock and time for ``confirm_open``, and the park's last success and
last failure for ``status``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from ireserve_salto_plugin.admin.doorlog import DoorLog
from ireserve_salto_plugin.admin.health import (
    Finding,
    account_data,
    account_findings,
    door_findings,
    grouped,
    iq_findings,
    list_findings,
    lock_health,
    site_user,
)
from ireserve_salto_plugin.admin.params import uuid_param
from ireserve_salto_plugin.admin.receipts import staff_lang
from ireserve_salto_plugin.flow.context import ParkContext
from ireserve_salto_plugin.models import AdminResult, Reason
from ireserve_salto_plugin.park.answers import say
from ireserve_salto_plugin.park.incidents import events_data, incident_lines
from ireserve_salto_plugin.park.text import local_time
from ireserve_salto_plugin.salto.cache import Store
from ireserve_salto_plugin.salto.clock import CLOCK_WARN_SECONDS, Clock
from ireserve_salto_plugin.salto.errors import (
    NotFound,
    OtpBlocked,
    OtpRejected,
    StoreUnavailable,
)
from ireserve_salto_plugin.salto.gateway import SaltoGateway
from ireserve_salto_plugin.salto.otp import salto_otp
from ireserve_salto_plugin.salto.types import ActivatedIq, Iq, Lock, LockList
from ireserve_salto_plugin.store.guards import (
    BudgetRefused,
    IqBusy,
    OtpBudget,
    Refusal,
    credentials_mark,
)
from ireserve_salto_plugin.store.keys import LAST_OPEN
from ireserve_salto_plugin.store.stream import StreamBook

log = logging.getLogger(__name__)


class Operations(DoorLog):
    def __init__(self, budget: OtpBudget, store: Store, clock: Clock) -> None:
        self.budget = budget
        self.store = store
        self.clock = clock
        self._stream = StreamBook(store)

    def _incident_findings(
        self, ctx: ParkContext, site_id: str, locks: LockList, lang: str
    ) -> list[Finding]:
        """Each incident Salto's event stream reported at a lock of the site that has not
        ended (a door left open, an alarm, a lost connection): one finding each."""
        try:
            going = self._stream.incidents(ctx.account.key, site_id, self.clock.utcnow())
        except StoreUnavailable:
            return []
        found = []
        for lock_id, incidents in going.items():
            lock = locks.get(lock_id)
            name = lock.name if lock is not None else None
            for code, text in incident_lines(incidents, lang, ctx.zone, name):
                found.append(Finding(code, text, name or lock_id))
        return found

    def list_iqs(
        self, ctx: ParkContext, gateway: SaltoGateway, params: Mapping[str, Any]
    ) -> AdminResult:
        site_id = ctx.site_id(gateway)
        rows = _iq_rows(ctx, gateway.iqs(site_id), gateway.activated_iqs(site_id))
        return AdminResult(
            True,
            say(staff_lang(ctx), "iqs_listed", count=len(rows), site_uid=ctx.settings.site_uid),
            data={"iqs": rows},
        )

    def status(
        self, ctx: ParkContext, gateway: SaltoGateway, params: Mapping[str, Any]
    ) -> AdminResult:
        """Everything read from Salto now (token, site, locks, IQs, the account as a site
        user, its activations); every finding is something that stops a door."""
        gateway.access_token()
        site_id, settings, lang = ctx.site_id(gateway), ctx.settings, staff_lang(ctx)
        locks = gateway.locks(site_id, refresh=True, thorough=True)  # locks and IQs
        activated = gateway.activated_iqs(site_id)
        iqs = _iq_rows(ctx, list(locks.iqs.values()), activated)
        account = gateway.account.key
        for row in iqs:
            on_iq = [lock for lock in locks.locks if lock.iq_id == row["id"]]
            row["locks_online"] = sum(1 for lock in on_iq if lock.reachable)
            row["locks_offline"] = len(on_iq) - row["locks_online"]
            row["battery_critical"] = [lock.name for lock in on_iq if lock.battery == "critical"]
            row["battery_low"] = [lock.name for lock in on_iq if lock.battery == "low"]
            # a battery level Salto does not document, as Salto sent it
            row["battery_other"] = [
                f"{lock.name}: {lock.battery_level}" for lock in on_iq if lock.battery == "unknown"
            ]
            # settings, not alarms going off (those are incidents): shown, never a finding
            row["left_open_alarm_on"] = [lock.name for lock in on_iq if lock.left_open_alarm]
            row["intrusion_alarm_on"] = [lock.name for lock in on_iq if lock.intrusion_alarm]
            stored = settings.iqs.get(row["id"])
            row["budget"] = self._budget(account, row["id"], stored)
        user = site_user(gateway, site_id)
        offset = gateway.clock_offset()
        health, notes = lock_health(iqs, lang)
        findings = grouped(
            list_findings(locks, lang)
            + account_findings(settings, user, activated, locks.iqs, lang, self.clock.utcnow())
            + door_findings(
                settings, locks, lang, lambda lock_id: _lock_or_none(gateway, site_id, lock_id)
            )
            + iq_findings(iqs, lang)
            + health
            + self._incident_findings(ctx, site_id, locks, lang),
            lang,
        )
        if abs(offset) > CLOCK_WARN_SECONDS:
            findings.append(Finding("clock_skew", say(lang, "clock_off", offset=round(offset))))
        last = {
            kind: self.store.get(LAST_OPEN(account, ctx.park_tag, kind))
            for kind in ("success", "failure")
        }
        problems = len(findings)
        verdict = (
            (
                say(lang, "look_at", problems=problems)
                + "".join(f"\n- {finding.message}" for finding in findings)
            )
            if problems
            else say(lang, "healthy")
        )
        verdict += "".join(f"\n- {say(lang, 'note')} {note.message}" for note in notes)
        return AdminResult(
            True,
            say(
                lang,
                "status",
                environment=settings.environment,
                username=settings.username,
                site_uid=settings.site_uid,
                iqs=say(lang, "n_iqs", count=len(iqs)),
                locks=say(lang, "n_locks", count=len(locks.locks)),
                verdict=verdict,
            ),
            data={
                "authenticated": True,
                "problems": problems,
                "findings": [finding.to_dict() for finding in findings],
                "notes": [note.to_dict() for note in notes],
                "site_id": site_id,
                # information, never a finding: is Salto's event stream heard here?
                "events": events_data(self._stream.state(account, site_id), lang),
                "iqs": iqs,
                "account": account_data(user),
                "clock_offset": offset,
                "clock_skew": abs(offset) > CLOCK_WARN_SECONDS,
                "last_success": last["success"],
                "last_failure": last["failure"],
            },
        )

    def _budget(self, account: str, iq_id: str, stored: Any) -> dict[str, Any]:
        refusal = self.budget.refusal(account, iq_id)
        if refusal is None:
            return {"state": "ok"}
        until = self.clock.utcnow() + timedelta(seconds=refusal.retry_after)
        return {
            "state": "blocked" if refusal.blocked else "suspended",
            "until": until.replace(microsecond=0).isoformat(),
        }

    def until(self, ctx: ParkContext, seconds: float) -> str:
        """The time ``seconds`` from now, as staff read it (the park's zone)."""
        return local_time(self.clock.utcnow() + timedelta(seconds=seconds), ctx.zone)

    def signed(
        self,
        ctx: ParkContext,
        gateway: SaltoGateway,
        iq_id: str,
        mark: float | None,
        send: Callable[[], None],
        rejected: str,
    ) -> AdminResult | None:
        """Send one signed command (Set PIN, the self-test) inside the IQ's OTP budget,
        like an open: ``None`` when Salto accepted the code (``mark``: the credentials it
        vouches for), else the answer for the admin, saying until when nothing is sent and
        what to do. ``rejected``: the message key of a rejected code."""
        lang, account = staff_lang(ctx), gateway.account.key
        try:
            with self.budget.slot(gateway.transport.deadline, account, iq_id, mark):
                try:
                    send()
                except OtpBlocked:
                    seconds = self.budget.blocked(account, iq_id)
                    return self.refused(ctx, Refusal(True, seconds))
                except OtpRejected:
                    refusal = self.budget.rejected(account, iq_id)
                    message = say(lang, rejected)
                    if refusal is not None:
                        message += say(
                            lang, "now_suspended", until=self.until(ctx, refusal.retry_after)
                        )
                    return AdminResult(False, message, data={"reason": Reason.OTP_REJECTED.value})
                self.budget.accepted(account, iq_id, mark)
        except BudgetRefused as exc:
            return self.refused(ctx, exc.refusal)
        except IqBusy as exc:
            return AdminResult(
                False,
                say(lang, "iq_busy"),
                data={"reason": Reason.IQ_BUSY.value, "retry_after": exc.retry_after},
            )
        return None

    def refused(self, ctx: ParkContext, refusal: Refusal) -> AdminResult:
        """Nothing was sent (or Salto just blocked the IQ): until when, and what to do."""
        until = self.until(ctx, refusal.retry_after)
        reason = Reason.OTP_BLOCKED if refusal.blocked else Reason.OTP_SUSPENDED
        return AdminResult(
            False,
            say(staff_lang(ctx), "budget_" + reason.value, until=until),
            data={"reason": reason.value, "retry_after": round(refusal.retry_after)},
        )

    def self_test(
        self, ctx: ParkContext, gateway: SaltoGateway, params: Mapping[str, Any]
    ) -> AdminResult:
        iq_id, lang = uuid_param(params, "iq_id"), staff_lang(ctx)
        stored = ctx.settings.iqs.get(iq_id)
        if stored is None or not stored.activated or not stored.secret or not stored.pin:
            return AdminResult(
                False, say(lang, "not_activated"), data={"reason": Reason.IQ_NOT_ACTIVATED.value}
            )
        site_id = ctx.site_id(gateway)
        secret, pin = stored.secret, stored.pin
        failed = self.signed(
            ctx,
            gateway,
            iq_id,
            credentials_mark(secret, pin),
            lambda: gateway.set_pin(
                site_id, iq_id, delta="0000", otp=salto_otp(secret, pin, gateway.salto_now())
            ),
            "test_rejected",
        )
        if failed is not None:
            return failed
        return AdminResult(
            True,
            say(lang, "test_passed"),
            data={
                "iq_id": iq_id,
                "checked_by": "salto_cloud",
                "checked": ["secret", "pin", "clock"],
                "iq_asked": False,
            },
        )


def _iq_rows(ctx: ParkContext, iqs: list[Iq], salto: list[ActivatedIq]) -> list[dict[str, Any]]:
    """The site's IQs with their activation here (settings) and at Salto."""
    at_salto = {state.iq_id: state.activated for state in salto}
    rows = []
    for iq in iqs:
        stored = ctx.settings.iqs.get(iq.id)
        rows.append(
            {
                "id": iq.id,
                "name": iq.name,
                "online": iq.online,
                "restore_required": iq.restore_required,
                "otp_enabled": iq.otp_enabled,
                "activated": bool(stored and stored.activated),
                "salto_activated": at_salto.get(iq.id, False),
            }
        )
    return rows


def _lock_or_none(gateway: SaltoGateway, site_id: str, lock_id: str) -> Lock | None:
    try:
        return gateway.lock(site_id, lock_id)
    except NotFound:
        return None
