"""One reconciliation of one CloneJob: read the world, ask the state machine, carry out its decision."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from clonejob_operator import machine, names, recentjobs
from clonejob_operator.admission import Gate
from clonejob_operator.api.clonejob import CloneJobSpec, CloneJobStatus, ResourceRef, State
from clonejob_operator.cache import Cache, CachedKube
from clonejob_operator.cleanup import Sweeper
from clonejob_operator.codes import JobError
from clonejob_operator.events import EventPoster
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Body, Kube, merge_patch, ref_of, status_of
from clonejob_operator.machine import Decision, Facts, Job, Need, StepReport
from clonejob_operator.metrics import Metrics
from clonejob_operator.settings import Settings
from clonejob_operator.targets.base import JobContext, api_error
from clonejob_operator.targets.catalog import Drivers
from clonejob_operator.timestamps import now as utc_now
from clonejob_operator.timestamps import parse_time
from clonejob_operator.validation import describe

log = logging.getLogger(__name__)


class Conflict(Exception):
    """The CloneJob or its MigratingVm changed under us; reconcile again soon."""


@dataclass(frozen=True)
class Observed:
    """What one look at the world found: the facts for the state machine, and what to record besides."""

    facts: Facts
    products: list[ResourceRef] = field(default_factory=list)
    updates: dict[str, Any] = field(default_factory=dict)
    """Status attributes a step learnt (a product's URI, say)."""
    migrating_vm: Body | None = None


@dataclass(frozen=True)
class Outcome:
    finished: bool
    """The job is terminal or gone: nothing more will happen to it."""
    state: str | None = None
    requeue_after: float | None = None
    """Seconds until time alone changes the decision (a deadline): look again then."""


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
    """Reconciles one CloneJob at a time (the work queue never hands one key to two workers).

    Reads come from ``cache`` (kept by watches); without watches every read goes to the API server.
    """

    def __init__(
        self,
        kube: Kube,
        settings: Settings,
        clock: Callable[[], datetime] = utc_now,
        metrics: Metrics | None = None,
        cache: Cache | None = None,
    ) -> None:
        self.metrics = metrics or Metrics()
        self.settings = settings
        self.clock = clock
        self.cache = cache or Cache(max_active=settings.max_active)
        self.kube = CachedKube(kube, self.cache)
        self.drivers = Drivers(self.kube, settings)
        self.gate = Gate(self.kube, self.drivers, settings, self.cache.roster)
        self.sweeper = Sweeper(self.drivers)
        self.events = EventPoster(kube)

    def reconcile(self, namespace: str, name: str, rounds: int = 8) -> Outcome:
        """Reconcile until the job waits on the world (at most ``rounds`` decisions in a row)."""
        outcome = Outcome(finished=True)
        for round_ in range(rounds):
            body = self.kube.get(CLONE_JOB, namespace, name)
            if body is None:
                return Outcome(finished=True)
            try:
                held = self._hold(body)
                if held is None:
                    return Outcome(finished=True, state=(body.get("status") or {}).get("state"))
                body = held
                outcome, again = self._once(read_job(body), body)
            except Conflict:
                if round_ == rounds - 1:
                    raise
                self.kube.refresh(CLONE_JOB, namespace, name)  # somebody wrote first: read again, decide again
                continue
            if not again and not (outcome.finished and body["metadata"].get("deletionTimestamp")):
                break  # (a deleted job that has just finished lets go in the next round)
        return outcome

    def _hold(self, body: Body) -> Body | None:
        """Our finalizer: on an unfinished job that is not being deleted, off a finished job being deleted.

        None when the job has let go (it is finished and being deleted): nothing more will happen to it.
        """
        meta = body["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        held = names.FINALIZER in finalizers
        finished = State.of((body.get("status") or {}).get("state")).terminal
        if meta.get("deletionTimestamp"):
            if not finished:
                return body  # cancelled first; let go once CANCELLED
            if held:
                self._patch_meta(body, {"finalizers": [f for f in finalizers if f != names.FINALIZER]})
                _log_ref(body, logging.INFO, "finished; letting the CloneJob go")
            return None
        if held or finished:
            return body
        return self._patch_meta(body, {"finalizers": [*finalizers, names.FINALIZER]})

    def _patch_meta(self, body: Body, metadata: Body) -> Body:
        meta = body["metadata"]
        patch = {"metadata": {**metadata, "resourceVersion": meta["resourceVersion"]}}
        try:
            return self.kube.patch(CLONE_JOB, meta["namespace"], meta["name"], patch)
        except ApiException as error:
            if status_of(error) == 409:
                raise Conflict(f"CloneJob {meta['namespace']}/{meta['name']} changed meanwhile") from None
            if status_of(error) == 404:
                return body
            raise

    def _once(self, job: Job, body: Body) -> tuple[Outcome, bool]:
        need = machine.need(job)
        seen = self._observe(job, body, need)
        reserved = seen.facts.admission is not None and seen.facts.admission.reserved
        try:
            decision = machine.decide(job, seen.facts, self.settings)
            return self._apply(job, body, decision, seen)
        finally:
            if reserved:  # written and seen by the roster (the write is cached), or not started at all
                self.cache.roster.release(job.uid)

    def _apply(self, job: Job, body: Body, decision: Decision, seen: Observed) -> tuple[Outcome, bool]:
        if seen.products:
            decision.status.created_resources = _merge(decision.status.created_resources, seen.products)
        for attribute, value in seen.updates.items():  # what a step learnt (a product's URI, say)
            setattr(decision.status, attribute, value)
        if decision.claim and not self._claim(job, decision, seen.migrating_vm):
            raise Conflict(f"MigratingVm {job.spec.migrating_vm if job.spec else '?'} is held or changed")
        self._write(job, body, decision)
        status = decision.status
        look = machine.next_look(replace(job, status=status), self.settings)
        driver = self.drivers.for_status(status)
        unwatched = driver is not None and (driver.polled or not set(driver.observes(status)) <= self.cache.watched)
        after = None if look is None else max(0.0, (look - self.clock()).total_seconds()) + 0.05
        if unwatched and not status.current.terminal:  # nothing will wake it: look again soon
            after = min(after or self.settings.poll_interval, self.settings.poll_interval)
        return Outcome(finished=status.current.terminal, state=status.state, requeue_after=after), decision.again

    def _observe(self, job: Job, body: Body, need: Need) -> Observed:
        now = self.clock()
        driver = self.drivers.for_status(job.status)
        try:
            planned = driver.steps(job.status) if driver and job.status.steps else ()
        except JobError:
            planned = ()  # decide() fails the job for it rather than guess
        if need is Need.ADMISSION:
            mvm = job.spec.migrating_vm if job.spec else ""
            # A miss is confirmed with the API server: the watch may not have brought it yet (at start, say).
            migrating_vm = self.kube.get(MIGRATING_VM, job.namespace, mvm) or self.kube.refresh(
                MIGRATING_VM, job.namespace, mvm
            )
            admission = self.gate.admit(job, body, migrating_vm)
            steps = admission.plan.steps if admission.plan else ()
            return Observed(Facts(now=now, steps=steps, admission=admission), migrating_vm=migrating_vm)
        if need is Need.CLEANUP:
            report = self.sweeper.sweep(job.namespace, job.uid, job.status)
            return Observed(Facts(now=now, steps=planned, cleanup=report))
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
                facts = Facts(now=now, steps=planned, step=result.report)
                return Observed(facts, products=list(result.products), updates=dict(result.updates))
            except JobError as error:
                return Observed(Facts(now=now, steps=planned, step=StepReport(error=error)))
            except ApiException as error:
                refusal = api_error(error)  # 403/404/4xx end the job; 429/5xx are retried
                if not isinstance(refusal, JobError):
                    raise
                return Observed(Facts(now=now, steps=planned, step=StepReport(error=refusal)))
        return Observed(Facts(now=now, steps=planned))

    def _claim(self, job: Job, decision: Decision, migrating_vm: Body | None) -> bool:
        if migrating_vm is None:
            return False
        mine = recentjobs.summary(decision.status, job.uid)
        return recentjobs.claim(self.kube, job.namespace, migrating_vm, mine, self.gate.holds(job.namespace))

    def _write(self, job: Job, body: Body, decision: Decision) -> None:
        new = decision.status.wire()
        old = body.get("status") or {}
        if _worth_writing(old, new):
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
            summary = recentjobs.summary(decision.status, job.uid)
            recentjobs.record(self.kube, job.namespace, job.spec.migrating_vm, summary)

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


def _log_ref(body: Body, level: int, message: str) -> None:
    meta = body["metadata"]
    ref = {
        "apiVersion": CLONE_JOB.api_version,
        "kind": CLONE_JOB.kind,
        **{k: meta.get(k, "") for k in ("name", "namespace", "uid")},
    }
    log.log(level, message, extra={"k8s_ref": ref})


def _worth_writing(old: Body, new: Body) -> bool:
    """Whether a new status says something the stored one does not, beyond bookkeeping that can wait.

    Products just created (``createdResources``) and a reworded condition message ride along with
    the next real change: cleanup finds products by their uid label anyway, and the drivers report
    their products again on every look. Everything else (state, steps, progress, errors, condition
    statuses and reasons, observedGeneration) is written at once.
    """

    def essence(status: Body) -> Body:
        kept = {k: v for k, v in status.items() if k not in ("createdResources", "conditions")}
        kept["conditions"] = [
            {k: v for k, v in c.items() if k not in ("message", "lastTransitionTime")}
            for c in status.get("conditions") or []
        ]
        return kept

    return new != old and essence(new) != essence(old)


def _merge(existing: list[ResourceRef] | None, found: list[ResourceRef]) -> list[ResourceRef]:
    """Recorded products, each once: what a driver reports now replaces what it reported before
    (a pending operation that has finished, say); a namesake with another uid is another product."""

    def key(ref: ResourceRef) -> tuple[str, str, str, str | None, str | None]:
        return (ref.api_version, ref.kind, ref.name, ref.namespace, ref.uid if ref.uid else None)

    fresh = {key(ref): ref for ref in found}
    out = [fresh.pop(key(ref), ref) for ref in existing or []]
    return out + list(fresh.values())
