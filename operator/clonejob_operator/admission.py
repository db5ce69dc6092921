"""Whether a PENDING CloneJob may start: its MigratingVm, its snapshots, the queue, the active limit."""

from __future__ import annotations

from dataclasses import replace

from pydantic import ValidationError

from clonejob_operator import names
from clonejob_operator.api.base import describe
from clonejob_operator.api.migratingvm import Feed, LastSync, MigratingVmSpec
from clonejob_operator.claims import Holds, running_elsewhere
from clonejob_operator.codes import Code, JobError
from clonejob_operator.jobs import Job
from clonejob_operator.kube import Body, KubeClient
from clonejob_operator.machine.conditions import Activity
from clonejob_operator.machine.model import Admission
from clonejob_operator.machine.reasons import WaitReason
from clonejob_operator.roster import Roster
from clonejob_operator.settings import Settings
from clonejob_operator.sources.catalog import FEEDS
from clonejob_operator.targets.base import Source
from clonejob_operator.targets.catalog import Drivers, TargetLoading


def _wait(reason: WaitReason, message: str, code: Code = Code.FAILED_PRECONDITION) -> Admission:
    return Admission(waiting=Activity.waiting(reason, message), code=code)


def _unusable(migrating_vm: str, problem: str) -> Admission:
    return Admission(error=JobError(Code.INVALID_ARGUMENT, f"MigratingVm {migrating_vm}: {problem}"))


class Gate:
    """Admission checks, answered from the roster (kept by watch events), never from a LIST per job."""

    def __init__(self, kube: KubeClient, drivers: Drivers, settings: Settings, roster: Roster) -> None:
        self.kube = kube
        self.drivers = drivers
        self.settings = settings
        self.roster = roster

    def admit(self, job: Job, body: Body, migrating_vm: Body | None) -> Admission:
        """Whether ``job`` may start, read from memory and the caches; it reserves nothing (the commit does)."""
        mvm = job.spec.migrating_vm if job.spec else ""
        if not job.held:
            return _wait(WaitReason.AWAITING_FINALIZER, f"waiting for the {names.FINALIZER} finalizer")
        if migrating_vm is None:
            return _wait(
                WaitReason.MIGRATING_VM_NOT_FOUND,
                f"MigratingVm {mvm} not found in namespace {job.namespace}",
                Code.NOT_FOUND,
            )
        try:
            spec = MigratingVmSpec.model_validate(migrating_vm.get("spec") or {})
        except ValidationError as error:
            return _unusable(mvm, describe(error, "spec"))
        try:
            last_sync = LastSync.model_validate((migrating_vm.get("status") or {}).get("lastSync") or {})
        except ValidationError as error:
            return _unusable(mvm, describe(error, "status.lastSync"))
        source = Source(
            name=mvm,
            uid=migrating_vm["metadata"].get("uid", ""),
            spec=spec,
            last_sync=last_sync,
            namespace=job.namespace,
        )
        try:
            plan = self.drivers.for_spec(spec).plan(job.name, source)
        except TargetLoading as loading:
            return _wait(WaitReason.LOADING_TARGET, str(loading))
        except JobError as error:
            return Admission(error=error)
        if plan.waiting is not None:
            return Admission(waiting=plan.waiting, code=plan.waiting_code)
        feed = FEEDS.of(migrating_vm)
        if feed is not None:  # the job holds what it restores from against that feed's rotation
            plan = replace(plan, source_sync=plan.source_sync.model_copy(update={"replication": Feed(feed.name)}))
        if plan.refusal is not None:
            return Admission(plan=plan)  # recorded, then failed: no point in waiting for anything
        if not last_sync.snapshots:
            return _wait(WaitReason.NO_SNAPSHOTS, f"MigratingVm {mvm} has no status.lastSync.snapshots yet")
        waiting = self._turn(job, body, migrating_vm)
        return waiting if waiting is not None else Admission(plan=plan)

    def _turn(self, job: Job, body: Body, migrating_vm: Body) -> Admission | None:
        """A wait while it is not this job's turn (its MigratingVm's queue, another job holding it, the active
        slots); None when it is."""
        mvm = job.spec.migrating_vm if job.spec else ""
        mine = self.roster.entry(body)
        if self.roster.ahead(mine) is not None:  # stable while it waits: no rewrite each time the queue moves
            return _wait(
                WaitReason.QUEUED, f"queued behind older CloneJobs of MigratingVm {mvm}; they run first, one at a time"
            )
        holder = running_elsewhere(migrating_vm, job.status.summary(job.uid), self.holds(job.namespace))
        if holder:
            return _wait(
                WaitReason.WAITING_FOR_CLONE_JOB, f"CloneJob {holder} holds MigratingVm {mvm}; one runs at a time"
            )
        refused = self.roster.refusal(mine)
        return _wait(*refused) if refused is not None else None

    def holds(self, namespace: str) -> Holds:
        return lambda name, uid: self.roster.holds(namespace, name, uid)
