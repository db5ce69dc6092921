"""One reconciliation of one CloneJob: read the world, ask the state machine, carry out its decision."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from clonejob_operator import machine, recentjobs
from clonejob_operator.admission import Gate
from clonejob_operator.api.clonejob import CloneJobSpec, CloneJobStatus, ResourceRef
from clonejob_operator.cleanup import Sweeper
from clonejob_operator.codes import JobError
from clonejob_operator.drivers import Drivers
from clonejob_operator.drivers.base import JobContext, api_error
from clonejob_operator.events import EventPoster
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Body, Kube, merge_patch, ref_of, status_of
from clonejob_operator.machine import Decision, Facts, Job, Need, StepReport
from clonejob_operator.metrics import Metrics
from clonejob_operator.settings import Settings
from clonejob_operator.timestamps import now as utc_now
from clonejob_operator.timestamps import parse_time
from clonejob_operator.validation import describe

log = logging.getLogger(__name__)


class Conflict(Exception):
    """The CloneJob or its MigratingVm changed under us; reconcile again soon."""


@dataclass(frozen=True)
class Outcome:
    finished: bool
    """The job is terminal or gone: nothing more will happen to it."""
    state: str | None = None


def read_job(body: Body) -> Job:
    """The CloneJob as the state machine sees it; unusable stored fields become ``spec_error``."""
    meta = body["metadata"]
    problems: list[str] = []
    try:
        spec: CloneJobSpec | None = CloneJobSpec.model_validate(body.get("spec") or {})
    except ValidationError as error:
        spec = None
        problems.append(describe(error, "spec"))
    status, dropped = _lenient_status(body.get("status") or {})
    problems.extend(dropped)
    return Job(
        namespace=meta["namespace"],
        name=meta["name"],
        uid=meta["uid"],
        generation=int(meta.get("generation") or 1),
        created=parse_time(meta["creationTimestamp"]),
        spec=spec,
        status=status,
        deleting=bool(meta.get("deletionTimestamp")),
        spec_error="; ".join(problems) or None,
    )


def _lenient_status(raw: dict[str, Any]) -> tuple[CloneJobStatus, list[str]]:
    """Keep every readable top-level status field, so that a bad one never hides what was created."""
    try:
        return CloneJobStatus.model_validate(raw), []
    except ValidationError:
        pass
    kept: dict[str, Any] = {}
    problems = []
    for key, value in raw.items():
        try:
            CloneJobStatus.model_validate({key: value})
            kept[key] = value
        except ValidationError as error:
            problems.append(describe(error, "status"))
    return CloneJobStatus.model_validate(kept), problems


class Reconciler:
    def __init__(
        self,
        kube: Kube,
        settings: Settings,
        clock: Callable[[], datetime] = utc_now,
        metrics: Metrics | None = None,
    ) -> None:
        self.kube = kube
        self.metrics = metrics or Metrics()
        self.settings = settings
        self.clock = clock
        self.drivers = Drivers(kube)
        self.gate = Gate(kube, self.drivers, settings)
        self.sweeper = Sweeper(kube, self.drivers)
        self.events = EventPoster(kube)
        self._admitting = threading.Lock()
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def reconcile(self, namespace: str, name: str, rounds: int = 8) -> Outcome:
        """Reconcile until the job waits on the world (at most ``rounds`` decisions in a row)."""
        with self._lock(namespace, name):
            outcome = self._rounds(namespace, name, rounds)
        if outcome.finished:
            with self._locks_guard:  # nothing more will happen to it: do not keep its lock forever
                self._locks.pop((namespace, name), None)
        return outcome

    def _rounds(self, namespace: str, name: str, rounds: int) -> Outcome:
        outcome = Outcome(finished=True)
        for round_ in range(rounds):
            body = self.kube.get(CLONE_JOB, namespace, name)
            if body is None:
                return Outcome(finished=True)
            try:
                outcome, again = self._once(read_job(body), body)
            except Conflict:
                if round_ == rounds - 1:
                    raise
                continue  # somebody (kopf's own bookkeeping, say) wrote first: read again, decide again
            if not again:
                break
        return outcome

    def _once(self, job: Job, body: Body) -> tuple[Outcome, bool]:
        need = machine.need(job)
        decision, products, migrating_vm = self._decide(job, body, need)
        if decision.claim:
            # Only starts are serialised, so --max-active and the queue stay exact while waiting jobs, the
            # common case, are checked in parallel: decide again under the lock, then claim and write.
            with self._admitting:
                decision, products, migrating_vm = self._decide(job, body, need)
                outcome = self._apply(job, body, decision, products, migrating_vm)
                self.gate.forget()  # who runs has changed: the next admission lists afresh
                return outcome
        return self._apply(job, body, decision, products, migrating_vm)

    def _lock(self, namespace: str, name: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault((namespace, name), threading.Lock())

    def _decide(self, job: Job, body: Body, need: Need) -> tuple[Decision, list[ResourceRef], Body | None]:
        facts, products, migrating_vm = self._observe(job, body, need)
        return machine.decide(job, facts, self.settings), products, migrating_vm

    def _apply(
        self, job: Job, body: Body, decision: Decision, products: list[ResourceRef], migrating_vm: Body | None
    ) -> tuple[Outcome, bool]:
        if products:
            decision.status.created_resources = _merge(decision.status.created_resources, products)
        if decision.claim and not self._claim(job, decision, migrating_vm):
            raise Conflict(f"MigratingVm {job.spec.migrating_vm if job.spec else '?'} is held or changed")
        self._write(job, body, decision)
        return Outcome(finished=decision.status.current.terminal, state=decision.status.state), decision.again

    def _observe(self, job: Job, body: Body, need: Need) -> tuple[Facts, list[ResourceRef], Body | None]:
        now = self.clock()
        driver = self.drivers.for_status(job.status)
        try:
            planned = driver.steps(job.status) if driver and job.status.steps else ()
        except JobError:
            planned = ()  # decide() fails the job for it rather than guess
        if need is Need.ADMISSION:
            mvm = job.spec.migrating_vm if job.spec else ""
            migrating_vm = self.kube.get(MIGRATING_VM, job.namespace, mvm)
            admission = self.gate.admit(job, body, migrating_vm)
            steps = admission.plan.steps if admission.plan else ()
            return Facts(now=now, steps=steps, admission=admission), [], migrating_vm
        if need is Need.CLEANUP:
            report = self.sweeper.sweep(job.namespace, job.uid, job.status)
            return Facts(now=now, steps=planned, cleanup=report), [], None
        if need is Need.STEP and driver is not None and planned and job.status.running_step is not None:
            kind = job.status.running_step.kind
            context = JobContext(
                namespace=job.namespace,
                name=job.name,
                uid=job.uid,
                migrating_vm=job.spec.migrating_vm if job.spec else "",
                status=job.status,
                step_timeout=self.settings.step_timeout(kind),
            )
            try:
                result = driver.sync(kind, context)
                return Facts(now=now, steps=planned, step=result.report), list(result.products), None
            except JobError as error:
                return Facts(now=now, steps=planned, step=StepReport(error=error)), [], None
            except ApiException as error:
                refusal = api_error(error)  # 403/404/4xx end the job; 429/5xx are retried
                if not isinstance(refusal, JobError):
                    raise
                return Facts(now=now, steps=planned, step=StepReport(error=refusal)), [], None
        return Facts(now=now, steps=planned), [], None

    def _claim(self, job: Job, decision: Decision, migrating_vm: Body | None) -> bool:
        if migrating_vm is None:
            return False
        mine = recentjobs.summary(decision.status)
        return recentjobs.claim(self.kube, job.namespace, migrating_vm, mine, self.gate.still_running(job.namespace))

    def _write(self, job: Job, body: Body, decision: Decision) -> None:
        new = decision.status.wire()
        old = body.get("status") or {}
        if new != old:
            # The resourceVersion makes the patch conditional: a concurrent change answers 409.
            patch = {
                "metadata": {"resourceVersion": body["metadata"]["resourceVersion"]},
                "status": merge_patch(old, new),
            }
            try:
                self.kube.patch_status(CLONE_JOB, job.namespace, job.name, patch)
            except ApiException as error:
                if status_of(error) == 409:
                    raise Conflict(f"CloneJob {job.namespace}/{job.name} changed meanwhile") from None
                raise
        self.metrics.decided(job.status, decision.status)
        self._log_progress(job, decision.status)
        involved = ref_of(body)
        for note in decision.notes:
            level = logging.WARNING if note.type == "Warning" else logging.INFO
            _log(job, level, "%s: %s", note.reason, note.message, reason=note.reason, state=decision.status.state)
            self.events.post(involved, note.type, note.reason, note.message)
        if decision.record and job.spec is not None:
            recentjobs.record(self.kube, job.namespace, job.spec.migrating_vm, recentjobs.summary(decision.status))

    @staticmethod
    def _log_progress(job: Job, status: CloneJobStatus) -> None:
        before, after = job.status.running_step, status.running_step
        if after is None or before is None or before.kind is not after.kind:
            return
        if before.progress_percent != after.progress_percent:
            condition = next((c for c in status.conditions or [] if c.type == "Reconciling"), None)
            detail = condition.message if condition else ""
            _log(
                job,
                logging.INFO,
                "%s %s%% (job %s%%): %s",
                after.kind.value,
                after.progress_percent,
                status.progress_percent,
                detail,
                step=after.kind.value,
                progress=after.progress_percent,
            )


def _log(job: Job, level: int, message: str, *args: object, **fields: object) -> None:
    """A line about one CloneJob: kopf's formatters prefix it with the object, and its JSON format keeps fields."""
    ref = {
        "apiVersion": CLONE_JOB.api_version,
        "kind": CLONE_JOB.kind,
        "name": job.name,
        "namespace": job.namespace,
        "uid": job.uid,
    }
    log.log(level, message, *args, extra={"k8s_ref": ref, **fields})


def _merge(existing: list[ResourceRef] | None, found: list[ResourceRef]) -> list[ResourceRef]:
    out = list(existing or [])
    known = {(r.kind, r.name, r.uid) for r in out}
    out.extend(r for r in found if (r.kind, r.name, r.uid) not in known)
    return out
