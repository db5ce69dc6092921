"""A VolSync-fed MigratingVm, reconciled: observe (the caches) -> decide (``cycles``, ``plan``) -> commit.

The commit's order is the point: the new cycle's images are held first (each hold a patch under the image's
resourceVersion, so an image VolSync deleted meanwhile is never published), then the status names them, and
only then are the images nothing needs any more let go. A fault stops the commit where it is; the work queue
brings the next look, which starts again from what is there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from clonejob_operator import names
from clonejob_operator.api.base import describe
from clonejob_operator.api.common import RpcStatus
from clonejob_operator.api.migratingvm import MigratingVmState, MigratingVmStatus, VolSyncReplication
from clonejob_operator.codes import Code, JobError
from clonejob_operator.faults import NO_ANSWER, api_message
from clonejob_operator.kube import (
    CLONE_JOB,
    MIGRATING_VM,
    VOLUME_SNAPSHOT,
    Body,
    KindNotServed,
    KubeClient,
    confirmed,
    status_of,
)
from clonejob_operator.sources.base import FEED_HOLDER, FeedOutcome, Keeping, holder
from clonejob_operator.sources.volsync import holds, plan
from clonejob_operator.sources.volsync.cycles import Destination, DiskSource, Image, Observed, decide
from clonejob_operator.sources.volsync.kinds import REPLICATION_DESTINATION
from clonejob_operator.timestamps import format_time
from clonejob_operator.timestamps import now as utc_now

log = logging.getLogger(__name__)


class VolSyncFeed:
    def __init__(self, kube: KubeClient, clock: Callable[[], datetime] = utc_now) -> None:
        self.kube = kube
        self.clock = clock

    # --- the MigratingVm ------------------------------------------------------------------------------
    def reconcile(self, namespace: str, name: str, held: frozenset[str] = frozenset()) -> FeedOutcome:
        try:
            body = confirmed(self.kube, MIGRATING_VM, namespace, name)
            if body is not None:
                self._reconcile(namespace, body, held)
        except ApiException as error:
            if status_of(error) in (404, 409):  # somebody wrote first, or an image went: its event wakes it
                return FeedOutcome(conflict=True)
            return FeedOutcome(fault=f"the API answered {error.status} {error.reason}: {api_message(error)}")
        except NO_ANSWER as error:  # an outage (urllib3's errors included): looked at again after the backoff
            return FeedOutcome(fault=f"no answer from the API server: {error}", outage=True)
        return FeedOutcome()

    def _reconcile(self, namespace: str, body: Body, held: frozenset[str]) -> None:
        meta = body["metadata"]
        who = holder(FEED_HOLDER, meta["uid"])
        raw = ((body.get("spec") or {}).get("replication") or {}).get("volSync")
        if meta.get("deletionTimestamp") or raw is None:
            status = _status(body)
            images = self._images(namespace, held | plan.recorded(status))
            self._release(namespace, images, self._mine(images, who), who, plan.recorded(status))
            body = self._record(namespace, body, status, set())
            self._finalizer(namespace, body, present=False)
            return
        body = self._finalizer(namespace, body, present=True)
        try:
            replication = VolSyncReplication.model_validate(raw)
        except ValidationError as error:  # what the schema let through: said, and every hold kept as it is
            self._invalid(namespace, body, describe(error, "spec.replication.volSync"))
            return
        self._commit(namespace, body, who, *self._observe(namespace, body, replication, held))

    def _commit(
        self, namespace: str, body: Body, who: str, observed: Observed, images: dict[str, Body], jobs: dict[str, Body]
    ) -> None:
        """Record what it is about to hold, hold it, publish the cycle, let go of what nothing needs, record that."""
        outcome = decide(observed)
        awaited = None if plan.unrecorded_claim(body, jobs) else plan.awaited(jobs.values(), images)
        latest = frozenset(d.snapshot for d in observed.destinations.values() if d.snapshot)
        mine = self._mine(images, who)
        wanted = plan.Holds.of(outcome.holds, mine, latest, awaited)
        recorded = plan.recorded(observed.status)
        if not set(wanted.hold) <= recorded:  # written ahead: only what the record names is ever deleted
            body = self._record(namespace, body, observed.status, recorded | mine | set(wanted.hold))
            recorded = recorded | mine | set(wanted.hold)
        for image in wanted.hold:
            self._patch(namespace, images[image], holds.hold(images[image], who))
        status = plan.record(outcome.status, recorded)
        body = self._status(namespace, body, plan.record(observed.status, recorded), status)
        self._release(namespace, images, wanted.release, who, recorded)
        self._record(namespace, body, status, (mine | set(wanted.hold)) - wanted.release)

    def _observe(
        self, namespace: str, body: Body, replication: VolSyncReplication, held: frozenset[str]
    ) -> tuple[Observed, dict[str, Body], dict[str, Body]]:
        """What one look finds: the destinations, and the images that the MigratingVm holds (as the watch saw
        them, and as its status records them: right after a start the watch may not have brought them all), its
        destinations publish, its status names or its running job restores from (and that job, by name)."""
        destinations = self._destinations(namespace, replication)
        latest = {d.snapshot for d in destinations.values() if d.snapshot}
        status = _status(body)
        jobs = self._running_jobs(namespace, body)
        concern = held | plan.recorded(status) | latest | plan.published(status) | plan.restored_from(jobs.values())
        images = self._images(namespace, concern)
        observed = Observed(
            disks=tuple(DiskSource(d.disk, d.replication_destination) for d in replication.disks),
            destinations=destinations,
            images={name: Image.of(image) for name, image in images.items()},
            status=status,
            now=self.clock(),
        )
        return observed, images, jobs

    def _destinations(self, namespace: str, replication: VolSyncReplication) -> dict[str, Destination]:
        out = {}
        for disk in replication.disks:
            try:
                found = confirmed(self.kube, REPLICATION_DESTINATION, namespace, disk.replication_destination)
            except KindNotServed:
                found = None  # no VolSync here: every destination is missing, and the status says which
            if found is not None:
                out[disk.replication_destination] = Destination.of(found)
        return out

    def _images(self, namespace: str, names: frozenset[str] | set[str]) -> dict[str, Body]:
        """The VolumeSnapshots of these names that exist, read one by one (from the cache, a miss confirmed)."""
        out = {}
        for name in sorted(names):
            body = confirmed(self.kube, VOLUME_SNAPSHOT, namespace, name)
            if body is not None:
                out[name] = body
        return out

    @staticmethod
    def _mine(images: dict[str, Body], who: str) -> set[str]:
        return {name for name, image in images.items() if who in holds.Holding.of(image).holders}

    def _running_jobs(self, namespace: str, migrating_vm: Body) -> dict[str, Body]:
        """The CloneJobs its recentCloneJobs names as unfinished (one runs at a time) that exist, by name: a
        namesake made since (another uid) is not that job."""
        out = {}
        for name, uid in plan.running(migrating_vm):
            job = self.kube.get(CLONE_JOB, namespace, name)
            if job is not None and (uid is None or job["metadata"].get("uid") == uid):
                out[name] = job
        return out

    def _invalid(self, namespace: str, body: Body, why: str) -> None:
        old = _status(body)
        error = RpcStatus(code=Code.INVALID_ARGUMENT, message=why)
        changed = old.state is not MigratingVmState.ERROR
        new = old.model_copy(
            update={
                "state": MigratingVmState.ERROR,
                "error": error,
                "state_time": format_time(self.clock()) if changed or old.state_time is None else old.state_time,
            }
        )
        self._status(namespace, body, old, new)

    def _record(self, namespace: str, body: Body, status: MigratingVmStatus, held: set[str]) -> Body:
        """The status's record of what the MigratingVm holds, brought to ``held``."""
        return self._status(namespace, body, status, plan.record(status, held))

    def _status(self, namespace: str, body: Body, old: MigratingVmStatus, new: MigratingVmStatus) -> Body:
        patch = plan.status_patch(old, new)
        if patch is None:
            return body
        meta = body["metadata"]
        body = self.kube.patch_status(
            MIGRATING_VM,
            namespace,
            meta["name"],
            {"metadata": {"resourceVersion": meta["resourceVersion"]}, "status": patch},
        )
        if old.state != new.state:
            log.info("MigratingVm %s/%s: %s", namespace, meta["name"], plan.told(new))
        return body

    def _finalizer(self, namespace: str, body: Body, present: bool) -> Body:
        """The MigratingVm is held until it has let go of its images (its deletion, or its feed removed)."""
        meta = body["metadata"]
        finalizers = [f for f in meta.get("finalizers") or [] if f != names.FINALIZER]
        wanted = [*finalizers, names.FINALIZER] if present else finalizers
        if wanted == list(meta.get("finalizers") or []):
            return body
        patch = {"metadata": {"finalizers": wanted, "resourceVersion": meta["resourceVersion"]}}
        return self.kube.patch(MIGRATING_VM, namespace, meta["name"], patch)

    # --- holds ---------------------------------------------------------------------------------------
    def _patch(self, namespace: str, image: Body, patch: Body | None) -> None:
        if patch is not None:
            self.kube.patch(VOLUME_SNAPSHOT, namespace, image["metadata"]["name"], patch)

    def _release(
        self, namespace: str, images: dict[str, Body], which: set[str] | frozenset[str], who: str, recorded: set[str]
    ) -> None:
        for name in sorted(which):
            self._let_go(namespace, images[name], who, name in recorded)

    def _let_go(self, namespace: str, image: Body, who: str, recorded: bool = True) -> None:
        change = holds.release(image, who, self._latest(namespace, image), recorded)
        if isinstance(change, holds.Delete):
            log.info(
                "VolumeSnapshot %s/%s: let go of by its last holder after VolSync moved on; deleting it",
                namespace,
                change.name,
            )
            try:
                self.kube.delete(
                    VOLUME_SNAPSHOT, namespace, change.name, uid=change.uid, resource_version=change.resource_version
                )
            except ApiException as error:
                if status_of(error) != 404:
                    raise
        elif change is not None:
            self._patch(namespace, image, change)

    def _latest(self, namespace: str, image: Body) -> frozenset[str]:
        """The image's name when it is still its ReplicationDestination's latest (VolSync owns an image until it
        replaces it; a relinquished one has no owner left and is nobody's latest); empty otherwise."""
        name = image["metadata"]["name"]
        for ref in image["metadata"].get("ownerReferences") or []:
            if ref.get("kind") != REPLICATION_DESTINATION.kind:
                continue
            try:
                owner = confirmed(self.kube, REPLICATION_DESTINATION, namespace, str(ref.get("name", "")))
            except KindNotServed:
                return frozenset()
            if owner is not None and Destination.of(owner).snapshot == name:
                return frozenset({name})
        return frozenset()

    # --- a CloneJob's holds ----------------------------------------------------------------------------
    def keeping(self, namespace: str, images: tuple[str, ...], holder: str) -> Keeping:
        unheld: list[str] = []
        held: list[str] = []
        for name in images:
            body = confirmed(self.kube, VOLUME_SNAPSHOT, namespace, name)
            if body is None:
                continue  # the target says a missing image is missing; nothing to hold or let go
            holding = holds.Holding.of(body)
            (held if holder in holding.holders and holding.labelled else unheld).append(name)
        return Keeping(unheld=tuple(unheld), held=tuple(held))

    def keep(self, namespace: str, image: str, holder: str, hold: bool) -> None:
        """From the cache: the write is conditioned on the version read (a 409 says the cache was behind). An
        image that is not there cannot be held: nothing may be made from it (a JobError says so)."""
        body = confirmed(self.kube, VOLUME_SNAPSHOT, namespace, image)
        if body is None and hold:
            raise JobError(Code.NOT_FOUND, f"VolumeSnapshot {image} is gone: it cannot be held, nor restored from")
        if body is None:
            return
        if hold:
            self._patch(namespace, body, holds.hold(body, holder))
        else:
            self._let_go(namespace, body, holder)


def _status(body: Body) -> MigratingVmStatus:
    """The stored status; one nobody could have written is made again from the destinations."""
    try:
        return MigratingVmStatus.model_validate(body.get("status") or {})
    except ValidationError:
        return MigratingVmStatus()
