"""What this process remembers of each job between looks: memory only, under one lock.

It holds what the API server cannot tell us (yet): products just created whose status entry is not
written, the last commit's fault, refused status writes, when the status was last written, when the
run of faults a job is in began, and a finished job's record in its MigratingVm still owed. A restart
forgets it, which costs at most one repeated (idempotent) step, or that record (best effort, as
recentCloneJobs is: the next job's claim replaces the stale entry).

``observe`` reads it and never changes it; the committer is its only writer (it records what its
writes met, and, at the start of each commit, that the look before it has been decided on).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from clonejob_operator.api.clonejob import ResourceRef
from clonejob_operator.faults import Fault


@dataclass(frozen=True)
class JobMemory:
    created: tuple[ResourceRef, ...] = ()
    fault: Fault | None = None
    """What the last commit met; it stays until the next commit, which was decided with it in view."""
    fault_since: datetime | None = None
    """When the run of looks that met a fault began (None: the last look met none)."""
    refused_write: str | None = None
    """The words in which the API server refused the last status write (400, 422)."""
    refusals: int = 0
    """How many status writes in a row were refused in those words."""
    refused_at: str | None = None
    """The job's resourceVersion when the last refusal came: a change of the job is worth another try."""
    unwritable: str | None = None
    """The resourceVersion at which the job was decided unwritable (and told so)."""
    last_write: datetime | None = None
    unrecorded: bool = False
    """The finished job's record in its MigratingVm's recentCloneJobs got no answer: the next look writes it."""

    def refusal(self, resource_version: str) -> tuple[str | None, int]:
        """(the refusal's words, how many in a row) as they stand for the job at ``resource_version``."""
        if self.refused_at != resource_version:
            return None, 0
        return self.refused_write, self.refusals


@dataclass
class Memory:
    _entries: dict[str, JobMemory] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __contains__(self, uid: object) -> bool:
        """Whether anything of the job is remembered (a gone job's entry must not linger)."""
        with self._lock:
            return uid in self._entries

    def read(self, uid: str) -> JobMemory:
        with self._lock:
            return self._entries.get(uid, JobMemory())

    def _change(self, uid: str, **changes: object) -> JobMemory:
        entry = replace(self._entries.get(uid, JobMemory()), **changes)  # type: ignore[arg-type]
        self._entries[uid] = entry
        return entry

    def looked(self, uid: str, faulty: bool, now: datetime) -> None:
        """A decision was taken on the look (and memory) before it: the last commit's fault has had its say,
        and the run of faults goes on (``faulty``) or ends."""
        with self._lock:
            since = self._entries.get(uid, JobMemory()).fault_since
            self._change(uid, fault=None, fault_since=(since or now) if faulty else None)

    def created(self, uid: str, ref: ResourceRef) -> None:
        with self._lock:
            self._change(uid, created=(*self._entries.get(uid, JobMemory()).created, ref))

    def failed(self, uid: str, fault: Fault) -> None:
        with self._lock:
            self._change(uid, fault=fault)

    def refused(self, uid: str, why: str, resource_version: str) -> None:
        """A refused status write, at the job's ``resource_version``."""
        with self._lock:
            entry = self._entries.get(uid, JobMemory())
            count = entry.refusals + 1 if entry.refused_write == why else 1
            self._change(uid, refused_write=why, refusals=count, refused_at=resource_version)

    def recorded(self, uid: str, done: bool) -> None:
        """Whether the job's record in its MigratingVm was written (False: it got no answer, and is owed)."""
        with self._lock:
            self._change(uid, unrecorded=not done)

    def gave_up(self, uid: str, resource_version: str) -> None:
        with self._lock:
            self._change(uid, unwritable=resource_version)

    def wrote(self, uid: str, at: datetime, recorded: Sequence[ResourceRef] = ()) -> None:
        """The status was written at ``at``; a product it now records is no longer news (from then on the
        status, and what later looks find, say what is known of it)."""
        known = {(ref.api_version, ref.kind, ref.name, ref.namespace) for ref in recorded}
        with self._lock:
            entry = self._entries.get(uid, JobMemory())
            created = tuple(r for r in entry.created if (r.api_version, r.kind, r.name, r.namespace) not in known)
            self._change(uid, created=created, last_write=at, refused_write=None, refusals=0, refused_at=None)

    def forget(self, uid: str) -> None:
        with self._lock:
            self._entries.pop(uid, None)
