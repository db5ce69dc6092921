"""``commit(decision)``: the only writer, of the API server and of the process's memory. It carries out a
decision's effects in order.

First it records that the look before it has been decided on (the last commit's fault has had its say; a
run of faults goes on or ends; what the job waits for), and says a fault met while looking once per job.
A failed effect is never an escape: it is written into memory as a fact for the next decision, and
handed back as the commit's fault, for the work queue's backoff (a conflict asks for another look at
once; a refused status write is counted, and the decision after it fails the job, or gives up on it;
a refused create fails the step). The start reservation is held, as a context manager, from the claim
on the MigratingVm until the status that records the start is written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

import urllib3
from kubernetes.client.exceptions import ApiException

from clonejob_operator import claims, names
from clonejob_operator.cache import Cache, CachedKube
from clonejob_operator.codes import Code, JobError
from clonejob_operator.events import EventPoster
from clonejob_operator.faults import NO_ANSWER, Fault, FaultKind, api_message, classify
from clonejob_operator.jobs import Job
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, VOLUME_SNAPSHOT, Body, Kind, NotLeading, status_of
from clonejob_operator.logs import Once, job_log
from clonejob_operator.machine.effects import (
    AddFinalizer,
    Claim,
    CreateProduct,
    DeleteProduct,
    Effect,
    GiveUp,
    Keep,
    PatchStatus,
    PostEvent,
    Record,
    RemoveFinalizer,
)
from clonejob_operator.machine.model import Decision, World, job_context
from clonejob_operator.machine.reasons import Reason
from clonejob_operator.memory import Memory
from clonejob_operator.settings import Settings
from clonejob_operator.sources.base import JOB_HOLDER, holder
from clonejob_operator.sources.catalog import FeedDrivers
from clonejob_operator.targets.catalog import Drivers

log = logging.getLogger(__name__)


class Stop(Exception):
    """An effect could not be carried out; the rest of the decision waits for another look."""


@dataclass
class Committed:
    body: Body
    """The CloneJob as the last write left it."""
    again: bool = False
    """Look again at once (a conflict, a claim lost, a refused status write)."""
    fault: Fault | None = None
    """What an effect met: the key goes back to the work queue, which owns the backoff."""
    wrote_status: bool = False
    """Whether the decision's status was written (only then did its transitions happen)."""


class Committer:
    def __init__(
        self,
        kube: CachedKube,
        drivers: Drivers,
        cache: Cache,
        memory: Memory,
        events: EventPoster,
        clock: Callable[[], datetime],
        settings: Settings,
        fence: Callable[[], bool] = lambda: True,
        feeds: FeedDrivers | None = None,
    ) -> None:
        self.kube = kube
        self.feeds = feeds or FeedDrivers(kube)
        self.settings = settings
        self.sealer = settings.sealer
        self.fence = fence
        """Whether this process may write now (it holds the leader Lease, or runs standalone)."""
        self.drivers = drivers
        self.cache = cache
        self.roster = cache.roster
        self.memory = memory
        self.events = events
        self.clock = clock
        self._said = Once()

    def commit(self, job: Job, body: Body, world: World, decision: Decision) -> Committed:
        """Carry out ``decision``, taken on ``world``."""
        self._looked(job, world, decision)
        done = Committed(body)
        with ExitStack() as reservation:
            try:
                for effect in decision.effects:
                    self._one(job, done, effect, reservation)
            except (Stop, NotLeading):  # NotLeading: the Lease went between the fence's check and a write
                done.again = done.fault is None
        if decision.status.current.terminal and not done.again and done.fault is None:
            self.memory.forget(job.uid)
        return done

    def _looked(self, job: Job, world: World, decision: Decision) -> None:
        self.memory.looked(job.uid, world.fault is not None, world.now)
        self.cache.wake(self.roster.waiting(job.uid, decision.wait))
        fault = world.fault
        if fault is None or world.unwritable:
            return
        if fault.kind is FaultKind.UNEXPECTED and self._said.first(job.uid, fault.message):
            job_log(log, job, logging.ERROR, "%s", fault.message, exc_info=fault.cause)
        elif fault.kind is FaultKind.REFUSED and self._said.first(job.uid, fault.message):
            # Said once: a refusal of the operator's own write (a rule missing from its RBAC) may leave it
            # no way to record it in the status.
            job_log(log, job, logging.WARNING, "%s", fault.message)
        else:
            job_log(log, job, logging.DEBUG, "%s", fault.message)

    def _one(self, job: Job, done: Committed, effect: Effect, reservation: ExitStack) -> None:
        if not self.fence():  # the Lease is lost: nothing more is written here; the next leader looks again
            raise Stop()
        if isinstance(effect, AddFinalizer | RemoveFinalizer):
            self._finalizer(job, done, add=isinstance(effect, AddFinalizer))
        elif isinstance(effect, Claim):
            self._claim(job, done, effect, reservation)
        elif isinstance(effect, PatchStatus):
            self._status(job, done, effect)
            reservation.close()  # the start is written (and in the cache, so the roster counts it)
        elif isinstance(effect, CreateProduct | DeleteProduct):
            self._product(job, done, effect)
        elif isinstance(effect, Keep):
            self._keep(job, done, effect)
        elif isinstance(effect, Record):
            self._record(job, done, effect)
        elif isinstance(effect, PostEvent):
            level = logging.WARNING if effect.type == "Warning" else logging.INFO
            job_log(log, job, level, "%s: %s", effect.reason, effect.message, reason=effect.reason)
            self.events.post(involved_object(done.body), effect.type, effect.reason, effect.message)
        elif isinstance(effect, GiveUp):
            job_log(log, job, logging.ERROR, "%s", effect.message)
            self.events.post(involved_object(done.body), "Warning", Reason.UNWRITABLE, effect.message)
            self.memory.gave_up(job.uid, effect.resource_version)

    def _refresh(self, kind: Kind, namespace: str, name: str) -> None:
        """Read an object again into the cache, so that the next look starts from the truth; an outage
        leaves the cache as it was (the next look meets the outage itself)."""
        try:
            self.kube.refresh(kind, namespace, name)
        except (ApiException, OSError, urllib3.exceptions.HTTPError) as error:
            log.debug("cannot read %s %s/%s again: %s", kind.kind, namespace, name, error)

    def _record(self, job: Job, done: Committed, effect: Record) -> None:
        """Best effort, as recentCloneJobs is: a refusal is told at WARNING; a record that got no answer is owed
        (the fault hands the key back to the queue, whose next look writes it), and the other effects go on."""
        try:
            claims.record(self.kube, job.namespace, effect.migrating_vm, effect.summary)
            self.memory.recorded(job.uid, True)
        except ApiException as error:
            job_log(
                log,
                job,
                logging.WARNING,
                "cannot record it in MigratingVm %s: %s",
                effect.migrating_vm,
                api_message(error),
            )
        except NO_ANSWER as error:
            fault = classify(error, f"recording it in MigratingVm {effect.migrating_vm}")
            self.memory.recorded(job.uid, False)
            self.memory.failed(job.uid, fault)
            done.fault = done.fault or fault

    def _finalizer(self, job: Job, done: Committed, add: bool) -> None:
        meta = done.body["metadata"]
        present = [f for f in meta.get("finalizers") or [] if f != names.FINALIZER]
        wanted = [*present, names.FINALIZER] if add else present
        patch = {"metadata": {"finalizers": wanted, "resourceVersion": meta["resourceVersion"]}}
        try:
            done.body = self._write(job, done, lambda: self.kube.patch(CLONE_JOB, job.namespace, job.name, patch))
        except ApiException as error:  # a refusal (a policy, an admission webhook): a fact, not an escape
            self._failed(job, done, classify(error, "setting the finalizer"))
        if not add:
            job_log(log, job, logging.INFO, "finished; letting the CloneJob go")

    def _claim(self, job: Job, done: Committed, effect: Claim, reservation: ExitStack) -> None:
        refused = reservation.enter_context(self.roster.reservation(self.roster.entry(done.body)))
        if refused is not None:
            raise Stop(refused[1])  # another job took the slot first: the next look says so
        mvm = job.spec.migrating_vm if job.spec else ""
        migrating_vm = self.kube.get(MIGRATING_VM, job.namespace, mvm)
        holds = lambda name, uid: self.roster.holds(job.namespace, name, uid)  # noqa: E731
        try:
            claimed = migrating_vm is not None and claims.claim(
                self.kube, job.namespace, migrating_vm, effect.summary, holds
            )
        except (ApiException, OSError, urllib3.exceptions.HTTPError) as error:  # a refusal, or NO_ANSWER
            self._failed(job, done, classify(error, f"claiming MigratingVm {mvm}"))
        if not claimed:
            self._refresh(MIGRATING_VM, job.namespace, mvm)  # it changed, or is held: read it again
            raise Stop()

    def _status(self, job: Job, done: Committed, effect: PatchStatus) -> None:
        old = done.body.get("status") or {}
        new = effect.status.wire()
        if effect.sealed:
            new = self.sealer.sealed(job.uid, new)
        patch = {
            "metadata": {"resourceVersion": done.body["metadata"]["resourceVersion"]},
            "status": merge_patch(old, new),
        }
        try:
            done.body = self._write(
                job, done, lambda: self.kube.patch_status(CLONE_JOB, job.namespace, job.name, patch)
            )
        except ApiException as error:
            if status_of(error) not in (400, 422):
                raise
            why = api_message(error)
            self.memory.refused(job.uid, why, done.body["metadata"]["resourceVersion"])
            job_log(log, job, logging.WARNING, "the API server refused its status: %s", why)
            raise Stop() from None  # the next decision fails the job for it, or, refused again, gives up
        self.memory.wrote(job.uid, self.clock(), effect.status.created_resources or ())
        done.wrote_status = True
        if effect.sealed and self.sealer.doubt(done.body) is not None:
            self._stored_otherwise(job, new, done.body.get("status") or {})

    def _stored_otherwise(self, job: Job, sent: Body, stored: Body) -> None:
        """The API server stored another status than the one sent (and sealed): the CloneJob CRD of the cluster
        is not this version's, and prunes or defaults fields. Said at ERROR: the job will be held."""
        changed = sorted(k for k in {*sent, *stored} if sent.get(k) != stored.get(k))
        job_log(
            log,
            job,
            logging.ERROR,
            "the API server stored its status otherwise than it was written (%s): the cluster's CloneJob CRD is not "
            "this operator's version; apply this version's CRDs (helm show crds CHART | kubectl apply "
            "--server-side -f -), then vouch for the job (clonejob-operator trust)",
            ", ".join(changed) or "the same fields, otherwise",
        )

    def _write(self, job: Job, done: Committed, write: Callable[[], Body]) -> Body:
        """A conditional write of the CloneJob: a conflict or an outage asks for another look."""
        try:
            return write()
        except ApiException as error:
            code = status_of(error)
            if code == 404:
                raise Stop() from None  # gone meanwhile
            if code == 409:
                self._refresh(CLONE_JOB, job.namespace, job.name)  # somebody wrote first
                raise Stop() from None
            if code in (400, 422):
                raise
            fault = classify(error, "writing the CloneJob")
            if fault.kind is FaultKind.REFUSED and self._said.first(job.uid, fault.message):
                job_log(log, job, logging.WARNING, "%s", fault.message)  # once: its status may be no place to say it
            self._failed(job, done, fault)
        except NO_ANSWER as error:  # an outage: a fact for the next look, which comes with the backoff
            self._failed(job, done, classify(error, "writing the CloneJob"))

    def _product(self, job: Job, done: Committed, effect: CreateProduct | DeleteProduct) -> None:
        driver = self.drivers.by_name(effect.target)
        context = job_context(job, self.memory.read(job.uid).created, self.settings)
        verb = "creating" if isinstance(effect, CreateProduct) else "deleting"
        name = effect.name if isinstance(effect, CreateProduct) else effect.ref.name
        kind = effect.kind if isinstance(effect, CreateProduct) else effect.ref.kind
        try:
            if isinstance(effect, CreateProduct):
                made = driver.create(effect, context)
                self.memory.created(job.uid, made.ref)
                job_log(log, job, logging.INFO, "%s %s %s", "adopted" if made.adopted else "created", kind, name)
            else:
                job_log(log, job, logging.INFO, "deleting %s %s", kind, name)
                driver.delete(effect, context)
        except Exception as error:
            fault = classify(error, f"{verb} {kind} {name}", self.drivers.classifiers())
            self.memory.failed(job.uid, fault)
            done.fault = done.fault or fault  # the other effects still run; the next look meets the fault

    def _keep(self, job: Job, done: Committed, effect: Keep) -> None:
        """Hold an image, or let go of it; a failure stops the decision (nothing is made from an unheld image)."""
        feed = self.feeds.by_name(effect.feed)
        verb = "holding" if effect.hold else "letting go of"
        if feed is None:
            self._failed(job, done, classify(JobError(Code.INTERNAL, f"no feed {effect.feed!r}"), verb))
        job_log(log, job, logging.INFO, "%s VolumeSnapshot %s", verb, effect.image)
        try:
            feed.keep(job.namespace, effect.image, holder(JOB_HOLDER, job.uid), effect.hold)
        except (ApiException, JobError, OSError, urllib3.exceptions.HTTPError) as error:
            if isinstance(error, ApiException) and status_of(error) == 409:
                self._refresh(VOLUME_SNAPSHOT, job.namespace, effect.image)  # changed meanwhile: look again
                raise Stop() from None
            self._failed(job, done, classify(error, f"{verb} VolumeSnapshot {effect.image}"))

    def _failed(self, job: Job, done: Committed, fault: Fault) -> NoReturn:
        """An effect met ``fault``: a fact for the next look, which the work queue's backoff brings; the rest
        of the decision waits for it."""
        self.memory.failed(job.uid, fault)
        done.fault = fault
        raise Stop()


def merge_patch(old: Any, new: Any) -> Any:
    """The RFC 7386 merge patch that turns ``old`` into ``new`` (lists are replaced whole, as the patch does)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    patch: Body = {key: None for key in old if key not in new}
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        elif old[key] != value:
            patch[key] = merge_patch(old[key], value)
    return patch


def involved_object(body: Body) -> dict[str, str]:
    meta = body.get("metadata", {})
    return {
        "apiVersion": body.get("apiVersion", ""),
        "kind": body.get("kind", ""),
        "name": meta.get("name", ""),
        "namespace": meta.get("namespace", ""),
        "uid": meta.get("uid", ""),
    }
