"""The Compute Engine targets: resolved and recorded; the clone itself is not implemented yet.

A job on such a target resolves its TargetProject (in the MigratingVm's namespace, never another),
waits PENDING (TargetProjectNotFound) while it is missing, refuses the operator's own identity unless
``--allow-ambient-credentials`` is set (PERMISSION_DENIED), and records its target details (with the
resolved project, and for a VM target the deprecated mirrors ``targetDetails`` and
``computeEngineVmDetails`` in the older TargetVMDetails shape) as the seed does when a clone starts;
then it fails with UNIMPLEMENTED.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from clonejob_operator.api.clonejob import CloneJobStatus, ResourceRef, SourceSync, StepKind
from clonejob_operator.api.targetproject import TargetProjectSpec
from clonejob_operator.codes import Code, JobError
from clonejob_operator.conditions import Activity
from clonejob_operator.kube import TARGET_PROJECT, Kind, Kube
from clonejob_operator.machine import CleanupReport, Plan
from clonejob_operator.settings import Settings
from clonejob_operator.targets.base import JobContext, Source, SyncResult
from clonejob_operator.targets.computeengine.model import (
    ComputeEngineDisksTargetDefaults,
    ComputeEngineDisksTargetDetails,
    ComputeEngineTargetDefaults,
    ComputeEngineTargetDetails,
    PersistentDisk,
    legacy_details,
)
from clonejob_operator.validation import describe

MESSAGE = (
    "the Compute Engine targets (spec.computeEngineTargetDefaults, spec.computeEngineDisksTargetDefaults) "
    "are not implemented yet; use spec.kubevirtTargetDefaults"
)
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
    def __init__(self, kube: Kube | None = None, settings: Settings | None = None) -> None:
        self.kube = kube
        self.settings = settings or Settings()

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
            return Plan(steps=(), target={}, source_sync=sync, waiting=Activity("TargetProjectNotFound", where))
        target: dict[str, Any] = {}
        if vm is not None:
            details = vm_details(vm, project.project)
            legacy = legacy_details(details, reference)
            target = {
                "compute_engine_target_details": details,
                "target_details": legacy,
                "compute_engine_vm_details": legacy,
            }
        elif disks is not None:
            target = {"compute_engine_disks_target_details": disks_details(disks)}
        if project.credentials_secret_ref is None and not self.settings.allow_ambient_credentials:
            refusal = JobError(
                Code.PERMISSION_DENIED,
                f"TargetProject {name} names no spec.credentialsSecretRef, and this operator does not lend its own "
                "Google identity to namespaces (it runs without --allow-ambient-credentials): give the TargetProject "
                "a service-account key Secret",
            )
        else:
            refusal = JobError(Code.UNIMPLEMENTED, MESSAGE)
        return Plan(steps=(), target=target, source_sync=sync, refusal=refusal)

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
