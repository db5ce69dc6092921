"""Which watch events wake a fed MigratingVm, and how its reconcile's outcome goes back to its queue."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clonejob_operator import names
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, VOLUME_SNAPSHOT, Body, KubeClient
from clonejob_operator.sources.base import HELD_BY, Feed, FeedDriver, FeedOutcome, Keeping
from clonejob_operator.sources.catalog import FeedDrivers, Feeds
from clonejob_operator.sources.queue import FedQueue
from clonejob_operator.sources.volsync.kinds import REPLICATION_DESTINATION
from tests.fakekube import FakeKube


@dataclass
class Recorder:
    outcomes: list[FeedOutcome] = field(default_factory=list)
    seen: list[tuple[str, str]] = field(default_factory=list)
    held: list[frozenset[str]] = field(default_factory=list)

    def reconcile(self, namespace: str, name: str, held: frozenset[str]) -> FeedOutcome:
        self.seen.append((namespace, name))
        self.held.append(held)
        return self.outcomes.pop(0) if self.outcomes else FeedOutcome()

    def keeping(self, namespace: str, images: tuple[str, ...], holder: str) -> Keeping:
        return Keeping()

    def keep(self, namespace: str, image: str, holder: str, hold: bool) -> None:
        return None


RECORDER = Recorder()


def _build(kube: KubeClient) -> FeedDriver:
    return RECORDER


def _reads(body: Body) -> tuple[str, ...]:
    return tuple(d["replicationDestination"] for d in body["spec"]["replication"]["volSync"]["disks"])


FEEDS = Feeds(Feed(name="volSync", title="t", watches=(REPLICATION_DESTINATION,), rules=(), build=_build, reads=_reads))


def mvm(name: str, fed: bool = True, **meta: Any) -> Body:
    disks = [{"disk": "boot", "replicationDestination": f"{name}-boot"}]
    spec: Body = {"replication": {"volSync": {"disks": disks}}} if fed else {}
    return {"metadata": {"namespace": "ns", "name": name, "uid": f"uid-{name}", **meta}, "spec": spec}


def image(name: str, *holders: str, owner: str = "") -> Body:
    meta: Body = {"namespace": "ns", "name": name, "annotations": {HELD_BY: ",".join(holders)}}
    if owner:
        meta["ownerReferences"] = [{"kind": "ReplicationDestination", "name": owner}]
    return {"metadata": meta}


def queued(queue: FedQueue) -> set[tuple[str, str]]:
    out = set()
    while (key := queue.queue.get(timeout=0)) is not None:
        out.add(key)
        queue.queue.done(key)
    return out


def test_what_wakes_a_fed_migrating_vm() -> None:
    queue = FedQueue(FeedDrivers(FakeKube(), FEEDS), most=1.0)
    queue.observed(MIGRATING_VM, mvm("plain", fed=False), deleted=False)
    queue.observed(CLONE_JOB, {"metadata": {"namespace": "ns"}, "spec": {"migratingVm": "plain"}}, deleted=False)
    assert queued(queue) == set(), "a MigratingVm whose status a replication tool writes is none of the feed's"
    queue.observed(MIGRATING_VM, mvm("web-1"), deleted=False)
    assert queued(queue) == {("ns", "web-1")}
    queue.observed(CLONE_JOB, {"metadata": {"namespace": "ns"}, "spec": {"migratingVm": "web-1"}}, deleted=False)
    queue.observed(VOLUME_SNAPSHOT, {"metadata": {"namespace": "other"}}, deleted=False)
    assert queued(queue) == {("ns", "web-1")}
    queue.observed(REPLICATION_DESTINATION, {"metadata": {"namespace": "ns", "name": "other"}}, deleted=False)
    queue.observed(VOLUME_SNAPSHOT, image("x"), deleted=False)
    assert queued(queue) == set(), "another destination, an image nobody holds: not its business"
    queue.observed(REPLICATION_DESTINATION, {"metadata": {"namespace": "ns", "name": "web-1-boot"}}, deleted=False)
    assert queued(queue) == {("ns", "web-1")}
    queue.observed(VOLUME_SNAPSHOT, image("new", owner="web-1-boot"), deleted=False)
    assert queued(queue) == {("ns", "web-1")}, "a new image of a destination it reads"
    queue.observed(VOLUME_SNAPSHOT, image("a", "CloneJob/j", "MigratingVm/uid-web-1"), deleted=False)
    assert queued(queue) == {("ns", "web-1")}, "an image it holds"
    queue.observed(VOLUME_SNAPSHOT, image("a", "CloneJob/j"), deleted=False)
    assert queued(queue) == {("ns", "web-1")}, "an image it held"
    queue.observed(MIGRATING_VM, mvm("web-1", fed=False, finalizers=[names.FINALIZER]), deleted=False)
    assert queued(queue) == {("ns", "web-1")}, "no longer fed but still holding: it lets go"
    queue.observed(MIGRATING_VM, mvm("web-1"), deleted=True)
    queue.observed(VOLUME_SNAPSHOT, {"metadata": {"namespace": "ns"}}, deleted=False)
    assert queued(queue) == set()


def test_a_fault_and_a_conflict_back_off() -> None:
    queue = FedQueue(FeedDrivers(FakeKube(), FEEDS), most=1.0)
    queue.observed(MIGRATING_VM, mvm("web-1"), deleted=False)
    queue.observed(VOLUME_SNAPSHOT, image("a", "MigratingVm/uid-web-1"), deleted=False)
    queue.observed(VOLUME_SNAPSHOT, image("b", "MigratingVm/other"), deleted=False)
    RECORDER.outcomes[:] = [FeedOutcome(conflict=True), FeedOutcome(fault="refused"), FeedOutcome()]
    RECORDER.seen.clear()
    assert queue.work_once(timeout=0) and queue.queue.pending() == 1, "the conflict: after a short backoff"
    assert queue.work_once(timeout=2.0) and RECORDER.seen == [("ns", "web-1")] * 2
    assert queue.queue.pending() == 1, "the fault: after the backoff"
    assert queue.work_once(timeout=2.0) and len(RECORDER.seen) == 3
    assert RECORDER.held[-1] == {"a"}, "what the watch saw it hold"
    queue.queue.close()
    assert not queue.work_once(timeout=0)


def test_polled_when_what_the_feed_reads_is_not_watched() -> None:
    queue = FedQueue(FeedDrivers(FakeKube(), FEEDS), most=1.0, poll=0.05)
    queue.observed(MIGRATING_VM, mvm("web-1"), deleted=False)
    RECORDER.outcomes[:] = []
    RECORDER.seen.clear()
    assert queue.work_once(timeout=0) and queue.queue.pending() == 1, "looked at again after the poll interval"
    assert queue.work_once(timeout=2.0) and RECORDER.seen == [("ns", "web-1")] * 2
    watched = FedQueue(FeedDrivers(FakeKube(), FEEDS), most=1.0)
    watched.observed(MIGRATING_VM, mvm("web-1"), deleted=False)
    assert watched.work_once(timeout=0) and watched.queue.pending() == 0, "watched: a change wakes it"


def test_a_refusal_is_a_warning_event_on_the_migrating_vm_once_and_an_outage_is_none() -> None:
    posted: list[tuple[dict[str, str], str, str, str]] = []
    counted: list[tuple[str, str]] = []
    queue = FedQueue(
        FeedDrivers(FakeKube(), FEEDS),
        most=0.01,
        post=lambda *event: posted.append(event),
        count=lambda *fault: counted.append(fault),
    )
    queue.observed(MIGRATING_VM, mvm("web-1"), deleted=False)
    RECORDER.outcomes[:] = [
        FeedOutcome(fault="no answer from the API server: refused", outage=True),
        FeedOutcome(fault="the API answered 403 Forbidden: no"),
        FeedOutcome(fault="the API answered 403 Forbidden: no"),
    ]
    for _ in range(3):
        assert queue.work_once(timeout=2.0)
    assert len(posted) == 1, "an outage says nothing on the object; the same refusal is said once"
    involved, type_, reason, message = posted[0]
    assert involved == {
        "apiVersion": "vmmigration.dev/v1",
        "kind": "MigratingVm",
        "uid": "uid-web-1",
        "namespace": "ns",
        "name": "web-1",
    }
    assert (type_, reason) == ("Warning", "FeedFailing") and "403 Forbidden: no" in message
    assert counted == [("volSync", "outage"), ("volSync", "refused"), ("volSync", "refused")], "each one counted"
    queue.queue.close()
