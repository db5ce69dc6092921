"""The KubeVirt target: disks as CDI DataVolumes restored from VolumeSnapshots, the clone as a VirtualMachine."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from clonejob_operator import names
from clonejob_operator.api.adaptation import AdaptationProfileSpec
from clonejob_operator.api.base import describe
from clonejob_operator.api.clonejob import CloneJobStatus, ResourceRef, SourceSync, StepKind
from clonejob_operator.api.kubevirt import KubevirtTargetDefaults, KubevirtTargetDetails, with_defaults
from clonejob_operator.codes import Code, JobError
from clonejob_operator.faults import Fault
from clonejob_operator.kube import ADAPTATION_PROFILE, Body, Kind, KubeClient, confirmed
from clonejob_operator.machine.effects import CreateProduct, DeleteProduct
from clonejob_operator.targets.base import (
    CleanupReport,
    JobContext,
    Made,
    Plan,
    Source,
    StepReport,
    condition,
    create_owned,
    delete_object,
    owned,
    resource_ref,
    survey_objects,
)
from clonejob_operator.targets.kubevirt import manifests as build
from clonejob_operator.targets.kubevirt.kinds import BATCH_JOB, DATA_VOLUME, VIRTUAL_MACHINE, VOLUME_SNAPSHOT

PRODUCTS = (VIRTUAL_MACHINE, BATCH_JOB, DATA_VOLUME)
_PERCENT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*$")


KINDS = {kind.kind: kind for kind in PRODUCTS}


@dataclass(frozen=True)
class KubevirtRecord:
    """The KubeVirt target's details, recorded when a job starts."""

    details: KubevirtTargetDetails

    def apply(self, status: CloneJobStatus) -> None:
        status.kubevirt_target_details = self.details


class KubevirtDriver:
    name = "kubevirt"
    polled = False  # its products are watched

    def __init__(self, kube: KubeClient) -> None:
        self.kube = kube

    @staticmethod
    def classify(error: BaseException) -> Fault | None:
        return None  # it speaks only to the Kubernetes API, whose errors the core knows

    def plan(self, clone_job: str, source: Source) -> Plan:
        defaults = source.spec.kubevirt_target_defaults
        if defaults is None:
            raise JobError(Code.INVALID_ARGUMENT, f"MigratingVm {source.name}: spec.kubevirtTargetDefaults is unset")
        snapshots = source.last_sync.snapshots or []
        for index, snapshot in enumerate(snapshots):
            if not snapshot.volume_snapshot:
                raise JobError(
                    Code.INVALID_ARGUMENT,
                    f"MigratingVm {source.name}: status.lastSync.snapshots[{index}].volumeSnapshot is required "
                    f"by the KubeVirt target (disk {snapshot.disk!r} has none)",
                )
        _own_networks(defaults, source)
        details = with_defaults(KubevirtTargetDetails.model_validate(defaults.model_dump()))
        details.vm_name = names.vm_name(clone_job, defaults.vm_name)
        if details.os_adaptation is not None:  # it must exist when the job starts; it is read again when used
            self._profile(details, f"MigratingVm {source.name}: spec.kubevirtTargetDefaults")
        sync = SourceSync(
            migrating_vm_uid=source.uid,
            cycle_number=source.last_sync.cycle_number,
            last_sync_time=source.last_sync.last_sync_time,
            snapshots=snapshots,
        )
        return Plan(steps=_steps(details), record=KubevirtRecord(details), source_sync=sync)

    def steps(self, status: CloneJobStatus) -> tuple[StepKind, ...]:
        return _steps(_details(status))

    def product_kinds(self, status: CloneJobStatus) -> tuple[Kind, ...]:
        """The kinds this job may have made: the VM first (it uses the disks), the adaptation Job when
        asked for, or recorded, then the DataVolumes."""
        details = status.kubevirt_target_details
        recorded = {(ref.api_version, ref.kind) for ref in status.created_resources or []}
        adapting = (details is not None and details.os_adaptation is not None) or (
            (BATCH_JOB.api_version, BATCH_JOB.kind) in recorded
        )
        return (VIRTUAL_MACHINE, BATCH_JOB, DATA_VOLUME) if adapting else (VIRTUAL_MACHINE, DATA_VOLUME)

    def survey(self, job: JobContext) -> CleanupReport:
        return survey_objects(self.kube, self.name, self.product_kinds(job.status), job)

    def delete(self, effect: DeleteProduct, job: JobContext) -> None:
        delete_object(self.kube, PRODUCTS, effect, job)

    def create(self, effect: CreateProduct, job: JobContext) -> Made:
        return create_owned(self.kube, KINDS[effect.kind], effect.body, job)

    @staticmethod
    def owns(ref: ResourceRef) -> bool:
        return (ref.api_version, ref.kind) in {(k.api_version, k.kind) for k in PRODUCTS}

    def observes(self, status: CloneJobStatus) -> tuple[Kind, ...]:
        return (*self.product_kinds(status), VOLUME_SNAPSHOT)

    def look(self, step: StepKind, job: JobContext) -> StepReport:
        if step is StepKind.PREPARING_VM_DISKS:
            return self._disks(job)
        self._disks_still_there(job, step)
        if step is StepKind.ADAPTING_OS:
            return self._adaptation(job)
        return self._vm(job)

    def _disks(self, job: JobContext) -> StepReport:
        details = _details(job.status)
        products, progress, waiting, creates = [], [], [], []
        for disk in _disks(job.status):
            body = self._read(DATA_VOLUME, job, disk.name)
            if body is None:
                snapshot = self._snapshot(job, disk.volume_snapshot)
                if snapshot.get("status", {}).get("readyToUse") is not True:
                    waiting.append(f"VolumeSnapshot {disk.volume_snapshot} is not readyToUse")
                else:
                    size = disk.size or snapshot.get("status", {}).get("restoreSize")
                    manifest = build.data_volume(details, job.namespace, _sized(disk, size), job.labels)
                    creates.append(CreateProduct(self.name, DATA_VOLUME.kind, disk.name, manifest))
                progress.append(0.0)
                continue
            body = owned(DATA_VOLUME, body, job)
            products.append(resource_ref(DATA_VOLUME, body))
            status = body.get("status", {})
            phase = status.get("phase", "")
            if phase == "Failed":
                why = "; ".join(c.get("message", "") for c in status.get("conditions", []) if c.get("message"))
                raise JobError(Code.INTERNAL, f"DataVolume {disk.name} failed" + (f": {why}" if why else ""))
            progress.append(100.0 if phase == "Succeeded" else _percent(status.get("progress")))
        ready = sum(1 for value in progress if value >= 100.0)
        detail = f"{ready}/{len(progress)} disks ready" + (f"; {waiting[0]}" if waiting else "")
        return StepReport(
            progress=int(sum(progress) / len(progress)),
            done=ready == len(progress),
            detail=detail,
            products=tuple(products),
            creates=tuple(creates),
        )

    def _disks_still_there(self, job: JobContext, step: StepKind) -> None:
        """Before a later step goes on, every disk the job made must still be there: a clone is never
        finished with a VM that points at a missing disk (the job fails instead)."""
        for disk in _disks(job.status):
            body = confirmed(self.kube, DATA_VOLUME, job.namespace, disk.name)
            if body is None:
                raise JobError(
                    Code.FAILED_PRECONDITION,
                    f"DataVolume {disk.name}, made by this CloneJob, was deleted during {step.value}",
                )
            owned(DATA_VOLUME, body, job)

    def _snapshot(self, job: JobContext, name: str) -> Body:
        snapshot = confirmed(self.kube, VOLUME_SNAPSHOT, job.namespace, name)
        if snapshot is None:
            raise JobError(
                Code.NOT_FOUND,
                f"VolumeSnapshot {name} not found in namespace {job.namespace} (VolumeSnapshots are served: "
                "the snapshot itself is missing, though the MigratingVm's status.lastSync names it)",
            )
        return snapshot

    def _read(self, kind: Kind, job: JobContext, name: str) -> Body | None:
        """A product from the cache; one the job recorded is confirmed with the API server when the cache misses
        it (right after a restart it may still be filling): progress never goes back for a cache's sake."""
        body = self.kube.get(kind, job.namespace, name)
        recorded = any(r.kind == kind.kind and r.name == name for r in job.status.created_resources or [])
        return self.kube.refresh(kind, job.namespace, name) if body is None and recorded else body

    def _create(self, kind: Kind, manifest: Body) -> CreateProduct:
        return CreateProduct(self.name, kind.kind, manifest["metadata"]["name"], manifest)

    def _profile(self, details: KubevirtTargetDetails, field: str) -> AdaptationProfileSpec:
        """The AdaptationProfile that osAdaptation names, read from the API server (profiles are not watched)."""
        if details.os_adaptation is None:
            raise JobError(Code.INVALID_ARGUMENT, f"{field}.osAdaptation is unset: there is nothing to adapt with")
        name = details.os_adaptation.profile
        body = self.kube.refresh(ADAPTATION_PROFILE, "", name)
        where = f"AdaptationProfile {name} ({field}.osAdaptation.profile)"
        if body is None:
            raise JobError(
                Code.FAILED_PRECONDITION, f"{where} does not exist; a cluster admin makes AdaptationProfiles"
            )
        try:
            return AdaptationProfileSpec.model_validate(body.get("spec") or {})
        except ValidationError as error:
            raise JobError(Code.INVALID_ARGUMENT, f"{where}: {describe(error, 'spec')}") from None

    def _adaptation(self, job: JobContext) -> StepReport:
        details = _details(job.status)
        name = _adaptation_job_name(details, job)
        body = self._read(BATCH_JOB, job, name)
        if body is None:
            profile = self._profile(details, "status.kubevirtTargetDetails")
            where, timeout = (job.namespace, name), int(job.step_timeout.total_seconds())
            manifest = build.adaptation_job(
                profile, details.volume_mode, where, _disks(job.status), job.labels, timeout
            )
            return StepReport(progress=0, detail=f"Job {name} starting", creates=(self._create(BATCH_JOB, manifest),))
        body = owned(BATCH_JOB, body, job)
        failed, complete = condition(body, "Failed"), condition(body, "Complete")
        if failed and failed.get("status") == "True":
            raise JobError(Code.INTERNAL, f"Job {name} failed: {failed.get('reason', '')} {failed.get('message', '')}")
        done = bool(complete and complete.get("status") == "True")
        running = bool(body.get("status", {}).get("active"))
        progress = 100 if done else 50 if running else 0
        detail = f"Job {name} " + ("complete" if done else "running" if running else "starting")
        releases = (DeleteProduct(self.name, resource_ref(BATCH_JOB, body)),) if done else ()
        return StepReport(
            progress=progress, done=done, detail=detail, products=(resource_ref(BATCH_JOB, body),), releases=releases
        )

    def _helper_left(self, job: JobContext) -> tuple[str, tuple[DeleteProduct, ...]]:
        """The adaptation Job, if it is still there once its step ended: what keeps the job from finishing."""
        details = _details(job.status)
        if details.os_adaptation is None:
            return "", ()
        name = _adaptation_job_name(details, job)
        body = self.kube.get(BATCH_JOB, job.namespace, name)
        if body is None or not job.made((body.get("metadata") or {}).get("labels")):
            return "", ()
        deleting = bool(body["metadata"].get("deletionTimestamp"))
        return f"Job {name} being removed", () if deleting else (
            DeleteProduct(self.name, resource_ref(BATCH_JOB, body)),
        )

    def _vm(self, job: JobContext) -> StepReport:
        details = _details(job.status)
        body = self._read(VIRTUAL_MACHINE, job, details.vm_name or "")
        if body is None:  # the manifest is built only to be created
            manifest = build.virtual_machine(details, job.namespace, _disks(job.status), job.labels)
            creates = (self._create(VIRTUAL_MACHINE, manifest),)
            return StepReport(progress=0, detail=f"VirtualMachine {details.vm_name} being created", creates=creates)
        body = owned(VIRTUAL_MACHINE, body, job)
        failure = condition(body, "Failure")
        if failure and failure.get("status") == "True":
            raise JobError(
                Code.INTERNAL,
                f"VirtualMachine {details.vm_name} failed: {failure.get('reason', '')} {failure.get('message', '')}",
            )
        status = body.get("status", {})
        halted = details.run_strategy == "Halted"
        done = halted or status.get("ready") is True
        printable = status.get("printableStatus", "")
        detail = f"VirtualMachine {details.vm_name} " + ("created (Halted)" if halted else printable or "created")
        progress = 100 if done else 50 if status.get("created") else 0
        left, releases = self._helper_left(job)  # a finished clone is the clone alone: the adaptation Job goes first
        product = (resource_ref(VIRTUAL_MACHINE, body),)
        return StepReport(
            progress=progress, done=done, detail=detail, products=product, releases=releases, lingering=left
        )


def _adaptation_job_name(details: KubevirtTargetDetails, job: JobContext) -> str:
    return names.adaptation_job_name(details.vm_name or job.name)


def _own_networks(defaults: KubevirtTargetDefaults, source: Source) -> None:
    """A multus network of the MigratingVm's own namespace only: the operator attaches clones to no other."""
    for index, network in enumerate(defaults.networks or []):
        named = network.multus.network_name if network.multus is not None else ""
        namespace, _, _ = named.rpartition("/")
        if namespace and namespace != source.namespace:
            raise JobError(
                Code.INVALID_ARGUMENT,
                f"MigratingVm {source.name}: spec.kubevirtTargetDefaults.networks[{index}].multus.networkName "
                f"{named!r} is a network of namespace {namespace}; a clone joins only networks of its own namespace "
                f"({source.namespace}): give the name alone",
            )


def _steps(details: KubevirtTargetDetails) -> tuple[StepKind, ...]:
    middle = (StepKind.ADAPTING_OS,) if details.os_adaptation else ()
    return (StepKind.PREPARING_VM_DISKS, *middle, StepKind.INSTANTIATING_MIGRATED_VM)


def _details(status: CloneJobStatus) -> KubevirtTargetDetails:
    if status.kubevirt_target_details is None:
        raise JobError(Code.INVALID_ARGUMENT, "status.kubevirtTargetDetails is missing from a started job")
    return status.kubevirt_target_details


def _disks(status: CloneJobStatus) -> list[build.Disk]:
    """The disks of a started job, one per snapshot it started from; a job with none cannot go on."""
    details = _details(status)
    snapshots = status.source_sync.snapshots if status.source_sync else None
    if not snapshots:
        raise JobError(
            Code.FAILED_PRECONDITION,
            "status.sourceSync.snapshots is empty or missing: a started clone has no disks to make, and a VM "
            "without disks is never created",
        )
    return [
        build.Disk(
            index=index,
            name=names.disk_name(details.vm_name or "vm", index),
            volume_snapshot=snapshot.volume_snapshot or "",
            size=str(snapshot.size_bytes) if snapshot.size_bytes else None,
        )
        for index, snapshot in enumerate(snapshots)
    ]


def _sized(disk: build.Disk, size: Any) -> build.Disk:
    return build.Disk(disk.index, disk.name, disk.volume_snapshot, str(size) if size else None)


def _percent(value: Any) -> float:
    match = _PERCENT.match(str(value or ""))
    return min(99.0, float(match.group(1))) if match else 0.0
