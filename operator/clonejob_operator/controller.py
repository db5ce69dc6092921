"""The controller: watch events fill the caches and queue job keys; a bounded pool of workers reconciles.

Timers are only for time: a delayed look at a job's next deadline, and a slow safety resync. Nothing
polls a job that is waiting on the world; the world's change (a watch event) wakes it. A reconcile that
met an error hands its key back to the work queue, whose ``Backoff`` says when it is looked at again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from clonejob_operator import names
from clonejob_operator.cache import Cache
from clonejob_operator.kube import (
    CLONE_JOB,
    MIGRATING_VM,
    VOLUME_SNAPSHOT,
    Body,
    Kind,
    Kube,
)
from clonejob_operator.logs import Once
from clonejob_operator.machine.reasons import Trigger
from clonejob_operator.metrics import Metrics
from clonejob_operator.outages import KOPF_BACKOFF, RETRIES
from clonejob_operator.reconciler import Reconciler
from clonejob_operator.roster import Key
from clonejob_operator.settings import Settings
from clonejob_operator.sources.catalog import FEEDS
from clonejob_operator.sources.queue import FedQueue
from clonejob_operator.targets.catalog import REGISTRY
from clonejob_operator.workqueue import Backoff, WorkQueue

log = logging.getLogger(__name__)
OWN_KINDS = (CLONE_JOB, MIGRATING_VM)


class Controller:
    @classmethod
    def assemble(
        cls, kube: Kube, settings: Settings, metrics: Metrics | None = None, fence: Callable[[], bool] = lambda: True
    ) -> Controller:
        """A controller over every watchable kind the cluster serves now (the others are read directly)."""
        others = tuple(dict.fromkeys(k for k in (*REGISTRY.watched(), *FEEDS.watched()) if k not in OWN_KINDS))
        kinds = (*OWN_KINDS, *kube.servable(others))
        cache = Cache(kinds, settings.max_active, settings.sealer.doubt, settings.max_active_per_namespace)
        return cls(Reconciler(kube, settings, metrics=metrics, cache=cache, fence=fence))

    def __init__(self, reconciler: Reconciler) -> None:
        self.reconciler = reconciler
        self.cache = reconciler.cache
        self.settings = reconciler.settings
        self.queue: WorkQueue[Key] = WorkQueue(Backoff(most=self.settings.retry_max.total_seconds()))
        unwatched = not {*FEEDS.watched(), VOLUME_SNAPSHOT} <= self.cache.watched  # a kind not served at start
        poll = self.settings.poll_interval if unwatched else None
        faults = reconciler.metrics.feed_faults
        self.fed = FedQueue(
            reconciler.feeds,
            self.settings.retry_max.total_seconds(),
            poll=poll,
            post=reconciler.committer.events.post,
            count=lambda feed, fault: faults.labels(feed=feed, fault=fault).inc(),
        )
        """The MigratingVms a feed keeps, each reconciled by that feed (a queue and a worker of their own)."""
        self.cache.wake = self.queue.add_all
        reconciler.drivers.loaded = lambda: self.queue.add_all(
            self.cache.roster.waiting_in(None, Trigger.TARGET_LOADED)
        )
        self.synced = threading.Event()
        """Set once the caches hold the initial listing of every watched kind (see ``observed``)."""
        self._bugs = Once()
        self._unanswered: set[Key] = set()
        """Keys whose last look got no answer from the API server: woken, their backoff reset, when it answers."""
        self._unanswered_lock = threading.Lock()
        """Which bugs have been logged with their traceback (once per job and error)."""
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- intake: called on kopf's event loop, memory only -------------------------------------------------
    def indexed(self, kind: Kind, body: Body) -> None:
        """An object as listed or changed, before any decision is made (kopf's indexing phase)."""
        self.cache.upsert(kind, body)
        if kind is MIGRATING_VM:
            self.reconciler.drivers.in_sight(body.get("spec") or {})

    def observed(self, kind: Kind, body: Body, deleted: bool) -> None:
        """A watch event: keep the cache, then queue the jobs that the change may move.

        kopf runs event handlers only once every indexed kind has been listed, so the first call means
        that the caches are complete: admission may count on them from then on.
        """
        self.synced.set()
        RETRIES.answered()
        self._server_answers()
        meta = body.get("metadata") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        if deleted:
            self.cache.remove(kind, body)
            if kind is CLONE_JOB:  # gone: what this process remembered of it (a record it owed, say) goes too
                self.reconciler.memory.forget(str(meta.get("uid", "")))
        else:
            self.cache.upsert(kind, body)
        self.fed.observed(kind, body, deleted)  # its own writes too: a job's hold lets its MigratingVm let go
        if kind is MIGRATING_VM:  # its own writes too: a fed MigratingVm's state is the operator's
            state = None if deleted else (body.get("status") or {}).get("state") or "STATE_UNSPECIFIED"
            self.reconciler.metrics.migrating_vms.seen(namespace, name, state)
        if not deleted and self.cache.echo(kind, body):
            if kind is CLONE_JOB:
                self.reconciler.metrics.seen(namespace, name, (body.get("status") or {}).get("state"))
            return  # our own write coming back: the decision that made it has already moved on
        if kind is CLONE_JOB:
            state = None if deleted else (body.get("status") or {}).get("state") or "STATE_UNSPECIFIED"
            self.reconciler.metrics.seen(namespace, name, state)
            entry = None if deleted else self.cache.roster.entry(body)
            if entry is not None and entry.attention:  # under way, or cancelled: ahead of jobs yet to start
                self.queue.add((namespace, name), urgent=entry.started or entry.leaving)
        elif kind is MIGRATING_VM:
            self.queue.add_all(self.cache.roster.for_migrating_vm(namespace, name))
        elif (watch := REGISTRY.input(kind)) is not None:  # read by a target's jobs: wake those it concerns
            if watch.reads is not None:
                self.queue.add_all(self.cache.roster.reading(kind, namespace, name), urgent=True)
            if watch.wakes is not None:
                self.queue.add_all(self.cache.roster.waiting_in(namespace, watch.wakes))
        else:
            key = self.cache.roster.key_of(((meta.get("labels") or {}).get(names.LABEL_JOB_UID)) or "")
            if key is not None:
                self.queue.add(key, urgent=True)

    def _server_answers(self) -> None:
        """A watch event came: the API server answers. Jobs that an outage left backing off are looked at now,
        their backoff reset (a backoff grown through a minute's outage must not hold them a minute more)."""
        if not self._unanswered:  # the usual case, without taking the lock
            return
        with self._unanswered_lock:
            keys, self._unanswered = self._unanswered, set()
        for key in keys:
            self.queue.forget(key)
        self.queue.add_all(keys)

    # --- workers ------------------------------------------------------------------------------------------
    def start(self) -> None:
        for index in range(self.settings.workers):
            self._spawn(self._work, f"reconcile-{index}")
        self._spawn(self._resync, "resync")
        self._spawn(self._feed, "feed")

    def _spawn(self, target: object, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking work; a reconcile under way finishes first (it is never cut between its writes)."""
        self._stopping.set()
        self.queue.close()
        self.fed.queue.close()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    def _work(self) -> None:
        while not self.synced.wait(0.5):
            if self._stopping.is_set():
                return
        while self._work_once():
            pass

    def _work_once(self, timeout: float | None = None) -> bool:
        """Reconcile one key from the queue; False once the queue is closed."""
        key = self.queue.get(timeout)
        if key is None:
            return not self.queue.closed
        try:
            outcome = self.reconciler.reconcile(*key)
        except Exception as error:  # a bug: everything else is a fact for the next decision
            delay = self.queue.retry(key)
            first = self._bugs.first(f"{key[0]}/{key[1]}", repr(error))
            log.error("CloneJob %s/%s: reconciling failed (a bug); again in %.1fs", *key, delay, exc_info=first)
        else:
            if outcome.failed is not None:  # the queue owns the backoff (at least what the server asked for)
                # No answer at all (an outage): looked at on kopf's outage schedule, every 2 s at most, so that
                # a job moves within moments of the server's return even if no watch event says so.
                outage = KOPF_BACKOFF if outcome.failed.unanswered else None
                self.queue.retry(key, at_least=outcome.failed.retry_after or 0.0, backoff=outage)
                if outcome.failed.unanswered:
                    with self._unanswered_lock:
                        self._unanswered.add(key)
            else:
                self.queue.forget(key)
            if outcome.again and outcome.failed is None:
                self.queue.add(key, urgent=True)  # queued again once this look is done
            elif outcome.requeue_after is not None:
                self.queue.add_after(key, outcome.requeue_after)
        finally:
            self.queue.done(key)
        return True

    def _feed(self) -> None:
        while not self.synced.wait(0.5):
            if self._stopping.is_set():
                return
        while self.fed.work_once():
            pass

    def _resync(self) -> None:
        while not self._stopping.wait(self.settings.resync_interval):
            if self.synced.is_set():
                self.queue.add_all(self.cache.roster.needing_attention())
                self.fed.resync()
