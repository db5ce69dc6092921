"""The Compute Engine targets: disks from Compute Engine snapshots, and a VM (or disks only).

Admission resolves the TargetProject (in the MigratingVm's namespace, never another), waits PENDING
(TargetProjectNotFound) while it is missing, refuses the operator's own identity unless
``--allow-ambient-credentials`` is set (PERMISSION_DENIED), and records the target details with the
resolved project (for a VM target also the deprecated mirrors, in the older TargetVMDetails shape).

The steps never wait on a long operation: an insert records its zone operation in
``status.createdResources`` and later looks poll it (``zoneOperations.get``); every insert carries a
request ID derived from the job's uid and the product, so a repeat after a crash is deduplicated.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from google.auth.credentials import Credentials
from google.cloud import compute_v1
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from clonejob_operator.api.clonejob import CloneJobStatus, ResourceRef, SourceSync, StepKind
from clonejob_operator.api.migratingvm import MigratingVmSpec
from clonejob_operator.api.targetproject import TargetProjectSpec
from clonejob_operator.codes import Code, JobError
from clonejob_operator.conditions import Activity
from clonejob_operator.faults import Fault, FaultKind
from clonejob_operator.kube import MIGRATING_VM, TARGET_PROJECT, Kind, Kube
from clonejob_operator.settings import Settings
from clonejob_operator.targets.base import (
    CleanupReport,
    CreateProduct,
    DeleteProduct,
    JobContext,
    Plan,
    Source,
    StepReport,
)
from clonejob_operator.targets.computeengine import requests
from clonejob_operator.targets.computeengine.client import Compute, Transient, call, credentials_for
from clonejob_operator.targets.computeengine.model import (
    API,
    ComputeEngineDisksTargetDefaults,
    ComputeEngineDisksTargetDetails,
    ComputeEngineTargetDefaults,
    ComputeEngineTargetDetails,
    DisksMigrationVmTargetDefaults,
    DisksMigrationVmTargetDetails,
    PersistentDisk,
    legacy_details,
)
from clonejob_operator.targets.computeengine.requests import operation_error
from clonejob_operator.validation import describe
from clonejob_operator.waits import WaitReason

REDACTED = "(redacted: the value stays in the MigratingVm)"
DONE = compute_v1.Operation.Status.DONE
_NAME = r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?"
_PATH = re.compile(rf"^projects/[^/]+/locations/[^/]+/targetProjects/(?P<name>{_NAME})$")
_BARE = re.compile(rf"^(?P<name>{_NAME})$")


def target_project_name(reference: str) -> str | None:
    """The TargetProject a ``targetProject`` names, in the seed's path form or bare; None for neither."""
    match = _PATH.match(reference) or _BARE.match(reference)
    return match["name"] if match else None


def vm_details(defaults: ComputeEngineTargetDefaults, project: str | None = None) -> ComputeEngineTargetDetails:
    """The defaults as details, with the resolved project ID."""
    shared = defaults.model_dump(exclude={"target_project"}, exclude_none=True)
    return ComputeEngineTargetDetails.model_validate({**shared, "project": project})


def disks_details(defaults: ComputeEngineDisksTargetDefaults) -> ComputeEngineDisksTargetDetails:
    members: dict[str, Any] = {"vm_target_details": {}} if defaults.vm_target_defaults else {"disks_target_details": {}}
    disks = [PersistentDisk(source_disk_number=disk.source_disk_number) for disk in defaults.disks or []]
    return ComputeEngineDisksTargetDetails.model_validate({**members, "disks": disks or None})


class ComputeEngineDriver:
    name = "computeengine"
    polled = True  # Compute Engine has no watch: a running job is looked at every poll interval

    def __init__(
        self,
        kube: Kube | None = None,
        settings: Settings | None = None,
        connect: Callable[[Credentials, str | None], Compute] = Compute.connect,
    ) -> None:
        self.kube = kube
        self.settings = settings or Settings()
        self.connect = connect
        self._clients: dict[tuple[str, str, str], Compute] = {}

    def plan(self, clone_job: str, source: Source) -> Plan:
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
        project = self._target_project(source, name, field)
        if project is None:
            where = f"TargetProject {name} not found in namespace {source.namespace} ({field}.targetProject)"
            return Plan(
                steps=(),
                target={},
                source_sync=sync,
                waiting=Activity.waiting(WaitReason.TARGET_PROJECT_NOT_FOUND, where),
            )
        target: dict[str, Any] = {}
        steps: tuple[StepKind, ...] = (StepKind.PREPARING_VM_DISKS, StepKind.INSTANTIATING_MIGRATED_VM)
        if vm is not None:
            details = redacted(vm_details(vm, project.project))
            legacy = legacy_details(details, reference)
            target = {
                "compute_engine_target_details": details,
                "target_details": legacy,
                "compute_engine_vm_details": legacy,
            }
        elif disks is not None:
            target = {"compute_engine_disks_target_details": disks_details(disks)}
            if disks.vm_target_defaults is None:
                steps = (StepKind.PREPARING_VM_DISKS,)
        kept = disks.model_copy(deep=True) if disks is not None else None
        if kept is not None and kept.vm_target_defaults is not None:
            kept.vm_target_defaults = redacted(kept.vm_target_defaults)
        sync = sync.model_copy(update={"target_project": name, "disks_target_defaults": kept})
        ambient = project.credentials_secret_ref is None and not self.settings.allow_ambient_credentials
        refusal = (
            JobError(
                Code.PERMISSION_DENIED,
                f"TargetProject {name} names no spec.credentialsSecretRef, and this operator does not lend its own "
                "Google identity to namespaces (it runs without --allow-ambient-credentials): give the TargetProject "
                "a service-account key Secret",
            )
            if ambient
            else self._refusal(source, vm, disks, field)
        )
        return Plan(steps=steps, target=target, source_sync=sync, refusal=refusal)

    @staticmethod
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
                f"{field}.adaptationModifiers tune the seed's OS adaptation, which Compute Engine clones made here "
                "do not run; remove them",
            )
        if vm is not None and not vm.machine_type:
            return JobError(Code.INVALID_ARGUMENT, f"MigratingVm {source.name}: {field}.machineType is required")
        return None

    def _target_project(self, source: Source, name: str, field: str) -> TargetProjectSpec | None:
        """The TargetProject ``name`` of the MigratingVm's namespace (never another), or None when missing."""
        if self.kube is None:
            return None
        body = self.kube.get(TARGET_PROJECT, source.namespace, name) or self.kube.refresh(
            TARGET_PROJECT, source.namespace, name
        )
        if body is None:
            return None
        try:
            return TargetProjectSpec.model_validate(body.get("spec") or {})
        except ValidationError as error:
            raise JobError(
                Code.INVALID_ARGUMENT, f"TargetProject {name} (from {field}.targetProject): {describe(error, 'spec')}"
            ) from None

    def steps(self, status: CloneJobStatus) -> tuple[StepKind, ...]:
        disks = status.compute_engine_disks_target_details
        if status.compute_engine_target_details is None and disks is None:
            raise JobError(Code.INVALID_ARGUMENT, "the Compute Engine target details are missing from a started job")
        if disks is not None and disks.vm_target_details is None:
            return (StepKind.PREPARING_VM_DISKS,)
        return (StepKind.PREPARING_VM_DISKS, StepKind.INSTANTIATING_MIGRATED_VM)

    def product_kinds(self, status: CloneJobStatus) -> tuple[Kind, ...]:
        return ()

    def observes(self, status: CloneJobStatus) -> tuple[Kind, ...]:
        return ()

    def owns(self, ref: ResourceRef) -> bool:
        return ref.api_version == API

    @staticmethod
    def classify(error: BaseException) -> Fault | None:
        """Google's own exceptions: missing or unusable credentials are the installation's to fix."""
        from google.api_core import exceptions as gexc
        from google.auth import exceptions as auth

        if isinstance(error, auth.DefaultCredentialsError | auth.RefreshError):
            return Fault(
                FaultKind.CONFIGURATION,
                Code.FAILED_PRECONDITION,
                f"no usable Google credentials ({' '.join(str(error).split())[:300]}): give the TargetProject a "
                "spec.credentialsSecretRef, or the operator Application Default Credentials",
            )
        if isinstance(error, auth.TransportError | gexc.RetryError | Transient):
            return Fault(FaultKind.TRANSIENT, Code.UNAVAILABLE, " ".join(str(error).split())[:500])
        return None

    # --- the steps ---------------------------------------------------------------------------------------
    def look(self, step: StepKind, job: JobContext) -> StepReport:
        clone = self._clone(job)
        if step is StepKind.PREPARING_VM_DISKS:
            return self._disks(clone, job)
        if step is StepKind.INSTANTIATING_MIGRATED_VM:
            return self._vm(clone, job)
        raise JobError(Code.INTERNAL, f"the Compute Engine target has no step {step.value}")

    def create(self, effect: CreateProduct, job: JobContext) -> ResourceRef:
        clone = self._clone(job)
        if effect.kind == "Disk":
            op = self._insert_disk(clone, effect.body)
        else:
            op = self._insert_instance(clone, job, effect.body)
        what = f"inserting {effect.kind.lower()} {effect.name}"
        failure = operation_error(op, what) if op.status == DONE else None
        if failure is not None:
            raise failure
        return self._ref(effect.kind, effect.name, clone, operation=op.name)

    def _disks(self, clone: Clone, job: JobContext) -> StepReport:
        products: list[ResourceRef] = []
        creates: list[CreateProduct] = []
        waiting: list[str] = []
        uris: dict[int, str] = {}
        ready = 0
        if not clone.disks:
            raise JobError(
                Code.FAILED_PRECONDITION,
                "status.sourceSync.snapshots is empty or missing: a started clone has no disks to make",
            )
        for plan in clone.disks:
            ref, body = self._existing(clone, job, "Disk", plan.name)
            if ref is None:
                creates.append(self._create("Disk", plan.name, clone, plan))
                waiting.append(plan.name)
                continue
            products.append(ref)
            if body is None:
                waiting.append(plan.name)
                continue
            if body.status == "FAILED":
                raise JobError(Code.INTERNAL, f"disk {plan.name} failed")
            if body.status == "READY":
                ready += 1
                uris[plan.index] = body.self_link
        total = len(clone.disks)
        detail = f"{ready}/{total} disks ready" + (f"; creating {', '.join(waiting[:3])}" if waiting else "")
        done = ready == total
        return StepReport(
            progress=int(100 * ready / total),
            done=done,
            detail=detail,
            products=tuple(products),
            creates=tuple(creates),
            disks_target_details=self._disk_uris(job.status, clone, uris) if done else None,
        )

    def _vm(self, clone: Clone, job: JobContext) -> StepReport:
        links = [(plan, self._link(clone, "disks", plan.name)) for plan in clone.disks]
        ref, body = self._existing(clone, job, "Instance", clone.vm_name)
        if ref is None:
            create = self._create("Instance", clone.vm_name, clone, links)
            return StepReport(progress=10, detail=f"creating instance {clone.vm_name}", creates=(create,))
        if body is None:
            return StepReport(progress=10, detail=f"creating instance {clone.vm_name}", products=(ref,))
        running = body.status == "RUNNING"
        detail = f"instance {clone.vm_name} {body.status}"
        learnt = self._vm_uri(job.status, body.self_link) if running else None
        return StepReport(
            progress=100 if running else 50,
            done=running,
            detail=detail,
            products=(ref,),
            disks_target_details=learnt,
        )

    def _create(self, kind: str, name: str, clone: Clone, body: Any) -> CreateProduct:
        """Recorded before it is sent (write-ahead): cleanup that cannot reach Compute Engine then knows
        whether anything may exist there."""
        return CreateProduct(self.name, kind, name, body, intent=self._ref(kind, name, clone))

    def _existing(self, clone: Clone, job: JobContext, kind: str, name: str) -> tuple[ResourceRef | None, Any]:
        """The product ``name``: (ref, None) while its operation runs, (ref, resource) once it exists,
        (None, None) when it is missing; ALREADY_EXISTS when the name belongs to something this job did
        not make (left alone)."""
        refs = job.status.created_resources or []
        recorded = next((r for r in refs if r.api_version == API and r.kind == kind and r.name == name), None)
        what = f"{kind.lower()} {name}"
        if recorded is not None and recorded.operation:
            op = call(
                f"polling the insert of {what}",
                clone.compute.operations.get,
                project=clone.project,
                zone=clone.zone,
                operation=recorded.operation,
            )
            if op is not None and op.status != DONE:
                return recorded, None
            failure = operation_error(op, f"inserting {what}") if op is not None else None
            if failure is not None:
                raise failure
        body = call(
            f"reading {what}",
            self._getter(clone, kind),
            project=clone.project,
            zone=clone.zone,
            **{"disk" if kind == "Disk" else "instance": name},
        )
        if body is None:
            return None, None
        if (body.labels or {}).get(requests.LABEL_JOB_UID) != requests.label_value(job.uid):
            raise JobError(
                Code.ALREADY_EXISTS,
                f"{kind.lower()} {name} already exists in project {clone.project} zone {clone.zone} and was not "
                "created by this CloneJob; it is left alone",
            )
        return self._ref(kind, name, clone, uri=body.self_link), body

    def _getter(self, clone: Clone, kind: str) -> Callable[..., Any]:
        return clone.compute.disks.get if kind == "Disk" else clone.compute.instances.get

    def _insert_disk(self, clone: Clone, plan: requests.DiskPlan) -> compute_v1.Operation:
        boot = plan.index == 0
        body = requests.disk(
            plan,
            clone.zone,
            clone.labels,
            clone.replica_zones,
            clone.storage_pool,
            licenses=clone.licenses if boot else None,
            uefi=boot and clone.uefi,
        )
        request = compute_v1.InsertDiskRequest(
            project=clone.project,
            zone=clone.zone,
            disk_resource=body,
            request_id=requests.request_id(clone.uid, "disk", plan.name),
        )
        missing = f"the snapshot {plan.snapshot} or the project's zone {clone.zone} does not exist"
        return _inserted(f"inserting disk {plan.name}", clone.compute.disks.insert_unary, request, missing)

    def _insert_instance(
        self, clone: Clone, job: JobContext, links: list[tuple[requests.DiskPlan, str]]
    ) -> compute_v1.Operation:
        if clone.vm is None:
            raise JobError(Code.INVALID_ARGUMENT, "no VM is asked for: there is no instance to create")
        body = requests.instance(self._with_metadata(job, clone.vm), clone.vm_name, clone.zone, links, clone.labels)
        request = compute_v1.InsertInstanceRequest(
            project=clone.project,
            zone=clone.zone,
            instance_resource=body,
            request_id=requests.request_id(clone.uid, "instance", clone.vm_name),
        )
        missing = f"a disk, network or the zone {clone.zone} does not exist"
        return _inserted(f"inserting instance {clone.vm_name}", clone.compute.instances.insert_unary, request, missing)

    @staticmethod
    def _link(clone: Clone, collection: str, name: str) -> str:
        return f"projects/{clone.project}/zones/{clone.zone}/{collection}/{name}"

    @staticmethod
    def _ref(kind: str, name: str, clone: Clone, uri: str | None = None, operation: str | None = None) -> ResourceRef:
        return ResourceRef(
            api_version=API,
            kind=kind,
            name=name,
            uri=uri
            or f"projects/{clone.project}/zones/{clone.zone}/{'disks' if kind == 'Disk' else 'instances'}/{name}",
            operation=operation,
        )

    @staticmethod
    def _disk_uris(
        status: CloneJobStatus, clone: Clone, uris: dict[int, str]
    ) -> ComputeEngineDisksTargetDetails | None:
        details = status.compute_engine_disks_target_details
        if details is None:
            return None
        disks = [PersistentDisk(source_disk_number=plan.index, disk_uri=uris.get(plan.index)) for plan in clone.disks]
        return details.model_copy(update={"disks": disks})

    @staticmethod
    def _vm_uri(status: CloneJobStatus, uri: str) -> ComputeEngineDisksTargetDetails | None:
        details = status.compute_engine_disks_target_details
        if details is None:
            return None
        return details.model_copy(update={"vm_target_details": DisksMigrationVmTargetDetails(vm_uri=uri)})

    # --- cleanup ---------------------------------------------------------------------------------------
    def survey(self, job: JobContext) -> CleanupReport:
        """The instance, then the disks, found by the uid label and by what was recorded. Every insert is
        recorded before it is sent, so a job that recorded none made nothing and needs no client at all."""
        recorded = [r for r in job.status.created_resources or [] if r.api_version == API]
        if not recorded:
            return CleanupReport()
        clone = self._clone_for(job.namespace, job.status, job.uid)
        if clone is None:
            return CleanupReport(blocked="the Compute Engine target details are missing from the status")
        instances = self._found(clone, "Instance", job.uid, recorded)
        disks = self._found(clone, "Disk", job.uid, recorded)
        remaining = [f"Instance/{name}" for name in instances] + [f"Disk/{name}" for name in disks]
        # A disk in use by the instance cannot go before it.
        first = [("Instance", name) for name in instances] or [("Disk", name) for name in disks]
        deletable = tuple(DeleteProduct(self.name, self._ref(kind, name, clone)) for kind, name in first)
        return CleanupReport(remaining=tuple(remaining), deletable=deletable)

    def delete(self, effect: DeleteProduct, job: JobContext) -> None:
        clone = self._clone_for(job.namespace, job.status, job.uid)
        if clone is None:
            return
        kind, name = effect.ref.kind, effect.ref.name
        if name in self._found(clone, kind, job.uid, [effect.ref]):  # read fresh: carries the job's uid label
            self._delete(clone, kind, name)

    def _found(self, clone: Clone, kind: str, uid: str, recorded: list[ResourceRef]) -> list[str]:
        """Names of this job's products of ``kind`` that still exist, each checked for the uid label."""
        lister = clone.compute.disks.list if kind == "Disk" else clone.compute.instances.list
        request_type = compute_v1.ListDisksRequest if kind == "Disk" else compute_v1.ListInstancesRequest
        listed = call(
            f"listing {kind.lower()}s",
            lister,
            request=request_type(project=clone.project, zone=clone.zone, filter=requests.uid_filter(uid)),
        )
        mine = requests.label_value(uid)
        items: Any = listed or []
        names = {item.name for item in items if (item.labels or {}).get(requests.LABEL_JOB_UID) == mine}
        for ref in recorded:
            if ref.kind == kind and ref.name not in names:
                body = call(
                    f"reading {kind.lower()} {ref.name}",
                    self._getter(clone, kind),
                    project=clone.project,
                    zone=clone.zone,
                    **{"disk" if kind == "Disk" else "instance": ref.name},
                )
                if body is not None and (body.labels or {}).get(requests.LABEL_JOB_UID) == mine:
                    names.add(ref.name)
        return sorted(names)

    def _delete(self, clone: Clone, kind: str, name: str) -> None:
        deleter = clone.compute.disks.delete_unary if kind == "Disk" else clone.compute.instances.delete_unary
        key = "disk" if kind == "Disk" else "instance"
        call(f"deleting {kind.lower()} {name}", deleter, project=clone.project, zone=clone.zone, **{key: name})

    # --- what a started job works with -----------------------------------------------------------------
    def _clone(self, job: JobContext) -> Clone:
        clone = self._clone_for(job.namespace, job.status, job.uid, job)
        if clone is None:
            raise JobError(Code.INVALID_ARGUMENT, "the Compute Engine target details are missing from a started job")
        return clone

    def _clone_for(
        self, namespace: str, status: CloneJobStatus, uid: str, job: JobContext | None = None
    ) -> Clone | None:
        sync = status.source_sync
        vm, disks = status.compute_engine_target_details, sync.disks_target_defaults if sync else None
        if sync is None or (vm is None and disks is None):
            return None
        project = vm.project if vm is not None else self._project_id(namespace, sync.target_project or "")
        zone = (vm.zone if vm is not None else disks.zone if disks is not None else None) or ""
        labels = requests.product_labels(job.name if job else "", uid, job.migrating_vm if job else "")
        return Clone(
            compute=self._compute(namespace, sync.target_project or "", project or ""),
            project=project or "",
            zone=zone,
            uid=uid,
            vm=vm if vm is not None else (disks.vm_target_defaults if disks is not None else None),
            vm_name=requests.gce_name(_vm_name(vm, disks) or (job.name if job else "vm")),
            disks=_disk_plans(status, vm, disks, job.name if job else ""),
            labels=labels,
            replica_zones=vm.disk_replica_zones if vm is not None else None,
            storage_pool=vm.storage_pool if vm is not None else None,
            licenses=vm.additional_licenses
            if vm is not None
            else (disks.vm_target_defaults.additional_licenses if disks and disks.vm_target_defaults else None),
            uefi=bool(vm is not None and (vm.secure_boot or vm.boot_option == "COMPUTE_ENGINE_BOOT_OPTION_EFI")),
        )

    def _with_metadata(
        self, job: JobContext, vm: ComputeEngineTargetDetails | DisksMigrationVmTargetDefaults
    ) -> ComputeEngineTargetDetails | DisksMigrationVmTargetDefaults:
        """The VM's details with their metadata values, which only the MigratingVm holds (the status shows
        the keys). They must come from the MigratingVm the job started from; read only to make the VM."""
        sync = job.status.source_sync
        if not vm.metadata or self.kube is None or sync is None:
            return vm
        body = self.kube.get(MIGRATING_VM, job.namespace, job.migrating_vm) or self.kube.refresh(
            MIGRATING_VM, job.namespace, job.migrating_vm
        )
        if body is None or body["metadata"].get("uid") != sync.migrating_vm_uid:
            raise JobError(
                Code.FAILED_PRECONDITION,
                f"MigratingVm {job.migrating_vm} is gone or was replaced, and the VM's metadata values (kept only "
                "there, never in the CloneJob's status) cannot be read back",
            )
        spec = MigratingVmSpec.model_validate(body.get("spec") or {})
        if isinstance(vm, ComputeEngineTargetDetails):
            source: Any = spec.compute_engine_target_defaults
        else:
            disks = spec.compute_engine_disks_target_defaults
            source = disks.vm_target_defaults if disks is not None else None
        values = source.metadata if source is not None else None
        return vm.model_copy(update={"metadata": {k: (values or {}).get(k, "") for k in vm.metadata}})

    def _project_id(self, namespace: str, target_project: str) -> str:
        spec = self._target_project(Source("", "", None, None, namespace), target_project, "the recorded")  # type: ignore[arg-type]
        if spec is None:
            raise JobError(Code.NOT_FOUND, f"TargetProject {target_project} is gone from namespace {namespace}")
        return spec.project

    def _compute(self, namespace: str, target_project: str, project: str) -> Compute:
        endpoint = self.settings.compute_endpoint
        key = None if endpoint else self._key(namespace, target_project)
        cache_key = (endpoint or "", f"{namespace}/{target_project}", str(hash(key)))
        if cache_key not in self._clients:
            self._clients[cache_key] = self.connect(credentials_for(endpoint, key), endpoint)
        return self._clients[cache_key]

    def _key(self, namespace: str, target_project: str) -> bytes | None:
        """The TargetProject's service-account key, read from its Secret; None for the ambient identity."""
        spec = self._target_project(Source("", "", None, None, namespace), target_project, "the recorded")  # type: ignore[arg-type]
        if spec is None or spec.credentials_secret_ref is None or self.kube is None:
            return None
        ref = spec.credentials_secret_ref
        try:
            secret = self.kube.call(self.kube.core.read_namespaced_secret, ref.name, namespace)
        except ApiException as error:
            code = {403: Code.PERMISSION_DENIED, 404: Code.NOT_FOUND}.get(int(error.status or 0), Code.UNKNOWN)
            raise JobError(
                code, f"cannot read Secret {ref.name} of TargetProject {target_project} (API answered {error.status})"
            ) from None
        value = (secret.data or {}).get(ref.key)
        if value is None:
            raise JobError(
                Code.INVALID_ARGUMENT,
                f"Secret {ref.name} has no key {ref.key!r} "
                f"(TargetProject {target_project} spec.credentialsSecretRef.key)",
            )
        return base64.b64decode(value)


@dataclass(frozen=True)
class Clone:
    """Everything a step of a started Compute Engine job works with."""

    compute: Compute
    project: str
    zone: str
    uid: str
    vm: ComputeEngineTargetDetails | DisksMigrationVmTargetDefaults | None
    vm_name: str
    disks: list[requests.DiskPlan]
    labels: dict[str, str]
    replica_zones: list[str] | None
    storage_pool: str | None
    licenses: list[str] | None
    uefi: bool


Details = TypeVar("Details", ComputeEngineTargetDetails, DisksMigrationVmTargetDefaults)


def redacted(details: Details) -> Details:
    """``details`` with metadata values replaced: they may hold startup secrets, and a status is widely read."""
    if not details.metadata:
        return details
    return details.model_copy(update={"metadata": dict.fromkeys(details.metadata, REDACTED)})


def _inserted(what: str, insert: Callable[..., Any], request: Any, missing: str) -> compute_v1.Operation:
    """An insert's operation; a 404 (what ``missing`` says) ends the job, 429/5xx are retried."""
    op = call(what, insert, request=request, missing=missing)
    assert op is not None  # call() returns None only for a 404 with no ``missing``
    return op  # type: ignore[no-any-return]


def _vm_name(vm: ComputeEngineTargetDetails | None, disks: ComputeEngineDisksTargetDefaults | None) -> str | None:
    if vm is not None:
        return vm.vm_name
    return disks.vm_target_defaults.vm_name if disks is not None and disks.vm_target_defaults else None


def _disk_plans(
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
