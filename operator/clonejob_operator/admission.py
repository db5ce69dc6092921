"""Whether a PENDING CloneJob may start: its MigratingVm, its snapshots, the queue, the active limit."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError

from clonejob_operator import names
from clonejob_operator.api.clonejob import State
from clonejob_operator.api.migratingvm import LastSync, MigratingVmSpec
from clonejob_operator.codes import Code, JobError
from clonejob_operator.conditions import Activity
from clonejob_operator.drivers import Drivers
from clonejob_operator.drivers.base import Source
from clonejob_operator.kube import CLONE_JOB, Body, Kube
from clonejob_operator.machine import Admission, Job
from clonejob_operator.recentjobs import running_elsewhere
from clonejob_operator.settings import Settings
from clonejob_operator.validation import describe

STARTED = {State.ACTIVE.value, State.ADAPTING_OS.value, State.CANCELLING.value}
FINISHED = {s.value for s in State if s.terminal}


@dataclass(frozen=True)
class Peer:
    """Another CloneJob, as far as queueing cares."""

    name: str
    uid: str
    migrating_vm: str
    state: str
    order: tuple[str, str]
    leaving: bool

    @classmethod
    def of(cls, body: Body) -> Peer:
        meta, spec, status = body.get("metadata", {}), body.get("spec") or {}, body.get("status") or {}
        return cls(
            name=meta.get("name", ""),
            uid=meta.get("uid", ""),
            migrating_vm=str(spec.get("migratingVm", "")),
            state=str(status.get("state") or State.PENDING.value),
            order=(meta.get("creationTimestamp", ""), meta.get("name", "")),
            leaving=bool(spec.get("cancel")) or bool(meta.get("deletionTimestamp")),
        )

    @property
    def started(self) -> bool:
        return self.state in STARTED

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


def _wait(reason: str, message: str, code: Code = Code.FAILED_PRECONDITION) -> Admission:
    return Admission(waiting=Activity(reason, message), code=code)


def _unusable(migrating_vm: str, problem: str) -> Admission:
    return Admission(error=JobError(Code.INVALID_ARGUMENT, f"MigratingVm {migrating_vm}: {problem}"))


class Gate:
    """Admission checks. CloneJob lists are shared between jobs for ``LIST_TTL`` seconds, and dropped
    whenever a job starts, so that many waiting jobs cost one list per namespace, not one each."""

    LIST_TTL = 1.0

    def __init__(self, kube: Kube, drivers: Drivers, settings: Settings) -> None:
        self.kube = kube
        self.drivers = drivers
        self.settings = settings
        self._lists: dict[str | None, tuple[float, list[Peer]]] = {}

    def forget(self) -> None:
        self._lists.clear()

    def _peers(self, namespace: str | None) -> list[Peer]:
        now = time.monotonic()
        cached = self._lists.get(namespace)
        if cached is None or now - cached[0] > self.LIST_TTL:
            cached = (now, [Peer.of(item) for item in self.kube.list(CLONE_JOB, namespace)])
            self._lists[namespace] = cached
        return cached[1]

    def admit(self, job: Job, body: Body, migrating_vm: Body | None) -> Admission:
        mvm = job.spec.migrating_vm if job.spec else ""
        if names.FINALIZER not in (body.get("metadata", {}).get("finalizers") or []):
            return _wait("AwaitingFinalizer", f"waiting for the {names.FINALIZER} finalizer")
        if migrating_vm is None:
            return _wait(
                "MigratingVmNotFound", f"MigratingVm {mvm} not found in namespace {job.namespace}", Code.NOT_FOUND
            )
        try:
            spec = MigratingVmSpec.model_validate(migrating_vm.get("spec") or {})
        except ValidationError as error:
            return _unusable(mvm, describe(error, "spec"))
        try:
            last_sync = LastSync.model_validate((migrating_vm.get("status") or {}).get("lastSync") or {})
        except ValidationError as error:
            return _unusable(mvm, describe(error, "status.lastSync"))
        source = Source(name=mvm, uid=migrating_vm["metadata"].get("uid", ""), spec=spec, last_sync=last_sync)
        try:
            plan = self.drivers.for_spec(spec).plan(job.name, source)
        except JobError as error:
            return Admission(error=error)
        if plan.refusal is not None:
            return Admission(plan=plan)  # recorded, then failed: no point in waiting for anything
        if not last_sync.snapshots:
            return _wait("NoSnapshots", f"MigratingVm {mvm} has no status.lastSync.snapshots yet")
        peers = self._peers(job.namespace)
        mine = next((p for p in peers if p.uid == job.uid), None)
        order = mine.order if mine else (body["metadata"].get("creationTimestamp", ""), job.name)
        for peer in peers:
            if peer.uid == job.uid or peer.migrating_vm != mvm or peer.finished:
                continue
            if peer.started:
                return _wait(
                    "WaitingForCloneJob",
                    f"CloneJob {peer.name} of MigratingVm {mvm} is {peer.state}; one runs at a time",
                )
            if not peer.leaving and peer.order < order:
                return _wait("Queued", f"queued behind CloneJob {peer.name} of MigratingVm {mvm}")
        holder = running_elsewhere(migrating_vm, job.status.name or "", self.still_running(job.namespace))
        if holder:
            return _wait("WaitingForCloneJob", f"CloneJob {holder} holds MigratingVm {mvm}; one runs at a time")
        if self.settings.max_active and self._active(job) >= self.settings.max_active:
            return _wait("MaxActiveReached", f"{self.settings.max_active} CloneJobs are active (--max-active)")
        return Admission(plan=plan)

    def still_running(self, namespace: str) -> Callable[[str], bool]:
        def check(name: str) -> bool:
            body = self.kube.get(CLONE_JOB, namespace, name)
            return body is not None and not Peer.of(body).finished

        return check

    def _active(self, job: Job) -> int:
        scopes: list[str | None] = list(self.settings.namespaces) or [None]
        return sum(1 for scope in scopes for peer in self._peers(scope) if peer.started and peer.uid != job.uid)
