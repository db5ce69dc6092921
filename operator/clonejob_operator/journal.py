"""What this process's commits did to each job, for the next look: memory only, under one lock.

It holds what the API server cannot tell us (yet): products just created whose status entry is not
written, a commit's failure, a refused status write, when the status was last written, and the run of
faults a job is in. A restart forgets it, which costs at most one repeated (idempotent) step.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from clonejob_operator.api.clonejob import ResourceRef
from clonejob_operator.faults import Fault, Streaks


@dataclass(frozen=True)
class Memory:
    created: tuple[ResourceRef, ...] = ()
    fault: Fault | None = None
    refused_write: str | None = None
    refusals: int = 0
    """How many status writes in a row the API server refused with the same words."""
    unwritable: str | None = None
    """The resourceVersion at which the job was found unwritable: it is left alone until it changes."""
    last_write: datetime | None = None


@dataclass
class Journal:
    streaks: Streaks = field(default_factory=Streaks)
    _entries: dict[str, Memory] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self, uid: str, consume: bool = True) -> Memory:
        """The job's entry; a commit's fault is handed out once (to the next look)."""
        with self._lock:
            entry = self._entries.get(uid, Memory())
            if consume and entry.fault is not None:
                self._entries[uid] = replace(entry, fault=None)
            return entry

    def created(self, uid: str, ref: ResourceRef) -> None:
        with self._lock:
            entry = self._entries.get(uid, Memory())
            self._entries[uid] = replace(entry, created=(*entry.created, ref))

    def failed(self, uid: str, fault: Fault) -> None:
        with self._lock:
            self._entries[uid] = replace(self._entries.get(uid, Memory()), fault=fault)

    def refused(self, uid: str, why: str) -> int:
        """A refused status write; how many in a row were refused with these words."""
        with self._lock:
            entry = self._entries.get(uid, Memory())
            count = entry.refusals + 1 if entry.refused_write == why else 1
            self._entries[uid] = replace(entry, refused_write=why, refusals=count)
            return count

    def give_up(self, uid: str, resource_version: str) -> None:
        with self._lock:
            self._entries[uid] = replace(self._entries.get(uid, Memory()), unwritable=resource_version)

    def unwritable(self, uid: str, resource_version: str) -> bool:
        """Whether the job was found unwritable as it is now (any change of it gives it another try)."""
        with self._lock:
            return self._entries.get(uid, Memory()).unwritable == resource_version

    def wrote(self, uid: str, at: datetime, recorded: Sequence[ResourceRef] = ()) -> None:
        """The status was written at ``at``; a product it now records is no longer news (from then on the
        status, and what later looks find, say what is known of it)."""
        known = {(ref.api_version, ref.kind, ref.name, ref.namespace) for ref in recorded}
        with self._lock:
            entry = self._entries.get(uid, Memory())
            created = tuple(r for r in entry.created if (r.api_version, r.kind, r.name, r.namespace) not in known)
            self._entries[uid] = replace(entry, created=created, last_write=at, refused_write=None, refusals=0)

    def forget(self, uid: str) -> None:
        with self._lock:
            self._entries.pop(uid, None)
        self.streaks.cleared(uid)
