"""One reconciliation of one CloneJob: observe (read only), decide (pure), commit (the only writer).

    body --read_job--> Job --observe--> World --transitions.decide--> Decision(status, effects) --commit-->

Nothing raised while observing or committing escapes (it becomes a fault for the next decision), so
deadlines, cancel and cleanup always get their turn. The outcome tells the work queue what comes next:
a decision that moves the job on asks for one more look at once; a fault met (while looking, or by the
commit) hands the key back to the queue, which owns the backoff; ``requeue_after`` is for time alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from clonejob_operator.admission import Gate
from clonejob_operator.api.clonejob import CloneJobStatus, State
from clonejob_operator.cache import Cache, CachedKube
from clonejob_operator.commit import Committer
from clonejob_operator.events import EventPoster
from clonejob_operator.faults import Fault
from clonejob_operator.jobs import Job, read_job
from clonejob_operator.kube import CLONE_JOB, KubeClient
from clonejob_operator.logs import job_log
from clonejob_operator.machine import transitions
from clonejob_operator.machine.conditions import RECONCILING
from clonejob_operator.machine.model import Decision, World
from clonejob_operator.memory import Memory
from clonejob_operator.metrics import Metrics
from clonejob_operator.observe import Observer
from clonejob_operator.settings import Settings
from clonejob_operator.sources.catalog import FeedDrivers
from clonejob_operator.targets.catalog import Drivers
from clonejob_operator.timestamps import now as utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    finished: bool
    """The job is terminal or gone, or left alone until it changes: nothing more will happen to it."""
    state: State | None = None
    requeue_after: float | None = None
    """Seconds until time alone changes the decision (a deadline, a stall): look again then."""
    again: bool = False
    """Look again at once (the job moved on, or an effect asks for a fresh look)."""
    failed: Fault | None = None
    """A fault met while looking or committing: the work queue looks again after its backoff."""


class Reconciler:
    """Reconciles one CloneJob at a time (the work queue never hands one key to two workers).

    Reads come from ``cache`` (kept by watches); without watches every read goes to the API server.
    """

    def __init__(
        self,
        kube: KubeClient,
        settings: Settings,
        clock: Callable[[], datetime] = utc_now,
        metrics: Metrics | None = None,
        cache: Cache | None = None,
        fence: Callable[[], bool] = lambda: True,
    ) -> None:
        self.metrics = metrics or Metrics()
        self.settings = settings
        self.clock = clock
        self.cache = cache or Cache(
            max_active=settings.max_active,
            doubt=settings.sealer.doubt,
            per_namespace=settings.max_active_per_namespace,
        )
        self.kube = CachedKube(kube, self.cache)
        self.drivers = Drivers(self.kube, settings, load_in_background=True)
        self.feeds = FeedDrivers(self.kube)
        self.memory = Memory()
        gate = Gate(self.kube, self.drivers, settings, self.cache.roster)
        self.observer = Observer(self.kube, self.drivers, gate, self.memory, settings, clock, self.feeds)
        events = EventPoster(kube, instance=settings.instance)
        self.committer = Committer(
            self.kube, self.drivers, self.cache, self.memory, events, clock, settings, fence, self.feeds
        )

    def reconcile(self, namespace: str, name: str) -> Outcome:
        body = self.kube.get(CLONE_JOB, namespace, name)
        if body is None:
            return Outcome(finished=True)
        job = read_job(body)
        world = self.observer.observe(job, body)
        decision = transitions.decide(job, world, self.settings)
        committed = self.committer.commit(job, body, world, decision)
        status = decision.status
        if committed.wrote_status:  # a decision whose write met a conflict is decided again: counted once
            self.metrics.decided(job.status, status)
        self._log_progress(job, status)
        failed = committed.fault or _unsettled(world, decision)
        finished = (status.current.terminal or decision.unwritable is not None) and not committed.again
        finished = finished and failed is None
        return Outcome(
            finished=finished,
            state=status.state,
            requeue_after=None if finished else self._after(status, decision),
            again=(decision.again or committed.again) and not finished and failed is None,
            failed=failed,
        )

    def _after(self, status: CloneJobStatus, decision: Decision) -> float | None:
        """The decision's own next look; a job that nothing watched will wake is polled besides."""
        after = decision.requeue_after
        driver = self.drivers.for_status(status)
        unwatched = driver is not None and (driver.polled or not set(driver.observes(status)) <= self.cache.watched)
        if unwatched and not status.current.terminal:
            after = min(after or self.settings.poll_interval, self.settings.poll_interval)
        return after

    @staticmethod
    def _log_progress(job: Job, status: CloneJobStatus) -> None:
        before, after = job.status.running_step, status.running_step
        if after is None or before is None or before.kind is not after.kind:
            return
        if before.progress_percent != after.progress_percent:
            condition = next((c for c in status.conditions or [] if c.type == RECONCILING), None)
            job_log(
                log,
                job,
                logging.INFO,
                "%s %s%% (job %s%%): %s",
                after.kind.value,
                after.progress_percent,
                status.progress_percent,
                condition.message if condition else "",
                step=after.kind.value,
                progress=after.progress_percent,
            )


def _unsettled(world: World, decision: Decision) -> Fault | None:
    """The fault a look met that the decision could not move past (a transient error, cleanup stuck on a
    refusal): the job's key goes back to the work queue, for another look after its backoff."""
    if world.fault is None or decision.again or decision.status.current.terminal or decision.unwritable:
        return None
    return world.fault
