"""The work queue's client-go semantics: coalescing, one worker per key, delays, backoff."""

from __future__ import annotations

import threading

from clonejob_operator.workqueue import Backoff, WorkQueue
from tests.clocks import Clock


def test_a_key_is_queued_once_however_often_it_is_added() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for key in ("a", "b", "a", "a"):
        queue.add(key)
    assert len(queue) == 2
    assert [queue.get(0), queue.get(0), queue.get(0)] == ["a", "b", None]


def test_a_key_added_while_processed_comes_back_only_when_done() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    assert queue.get(0) == "a"
    queue.add("a")
    queue.add("a")
    assert queue.get(0) is None  # never to a second worker while the first holds it
    queue.done("a")
    assert queue.get(0) == "a" and queue.get(0) is None


def test_delayed_adds_keep_the_earliest_and_fire_when_due() -> None:
    clock = Clock(100.0)
    queue: WorkQueue[str] = WorkQueue(clock=clock)
    queue.add_after("a", 10)
    queue.add_after("a", 30)  # later: ignored
    queue.add_after("a", 5)  # earlier: wins
    assert queue.get(0) is None and queue.pending() == 1
    clock.now += 5
    assert queue.get(0) == "a"
    queue.done("a")
    clock.now += 100
    assert queue.get(0) is None  # the superseded timers fire nothing


def test_urgent_keys_go_first_and_an_upgrade_moves_a_waiting_key_ahead_once() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add_all(["new-1", "new-2", "new-3"])
    queue.add("running", urgent=True)
    queue.add("new-3", urgent=True)  # already waiting: moved ahead, not queued twice
    taken = [queue.get(0) for _ in range(5)]
    assert taken == ["running", "new-3", "new-1", "new-2", None]
    for key in taken[:4]:
        assert key is not None
        queue.done(key)
    assert queue.get(0) is None


def test_a_due_deadline_is_urgent() -> None:
    clock = Clock(100.0)
    queue: WorkQueue[str] = WorkQueue(clock=clock)
    queue.add("new")
    queue.add_after("deadline", 1)
    clock.now += 1
    assert queue.get(0) == "deadline"


def test_backoff_doubles_and_forget_resets() -> None:
    clock = Clock(100.0)
    queue: WorkQueue[str] = WorkQueue(Backoff(first=1, most=5), clock=clock)
    assert [queue.retry("a") for _ in range(5)] == [1, 2, 4, 5, 5]
    queue.forget("a")
    assert queue.retry("a") == 1
    assert queue.retry("a", at_least=30) == 30  # a server's Retry-After


def test_the_backoff_is_one_policy_for_the_queue_and_for_kopf() -> None:
    waits = iter(Backoff(first=0.5, most=2.0))
    assert [next(waits) for _ in range(5)] == [0.5, 1.0, 2.0, 2.0, 2.0]
    assert Backoff().delay(1000) == Backoff().most


def test_get_blocks_until_an_add_from_another_thread_and_close_releases_it() -> None:
    queue: WorkQueue[str] = WorkQueue()
    got: list[str | None] = []
    worker = threading.Thread(target=lambda: got.append(queue.get()))
    worker.start()
    queue.add("a")
    worker.join(5)
    assert got == ["a"]
    waiting = threading.Thread(target=lambda: got.append(queue.get()))
    waiting.start()
    queue.close()
    waiting.join(5)
    assert not waiting.is_alive() and got == ["a", None]
    queue.add("b")
    assert queue.get(0) is None  # closed: nothing more is taken
