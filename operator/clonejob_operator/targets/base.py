"""The driver interface: one small contract per clone target, one module per target."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from kubernetes.client.exceptions import ApiException

from clonejob_operator import names
from clonejob_operator.api.clonejob import CloneJobStatus, ResourceRef, StepKind
from clonejob_operator.api.migratingvm import LastSync, MigratingVmSpec
from clonejob_operator.codes import Code, JobError
from clonejob_operator.kube import Body, Kind, Kube, status_of
from clonejob_operator.machine import CleanupReport, Plan, StepReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """The MigratingVm a job clones, as the driver needs it."""

    name: str
    uid: str
    spec: MigratingVmSpec
    last_sync: LastSync
    namespace: str = ""


@dataclass(frozen=True)
class JobContext:
    namespace: str
    name: str
    uid: str
    migrating_vm: str
    status: CloneJobStatus
    step_timeout: timedelta

    @property
    def labels(self) -> dict[str, str]:
        return names.product_labels(self.name, self.uid, self.migrating_vm)


@dataclass(frozen=True)
class SyncResult:
    report: StepReport
    products: tuple[ResourceRef, ...] = ()
    updates: dict[str, Any] = field(default_factory=dict)
    """CloneJobStatus attribute -> value: what the step learnt that the status shows (a disk's URI, say)."""


class Driver(Protocol):
    polled: bool
    """Its products cannot be watched: a running job is looked at every poll interval."""

    def plan(self, clone_job: str, source: Source) -> Plan:
        """The steps and target details of a job about to start; raises JobError when it can't start."""

    def steps(self, status: CloneJobStatus) -> tuple[StepKind, ...]:
        """The steps a started job runs, from the details recorded when it started."""

    def sync(self, step: StepKind, job: JobContext) -> SyncResult:
        """Create what ``step`` needs and is missing, then report how far it has got."""

    def clean_up(self, namespace: str, uid: str, status: CloneJobStatus) -> CleanupReport:
        """Find and delete everything this job created (by its uid label and ``status.createdResources``);
        report what still exists (being deleted counts) or what blocks the removal."""

    def owns(self, ref: ResourceRef) -> bool:
        """Whether a recorded product is of this target's making (cleanup of a job whose details are lost)."""

    def observes(self, status: CloneJobStatus) -> tuple[Kind, ...]:
        """The kinds whose changes move the job on: unless they are watched, the job is polled."""


def ref(kind: Kind, body: Body) -> ResourceRef:
    meta = body.get("metadata", {})
    return ResourceRef(
        api_version=kind.api_version,
        kind=kind.kind,
        name=meta.get("name", ""),
        namespace=meta.get("namespace"),
        uid=meta.get("uid"),
    )


def ensure(kube: Kube, kind: Kind, manifest: Body, job_uid: str) -> Body:
    """The object named by ``manifest``: read, or created when missing; refused when somebody else's."""
    meta = manifest["metadata"]
    existing = kube.get(kind, meta["namespace"], meta["name"])
    return create_owned(kube, kind, manifest, job_uid) if existing is None else owned(kind, existing, job_uid)


def create_owned(kube: Kube, kind: Kind, manifest: Body, job_uid: str) -> Body:
    """Create ``manifest``; when it exists already (a crash, a race), adopt it only if it is this job's."""
    meta = manifest["metadata"]
    try:
        return kube.create(kind, meta["namespace"], manifest)
    except ApiException as error:
        if status_of(error) != 409:
            raise  # the reconciler turns refusals into the job's error
    existing = kube.refresh(kind, meta["namespace"], meta["name"])  # the cache may not have seen it yet
    if existing is None:
        raise JobError(Code.ABORTED, f"{kind.kind} {meta['name']} vanished while being created")
    return owned(kind, existing, job_uid)


def owned(kind: Kind, body: Body, job_uid: str) -> Body:
    """``body`` itself when it carries this job's uid label; a JobError when somebody else made it."""
    meta = body.get("metadata", {})
    if meta.get("labels", {}).get(names.LABEL_JOB_UID) != job_uid:
        raise JobError(
            Code.ALREADY_EXISTS,
            f"{kind.kind} {meta.get('name')} already exists and was not created by this CloneJob; "
            "choose another vmName or remove it",
        )
    return body


def sweep_objects(
    kube: Kube, kinds: tuple[Kind, ...], namespace: str, uid: str, status: CloneJobStatus
) -> CleanupReport:
    """Cleanup of Kubernetes products: those of ``kinds`` with the job's uid label, and the recorded ones of
    those kinds whose uid matches. Nothing without the job's uid is deleted; deleting objects count as
    remaining until they are gone."""
    by_ref = {(k.api_version, k.kind): k for k in kinds}
    recorded = status.created_resources or []
    remaining: list[str] = []
    blocked: list[str] = []
    seen: set[str] = set()
    for kind in kinds:
        try:
            found = kube.list(kind, namespace, f"{names.LABEL_JOB_UID}={uid}")
        except ApiException as error:
            blocked.append(f"cannot list {kind.plural} (API answered {error.status})")
            continue
        for body in found:
            if (body["metadata"].get("labels") or {}).get(names.LABEL_JOB_UID) != uid:
                continue  # never trust a selector alone with a delete
            seen.add(body["metadata"].get("uid", ""))
            _remove(kube, kind, namespace, body, remaining, blocked)
    for item in recorded:
        known = by_ref.get((item.api_version, item.kind))
        if known is None or item.uid in seen:
            continue
        try:
            current = kube.get(known, namespace, item.name)
        except ApiException as error:
            blocked.append(f"cannot read {known.kind} {item.name} (API answered {error.status})")
            continue
        if current is not None and current["metadata"].get("uid") == item.uid:
            _remove(kube, known, namespace, current, remaining, blocked)
    return CleanupReport(remaining=tuple(remaining), blocked="; ".join(blocked) or None)


def _remove(kube: Kube, kind: Kind, namespace: str, body: Body, remaining: list[str], blocked: list[str]) -> None:
    """Delete ``body`` (uid-guarded); it counts as remaining until the API server no longer has it."""
    meta = body["metadata"]
    label = f"{kind.kind}/{meta['name']}"
    if meta.get("deletionTimestamp"):
        remaining.append(label)
        return
    try:
        kube.delete(kind, namespace, meta["name"], uid=meta.get("uid"))
        log.info("deleting %s in %s", label, namespace)
        after = kube.get(kind, namespace, meta["name"])
    except ApiException as error:
        if error.status != 409:  # 409: the uid precondition failed, a namesake replaced it
            blocked.append(f"cannot delete {label} (API answered {error.status})")
        remaining.append(label)
        return
    if after is not None and after["metadata"].get("uid") == meta.get("uid"):
        remaining.append(label)


def api_error(error: ApiException) -> Exception:
    """A refusal that will not go away by retrying becomes a JobError; the rest stay ApiExceptions.

    The server's own message names the object and the verb, so the JobError carries it as it is.
    """
    code = {403: Code.PERMISSION_DENIED, 404: Code.NOT_FOUND, 400: Code.INVALID_ARGUMENT, 422: Code.INVALID_ARGUMENT}
    mapped = code.get(status_of(error))
    if mapped is None:
        return error
    return JobError(mapped, f"the API answered {error.status} {error.reason}: {_message(error)}")


def _message(error: ApiException) -> str:
    try:
        body: Any = json.loads(error.body or "{}")
        return str(body.get("message", ""))[:500]
    except ValueError:
        return str(error.body or "")[:500]


def condition(body: Body, kind: str) -> dict[str, Any] | None:
    for entry in body.get("status", {}).get("conditions", None) or []:
        if entry.get("type") == kind:
            return dict(entry)
    return None
