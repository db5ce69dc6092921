"""Every CloneJob the operator watches, as queueing and admission see them, kept by watch events.

The roster answers admission's questions from memory (who runs on a MigratingVm, who is ahead in its
queue, how many jobs hold products) and says which jobs to wake when a slot frees. ``reserve`` takes a
MigratingVm's slot and an active slot at once, under a lock held only around memory: a job reserves,
writes its start, and releases the reservation once the roster has seen the write, so ``--max-active``
and one-job-per-MigratingVm hold at every moment without a lock across any API call.
"""

from __future__ import annotations

import functools
import heapq
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from clonejob_operator import names
from clonejob_operator.api.clonejob import STARTED, State
from clonejob_operator.kube import Body, Kind
from clonejob_operator.machine.reasons import Trigger, WaitReason
from clonejob_operator.targets.catalog import REGISTRY

Key = tuple[str, str]
"""(namespace, name) of a CloneJob: what the work queue holds."""

WAITING = frozenset({State.STATE_UNSPECIFIED, State.PENDING})


@dataclass(frozen=True)
class Entry:
    """One CloneJob, as far as queueing and wake-ups care."""

    namespace: str
    name: str
    uid: str
    migrating_vm: str
    state: State
    order: tuple[str, int, str]
    """(creationTimestamp, creation revision, name): the FIFO order of a MigratingVm's queue. The
    timestamp has a one-second resolution; the revision (see ``creation_revision``) breaks its ties."""
    leaving: bool
    """Cancelled or being deleted: it will never start."""
    reads: frozenset[tuple[str, str]]
    """(plural, name) of the inputs the job reads by name now (its target's ``Watch.reads``)."""
    attention: bool
    """The operator has something to do with it: unfinished, a spec change to observe, or a deletion."""
    held: bool = False
    """Its status is not the operator's writing (see ``seal.py``): whatever it says, the job holds no slot,
    is in no queue and reads nothing; it is looked at only to say that it is held."""

    @classmethod
    def of(cls, body: Body, held: bool = False) -> Entry:
        meta, spec, status = body.get("metadata") or {}, body.get("spec") or {}, body.get("status") or {}
        if held:
            status = {}
        state = State.of(status.get("state"))
        deleting = bool(meta.get("deletionTimestamp"))
        finalizer = names.FINALIZER in (meta.get("finalizers") or [])
        stale = status.get("observedGeneration") != meta.get("generation")
        return cls(
            namespace=meta.get("namespace", ""),
            name=meta.get("name", ""),
            uid=meta.get("uid", ""),
            migrating_vm=str(spec.get("migratingVm", "")),
            state=state,
            order=(meta.get("creationTimestamp", ""), creation_revision(body), meta.get("name", "")),
            leaving=bool(spec.get("cancel")) or deleting,
            reads=REGISTRY.reads(status),
            attention=held or not state.terminal or stale or finalizer,
            held=held,
        )

    @property
    def key(self) -> Key:
        return (self.namespace, self.name)

    @property
    def started(self) -> bool:
        return self.state in STARTED and not self.held

    @property
    def queued(self) -> bool:
        return self.state in WAITING and not self.leaving and not self.held


def creation_revision(body: Body) -> int:
    """The order in which the API server stored the CloneJob: the resourceVersion it had when the operator
    first recorded it (``status.createdRevision``; before that its current one, which is its creation's
    unless it was changed since). etcd's revisions are numbers; anything else sorts last, then by name."""
    recorded = (body.get("status") or {}).get("createdRevision")
    value = recorded if recorded is not None else (body.get("metadata") or {}).get("resourceVersion")
    text = str(value or "")
    return int(text) if text.isdigit() else 2**63


Doubt = Callable[[Body], str | None]
"""Why a CloneJob's status is not the operator's own writing (``Sealer.doubt``), or None."""


class Roster:
    def __init__(self, max_active: int = 0, doubt: Doubt = lambda body: None, per_namespace: int = 0) -> None:
        self.max_active = max_active
        """At most this many jobs hold products at once (0: no limit)."""
        self.per_namespace = per_namespace
        """At most this many of them in one namespace (0: no limit)."""
        self.doubt = doubt
        self._starts = 0
        self._last_start: dict[str, int] = {}
        """namespace -> the count of starts when one of its jobs last started: a freed slot goes to the namespace
        that has waited longest (round-robin across namespaces, FIFO within one)."""
        self._entries: dict[str, Entry] = {}
        self._by_name: dict[Key, str] = {}
        self._by_mvm: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._by_read: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        """(namespace, plural, name) of an input -> the uids of the jobs that read it."""
        self._reserved: dict[str, tuple[str, str]] = {}
        self._waits: dict[str, WaitReason] = {}
        """Why each PENDING job waits, as its last decision said (never read back from a status)."""
        self._lock = threading.Lock()

    def waiting(self, uid: str, reason: WaitReason | None) -> set[Key]:
        """Record why a job waits (None: it does not), from the decision just taken; the jobs to wake because of
        it: a job that no longer waits for a slot may have been ahead of others while a slot is free."""
        with self._lock:
            before = self._waits.pop(uid, None)
            if reason is not None:
                self._waits[uid] = reason
            left = before is not None and before.trigger is Trigger.ACTIVE_SLOT
            if not left or (reason is not None and reason.trigger is Trigger.ACTIVE_SLOT):
                return set()
            counts = Counter(e.namespace for e in self._holders())
            if self.max_active and sum(counts.values()) >= self.max_active:
                return set()
            return {e.key for e in self._candidates(counts) if e.uid != uid}

    def entry(self, body: Body) -> Entry:
        """The CloneJob as queueing sees it: a status the operator did not write counts for nothing."""
        return Entry.of(body, held=self.doubt(body) is not None)

    def _trigger(self, entry: Entry) -> Trigger | None:
        wait = self._waits.get(entry.uid)
        return wait.trigger if wait is not None else None

    # --- kept by watch events (and by the operator's own writes) ---------------------------------------
    def observe(self, body: Body) -> set[Key]:
        """Record ``body``; the other jobs to wake because of the change."""
        after = self.entry(body)
        with self._lock:
            before = self._entries.get(after.uid)
            if after.started and not (before is not None and before.started):
                self._starts += 1
                self._last_start[after.namespace] = self._starts
            self._unlink(before)
            self._entries[after.uid] = after
            self._by_name[after.key] = after.uid
            self._by_mvm[(after.namespace, after.migrating_vm)].add(after.uid)
            for plural, name in after.reads:
                self._by_read[(after.namespace, plural, name)].add(after.uid)
            return self._wakes(before, after)

    def forget(self, body: Body) -> set[Key]:
        uid = (body.get("metadata") or {}).get("uid", "")
        with self._lock:
            before = self._entries.pop(uid, None)
            self._unlink(before)
            self._reserved.pop(uid, None)
            self._waits.pop(uid, None)
            return self._wakes(before, None)

    def _unlink(self, entry: Entry | None) -> None:
        if entry is None:
            return
        if self._by_name.get(entry.key) == entry.uid:
            del self._by_name[entry.key]
        peers = self._by_mvm.get((entry.namespace, entry.migrating_vm))
        if peers is not None:
            peers.discard(entry.uid)
            if not peers:
                del self._by_mvm[(entry.namespace, entry.migrating_vm)]
        for plural, name in entry.reads:
            readers = self._by_read.get((entry.namespace, plural, name))
            if readers is not None:
                readers.discard(entry.uid)
                if not readers:
                    del self._by_read[(entry.namespace, plural, name)]

    def _wakes(self, before: Entry | None, after: Entry | None) -> set[Key]:
        if before is None:
            return set()
        freed = before.started and (after is None or not after.started)
        left = before.queued and (after is None or not after.queued)
        if not (freed or left):
            return set()
        out = set(self._heads(before.namespace, before.migrating_vm))
        if freed and (self.max_active or self.per_namespace):
            counts = Counter(e.namespace for e in self._holders())
            free = max(1, self.max_active - sum(counts.values())) if self.max_active else len(self._entries)
            fair = functools.partial(self._fair, counts=counts)
            out.update(e.key for e in heapq.nsmallest(free, self._candidates(counts), key=fair))
        return out

    def _candidates(self, counts: Counter[str]) -> list[Entry]:
        """Jobs that wait for an active slot alone, in namespaces below their own limit."""
        return [
            e
            for e in self._entries.values()
            if e.queued
            and self._trigger(e) is Trigger.ACTIVE_SLOT
            and not (self.per_namespace and counts[e.namespace] >= self.per_namespace)
        ]

    def _fair(self, entry: Entry, counts: Counter[str]) -> tuple[int, int, tuple[str, int, str]]:
        """Who gets a freed slot first: the namespace with the fewest running jobs, then the one that has waited
        longest since it last got a slot, then the oldest job of it."""
        return (counts[entry.namespace], self._last_start.get(entry.namespace, 0), entry.order)

    # --- questions admission asks -------------------------------------------------------------------------
    def _peers(self, namespace: str, migrating_vm: str) -> Iterable[Entry]:
        return (self._entries[uid] for uid in self._by_mvm.get((namespace, migrating_vm), ()))

    def _heads(self, namespace: str, migrating_vm: str) -> list[Key]:
        queued = [e for e in self._peers(namespace, migrating_vm) if e.queued]
        return [min(queued, key=lambda e: e.order).key] if queued else []

    def ahead(self, entry: Entry) -> Entry | None:
        """An older job queued on the same MigratingVm: it goes first."""
        with self._lock:
            older = [
                e
                for e in self._peers(entry.namespace, entry.migrating_vm)
                if e.uid != entry.uid and e.queued and e.order < entry.order
            ]
            return min(older, key=lambda e: e.order) if older else None

    def holds(self, namespace: str, name: str, uid: str | None) -> bool:
        """Whether a job (by uid, else by name) has started or is starting: whether its claim is real."""
        with self._lock:
            found = uid if uid else self._by_name.get((namespace, name))
            entry = self._entries.get(found or "")
            return entry is not None and (entry.started or entry.uid in self._reserved)

    def refusal(self, entry: Entry) -> tuple[WaitReason, str] | None:
        """Why ``entry`` may not start now (another job of its MigratingVm, the active limit), or None."""
        with self._lock:
            return self._refusal(entry)

    def _refusal(self, entry: Entry) -> tuple[WaitReason, str] | None:
        for peer in self._peers(entry.namespace, entry.migrating_vm):
            if peer.uid != entry.uid and (peer.started or peer.uid in self._reserved):
                return WaitReason.WAITING_FOR_CLONE_JOB, (
                    f"CloneJob {peer.name} of MigratingVm {entry.migrating_vm} is "
                    f"{'starting' if peer.uid in self._reserved else peer.state.value}; one runs at a time"
                )
        if not self.per_namespace and not self.max_active:
            return None  # no limit to count against: no walk over every job at every start
        holders = [e for e in self._holders() if e.uid != entry.uid]
        counts = Counter(e.namespace for e in holders)
        if self.per_namespace and counts[entry.namespace] >= self.per_namespace:
            held = [e for e in holders if e.namespace == entry.namespace]
            return WaitReason.MAX_ACTIVE_PER_NAMESPACE_REACHED, (
                f"namespace {entry.namespace} holds its {_slots(self.per_namespace)} (--max-active-per-namespace): "
                f"{_names(held)}; it starts when one of them ends"
            )
        if not self.max_active:
            return None
        if len(holders) >= self.max_active:
            return WaitReason.MAX_ACTIVE_REACHED, (
                f"all {_slots(self.max_active)} are held (--max-active): {_names(holders)}; it starts when one ends"
            )
        mine = self._fair(entry, counts)
        first = [e for e in self._candidates(counts) if e.uid != entry.uid and self._fair(e, counts) < mine]
        if len(first) >= self.max_active - len(holders):
            return WaitReason.MAX_ACTIVE_REACHED, (
                f"{_slots(self.max_active - len(holders), 'free')} go first to CloneJobs that waited longer "
                f"({_names(first)}), one namespace at a time; it starts after them"
            )
        return None

    def _holders(self) -> list[Entry]:
        return [e for uid, e in self._entries.items() if e.started or uid in self._reserved]

    @contextmanager
    def reservation(self, entry: Entry) -> Iterator[tuple[WaitReason, str] | None]:
        """Hold the MigratingVm's slot and an active slot for ``entry`` while its start is written; yields
        why it can't (and holds nothing) when another job took one first. The lock guards memory only."""
        with self._lock:
            refused = self._refusal(entry)
            if refused is None:
                self._reserved[entry.uid] = (entry.namespace, entry.migrating_vm)
        try:
            yield refused
        finally:
            if refused is None:
                with self._lock:
                    self._reserved.pop(entry.uid, None)

    def _active(self, excluding: str | None) -> int:
        started = {uid for uid, e in self._entries.items() if e.started}
        return len((started | set(self._reserved)) - {excluding})

    def active(self) -> int:
        with self._lock:
            return self._active(None)

    # --- who to wake ------------------------------------------------------------------------------------
    def key_of(self, uid: str) -> Key | None:
        """The job with this uid, while it is unfinished (products of finished jobs are never touched)."""
        with self._lock:
            entry = self._entries.get(uid)
            return entry.key if entry is not None and entry.attention and not entry.state.terminal else None

    def for_migrating_vm(self, namespace: str, migrating_vm: str) -> set[Key]:
        """Jobs a change of the MigratingVm may move: the head of its queue and those waiting for it to be ready."""
        with self._lock:
            out = set(self._heads(namespace, migrating_vm))
            out.update(
                e.key
                for e in self._peers(namespace, migrating_vm)
                if e.queued and self._trigger(e) in (None, Trigger.MIGRATING_VM)
            )
            return out

    def waiting_in(self, namespace: str | None, trigger: Trigger) -> set[Key]:
        """Queued jobs of a namespace (None: of every one) whose wait ``trigger`` may end (a TargetProject
        appearing, say)."""
        with self._lock:
            return {
                e.key
                for e in self._entries.values()
                if namespace in (None, e.namespace) and e.queued and self._trigger(e) is trigger
            }

    def reading(self, kind: Kind, namespace: str, name: str) -> set[Key]:
        """The jobs that read this input now."""
        with self._lock:
            return {self._entries[uid].key for uid in self._by_read.get((namespace, kind.plural, name), ())}

    def needing_attention(self) -> list[Key]:
        with self._lock:
            return [e.key for e in self._entries.values() if e.attention]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def _slots(count: int, kind: str = "active") -> str:
    return f"{count} {kind} slot" + ("" if count == 1 else "s")


def _names(entries: list[Entry], shown: int = 3) -> str:
    """Up to ``shown`` jobs as NAMESPACE/NAME, oldest first, and how many more."""
    ordered = sorted(entries, key=lambda e: e.order)
    text = ", ".join(f"{e.namespace}/{e.name}" for e in ordered[:shown])
    return text + (f" and {len(ordered) - shown} more" if len(ordered) > shown else "")
