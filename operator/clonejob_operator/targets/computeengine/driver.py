"""The Compute Engine targets: disks from Compute Engine snapshots, and a VM (or disks only).

What a job records when it starts is planned in ``plan.py``; TargetProjects, their credentials and
the clients in ``targetproject.py``. This module looks at the steps, makes and deletes the products.

The steps never wait on a long operation: an insert records its zone operation in
``status.createdResources`` and later looks poll it (``zoneOperations.get``); every insert carries a
request ID derived from the job's uid and the product, so a repeat after a crash is deduplicated.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from google.auth.credentials import Credentials
from google.cloud import compute_v1

from clonejob_operator.api.clonejob import CloneJobStatus, ResourceRef, StepKind
from clonejob_operator.api.computeengine import (
    API,
    ComputeEngineTargetDetails,
    DisksMigrationVmTargetDefaults,
    DisksMigrationVmTargetDetails,
    PersistentDisk,
)
from clonejob_operator.codes import Code, JobError
from clonejob_operator.faults import Fault, FaultKind
from clonejob_operator.kube import Kind, KubeClient
from clonejob_operator.machine.effects import CreateProduct, DeleteProduct
from clonejob_operator.settings import Settings
from clonejob_operator.targets.base import CleanupReport, JobContext, Made, Plan, Source, StepReport
from clonejob_operator.targets.computeengine import NAME, requests
from clonejob_operator.targets.computeengine import plan as planning
from clonejob_operator.targets.computeengine.client import Compute, Transient, call
from clonejob_operator.targets.computeengine.plan import Clone, DisksRecord
from clonejob_operator.targets.computeengine.requests import operation_error
from clonejob_operator.targets.computeengine.targetproject import Pin, TargetProjects

DONE = compute_v1.Operation.Status.DONE


class ComputeEngineDriver:
    name = NAME
    polled = True  # Compute Engine has no watch: a running job is looked at every poll interval

    def __init__(
        self,
        kube: KubeClient | None = None,
        settings: Settings | None = None,
        connect: Callable[[Credentials, str | None], Compute] = Compute.connect,
    ) -> None:
        self.kube = kube
        self.settings = settings or Settings()
        self.projects = TargetProjects(kube, self.settings, connect)

    def plan(self, clone_job: str, source: Source) -> Plan:
        return planning.plan(clone_job, source, self.projects, self.settings.allow_ambient_credentials)

    def steps(self, status: CloneJobStatus) -> tuple[StepKind, ...]:
        return planning.steps(status)

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

    def create(self, effect: CreateProduct, job: JobContext) -> Made:
        clone = self._clone(job)
        if effect.kind == "Disk":
            op = self._insert_disk(clone, effect.body)
        else:
            op = self._insert_instance(clone, job, effect.body)
        what = f"inserting {effect.kind.lower()} {effect.name}"
        failure = operation_error(op, what) if op.status == DONE else None
        if failure is not None:
            raise failure
        return Made(self._ref(effect.kind, effect.name, clone, operation=op.name))  # a repeat is deduplicated by id

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
            learnt=self._disk_uris(job.status, clone, uris) if done else None,
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
            learnt=learnt,
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
        if not requests.made_by(body.labels, job.uid, clone.run):
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
            request_id=requests.request_id(clone.uid, "disk", plan.name, clone.run),
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
            request_id=requests.request_id(clone.uid, "instance", clone.vm_name, clone.run),
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
    def _disk_uris(status: CloneJobStatus, clone: Clone, uris: dict[int, str]) -> DisksRecord | None:
        details = status.compute_engine_disks_target_details
        if details is None:
            return None
        disks = [PersistentDisk(source_disk_number=plan.index, disk_uri=uris.get(plan.index)) for plan in clone.disks]
        return DisksRecord(details.model_copy(update={"disks": disks}))

    @staticmethod
    def _vm_uri(status: CloneJobStatus, uri: str) -> DisksRecord | None:
        details = status.compute_engine_disks_target_details
        if details is None:
            return None
        return DisksRecord(details.model_copy(update={"vm_target_details": DisksMigrationVmTargetDetails(vm_uri=uri)}))

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
        items: Any = listed or []
        names = {item.name for item in items if requests.made_by(item.labels, uid, clone.run)}
        for ref in recorded:
            if ref.kind == kind and ref.name not in names:
                body = call(
                    f"reading {kind.lower()} {ref.name}",
                    self._getter(clone, kind),
                    project=clone.project,
                    zone=clone.zone,
                    **{"disk" if kind == "Disk" else "instance": ref.name},
                )
                if body is not None and requests.made_by(body.labels, uid, clone.run):
                    names.add(ref.name)
        return sorted(names)

    def _delete(self, clone: Clone, kind: str, name: str) -> None:
        deleter = clone.compute.disks.delete_unary if kind == "Disk" else clone.compute.instances.delete_unary
        key = "disk" if kind == "Disk" else "instance"
        call(f"deleting {kind.lower()} {name}", deleter, project=clone.project, zone=clone.zone, **{key: name})

    # --- what a started job works with -----------------------------------------------------------------
    def _clone(self, job: JobContext) -> Clone:
        """What a step works with; the TargetProject must still say what it said when the job started."""
        clone = self._clone_for(job.namespace, job.status, job.uid, job, live=True)
        if clone is None:
            raise JobError(Code.INVALID_ARGUMENT, "the Compute Engine target details are missing from a started job")
        return clone

    def _clone_for(
        self, namespace: str, status: CloneJobStatus, uid: str, job: JobContext | None = None, live: bool = False
    ) -> Clone | None:
        """What the job recorded when it started; ``live``: also check that its TargetProject has not changed
        (cleanup does not: it removes what was made, in the pinned project, with the pinned credentials)."""
        sync = status.source_sync
        if sync is None or (status.compute_engine_target_details is None and sync.disks_target_defaults is None):
            return None
        vm = status.compute_engine_target_details
        pin = Pin.recorded(sync, vm.project if vm is not None else None)
        if pin is None or not pin.project:
            raise JobError(Code.FAILED_PRECONDITION, "the job's TargetProject and project are missing from its status")
        if live:
            self.projects.check(namespace, pin)
        compute = self.projects.compute(namespace, pin)
        return planning.clone(
            status, uid, job.name if job else "", job.migrating_vm if job else "", compute, pin.project
        )

    def _with_metadata(
        self, job: JobContext, vm: ComputeEngineTargetDetails | DisksMigrationVmTargetDefaults
    ) -> ComputeEngineTargetDetails | DisksMigrationVmTargetDefaults:
        """The VM's details with the metadata of the Secret they name, read only to make the VM (never recorded)."""
        ref = vm.metadata_secret_ref
        if ref is None:
            return vm.model_copy(update={"metadata": None})
        secret = self.projects.secret(job.namespace, ref.name, "metadataSecretRef")
        values = {key: base64.b64decode(value).decode("utf-8", "replace") for key, value in secret.data.items()}
        return vm.model_copy(update={"metadata": values})


def _inserted(what: str, insert: Callable[..., Any], request: Any, missing: str) -> compute_v1.Operation:
    """An insert's operation; a 404 (what ``missing`` says) ends the job, 429/5xx are retried."""
    op = call(what, insert, request=request, missing=missing)
    assert op is not None  # call() returns None only for a 404 with no ``missing``
    return op  # type: ignore[no-any-return]
