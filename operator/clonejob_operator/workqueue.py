"""A coalescing work queue of job keys, with delayed re-queues and per-key backoff (client-go's semantics).

- a key waiting in the queue is there once, however often it is added;
- a key is handed to one worker at a time: added while being processed, it is queued again when done;
- ``add_after`` schedules a look at a deadline, keeping only the earliest one per key;
- ``retry`` re-queues a failed key after its ``Backoff`` delay, ``forget`` resets it after a success;
- an ``urgent`` key (work that moves a started job on, a deadline, a cancel) is handed out before any
  other, so that a burst of new jobs never delays jobs already under way.

The queue owns the backoff: a reconcile that met an error says so, and the queue decides when the key
is looked at again. ``Backoff`` is the operator's one retry policy (the runtime's restarts of kopf's run
and kopf's own request retries follow it too); a decision's ``requeue_after`` is for time alone.

The lock guards memory only; nothing here calls out while holding it.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Backoff:
    """``first`` seconds after the first failure, doubling with each failure in a row, ``most`` at most."""

    first: float = 0.25
    most: float = 60.0

    def delay(self, failures: int) -> float:
        """The wait after ``failures`` failures in a row (0: the first failure)."""
        return min(self.most, self.first * 2.0 ** min(failures, 60))

    def __iter__(self) -> Iterator[float]:
        """The waits of an endless run of failures (kopf iterates its ``error_backoffs`` afresh per request)."""
        failures = 0
        while True:
            yield self.delay(failures)
            failures += 1


class WorkQueue(Generic[K]):
    def __init__(
        self,
        backoff: Backoff = Backoff(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backoff = backoff
        self._clock = clock
        self._urgent: deque[K] = deque()
        self._normal: deque[K] = deque()
        self._where: dict[K, bool] = {}
        """Keys waiting in a deque: key -> urgent. Deques may hold stale entries; this says which is live."""
        self._dirty: dict[K, bool] = {}
        """Keys added and not yet handed out (waiting, or added again while processed): key -> urgent."""
        self._processing: set[K] = set()
        self._due: dict[K, float] = {}
        self._timers: list[tuple[float, int, K]] = []
        self._failures: dict[K, int] = {}
        self._seq = 0
        self._closed = False
        self._changed = threading.Condition(threading.Lock())

    def __len__(self) -> int:
        with self._changed:
            return len(self._where)

    def add(self, key: K, urgent: bool = False) -> None:
        with self._changed:
            self._add(key, urgent)

    def add_all(self, keys: Iterable[K], urgent: bool = False) -> None:
        with self._changed:
            for key in keys:
                self._add(key, urgent)

    def _add(self, key: K, urgent: bool) -> None:
        if self._closed:
            return
        if key in self._dirty:
            if urgent and not self._dirty[key]:
                self._dirty[key] = True
                if key in self._where:  # move it ahead; its entry in the other deque goes stale
                    self._enqueue(key, True)
            return
        self._dirty[key] = urgent
        if key not in self._processing:
            self._enqueue(key, urgent)

    def _enqueue(self, key: K, urgent: bool) -> None:
        self._where[key] = urgent
        (self._urgent if urgent else self._normal).append(key)
        self._changed.notify()

    def add_after(self, key: K, delay: float) -> None:
        """Queue ``key`` in ``delay`` seconds, unless an earlier look is already scheduled."""
        if delay <= 0:
            self.add(key, urgent=True)
            return
        with self._changed:
            due = self._clock() + delay
            if self._closed or self._due.get(key, float("inf")) <= due:
                return
            self._due[key] = due
            self._seq += 1
            heapq.heappush(self._timers, (due, self._seq, key))
            self._changed.notify()

    def retry(self, key: K, at_least: float = 0.0, backoff: Backoff | None = None) -> float:
        """Queue ``key`` again after its next backoff delay (``at_least`` that: a server's Retry-After; by
        ``backoff`` instead of the queue's own, for an outage); the delay chosen. The failures are counted
        until ``forget``."""
        with self._changed:
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
        delay = max(at_least, (backoff or self.backoff).delay(failures))
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        with self._changed:
            self._failures.pop(key, None)

    def get(self, timeout: float | None = None) -> K | None:
        """The next key to process (now owned by the caller until ``done``); None when closed or timed out."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._changed:
            while True:
                self._release_due()
                key = self._pop()
                if key is not None:
                    del self._dirty[key]
                    self._processing.add(key)
                    return key
                if self._closed:
                    return None
                wait = self._timers[0][0] - self._clock() if self._timers else None
                if deadline is not None:
                    left = deadline - self._clock()
                    if left <= 0:
                        return None
                    wait = left if wait is None else min(wait, left)
                self._changed.wait(None if wait is None else max(wait, 0.0))

    def _pop(self) -> K | None:
        for urgent, queue in ((True, self._urgent), (False, self._normal)):
            while queue:
                key = queue.popleft()
                if self._where.get(key) is urgent:
                    del self._where[key]
                    return key
        return None

    def _release_due(self) -> None:
        now = self._clock()
        while self._timers and self._timers[0][0] <= now:
            due, _, key = heapq.heappop(self._timers)
            if self._due.get(key) == due:
                del self._due[key]
                self._add(key, True)  # a deadline is due: look now

    def done(self, key: K) -> None:
        with self._changed:
            self._processing.discard(key)
            if key in self._dirty:
                self._enqueue(key, self._dirty[key])

    @property
    def closed(self) -> bool:
        with self._changed:
            return self._closed

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def pending(self) -> int:
        """Keys waiting or scheduled (for metrics and tests)."""
        with self._changed:
            return len(self._where) + len(self._due)
