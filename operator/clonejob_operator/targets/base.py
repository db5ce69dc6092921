"""The driver interface: one small contract per clone target, one package per target.

A driver *reads* and *plans*; it never writes while the reconciler observes. ``look`` and ``survey``
report facts (what exists, how far it has got, what is missing and would be created, what may be
deleted); the reconciler's commit carries out the ``CreateProduct`` and ``DeleteProduct`` effects
through the driver's ``create`` and ``delete``. An exception raised by a driver becomes a fault (see
``faults.py``); ``classify`` lets a target name its own library's exceptions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from kubernetes.client.exceptions import ApiException

from clonejob_operator import names
from clonejob_operator.api.clonejob import CloneJobStatus, ResourceRef, SourceSync, StepKind
from clonejob_operator.api.migratingvm import LastSync, MigratingVmSpec
from clonejob_operator.codes import Code, JobError
from clonejob_operator.faults import Fault
from clonejob_operator.kube import Body, Kind, KindNotServed, KubeClient, status_of
from clonejob_operator.machine.conditions import Activity
from clonejob_operator.machine.effects import CreateProduct, DeleteProduct
from clonejob_operator.machine.reasons import Trigger
from clonejob_operator.permissions import Rule
from clonejob_operator.settings import Settings

log = logging.getLogger(__name__)


class StatusRecord(Protocol):
    """A target's own members of a CloneJob's status (its details when a job starts, or what a step learnt),
    typed by the target that owns them. The core applies a record without knowing which target made it."""

    def apply(self, status: CloneJobStatus) -> None:
        """Set this target's members of ``status``."""


@dataclass(frozen=True)
class NoRecord:
    """A plan that records nothing (it waits for something first)."""

    def apply(self, status: CloneJobStatus) -> None:
        return None


@dataclass(frozen=True)
class Plan:
    """What a job that may start will do: its steps and the status members recorded when it starts."""

    steps: tuple[StepKind, ...]
    record: StatusRecord
    """The target details (and for Compute Engine their deprecated mirrors), recorded when the job starts."""
    source_sync: SourceSync
    refusal: JobError | None = None
    """The target is known (its details are recorded) but the job cannot run on it."""
    waiting: Activity | None = None
    """Something the target needs is missing (a TargetProject, say): stay PENDING; nothing is recorded."""
    waiting_code: Code = Code.NOT_FOUND
    """What a wait that outlasts the pending deadline fails with."""


@dataclass(frozen=True)
class Made:
    """A product ``Driver.create`` answers with: made now, or found made already by this run (adopted)."""

    ref: ResourceRef
    adopted: bool = False


@dataclass(frozen=True)
class StepReport:
    """The running step as observed: how far it has got, and what is missing."""

    progress: int = 0
    done: bool = False
    error: JobError | None = None
    detail: str = ""
    products: tuple[ResourceRef, ...] = ()
    """The step's products that exist now."""
    creates: tuple[CreateProduct, ...] = ()
    releases: tuple[DeleteProduct, ...] = ()
    """Helpers a step no longer needs (the adaptation Job once it completed): deleted while the job goes on, so
    that a finished clone is the clone alone."""
    lingering: str = ""
    """What of the job's making beside the clone is still there (a helper being removed), in words: the job does
    not finish until it is gone (the core holds the last step's end back)."""
    learnt: StatusRecord | None = None
    """What the step learnt that the status keeps (a Compute Engine disk's URI, say)."""


@dataclass(frozen=True)
class CleanupReport:
    remaining: tuple[str, ...] = ()
    """Products still present, ``Kind/name``; includes ones already being deleted."""
    blocked: str | None = None
    """Why products could not even be listed or deleted (forbidden, say)."""
    deletable: tuple[DeleteProduct, ...] = ()
    """Those of ``remaining`` to delete now (not already being deleted, nothing depending on them)."""


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
    step_timeout: timedelta = field(default=timedelta(hours=1))

    @property
    def run(self) -> str | None:
        return names.run_of(self.status.created_revision)

    @property
    def labels(self) -> dict[str, str]:
        return names.product_labels(self.name, self.uid, self.migrating_vm, self.run)

    def made(self, labels: dict[str, str] | None) -> bool:
        """Whether an object with these labels was made by this run of this job."""
        return names.made_by(labels, self.uid, self.run)


class Driver(Protocol):
    name: str
    polled: bool
    """Its products cannot be watched: a running job is looked at every poll interval."""

    def classify(self, error: BaseException) -> Fault | None:
        """Its library's exceptions as faults (None for those it does not know)."""

    def plan(self, clone_job: str, source: Source) -> Plan:
        """The steps and target details of a job about to start; raises JobError when it can't start."""

    def steps(self, status: CloneJobStatus) -> tuple[StepKind, ...]:
        """The steps a started job runs, from the details recorded when it started."""

    def look(self, step: StepKind, job: JobContext) -> StepReport:
        """Read how far ``step`` has got and what it still needs created; writes nothing."""

    def create(self, effect: CreateProduct, job: JobContext) -> Made:
        """Make one product (idempotent: a repeat after a crash makes nothing twice, and says it adopted it)."""

    def survey(self, job: JobContext) -> CleanupReport:
        """Find everything this job created (its uid label, and ``status.createdResources`` read fresh);
        report what still exists and what to delete now. Writes nothing."""

    def delete(self, effect: DeleteProduct, job: JobContext) -> None:
        """Delete one product, only if it carries the job's uid label when read fresh."""

    def owns(self, ref: ResourceRef) -> bool:
        """Whether a recorded product is of this target's making (cleanup of a job whose details are lost)."""

    def observes(self, status: CloneJobStatus) -> tuple[Kind, ...]:
        """The kinds whose changes move the job on: unless they are watched, the job is polled."""


@dataclass(frozen=True)
class Watch:
    """A kind a target's jobs depend on, watched into the operator's caches, and which jobs its changes wake:

    - ``product``: objects the target makes (only those with a job's label are watched; a change wakes that job);
    - ``reads``: objects its jobs read by name (a VolumeSnapshot, say): given a CloneJob's stored status, the
      names of this kind that the job reads now; a change of one wakes the jobs that read it;
    - ``wakes``: objects its jobs look up in their namespace (a TargetProject): a change wakes the jobs of
      that namespace whose wait it may end.
    """

    kind: Kind
    product: bool = False
    reads: Callable[[Body], tuple[str, ...]] | None = None
    wakes: Trigger | None = None


@dataclass(frozen=True)
class Target:
    """A clone target as the core knows it, registered in ``catalog.REGISTRY``: its name, how its MigratingVms,
    its started jobs and its products are recognised, and how its driver is built. Nothing here loads the
    target's libraries: ``build`` does, when a job first needs the driver."""

    name: str
    """The driver's name (``Driver.name``), as effects carry it."""
    title: str
    """What a person calls it: "KubeVirt", "Compute Engine"."""
    defaults: tuple[str, ...]
    """The MigratingVm spec members (their wire names) that make a MigratingVm this target's."""
    recorded: Callable[[CloneJobStatus], bool]
    """Whether a started job's status records this target's details."""
    owns: Callable[[ResourceRef], bool]
    """Whether a product recorded in status.createdResources is this target's."""
    build: Callable[[KubeClient, Settings], Driver]
    """The driver (imports the target's libraries; a JobError when they are missing)."""
    watches: tuple[Watch, ...] = ()
    """What it watches (a kind the API server does not serve is read when needed instead)."""
    rules: tuple[Rule, ...] = ()
    """The namespaced RBAC rules its code paths need (``permissions.namespaced`` gathers them)."""
    cluster_rules: tuple[Rule, ...] = ()
    """The cluster-scoped objects it reads (an AdaptationProfile, say)."""
    heavy: bool = False
    """Its libraries take seconds to load: loaded in the background as soon as one of its MigratingVms is seen."""
    found_by_label: bool = False
    """Its products are found by the job's label at no cost: a job whose details are lost is surveyed by it."""


def resource_ref(kind: Kind, body: Body) -> ResourceRef:
    meta = body.get("metadata", {})
    return ResourceRef(
        api_version=kind.api_version,
        kind=kind.kind,
        name=meta.get("name", ""),
        namespace=meta.get("namespace"),
        uid=meta.get("uid"),
    )


def create_owned(kube: KubeClient, kind: Kind, manifest: Body, job: JobContext) -> Made:
    """Create ``manifest``; when it exists already (a crash, a race), adopt it only if it is this job's."""
    meta = manifest["metadata"]
    try:
        return Made(resource_ref(kind, kube.create(kind, meta["namespace"], manifest)))
    except ApiException as error:
        if status_of(error) != 409:
            raise  # the reconciler turns refusals into the job's error
    existing = kube.refresh(kind, meta["namespace"], meta["name"])  # the cache may not have seen it yet
    if existing is None:
        raise JobError(Code.ABORTED, f"{kind.kind} {meta['name']} vanished while being created")
    return Made(resource_ref(kind, owned(kind, existing, job)), adopted=True)


def owned(kind: Kind, body: Body, job: JobContext) -> Body:
    """``body`` itself when this run of the job made it (its labels say so); a JobError otherwise."""
    meta = body.get("metadata", {})
    if not job.made(meta.get("labels")):
        raise JobError(
            Code.ALREADY_EXISTS,
            f"{kind.kind} {meta.get('name')} already exists and was not created by this CloneJob; "
            "choose another vmName or remove it",
        )
    return body


def survey_objects(kube: KubeClient, target: str, kinds: tuple[Kind, ...], job: JobContext) -> CleanupReport:
    """Cleanup facts for Kubernetes products: those of ``kinds`` with the job's uid label, and the recorded
    ones of those kinds, all read from the API server itself. A watch cache may not have finished its
    first list (right after a restart, say), and an absence there proves nothing: a job never ends while
    a product of it may exist. Cleanup is rare, so the few label-selected lists cost little."""
    by_ref = {(k.api_version, k.kind): k for k in kinds}
    selector = f"{names.LABEL_JOB_UID}={job.uid}"
    found: dict[tuple[str, str], tuple[Kind, Body]] = {}
    for kind in kinds:
        for body in kube.fresh_list(kind, job.namespace, selector):
            _keep(found, kind, body, job)
    for item in job.status.created_resources or []:
        known = by_ref.get((item.api_version, item.kind))
        if known is None or (known.kind, item.name) in found:
            continue
        try:
            current = kube.refresh(known, job.namespace, item.name)
        except KindNotServed:
            continue  # nothing of a kind that is not served can exist
        if current is not None:
            _keep(found, known, current, job)
    order = {kind: index for index, kind in enumerate(kinds)}  # the VM before the disks it uses
    remaining: list[str] = []
    deletable: list[DeleteProduct] = []
    for kind, body in sorted(found.values(), key=lambda item: order[item[0]]):
        meta = body["metadata"]
        remaining.append(f"{kind.kind}/{meta['name']}")
        if not meta.get("deletionTimestamp"):
            deletable.append(DeleteProduct(target, resource_ref(kind, body)))
    return CleanupReport(remaining=tuple(remaining), deletable=tuple(deletable))


def _keep(found: dict[tuple[str, str], tuple[Kind, Body]], kind: Kind, body: Body, job: JobContext) -> None:
    """Only what carries the labels of this run of the job is the job's, whatever a selector or a status says."""
    meta = body.get("metadata") or {}
    if job.made(meta.get("labels")):
        found[(kind.kind, meta.get("name", ""))] = (kind, body)


def delete_object(kube: KubeClient, kinds: tuple[Kind, ...], effect: DeleteProduct, job: JobContext) -> None:
    """Delete the product ``effect`` names if, read fresh, it carries the job's uid label; the delete is
    guarded by the object's uid, so a namesake made meanwhile is never touched."""
    item = effect.ref
    kind = next((k for k in kinds if (k.api_version, k.kind) == (item.api_version, item.kind)), None)
    if kind is None or not item.namespace:
        return
    current = kube.refresh(kind, item.namespace, item.name)
    if current is None:
        return
    meta = current["metadata"]
    if not job.made(meta.get("labels")):
        log.warning(
            "CloneJob %s/%s: not deleting %s %s/%s: it does not carry the labels of this job's run",
            job.namespace,
            job.name,
            kind.kind,
            item.namespace,
            item.name,
        )
        return
    try:
        kube.delete(kind, item.namespace, item.name, uid=meta.get("uid"))
    except ApiException as error:
        if status_of(error) != 409:  # 409: the uid precondition failed, a namesake replaced it
            raise


def condition(body: Body, kind: str) -> dict[str, Any] | None:
    for entry in body.get("status", {}).get("conditions", None) or []:
        if entry.get("type") == kind:
            return dict(entry)
    return None
