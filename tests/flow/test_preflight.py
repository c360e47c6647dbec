"""The one checklist before an open, with a stand-in gateway: the order of the steps, the
first finding for an open, all findings for a status change."""

from __future__ import annotations

from typing import Any, cast

import pytest

from ireserve_salto_plugin.flow.preflight import preflight
from ireserve_salto_plugin.models import Reason
from ireserve_salto_plugin.park.settings import IqCredentials, SettingsSchema
from ireserve_salto_plugin.salto.errors import NotFound, StoreUnavailable
from ireserve_salto_plugin.salto.types import Lock, LockList
from ireserve_salto_plugin.store.guards import OtpBudget
from ireserve_salto_plugin.store.memory import MemoryStore

IQ, LOCK = "5fc75b2e-95d8-55a7-95f3-2faedc4d26f3", "4f806a16-03bb-5ae5-817a-8ddf906cb255"


class Account:
    key = "account"


class Gateway:
    """What preflight asks of a gateway: the cached list, a refresh, one fresh lock."""

    def __init__(self, cached: list[Lock], fresh: list[Lock] | None = None) -> None:
        self.account = Account()
        self.lists = [LockList.of(cached), LockList.of(fresh if fresh is not None else cached)]
        self.refreshed = 0
        self.read: list[str] = []

    def locks(self, site_id: str, *, refresh: bool = False) -> LockList:
        self.refreshed += refresh
        return self.lists[1 if refresh or self.refreshed else 0]

    def lock(self, site_id: str, lock_id: str) -> Lock:
        self.read.append(lock_id)
        lock = self.lists[1].get(lock_id)
        if lock is None:
            raise NotFound("Salto KS answered HTTP 404", status=404)
        return lock


def settings(activated: bool = True) -> Any:
    iqs = {IQ: {"secret": "0123456789ABCDEF", "pin": "1234"}} if activated else {}
    return SettingsSchema().load(
        {
            "environment": "acceptance",
            "username": "u",
            "password": "p",
            "site_uid": "NL6254340082",
            "open_statuses": ["confirmed"],
            "iqs": iqs,
        }
    )


def lock(online: bool = True, iq_online: bool | None = True) -> Lock:
    return Lock(LOCK, "Chalet 12", online, IQ, iq_online, True)


def run(
    gateway: Gateway,
    *,
    activated: bool = True,
    for_open: bool = True,
    budget: OtpBudget | None = None,
) -> Any:
    return preflight(
        settings(activated),
        cast(Any, gateway),
        "site",
        LOCK,
        budget or OtpBudget(MemoryStore()),
        for_open=for_open,
    )


def test_ready() -> None:
    checked = run(Gateway([lock()]))
    assert checked.ready and checked.lock.id == LOCK and isinstance(checked.iq, IqCredentials)


def test_a_lock_missing_from_the_cached_list_is_read_directly_before_it_is_missing() -> None:
    gateway = Gateway([], [lock()])  # mapped after the list was cached, or beyond a page cap
    assert run(gateway).ready and gateway.read == [LOCK] and gateway.refreshed == 0
    gone = Gateway([], [])
    assert [f.reason for f in run(gone).findings] == [Reason.LOCK_NOT_FOUND]
    assert gone.read == [LOCK]  # Salto said 404 for the lock itself


def test_an_open_stops_at_the_first_finding_a_status_change_lists_them_all() -> None:
    offline = Gateway([lock(online=False)])
    assert [f.reason for f in run(offline, activated=False).findings] == [Reason.IQ_NOT_ACTIVATED]
    assert [f.reason for f in run(offline, activated=False, for_open=False).findings] == [
        Reason.IQ_NOT_ACTIVATED,
        Reason.LOCK_OFFLINE,
    ]


def test_offline_in_the_cached_list_is_confirmed_before_an_open_fails() -> None:
    came_back = Gateway([lock(iq_online=False)], [lock()])
    came_back.refreshed = 0
    checked = run(came_back)
    assert checked.ready and came_back.read == [LOCK]
    still = Gateway([lock(iq_online=False)])
    assert [f.reason for f in run(still).findings] == [Reason.IQ_OFFLINE]
    status_only = Gateway([lock(iq_online=False)])
    assert [f.reason for f in run(status_only, for_open=False).findings] == [
        Reason.IQ_OFFLINE
    ] and status_only.read == []  # no extra read on a status change


def test_the_budget_comes_before_offline() -> None:
    budget = OtpBudget(MemoryStore())
    budget.blocked("account", IQ)
    [finding] = run(Gateway([lock(online=False)]), budget=budget).findings
    assert finding.reason is Reason.OTP_BLOCKED and finding.retry_after


class BrokenStore(MemoryStore):
    def get_many(self, keys: Any) -> Any:
        raise StoreUnavailable("down")


def test_a_store_failure_stops_an_open_and_warns_a_status_change() -> None:
    budget = OtpBudget(BrokenStore())
    with pytest.raises(StoreUnavailable):
        run(Gateway([lock()]), budget=budget)
    checked = run(Gateway([lock()]), budget=budget, for_open=False)
    assert [f.reason for f in checked.findings] == [Reason.STORE_UNAVAILABLE]
