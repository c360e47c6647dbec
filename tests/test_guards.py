"""The OTP budget and the duplicate-tap guard, on the in-process store with a fake clock."""

from __future__ import annotations

from ireserve_salto_plugin.store.guards import PENDING, Dedup, OtpBudget, credentials_mark
from ireserve_salto_plugin.store.memory import MemoryStore

from .conftest import SkipClock

ACCOUNT, IQ = "account-key", "5fc75b2e-95d8-55a7-95f3-2faedc4d26f3"


def budget(clock: SkipClock) -> OtpBudget:
    return OtpBudget(clock.store(), block_seconds=60, suspend_seconds=120, clock=clock.clock())


def test_a_block_refuses_every_code_to_the_iq_until_it_ends() -> None:
    clock = SkipClock()
    guard = budget(clock)
    assert guard.refusal(ACCOUNT, IQ) is None
    assert guard.blocked(ACCOUNT, IQ) == 60
    refusal = guard.refusal(ACCOUNT, IQ)
    assert refusal is not None and refusal.blocked and 59 < refusal.retry_after <= 60
    assert guard.block_refusal(ACCOUNT, IQ) is not None
    assert guard.refusal(ACCOUNT, "another-iq") is None
    clock.sleep(61)
    assert guard.refusal(ACCOUNT, IQ) is None


def test_two_rejections_in_a_row_suspend_the_iq_whichever_pin_signed_them() -> None:
    """Salto counts wrong codes per account and IQ: a new PIN in the settings does not
    start a new count; only a code Salto accepts (an open, Set PIN, the self-test) or the
    end of the suspension lifts it."""
    clock = SkipClock()
    guard = budget(clock)
    assert guard.rejected(ACCOUNT, IQ) is False
    assert guard.state(ACCOUNT, IQ).rejections == 1
    assert guard.rejected(ACCOUNT, IQ) is True
    refusal = guard.refusal(ACCOUNT, IQ)
    assert refusal is not None and not refusal.blocked
    assert guard.block_refusal(ACCOUNT, IQ) is None  # a suspension is not Salto's block
    guard.accepted(ACCOUNT, IQ, 1.0)  # a passing Set PIN or self-test
    assert guard.refusal(ACCOUNT, IQ) is None
    guard.rejected(ACCOUNT, IQ)
    guard.rejected(ACCOUNT, IQ)
    clock.sleep(121)
    assert guard.refusal(ACCOUNT, IQ) is None


def test_a_success_resets_the_count_and_vouches_for_the_iq() -> None:
    guard = budget(SkipClock())
    mark, other = credentials_mark("0123456789ABCDEF", "1234"), credentials_mark(
        "0123456789ABCDEF", "1235")
    assert mark != other and "1234" not in repr(mark)
    assert guard.state(ACCOUNT, IQ, mark).probing  # nothing known yet: one code at a time
    guard.rejected(ACCOUNT, IQ)
    guard.accepted(ACCOUNT, IQ, mark)
    assert not guard.state(ACCOUNT, IQ, mark).probing
    assert guard.state(ACCOUNT, IQ, other).probing  # it vouches for what signed it only
    assert guard.rejected(ACCOUNT, IQ) is False
    assert guard.state(ACCOUNT, IQ, mark).probing  # a rejection: unknown again
    guard.accepted(ACCOUNT, IQ, None)  # an expert PIN change: the IQ may disagree
    state = guard.state(ACCOUNT, IQ, mark)
    assert state.probing and state.rejections == 0


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
