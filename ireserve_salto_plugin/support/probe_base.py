"""The contract probe's frame: what a check is, and the probe's account, gateway and OTP
budget (a probe spends codes from the same budget as the host and the CLI)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from ireserve_salto_plugin.park.platform import (
    Platform,
)
from ireserve_salto_plugin.park.settings import Settings
from ireserve_salto_plugin.salto.auth import Account
from ireserve_salto_plugin.salto.clock import SYSTEM_CLOCK, Clock
from ireserve_salto_plugin.salto.config import Tuning
from ireserve_salto_plugin.salto.deadline import Deadline
from ireserve_salto_plugin.salto.errors import OtpBlocked, OtpRejected
from ireserve_salto_plugin.salto.gateway import SaltoGateway
from ireserve_salto_plugin.salto.session import make_session
from ireserve_salto_plugin.store.guards import BudgetRefused, IqBusy, OtpBudget
from ireserve_salto_plugin.store.memory import MemoryStore

PROBE_DEADLINE = 120.0  # seconds for the whole probe


LOCK_FIELDS = ("id", "customer_reference", "online")


LOCK_IQ_FIELDS = ("id", "is_online", "otp_enabled")


IQ_FIELDS = ("id", "customer_reference", "online", "restore_required", "otp_enabled")


PAGE_KEYS = ("items", "next_page_link", "count")


PAGE_ASKED = 100


COLUMN = 40  # the check and expected columns wrap at this width


MADE_UP_LOCK = "00000000-0000-4000-8000-00000000dead"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    expected: str
    seen: str
    ok: bool | None  # None: information only

    @property
    def mark(self) -> str:
        return {True: "ok", False: "DIFFERS", None: "info"}[self.ok]


def keys_of(value: Any) -> str:
    return ", ".join(sorted(value)) if isinstance(value, dict) else type(value).__name__


def missing_of(value: Any, names: tuple[str, ...]) -> list[str]:
    return [name for name in names if not isinstance(value, dict) or name not in value]


class ProbeBase:
    """A probe's account, gateway, budget and the checks found so far."""

    def __init__(
        self,
        settings: Settings,
        platform: Platform,
        *,
        session: requests.Session | None = None,
        clock: Clock = SYSTEM_CLOCK,
        budget: OtpBudget | None = None,
    ) -> None:
        self.settings = settings
        # the codes it sends count with the host's and the CLI's (support.state)
        self.budget = budget or OtpBudget(MemoryStore(), clock=clock)
        account = Account(
            platform.identity_url,
            platform.api_url,
            platform.client,
            settings.username,
            settings.password,
        )
        self.gateway = SaltoGateway(
            account,
            session=session or make_session(),
            store=MemoryStore(),
            tuning=Tuning(),
            clock=clock,
            deadline=Deadline.within(PROBE_DEADLINE, clock),
        )
        self.checks: list[Check] = []
        self.site_id: str | None = settings.site_id

    def add(self, name: str, expected: str, seen: str, ok: bool | None) -> None:
        self.checks.append(Check(name, expected, seen, ok))

    def _read(
        self, path: str, params: dict[str, Any] | None = None
    ) -> tuple[Any, requests.Response]:
        return self.gateway.read(path, params)

    def _site(self) -> str:
        if self.site_id is None:
            self.site_id = self.gateway.resolve_site(self.settings.site_uid).id
        return self.site_id

    def _secret_here(self, iq_id: Any) -> bool:
        stored = self.settings.iqs.get(iq_id) if isinstance(iq_id, str) else None
        return bool(stored and stored.secret)

    def _signed(self, name: str, iq_id: str, mark: float, send: Callable[[], None]) -> bool:
        """One code inside the IQ's OTP budget: False (and a row) when none may go now;
        Salto's refusal is counted, then raised as any answer of Salto's."""
        budget, account = self.budget, self.gateway.account.key
        try:
            with budget.slot(self.gateway.transport.deadline, account, iq_id, mark):
                try:
                    send()
                except OtpBlocked:
                    budget.blocked(account, iq_id)
                    raise
                except OtpRejected:
                    budget.rejected(account, iq_id)
                    raise
                budget.accepted(account, iq_id, mark)
            return True
        except (BudgetRefused, IqBusy) as exc:
            wait = exc.refusal.retry_after if isinstance(exc, BudgetRefused) else exc.retry_after
            self.add(
                name,
                "a code may go to the IQ (its OTP budget)",
                f"not sent: no code may go to this IQ for {round(wait)} s",
                False,
            )
            return False
