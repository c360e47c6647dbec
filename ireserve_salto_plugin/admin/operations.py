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
from datetime import UTC, datetime, timedelta
from typing import Any

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
from ireserve_salto_plugin.flow.context import ParkContext
from ireserve_salto_plugin.models import AdminResult, Reason
from ireserve_salto_plugin.park.i18n import host_language
from ireserve_salto_plugin.park.messages import say
from ireserve_salto_plugin.park.text import host_text, local_time
from ireserve_salto_plugin.salto.cache import Key, Store
from ireserve_salto_plugin.salto.clock import CLOCK_WARN_SECONDS, Clock
from ireserve_salto_plugin.salto.errors import (
    NotFound,
    OtpBlocked,
    OtpRejected,
    StoreUnavailable,
)
from ireserve_salto_plugin.salto.gateway import SaltoGateway
from ireserve_salto_plugin.salto.otp import salto_otp
from ireserve_salto_plugin.salto.types import ActivatedIq, Iq, Lock, entry_lock, entry_time
from ireserve_salto_plugin.store.guards import (
    BudgetRefused,
    IqBusy,
    OtpBudget,
    Refusal,
    credentials_mark,
)
from ireserve_salto_plugin.store.keys import LAST_OPEN, OPENER, RECEIPT

log = logging.getLogger(__name__)

MATCH_SECONDS = 120  # an entry this close to the open's time is its receipt
NOT_YET_SECONDS = 600  # Salto's log is not real-time: "not yet" until this long after
RECENT_DEFAULT, RECENT_MAX = 20, 100


class Operations:
    def __init__(self, budget: OtpBudget, store: Store, clock: Clock) -> None:
        self.budget = budget
        self.store = store
        self.clock = clock

    def list_iqs(
        self, ctx: ParkContext, gateway: SaltoGateway, params: Mapping[str, Any]
    ) -> AdminResult:
        site_id = ctx.site_id(gateway)
        rows = _iq_rows(ctx, gateway.iqs(site_id), gateway.activated_iqs(site_id))
        return AdminResult(
            True,
            say(_lang(ctx), "iqs_listed", count=len(rows), site_uid=ctx.settings.site_uid),
            data={"iqs": rows},
        )

    def status(
        self, ctx: ParkContext, gateway: SaltoGateway, params: Mapping[str, Any]
    ) -> AdminResult:
        """Everything read from Salto now (token, site, locks, IQs, the account as a site
        user, its activations); every finding is something that stops a door."""
        gateway.access_token()
        site_id, settings, lang = ctx.site_id(gateway), ctx.settings, _lang(ctx)
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
            + health,
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
        lang, account = _lang(ctx), gateway.account.key
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
            say(_lang(ctx), "budget_" + reason.value, until=until),
            data={"reason": reason.value, "retry_after": round(refusal.retry_after)},
        )

    def self_test(
        self, ctx: ParkContext, gateway: SaltoGateway, params: Mapping[str, Any]
    ) -> AdminResult:
        iq_id, lang = uuid_param(params, "iq_id"), _lang(ctx)
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

    def confirm_open(
        self, ctx: ParkContext, gateway: SaltoGateway, params: Mapping[str, Any]
    ) -> AdminResult:
        attempt, lang = params.get("attempt_id"), _lang(ctx)
        if isinstance(attempt, str) and attempt:
            receipt = self.store.get(RECEIPT(gateway.account.key, ctx.park_tag, attempt[:64]))
            if not isinstance(receipt, dict):
                return AdminResult(False, say(lang, "no_receipt"))
            lock_id, at_text = receipt.get("lock_id"), receipt.get("at")
        else:
            lock_id, at_text = params.get("lock_id"), params.get("time")
        try:
            at = datetime.fromisoformat(str(at_text))
            at = at if at.tzinfo else at.replace(tzinfo=UTC)
        except ValueError:
            return AdminResult(False, say(lang, "confirm_args"))
        if not isinstance(lock_id, str):
            return AdminResult(False, say(lang, "lock_id"))
        # Salto's log, newest first, read back to the open's time (a busy site logs more
        # than a page after it), within a page limit that is named when it is reached
        log_read = gateway.entries_since(
            ctx.site_id(gateway), at - timedelta(seconds=MATCH_SECONDS)
        )
        entry = next((e for e in log_read.items if _is_remote_open(e, lock_id, at)), None)
        if entry is not None:
            return AdminResult(
                True,
                say(lang, "confirmed", at=entry.get("utc_date_time")),
                data={"receipt": "confirmed", "entry": entry},
            )
        if not log_read.complete:
            return AdminResult(
                False,
                say(lang, "log_too_long", count=len(log_read.items)),
                data={"receipt": "not_reached", "entries_read": len(log_read.items)},
            )
        waited = (self.clock.utcnow() - at).total_seconds()
        state = "not_yet" if waited < NOT_YET_SECONDS else "missing"
        return AdminResult(state == "not_yet", say(lang, state), data={"receipt": state})

    def _with_openers(
        self, account: str, park: str, entries: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Salto's entries, each remote open made by this plugin with ``requested_by`` and
        ``attempt_id`` from its receipt, in one store read. A receipt is matched by lock and
        second: the nearest within :data:`OPENER_SLACK` (Salto's entry time and ours
        differ a little), each receipt to one entry. Two opens of one lock in the same
        second keep only the later receipt. Entries the store cannot name stay as Salto
        sent them, and so do those of another park sharing the account (``park``: this
        park's tag): its entries are the shared site's, its requesters are not ours."""
        spots: list[tuple[int, int, Key[Any]]] = []  # entry, distance in seconds, key
        for n, entry in enumerate(entries):
            lock_id, at = _lock_of(entry), entry_time(entry)
            if (
                isinstance(lock_id, str)
                and at is not None
                and entry.get("access_by") in (None, "remote")
            ):
                second = int(at.timestamp())
                spots.extend(
                    (n, abs(delta), OPENER(account, lock_id, str(second + delta)))
                    for delta in range(-OPENER_SLACK, OPENER_SLACK + 1)
                )
        try:
            found = self.store.get_many([key for _, _, key in spots]) if spots else []
        except StoreUnavailable:
            return entries
        named = [dict(entry) for entry in entries]
        used: set[str] = set()
        for (n, _, key), record in sorted(
            zip(spots, found, strict=True), key=lambda pair: (pair[0][1], pair[0][0])
        ):
            if (
                isinstance(record, dict)
                and "requested_by" not in named[n]
                and key.name not in used
                and record.get("park") == park
            ):
                used.add(key.name)
                named[n]["requested_by"] = record.get("requested_by")
                named[n]["attempt_id"] = record.get("attempt_id")
                named[n]["open_kind"] = record.get("kind", "guest")  # guest, staff, test
                if record.get("why"):
                    named[n]["open_reason"] = record.get("why")
        return named

    def recent_opens(
        self, ctx: ParkContext, gateway: SaltoGateway, params: Mapping[str, Any]
    ) -> AdminResult:
        count = params.get("count", RECENT_DEFAULT)
        count = min(max(count, 1), RECENT_MAX) if isinstance(count, int) else RECENT_DEFAULT
        lock_id = params.get("lock_id")
        entries = gateway.entries(ctx.site_id(gateway), top=RECENT_MAX if lock_id else count)
        if isinstance(lock_id, str):
            entries = [e for e in entries if _lock_of(e) == lock_id]
        entries = self._with_openers(gateway.account.key, ctx.park_tag, entries[:count])
        message = (
            say(_lang(ctx), "lock_entries", lock=host_text(lock_id, 40), count=len(entries))
            if lock_id
            else say(_lang(ctx), "entries", count=len(entries))
        )
        return AdminResult(True, message, data={"entries": entries})


OPENER_SLACK = 5  # seconds between our clock at the open and Salto's entry time


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


def _lock_of(entry: dict[str, Any]) -> str | None:
    return entry_lock(entry)[0]


def _is_remote_open(entry: dict[str, Any], lock_id: str, at: datetime) -> bool:
    if _lock_of(entry) != lock_id or entry.get("event_category") != "lock_opened":
        return False
    if entry.get("access_by") not in (None, "remote"):
        return False
    when = entry_time(entry)
    return when is not None and abs((when - at).total_seconds()) <= MATCH_SECONDS


def _lang(ctx: ParkContext) -> str:
    return host_language(ctx.park)
