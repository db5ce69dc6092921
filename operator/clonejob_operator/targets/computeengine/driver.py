"""The Compute Engine targets: recognised and recorded, not implemented yet.

A job on such a target records its target details (and, for a VM target, the deprecated mirrors
``targetDetails`` and ``computeEngineVmDetails``) as the seed does when a clone starts, then fails
with UNIMPLEMENTED.
"""

from __future__ import annotations

from typing import Any

from clonejob_operator.api.clonejob import CloneJobStatus, ResourceRef, SourceSync, StepKind
from clonejob_operator.codes import Code, JobError
from clonejob_operator.kube import Kind
from clonejob_operator.machine import CleanupReport, Plan
from clonejob_operator.targets.base import JobContext, Source, SyncResult
from clonejob_operator.targets.computeengine.model import (
    ComputeEngineDisksTargetDefaults,
    ComputeEngineDisksTargetDetails,
    ComputeEngineTargetDefaults,
    ComputeEngineTargetDetails,
    PersistentDisk,
)

MESSAGE = (
    "the Compute Engine targets (spec.computeEngineTargetDefaults, spec.computeEngineDisksTargetDefaults) "
    "are not implemented yet; use spec.kubevirtTargetDefaults"
)


def vm_details(defaults: ComputeEngineTargetDefaults) -> ComputeEngineTargetDetails:
    """The defaults as details. ``project`` stays unset: it needs the TargetProject resource resolved."""
    shared = defaults.model_dump(exclude={"target_project"}, exclude_none=True)
    return ComputeEngineTargetDetails.model_validate(shared)


def disks_details(defaults: ComputeEngineDisksTargetDefaults) -> ComputeEngineDisksTargetDetails:
    members: dict[str, Any] = {"vm_target_details": {}} if defaults.vm_target_defaults else {"disks_target_details": {}}
    disks = [PersistentDisk(source_disk_number=disk.source_disk_number) for disk in defaults.disks or []]
    return ComputeEngineDisksTargetDetails.model_validate({**members, "disks": disks or None})


class ComputeEngineDriver:
    def plan(self, clone_job: str, source: Source) -> Plan:
        spec = source.spec
        target: dict[str, Any] = {}
        if spec.compute_engine_target_defaults is not None:
            details = vm_details(spec.compute_engine_target_defaults)
            target = {
                "compute_engine_target_details": details,
                "target_details": details,
                "compute_engine_vm_details": details,
            }
        elif spec.compute_engine_disks_target_defaults is not None:
            target = {"compute_engine_disks_target_details": disks_details(spec.compute_engine_disks_target_defaults)}
        sync = SourceSync(
            migrating_vm_uid=source.uid,
            cycle_number=source.last_sync.cycle_number,
            last_sync_time=source.last_sync.last_sync_time,
            snapshots=source.last_sync.snapshots,
        )
        return Plan(steps=(), target=target, source_sync=sync, refusal=JobError(Code.UNIMPLEMENTED, MESSAGE))

    def steps(self, status: CloneJobStatus) -> tuple[StepKind, ...]:
        return ()

    def sync(self, step: StepKind, job: JobContext) -> SyncResult:
        raise JobError(Code.UNIMPLEMENTED, MESSAGE)

    def product_kinds(self, status: CloneJobStatus) -> tuple[Kind, ...]:
        return ()

    def clean_up(self, namespace: str, uid: str, status: CloneJobStatus) -> CleanupReport:
        return CleanupReport()  # nothing is created on Compute Engine yet

    def owns(self, ref: ResourceRef) -> bool:
        return ref.api_version.startswith("compute.googleapis.com/")

    def observes(self, status: CloneJobStatus) -> tuple[Kind, ...]:
        return ()
