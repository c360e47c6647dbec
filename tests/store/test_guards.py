"""The OTP budget and the duplicate-tap guard, on the in-process store with a fake clock."""

from __future__ import annotations

import threading

import pytest

from ireserve_salto_plugin.salto.deadline import Deadline
from ireserve_salto_plugin.store.dedup import PENDING, Dedup
from ireserve_salto_plugin.store.guards import BudgetRefused, IqBusy, OtpBudget, credentials_mark
from ireserve_salto_plugin.store.memory import MemoryStore
from tests.conftest import SkipClock

ACCOUNT, IQ = "account-key", "5fc75b2e-95d8-55a7-95f3-2faedc4d26f3"


def budget(clock: SkipClock, store: MemoryStore | None = None) -> OtpBudget:
    return OtpBudget(store or clock.store(), block_seconds=60, window=1200, clock=clock.clock())


def deadline(clock: SkipClock, seconds: float = 10.0) -> Deadline:
    return Deadline.within(seconds, clock.clock())


def test_a_block_refuses_every_code_to_the_iq_until_it_ends() -> None:
    clock = SkipClock()
    guard = budget(clock)
    assert guard.refusal(ACCOUNT, IQ) is None
    assert guard.blocked(ACCOUNT, IQ) == 60
    refusal = guard.refusal(ACCOUNT, IQ)
    assert refusal is not None and refusal.blocked and 59 < refusal.retry_after <= 60
    assert guard.refusal(ACCOUNT, "another-iq") is None
    clock.sleep(61)
    assert guard.refusal(ACCOUNT, IQ) is None


def test_two_rejections_within_the_window_refuse_until_the_first_is_window_old() -> None:
    """Salto counts wrong codes per account and IQ, whichever PIN signed them: a new PIN
    in the settings does not start a new count, and neither does an accepted code."""
    clock = SkipClock()
    guard = budget(clock)
    assert guard.rejected(ACCOUNT, IQ) is None
    assert guard.state(ACCOUNT, IQ).rejections == 1
    clock.sleep(300)
    guard.accepted(ACCOUNT, IQ, 1.0)  # a passing open, Set PIN or self-test
    refusal = guard.rejected(ACCOUNT, IQ)
    assert refusal is not None and not refusal.blocked
    assert refusal.retry_after == pytest.approx(900, abs=1)  # the first is 20 minutes old
    clock.sleep(901)
    state = guard.state(ACCOUNT, IQ, 1.0)
    assert state.refusal is None and state.rejections == 1 and state.probing
    refusal = guard.rejected(ACCOUNT, IQ)  # the window slides: two again, until 20 min
    assert refusal is not None and refusal.retry_after == pytest.approx(299, abs=1)


def test_an_accepted_code_vouches_for_the_credentials_that_signed_it() -> None:
    clock = SkipClock()
    guard = budget(clock)
    mark, other = (
        credentials_mark("0123456789ABCDEF", "1234"),
        credentials_mark("0123456789ABCDEF", "1235"),
    )
    assert mark != other and "1234" not in repr(mark)
    assert guard.state(ACCOUNT, IQ, mark).in_flight == 1  # nothing known: one at a time
    guard.accepted(ACCOUNT, IQ, mark)
    assert guard.state(ACCOUNT, IQ, mark).in_flight == 2
    assert guard.state(ACCOUNT, IQ, other).in_flight == 1  # vouches for its signer only
    guard.rejected(ACCOUNT, IQ)
    guard.accepted(ACCOUNT, IQ, mark)
    assert guard.state(ACCOUNT, IQ, mark).in_flight == 1  # a rejection in the window
    clock.sleep(1201)
    assert guard.state(ACCOUNT, IQ, mark).in_flight == 2
    guard.accepted(ACCOUNT, IQ, None)  # an expert PIN change: the IQ may disagree
    assert guard.state(ACCOUNT, IQ, mark).in_flight == 1


def test_a_slot_refuses_before_anything_when_the_budget_does() -> None:
    clock = SkipClock()
    guard = budget(clock)
    guard.rejected(ACCOUNT, IQ)
    guard.rejected(ACCOUNT, IQ)
    with pytest.raises(BudgetRefused) as refused, guard.slot(deadline(clock), ACCOUNT, IQ, 1.0):
        raise AssertionError("no code may be sent")
    assert not refused.value.refusal.blocked


def test_two_slots_when_a_code_is_known_good_one_when_not_and_busy_before_the_deadline() -> None:
    clock = SkipClock()
    store = clock.store()
    guard = budget(clock, store)
    guard.accepted(ACCOUNT, IQ, 1.0)
    with (
        guard.slot(deadline(clock), ACCOUNT, IQ, 1.0) as first,
        guard.slot(deadline(clock), ACCOUNT, IQ, 1.0) as second,
    ):
        assert first.known_good and second.known_good
        before = clock.monotonic()
        with pytest.raises(IqBusy), guard.slot(deadline(clock, 8.0), ACCOUNT, IQ, 1.0):
            raise AssertionError("a third code in flight")
        # it waited until the deadline was nearly spent (skipped, not slept), no longer
        assert 5.0 - 0.2 <= clock.monotonic() - before <= 8.0
    with guard.slot(deadline(clock), ACCOUNT, IQ, 2.0) as alone:  # other credentials
        assert alone.in_flight == 1
        with pytest.raises(IqBusy), guard.slot(deadline(clock, 1.0), ACCOUNT, IQ, 1.0):
            raise AssertionError("one at a time while nothing is known of these")
    with guard.slot(deadline(clock), ACCOUNT, IQ, 1.0):  # both slots were given back
        pass


def test_a_waiter_reads_the_budget_again_once_it_holds_its_slot() -> None:
    """Two known-good codes in flight are both rejected (the account was used in the app):
    a tap that waited for a slot sends nothing."""
    guard = OtpBudget(MemoryStore(), window=1200)  # real time: a thread waits
    guard.accepted(ACCOUNT, IQ, 1.0)
    waiting, sent = threading.Event(), []

    def in_flight() -> Deadline:
        return Deadline.within(10)

    def tap() -> None:
        waiting.set()
        try:
            with guard.slot(in_flight(), ACCOUNT, IQ, 1.0):
                sent.append("code")
        except BudgetRefused:
            sent.append("refused")

    with guard.slot(in_flight(), ACCOUNT, IQ, 1.0), guard.slot(in_flight(), ACCOUNT, IQ, 1.0):
        thread = threading.Thread(target=tap)
        thread.start()
        waiting.wait(5)
        guard.rejected(ACCOUNT, IQ)
        guard.rejected(ACCOUNT, IQ)
    thread.join(10)
    assert sent == ["refused"]


def test_dedup_claim_publish_and_wait() -> None:
    clock = SkipClock()
    dedup = Dedup(clock.store(), window=10, claim_seconds=20, clock=clock.clock())
    key = Dedup.key("acct", "park", "B-1", "lock", "guest")
    assert dedup.claim(key) and not dedup.claim(key)
    assert dedup.store.get(key) == PENDING
    clock.sleep(15)  # longer than the window: the claim of a slow open still holds
    assert not dedup.claim(key)
    record = {
        "outcome": "opened",
        "reason": "opened",
        "message": "Lock 1 was opened.",
        "attempt_id": "a" * 32,
        "opened_at": None,
        "retry_after": None,
    }
    dedup.publish(key, record)
    assert dedup.wait(key, Deadline.within(1, clock.clock())) == record
    clock.sleep(11)
    assert dedup.wait(key, Deadline.within(1, clock.clock())) is None  # gone: not a repeat


def test_a_wait_for_a_running_attempt_ends_at_the_deadline() -> None:
    clock = SkipClock()
    dedup = Dedup(MemoryStore(timer=clock.monotonic), clock=clock.clock())
    key = Dedup.key("acct", "park", "B-1", "lock", "guest")
    dedup.claim(key)
    started = clock.monotonic()
    assert dedup.wait(key, Deadline(started + 2, clock.clock())) is None
    assert 1.5 < clock.monotonic() - started <= 2  # slept (skipped) in growing steps


def test_taps_are_joined_per_requester() -> None:
    keys = {Dedup.key("a", "p", "B", "l", who).name for who in ("guest", "staff")}
    keys |= {
        Dedup.key("a", "p2", "B", "l", "guest").name,
        Dedup.key("a", "p", "B", "l2", "guest").name,
    }
    assert len(keys) == 4
