"""The fed MigratingVms' work queue: which watch events concern them, and one reconcile at a time of each.

A MigratingVm is looked at when it changes; when an object its feed reads changes (a ReplicationDestination
it names, an image that destination owns, an image it holds); and when one of its CloneJobs changes (a job
that has recorded what it restores from, or holds it now, lets the MigratingVm let go). One that carries
the operator's finalizer is looked at even when no feed names it any more, so that it lets go of what it
holds. The watch events also keep who holds which image (``HELD_BY``), so that a reconcile reads only the
images that concern it. Everything here but ``work_once`` is memory only: called on the watch's event loop,
it never blocks.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable

from clonejob_operator import names
from clonejob_operator.api.states import FINISHED
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, VOLUME_SNAPSHOT, Body, Kind
from clonejob_operator.logs import Once
from clonejob_operator.roster import Key
from clonejob_operator.sources.base import FEED_FAILING, FEED_HOLDER, FeedOutcome, holder, holders_of
from clonejob_operator.sources.catalog import FeedDrivers
from clonejob_operator.workqueue import Backoff, WorkQueue

log = logging.getLogger(__name__)
_FINISHED = frozenset(state.value for state in FINISHED)
Post = Callable[[dict[str, str], str, str, str], object]
"""(involved object, type, reason, message) -> posted or not: an ``EventPoster``'s ``post``."""
Count = Callable[[str, str], object]
"""(feed, ``refused`` or ``outage``) -> None: one fault counted."""


class FedQueue:
    def __init__(
        self,
        drivers: FeedDrivers,
        most: float,
        poll: float | None = None,
        post: Post | None = None,
        count: Count | None = None,
    ) -> None:
        self.drivers = drivers
        self.post = post
        """How a Warning Event is posted (an ``EventPoster``'s ``post``); None: said in the log only."""
        self.count = count
        """How a fault is counted, by feed and kind (``refused``, ``outage``): a metric."""
        self._said = Once()
        self.poll = poll
        """Seconds between two looks at each fed MigratingVm when what its feed reads is not watched (its CRD was
        not served when the operator started): no change would wake it."""
        self.feeds = drivers.feeds
        self.queue: WorkQueue[Key] = WorkQueue(Backoff(most=most))
        self._read = frozenset(self.feeds.watched())
        self._lock = threading.Lock()
        self._fed: dict[Key, tuple[str | None, str]] = {}
        """Each fed MigratingVm: (the feed that keeps it, None when none does now but it still holds; its uid)."""
        self._by_uid: dict[str, Key] = {}
        self._readers: dict[Key, set[str]] = defaultdict(set)
        """(namespace, name of an object a feed reads) -> the MigratingVms that read it."""
        self._reads: dict[Key, tuple[str, ...]] = {}
        self._held: dict[Key, set[str]] = defaultdict(set)
        """(namespace, holder) -> the images it holds, as the watch saw them."""
        self._holders: dict[Key, tuple[str, ...]] = {}
        """(namespace, image) -> who holds it."""
        self._marks: dict[Key, tuple[bool, bool] | None] = {}
        """(namespace, CloneJob of a fed MigratingVm) -> (it recorded what it restores from, it finished)."""

    # --- intake -------------------------------------------------------------------------------------
    def observed(self, kind: Kind, body: Body, deleted: bool) -> None:
        meta = body.get("metadata") or {}
        namespace = meta.get("namespace", "")
        if kind is MIGRATING_VM:
            self._migrating_vm((namespace, meta.get("name", "")), meta, body, deleted)
        elif kind is CLONE_JOB:
            self._job(namespace, meta, body, deleted)
        elif kind is VOLUME_SNAPSHOT:
            self._image(namespace, meta, body, deleted)
        elif kind in self._read:
            readers = self._readers.get((namespace, meta.get("name", "")), set())
            self.queue.add_all({(namespace, reader) for reader in readers})

    def _migrating_vm(self, key: Key, meta: Body, body: Body, deleted: bool) -> None:
        feed = self.feeds.of(body)
        with self._lock:
            if deleted or (feed is None and names.FINALIZER not in (meta.get("finalizers") or ())):
                self._forget(key)
                return
            uid = str(meta.get("uid", ""))
            self._fed[key] = (feed.name if feed is not None else None, uid)
            self._by_uid[uid] = key
            reads = feed.reads(body) if feed is not None else ()
            for name in self._reads.get(key, ()):
                self._readers[(key[0], name)].discard(key[1])
            for name in reads:
                self._readers[(key[0], name)].add(key[1])
            self._reads[key] = reads
        self.queue.add(key)

    def _forget(self, key: Key) -> None:
        """The caller holds the lock."""
        gone = self._fed.pop(key, None)
        if gone is not None and self._by_uid.get(gone[1]) == key:
            del self._by_uid[gone[1]]
        for name in self._reads.pop(key, ()):
            readers = self._readers.get((key[0], name))
            if readers is not None:
                readers.discard(key[1])
                if not readers:
                    del self._readers[(key[0], name)]

    def _job(self, namespace: str, meta: Body, body: Body, deleted: bool) -> None:
        """A CloneJob of a fed MigratingVm that has just recorded what it restores from, or finished, or gone:
        what its MigratingVm may let go of changes. Its other changes are none of the feed's business."""
        key = (namespace, str((body.get("spec") or {}).get("migratingVm") or ""))
        if key not in self._fed:
            return
        job = (namespace, str(meta.get("name", "")))
        status = body.get("status") or {}
        mark = None if deleted else (bool(status.get("sourceSync")), status.get("state") in _FINISHED)
        with self._lock:
            if self._marks.get(job) == mark:
                return
            if mark is None:
                self._marks.pop(job, None)
            else:
                self._marks[job] = mark
        self.queue.add(key)

    def _image(self, namespace: str, meta: Body, body: Body, deleted: bool) -> None:
        name = meta.get("name", "")
        now = () if deleted else holders_of(body)
        wake: set[Key] = set()
        with self._lock:
            before = self._holders.pop((namespace, name), ())
            for who in before:
                self._held[(namespace, who)].discard(name)
            for who in now:
                self._held[(namespace, who)].add(name)
            if now:
                self._holders[(namespace, name)] = now
            for who in {*before, *now}:
                kind, _, uid = who.partition("/")
                if kind == FEED_HOLDER and uid in self._by_uid:
                    wake.add(self._by_uid[uid])
            for ref in meta.get("ownerReferences") or []:  # a new image of a destination a MigratingVm reads
                wake |= {(namespace, reader) for reader in self._readers.get((namespace, str(ref.get("name"))), ())}
        self.queue.add_all(wake)

    def resync(self) -> None:
        with self._lock:
            keys = list(self._fed)
        self.queue.add_all(keys)

    # --- the worker ---------------------------------------------------------------------------------
    def work_once(self, timeout: float | None = None) -> bool:
        """Reconcile one fed MigratingVm; False once the queue is closed."""
        key = self.queue.get(timeout)
        if key is None:
            return not self.queue.closed
        namespace, name = key
        with self._lock:
            feed, uid = self._fed.get(key, (None, ""))
            held = frozenset(self._held.get((namespace, holder(FEED_HOLDER, uid)), ()))
        try:
            drivers = [self.drivers.by_name(feed)] if feed else [self.drivers.by_name(f.name) for f in self.feeds]
            outcomes = [driver.reconcile(namespace, name, held) for driver in drivers if driver is not None]
        except Exception:  # a bug: logged, and looked at again after the backoff
            delay = self.queue.retry(key)
            log.exception("MigratingVm %s/%s: reconciling its feed failed (a bug); again in %.1fs", *key, delay)
        else:
            self._settle(key, uid, outcomes, feed or "none")
            if self.poll is not None and feed is not None:
                self.queue.add_after(key, self.poll)
        finally:
            self.queue.done(key)
        return True

    def _settle(self, key: Key, uid: str, outcomes: list[FeedOutcome], feed: str) -> None:
        """Hand the key back to the queue as the outcomes ask. A refusal is said at WARNING and, once per
        MigratingVm and words, as a Warning Event on it (its status has no place for it); an outage at DEBUG."""
        faults = [o for o in outcomes if o.fault]
        if not faults:
            if any(o.conflict for o in outcomes):  # somebody wrote first: its watch event wakes it; this is
                self.queue.retry(key)  # in case none comes (backing off, never spinning on a stale cache)
            else:
                self.queue.forget(key)
            return
        delay = self.queue.retry(key)
        words = "; ".join(str(o.fault) for o in faults)
        for outcome in faults:
            if self.count is not None:
                self.count(feed, "outage" if outcome.outage else "refused")
        if all(o.outage for o in faults):
            log.debug("MigratingVm %s/%s: %s; again in %.1fs", *key, words, delay)
            return
        log.warning("MigratingVm %s/%s: %s; again in %.1fs", *key, words, delay)
        if self.post is not None and self._said.first(uid, words):
            involved = {"apiVersion": MIGRATING_VM.api_version, "kind": MIGRATING_VM.kind, "uid": uid}
            message = f"the operator cannot keep its status and holds: {words}; it tries again after a backoff"
            self.post({**involved, "namespace": key[0], "name": key[1]}, "Warning", FEED_FAILING, message)
