"""``observe(job) -> World``: one look at everything a decision needs. It only reads.

Reads come from the watch caches (complete before the first decision: see ``kopfwiring.py``), the
roster, and the memory of this process's own commits (read, never changed: the committer writes it).
Every exception met while looking becomes a ``Fault`` in the World (the committer logs it); only a bug
in this module itself escapes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from clonejob_operator.admission import Gate
from clonejob_operator.api.clonejob import StepKind
from clonejob_operator.cache import CachedKube
from clonejob_operator.codes import JobError
from clonejob_operator.faults import classify
from clonejob_operator.jobs import Job
from clonejob_operator.kube import MIGRATING_VM, Body, confirmed
from clonejob_operator.machine import transitions
from clonejob_operator.machine.model import Need, World, job_context
from clonejob_operator.memory import Memory
from clonejob_operator.settings import Settings
from clonejob_operator.sources.base import JOB_HOLDER, Keeping, holder
from clonejob_operator.sources.catalog import FeedDrivers
from clonejob_operator.targets.base import Driver, JobContext
from clonejob_operator.targets.catalog import Drivers


class Observer:
    def __init__(
        self,
        kube: CachedKube,
        drivers: Drivers,
        gate: Gate,
        memory: Memory,
        settings: Settings,
        clock: Callable[[], datetime],
        feeds: FeedDrivers | None = None,
    ) -> None:
        self.kube = kube
        self.feeds = feeds or FeedDrivers(kube)
        self.drivers = drivers
        self.gate = gate
        self.memory = memory
        self.settings = settings
        self.clock = clock

    def observe(self, job: Job, body: Body) -> World:
        now = self.clock()
        doubt = self.settings.sealer.doubt(body)
        if doubt is not None:  # not the operator's writing: nothing more is looked at, nothing will be done
            return World(now=now, untrusted=doubt)
        memory = self.memory.read(job.uid)
        if memory.unwritable == job.resource_version:  # decided so; nothing to look at until the job changes
            return World(now=now, unwritable=True)
        refused, refusals = memory.refusal(job.resource_version)
        base = World(
            now=now,
            created=memory.created,
            refused_write=refused,
            refusals=refusals,
            last_write=memory.last_write,
            unrecorded=memory.unrecorded,
        )
        need = transitions.need(job)
        doing = _doing(job, need)
        driver: Driver | None = None
        try:
            driver = self.drivers.for_status(job.status)  # a target's libraries may be missing (an extra)
            base = replace(base, steps=_planned(driver, job))
            world = self._look(job, body, need, driver, base)
        except Exception as error:
            world = replace(base, fault=classify(error, doing, self.drivers.classifiers()))
        fault = world.fault or memory.fault
        if fault is None:
            return world
        return replace(world, fault=replace(fault, since=memory.fault_since or now))

    def _look(self, job: Job, body: Body, need: Need, driver: Driver | None, world: World) -> World:
        if need is Need.ADMISSION:
            mvm = job.spec.migrating_vm if job.spec else ""
            migrating_vm = confirmed(self.kube, MIGRATING_VM, job.namespace, mvm)
            admission = self.gate.admit(job, body, migrating_vm)
            steps = admission.plan.steps if admission.plan else ()
            return replace(world, steps=steps, admission=admission)
        if need is Need.CLEANUP:
            return replace(world, cleanup=self.drivers.survey(self.context(job, world)), keeping=self._keeping(job))
        running = job.status.running_step
        if need is Need.STEP and driver is not None and world.steps and running is not None:
            report = driver.look(running.kind, self.context(job, world))
            return replace(world, step=report, keeping=self._keeping(job))
        return world

    def _keeping(self, job: Job) -> Keeping | None:
        """What a fed job holds of the images it restores from (None: not fed; nothing is held)."""
        sync = job.status.source_sync
        feed = self.feeds.by_name(sync.replication.value) if sync is not None and sync.replication else None
        if sync is None or feed is None:
            return None
        images = tuple(s.volume_snapshot for s in sync.snapshots or [] if s.volume_snapshot)
        return feed.keeping(job.namespace, images, holder(JOB_HOLDER, job.uid))

    def context(self, job: Job, world: World) -> JobContext:
        """What a driver works with, as this look sees it."""
        return job_context(job, world.created, self.settings)


def _planned(driver: Driver | None, job: Job) -> tuple[StepKind, ...]:
    """The steps a started job runs; none when its recorded details are unusable (decide fails it for that)."""
    try:
        return driver.steps(job.status) if driver is not None and job.status.steps else ()
    except JobError:
        return ()


def _doing(job: Job, need: Need) -> str:
    running = job.status.running_step
    if need is Need.STEP and running is not None:
        return f"step {running.kind.value}"
    return {Need.ADMISSION: "checking whether it may start", Need.CLEANUP: "cleaning up"}.get(need, "reading it")
