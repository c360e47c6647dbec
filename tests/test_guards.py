"""The OTP budget and the duplicate-tap guard, on the in-process store with a fake clock."""

from __future__ import annotations

from ireserve_salto_plugin.guards import PENDING, Dedup, OtpBudget, credentials_fingerprint
from ireserve_salto_plugin.settings import IqCredentials
from ireserve_salto_plugin.store import MemoryStore

from .conftest import SkipClock

ACCOUNT, IQ = "account-key", "5fc75b2e-95d8-55a7-95f3-2faedc4d26f3"


def budget(clock: SkipClock) -> OtpBudget:
    return OtpBudget(clock.store(), block_seconds=60, suspend_seconds=120, clock=clock.clock())


def test_a_block_refuses_every_code_to_the_iq_until_it_ends() -> None:
    clock = SkipClock()
    guard = budget(clock)
    assert guard.refusal(ACCOUNT, IQ, "f1") is None
    assert guard.blocked(ACCOUNT, IQ) == 60
    refusal = guard.refusal(ACCOUNT, IQ, "any credentials")
    assert refusal is not None and refusal.blocked and 59 < refusal.retry_after <= 60
    assert guard.block_refusal(ACCOUNT, IQ) is not None
    assert guard.refusal(ACCOUNT, "another-iq", "f1") is None
    clock.sleep(61)
    assert guard.refusal(ACCOUNT, IQ, "f1") is None


def test_two_rejections_in_a_row_suspend_until_reactivation() -> None:
    clock = SkipClock()
    guard = budget(clock)
    assert guard.rejected(ACCOUNT, IQ, "f1") is False
    assert guard.state(ACCOUNT, IQ, "f1").rejections == 1
    assert guard.rejected(ACCOUNT, IQ, "f1") is True
    refusal = guard.refusal(ACCOUNT, IQ, "f1")
    assert refusal is not None and not refusal.blocked
    assert guard.refusal(ACCOUNT, IQ, "f2") is None  # re-activated: new credentials
    assert guard.block_refusal(ACCOUNT, IQ) is None  # a suspension is not Salto's block
    clock.sleep(121)
    assert guard.refusal(ACCOUNT, IQ, "f1") is None


def test_a_success_resets_the_count() -> None:
    guard = budget(SkipClock())
    guard.rejected(ACCOUNT, IQ, "f1")
    guard.accepted(ACCOUNT, IQ, "f1")
    assert guard.rejected(ACCOUNT, IQ, "f1") is False


def test_the_fingerprint_changes_with_any_part_of_the_activation() -> None:
    base = IqCredentials("0123456789ABCDEF", "1234", None)
    prints = {credentials_fingerprint(iq) for iq in (
        base, IqCredentials("0123456789ABCDEf", "1234", None),
        IqCredentials("0123456789ABCDEF", "1235", None))}
    assert len(prints) == 3 and "0123456789ABCDEF" not in "".join(prints)


def test_dedup_claim_publish_and_wait() -> None:
    clock = SkipClock()
    dedup = Dedup(clock.store(), window=10, claim_seconds=20, clock=clock.clock())
    key = Dedup.key("acct", "park", "B-1", "lock", "guest")
    assert dedup.claim(key) and not dedup.claim(key)
    assert dedup.store.get(key) == PENDING
    clock.sleep(15)  # longer than the window: the claim of a slow open still holds
    assert not dedup.claim(key)
    dedup.publish(key, {"outcome": "opened"})
    assert dedup.wait(key, deadline=clock.monotonic() + 1) == {"outcome": "opened"}
    clock.sleep(11)
    assert dedup.wait(key, deadline=clock.monotonic() + 1) is None  # gone: not a repeat


def test_a_wait_for_a_running_attempt_ends_at_the_deadline() -> None:
    clock = SkipClock()
    dedup = Dedup(MemoryStore(timer=clock.monotonic), clock=clock.clock())
    key = Dedup.key("acct", "park", "B-1", "lock", "guest")
    dedup.claim(key)
    started = clock.monotonic()
    assert dedup.wait(key, deadline=started + 2) is None
    assert 1.5 < clock.monotonic() - started <= 2  # slept (skipped) in growing steps


def test_taps_are_joined_per_requester() -> None:
    keys = {Dedup.key("a", "p", "B", "l", who).name for who in ("guest", "staff")}
    keys |= {Dedup.key("a", "p2", "B", "l", "guest").name,
             Dedup.key("a", "p", "B", "l2", "guest").name}
    assert len(keys) == 4
