"""Planning a Compute Engine clone: what a job records when it starts, the steps it runs, and the
products it makes (the disk plans), from the MigratingVm and the job's own status. No client calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clonejob_operator import names
from clonejob_operator.api.clonejob import CloneJobStatus, SourceSync, StepKind
from clonejob_operator.api.computeengine import (
    ComputeEngineDisksTargetDefaults,
    ComputeEngineDisksTargetDetails,
    ComputeEngineTargetDefaults,
    ComputeEngineTargetDetails,
    DisksMigrationVmTargetDefaults,
    PersistentDisk,
    TargetVmDetails,
    legacy_details,
)
from clonejob_operator.codes import Code, JobError
from clonejob_operator.machine.conditions import Activity
from clonejob_operator.machine.reasons import WaitReason
from clonejob_operator.targets.base import NoRecord, Plan, Source, StatusRecord
from clonejob_operator.targets.computeengine import requests
from clonejob_operator.targets.computeengine.client import Compute, ambient_refusal
from clonejob_operator.targets.computeengine.targetproject import TargetProjects, target_project_name


def vm_details(defaults: ComputeEngineTargetDefaults, project: str | None = None) -> ComputeEngineTargetDetails:
    """The defaults as details, with the resolved project ID."""
    shared = defaults.model_dump(exclude={"target_project"}, exclude_none=True)
    return ComputeEngineTargetDetails.model_validate({**shared, "project": project})


def disks_details(defaults: ComputeEngineDisksTargetDefaults) -> ComputeEngineDisksTargetDetails:
    members: dict[str, Any] = {"vm_target_details": {}} if defaults.vm_target_defaults else {"disks_target_details": {}}
    disks = [PersistentDisk(source_disk_number=disk.source_disk_number) for disk in defaults.disks or []]
    return ComputeEngineDisksTargetDetails.model_validate({**members, "disks": disks or None})


@dataclass(frozen=True)
class VmRecord:
    """A VM target's details, with the vmmigration API's deprecated mirrors of them."""

    details: ComputeEngineTargetDetails
    legacy: TargetVmDetails

    def apply(self, status: CloneJobStatus) -> None:
        status.compute_engine_target_details = self.details
        status.target_details = self.legacy
        status.compute_engine_vm_details = self.legacy


@dataclass(frozen=True)
class DisksRecord:
    """A disks target's details: as planned, then with what its steps learn (the disks' and the VM's URIs)."""

    details: ComputeEngineDisksTargetDetails

    def apply(self, status: CloneJobStatus) -> None:
        status.compute_engine_disks_target_details = self.details


def plan(clone_job: str, source: Source, projects: TargetProjects, allow_ambient: bool) -> Plan:
    """What a Compute Engine job about to start records and does; pure but for reading its TargetProject."""
    spec = source.spec
    vm, disks = spec.compute_engine_target_defaults, spec.compute_engine_disks_target_defaults
    field = "spec.computeEngineTargetDefaults" if vm is not None else "spec.computeEngineDisksTargetDefaults"
    sync = SourceSync(
        migrating_vm_uid=source.uid,
        cycle_number=source.last_sync.cycle_number,
        last_sync_time=source.last_sync.last_sync_time,
        snapshots=source.last_sync.snapshots,
    )
    reference = (vm.target_project if vm is not None else disks.target_project if disks is not None else None) or ""
    name = target_project_name(reference)
    if name is None:
        problem = (
            "is required"
            if not reference
            else (f"{reference!r} is neither projects/*/locations/*/targetProjects/NAME nor a TargetProject name")
        )
        raise JobError(Code.INVALID_ARGUMENT, f"MigratingVm {source.name}: {field}.targetProject {problem}")
    pin = projects.resolve(source.namespace, name, field)
    if pin is None:
        where = f"TargetProject {name} not found in namespace {source.namespace} ({field}.targetProject)"
        return Plan(
            steps=(),
            record=NoRecord(),
            source_sync=sync,
            waiting=Activity.waiting(WaitReason.TARGET_PROJECT_NOT_FOUND, where),
        )
    unusable = projects.waiting_for(source.namespace, pin)
    if unusable is not None:
        return Plan(
            steps=(),
            record=NoRecord(),
            source_sync=sync,
            waiting=Activity.waiting(WaitReason.CREDENTIALS_SECRET_UNUSABLE, unusable),
            waiting_code=Code.PERMISSION_DENIED,
        )
    record, steps = _target(vm, disks, pin.project, reference)
    kept = disks.model_copy(deep=True) if disks is not None else None
    sync = pin.record(sync.model_copy(update={"disks_target_defaults": kept}))
    ambient = pin.secret is None and not allow_ambient
    refusal = JobError(Code.PERMISSION_DENIED, ambient_refusal(name)) if ambient else _refusal(source, vm, disks, field)
    return Plan(steps=steps, record=record, source_sync=sync, refusal=refusal)


def _target(
    vm: ComputeEngineTargetDefaults | None,
    disks: ComputeEngineDisksTargetDefaults | None,
    project: str,
    reference: str,
) -> tuple[StatusRecord, tuple[StepKind, ...]]:
    """The target details a job records (for a VM also the deprecated mirrors), and its steps."""
    if vm is not None:
        details = vm_details(vm, project)
        record = VmRecord(details, legacy_details(details, reference))
        return record, (StepKind.PREPARING_VM_DISKS, StepKind.INSTANTIATING_MIGRATED_VM)
    if disks is None:
        return NoRecord(), ()
    steps = (
        (StepKind.PREPARING_VM_DISKS,)
        if disks.vm_target_defaults is None
        else (
            StepKind.PREPARING_VM_DISKS,
            StepKind.INSTANTIATING_MIGRATED_VM,
        )
    )
    return DisksRecord(disks_details(disks)), steps


def _refusal(
    source: Source,
    vm: ComputeEngineTargetDefaults | None,
    disks: ComputeEngineDisksTargetDefaults | None,
    field: str,
) -> JobError | None:
    """What makes the job impossible before anything is created; the field is named."""
    zone = vm.zone if vm is not None else disks.zone if disks is not None else None
    if not zone:
        return JobError(Code.INVALID_ARGUMENT, f"MigratingVm {source.name}: {field}.zone is required")
    for index, snapshot in enumerate(source.last_sync.snapshots or []):
        if not snapshot.compute_engine_snapshot:
            return JobError(
                Code.INVALID_ARGUMENT,
                f"MigratingVm {source.name}: status.lastSync.snapshots[{index}].computeEngineSnapshot is "
                f"required by the Compute Engine target (disk {snapshot.disk!r} has none)",
            )
    if vm is not None and vm.boot_conversion == "BIOS_TO_EFI":
        return JobError(
            Code.UNIMPLEMENTED,
            f"{field}.bootConversion BIOS_TO_EFI needs the guest's disks rewritten, which this operator "
            "cannot do; clone with NONE",
        )
    if vm is not None and vm.adaptation_modifiers:
        return JobError(
            Code.UNIMPLEMENTED,
            f"{field}.adaptationModifiers tune the vmmigration API's OS adaptation, which Compute Engine clones "
            "made here do not run; remove them",
        )
    if vm is not None and not vm.machine_type:
        return JobError(Code.INVALID_ARGUMENT, f"MigratingVm {source.name}: {field}.machineType is required")
    return None


def steps(status: CloneJobStatus) -> tuple[StepKind, ...]:
    disks = status.compute_engine_disks_target_details
    if status.compute_engine_target_details is None and disks is None:
        raise JobError(Code.INVALID_ARGUMENT, "the Compute Engine target details are missing from a started job")
    if disks is not None and disks.vm_target_details is None:
        return (StepKind.PREPARING_VM_DISKS,)
    return (StepKind.PREPARING_VM_DISKS, StepKind.INSTANTIATING_MIGRATED_VM)


def vm_name(vm: ComputeEngineTargetDetails | None, disks: ComputeEngineDisksTargetDefaults | None) -> str | None:
    if vm is not None:
        return vm.vm_name
    return disks.vm_target_defaults.vm_name if disks is not None and disks.vm_target_defaults else None


def disk_plans(
    status: CloneJobStatus,
    vm: ComputeEngineTargetDetails | None,
    disks: ComputeEngineDisksTargetDefaults | None,
    job_name: str,
) -> list[requests.DiskPlan]:
    snapshots = status.source_sync.snapshots if status.source_sync else None
    per_disk = {d.source_disk_number: d for d in (disks.disks if disks is not None else None) or []}
    base = requests.gce_name(vm.vm_name or job_name) if vm is not None else requests.gce_name(job_name or "clone")
    out = []
    for index, snapshot in enumerate(snapshots or []):
        if per_disk and index not in per_disk:
            continue  # a disks target that lists its disks makes those, and only those
        own = per_disk.get(index)
        out.append(
            requests.DiskPlan(
                index=index,
                name=requests.gce_name(own.disk_name)
                if own and own.disk_name
                else requests.gce_name(base, f"-disk-{index}"),
                snapshot=snapshot.compute_engine_snapshot or "",
                disk_type=(own.disk_type if own else None) or (vm.disk_type if vm is not None else None),
                labels=own.additional_labels if own else None,
                encryption=(own.encryption if own else None) or (vm.encryption if vm is not None else None),
                device_name=own.vm_attachment_details.device_name if own and own.vm_attachment_details else None,
            )
        )
    return out


@dataclass(frozen=True)
class Clone:
    """Everything a step of a started Compute Engine job works with."""

    compute: Compute
    project: str
    zone: str
    uid: str
    run: str | None
    vm: ComputeEngineTargetDetails | DisksMigrationVmTargetDefaults | None
    vm_name: str
    disks: list[requests.DiskPlan]
    labels: dict[str, str]
    replica_zones: list[str] | None
    storage_pool: str | None
    licenses: list[str] | None
    uefi: bool


def clone(
    status: CloneJobStatus, uid: str, job_name: str, migrating_vm: str, compute: Compute, project: str | None
) -> Clone:
    """Everything a started job's steps work with, from what its status recorded when it started."""
    sync = status.source_sync
    vm, disks = status.compute_engine_target_details, sync.disks_target_defaults if sync else None
    zone = (vm.zone if vm is not None else disks.zone if disks is not None else None) or ""
    run = names.run_of(status.created_revision)
    return Clone(
        compute=compute,
        project=project or "",
        zone=zone,
        uid=uid,
        run=run,
        vm=vm if vm is not None else (disks.vm_target_defaults if disks is not None else None),
        vm_name=requests.gce_name(vm_name(vm, disks) or job_name or "vm"),
        disks=disk_plans(status, vm, disks, job_name),
        labels=requests.product_labels(job_name, uid, migrating_vm, run),
        replica_zones=vm.disk_replica_zones if vm is not None else None,
        storage_pool=vm.storage_pool if vm is not None else None,
        licenses=vm.additional_licenses
        if vm is not None
        else (disks.vm_target_defaults.additional_licenses if disks and disks.vm_target_defaults else None),
        uefi=bool(vm is not None and (vm.secure_boot or vm.boot_option == "COMPUTE_ENGINE_BOOT_OPTION_EFI")),
    )
