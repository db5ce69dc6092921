"""The controller shape on a real API server: the active limit at every moment, kopf writing nothing,
and jobs moved by watch events (the safety resync is far away in every test here)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench.counting import CountingKube
from bench.fake import FakeInfrastructure
from bench.watching import Follower

from clonejob_operator import names
from clonejob_operator.api.clonejob import STARTED, State
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Body, Kube
from tests.integration.kit import World, running_operator, settings_for, wait_for


class ActiveCounter:
    """How many CloneJobs were started at once, at most, as the watch saw every write in order."""

    def __init__(self, kube: Kube, namespace: str) -> None:
        self.states: dict[str, str] = {}
        self.most = 0
        self._follower = Follower(kube, CLONE_JOB, namespace, self._seen, Counter())

    @property
    def error(self) -> Exception | None:
        return self._follower.error

    def _seen(self, type_: str, body: dict[str, Any]) -> None:
        self.states[body["metadata"]["name"]] = (body.get("status") or {}).get("state") or ""
        self.most = max(self.most, sum(1 for s in self.states.values() if s in STARTED))

    def __enter__(self) -> ActiveCounter:
        self._follower.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._follower.stop()


def test_max_active_is_never_exceeded_even_for_a_moment(kube: Kube, world: World, namespace: str) -> None:
    jobs = 12
    for index in range(jobs):
        world.migrating_vm(f"mvm-{index}")
    with (
        ActiveCounter(kube, namespace) as counter,
        FakeInfrastructure(CountingKube(kube), namespace),
        running_operator(kube, settings_for(namespace, max_active=3)),
    ):
        for index in range(jobs):
            world.clone_job(f"cj-{index}", migrating_vm=f"mvm-{index}")
        wait_for(
            lambda: sum(1 for s in counter.states.values() if s == "SUCCEEDED") == jobs, 60, "every job to succeed"
        )
    assert counter.error is None
    assert counter.most == 3  # the limit was reached, and never passed


def test_kopf_adds_nothing_to_the_objects_it_watches(kube: Kube, world: World, namespace: str) -> None:
    world.migrating_vm("web-1")
    with running_operator(kube, settings_for(namespace)):
        history = FinalizerHistory(kube, namespace, "cj")
        with history:
            world.clone_to_success("cj")
            wait_for(lambda: history.seen[-1:] == [[]], 10, "the finished job to be let go")
        job = world.job("cj")
        mvm = world.get(MIGRATING_VM, "web-1")
    assert [names.FINALIZER] in history.seen, "ours, added by the reconciler, the only one ever"
    assert all(f in ([], [names.FINALIZER]) for f in history.seen) and not job["metadata"].get("finalizers")
    assert not [a for a in job["metadata"].get("annotations") or {} if a.startswith(names.ANNOTATION_PREFIX)]
    assert mvm is not None and not mvm["metadata"].get("finalizers") and not mvm["metadata"].get("annotations")
    entry = mvm["status"]["recentCloneJobs"][0]
    assert entry["uid"] == job["metadata"]["uid"] and entry["state"] == State.SUCCEEDED


def test_a_stale_claim_of_a_gone_job_never_holds_the_queue(kube: Kube, world: World, namespace: str) -> None:
    """A recentCloneJobs entry naming a job that no longer runs (its uid unknown) is ignored, even when a
    new job of the same name exists: the claim is matched by uid."""
    world.migrating_vm("web-1")
    stale = {"name": names.resource_name(namespace, "web-1", "a"), "uid": "a-long-gone-uid", "state": "ACTIVE"}
    world.set_status(MIGRATING_VM, "web-1", {"recentCloneJobs": [stale]})
    with running_operator(kube, settings_for(namespace)):
        world.clone_job("a")  # a namesake of the stale entry
        world.wait_step("a", "preparingVmDisks", timeout=15)
        claim = world.get(MIGRATING_VM, "web-1")["status"]["recentCloneJobs"]  # type: ignore[index]
    assert [e["uid"] for e in claim] == [world.job("a")["metadata"]["uid"]]


class FinalizerHistory:
    """Every list of finalizers a CloneJob carried, as a watch delivered its writes."""

    def __init__(self, kube: Kube, namespace: str, name: str) -> None:
        self.seen: list[list[str]] = []
        self._follower = Follower(
            kube, CLONE_JOB, namespace, self._record, Counter(), field_selector=f"metadata.name={name}"
        )

    def _record(self, type_: str, body: Body) -> None:
        found = list((body.get("metadata") or {}).get("finalizers") or [])
        if not self.seen or self.seen[-1] != found:
            self.seen.append(found)

    def __enter__(self) -> FinalizerHistory:
        self._follower.start(replay=True)
        return self

    def __exit__(self, *_: object) -> None:
        self._follower.stop()
