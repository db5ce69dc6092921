"""leadership: the fence holds only within the renew deadline of a renewal; the lock reports to it and can close."""

from __future__ import annotations

from typing import Any

import pytest

from clonejob_operator.leadership import Election, Fence, FencedLock
from tests.clocks import Clock


class Inner:
    """What FencedLock wraps (the client's LeaseLock): answers chosen by the test, time moving during a write."""

    name = "clonejob-operator"
    namespace = "ops"
    identity = "me_1"

    def __init__(self, clock: Clock[float]) -> None:
        self.clock = clock
        self.answer: bool | Exception = True
        self.record: Any = type("Record", (), {"holder_identity": "other_2"})()
        self.calls: list[str] = []

    def get(self, name: str, namespace: str) -> tuple[bool, Any]:
        self.calls.append("get")
        if isinstance(self.answer, Exception):
            raise self.answer
        return True, self.record

    def update(self, name: str, namespace: str, record: Any) -> bool:
        self.calls.append("update")
        self.clock.now += 3.0  # the request takes a while: the fence counts from before it was sent
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def create(self, name: str, namespace: str, election_record: Any) -> bool:
        self.calls.append("create")
        return self.update(name, namespace, election_record)


def fenced() -> tuple[Clock[float], Fence, Inner, FencedLock]:
    clock = Clock(100.0)
    fence = Fence(renew_deadline=10.0, clock=clock)
    inner = Inner(clock)
    return clock, fence, inner, FencedLock(inner, fence)  # type: ignore[arg-type]


def test_the_fence_holds_from_a_renewals_send_until_the_renew_deadline() -> None:
    clock, fence, _, lock = fenced()
    assert not fence.holding(), "nobody may write before the first renewal"
    assert lock.update("clonejob-operator", "ops", object())
    assert fence.holding() and fence.remaining() == pytest.approx(7.0)  # 3 s went by on the wire
    clock.now += 6.9
    assert fence.holding()
    clock.now += 0.2
    assert not fence.holding(), "10 s after the renewal was sent, whatever the answer's delay"


def test_a_failed_or_unanswered_renewal_does_not_move_the_fence() -> None:
    clock, fence, inner, lock = fenced()
    lock.create("clonejob-operator", "ops", object())
    inner.answer = False
    assert not lock.update("clonejob-operator", "ops", object())
    inner.answer = ConnectionRefusedError("refused")
    assert not lock.update("clonejob-operator", "ops", object()), "no answer is a failed attempt, not a crash"
    clock.now += 4.1  # 3 + 3 + 3 + 4.1 > 10 since the only renewal was sent
    assert not fence.holding()


def test_a_read_without_an_answer_is_not_a_404() -> None:
    _, _, inner, lock = fenced()
    inner.answer = TimeoutError("read timed out")
    found, record = lock.get("clonejob-operator", "ops")
    assert (
        not found and "TimeoutError" in record.reason and record.body == ""
    )  # the election neither creates nor renews


def test_the_lock_names_the_holder_it_reads() -> None:
    _, _, _, lock = fenced()
    assert lock.get("clonejob-operator", "ops")[0]
    assert lock.holder == "other_2"


def test_a_closed_lock_sends_nothing_and_renews_nothing() -> None:
    _, fence, inner, lock = fenced()
    lock.update("clonejob-operator", "ops", object())
    lock.closed.set()
    fence.drop()
    inner.calls.clear()
    assert lock.get("clonejob-operator", "ops")[0] is False
    assert lock.update("clonejob-operator", "ops", object()) is False
    assert inner.calls == [] and not fence.holding()


@pytest.mark.parametrize(
    ("timings", "complaint"),
    [
        ({"retry_period": 0.5}, "--leader-elect-retry-period must be at least 1s"),
        ({"renew_deadline": 2.0}, "--leader-elect-renew-deadline must be longer than 1.2 x"),
        ({"lease_duration": 10}, "--leader-elect-lease-duration must be longer than --leader-elect-renew-deadline"),
    ],
)
def test_election_timings_that_the_client_would_exit_on_are_named(timings: dict[str, Any], complaint: str) -> None:
    assert Election("ops").problems() == []
    assert any(problem.startswith(complaint) for problem in Election("ops", **timings).problems())
