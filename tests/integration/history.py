"""Every CloneJob write in one namespace, as a watch delivered them in order: the invariants suites check."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from bench.watching import Follower

from clonejob_operator.api.clonejob import FINISHED, STARTED, State
from clonejob_operator.kube import CLONE_JOB, Kube

RANK = {"": 0, State.PENDING: 1, State.ACTIVE: 2, State.ADAPTING_OS: 3, State.CANCELLING: 4}


class History:
    """Every CloneJob write as the watch delivered it, in order: states, the active count, one job per MigratingVm."""

    def __init__(self, kube: Kube, namespace: str) -> None:
        self.states: dict[str, list[str]] = {}
        self.migrating_vm: dict[str, str] = {}
        self.most_active = 0
        self.most_per_migrating_vm = 0
        self.backwards: list[str] = []
        self.order: list[tuple[str, str]] = []
        """(job, state) as each state was first seen, across all jobs."""
        self.gone: set[str] = set()
        """Jobs whose deletion the watch delivered (their last state stays in ``states``)."""
        self._lock = threading.Lock()
        self._follower = Follower(kube, CLONE_JOB, namespace, self._seen, Counter())

    def _seen(self, type_: str, body: dict[str, Any]) -> None:
        with self._lock:
            self._record(type_, body)

    def _record(self, type_: str, body: dict[str, Any]) -> None:
        name = body["metadata"]["name"]
        if type_ == "DELETED":
            self.gone.add(name)
            return
        state = (body.get("status") or {}).get("state") or ""
        seen = self.states.setdefault(name, [])
        self.migrating_vm[name] = body["spec"]["migratingVm"]
        moved = bool(seen) and state != seen[-1]
        if moved and (seen[-1] in FINISHED or (state not in FINISHED and RANK[state] < RANK[seen[-1]])):
            self.backwards.append(f"{name}: {seen[-1]} -> {state}")
        if not seen or state != seen[-1]:
            seen.append(state)
            self.order.append((name, state))
        current = {job: states[-1] for job, states in self.states.items() if job not in self.gone}
        started = [job for job, s in current.items() if s in STARTED]
        self.most_active = max(self.most_active, len(started))
        per_vm = Counter(self.migrating_vm[job] for job in started)
        self.most_per_migrating_vm = max([self.most_per_migrating_vm, *per_vm.values()])

    def count(self, state: str) -> int:
        with self._lock:
            return sum(1 for states in self.states.values() if states[-1] == state)

    def last(self, name: str) -> str:
        with self._lock:
            return (self.states.get(name) or [""])[-1]

    def settled(self, names: list[str]) -> bool:
        """Every one of ``names`` finished or gone."""
        with self._lock:
            return all(n in self.gone or (self.states.get(n) or [""])[-1] in FINISHED for n in names)

    def __enter__(self) -> History:
        self._follower.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._follower.stop()
        assert self._follower.error is None
