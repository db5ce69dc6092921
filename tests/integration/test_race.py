"""Races: a cancel or a delete at every step boundary (held there on the operator's own thread), two jobs
of one MigratingVm created in the same instant, and snapshots that change under a running job."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from bench.counting import CountingKube
from bench.fake import FakeInfrastructure

from clonejob_operator.api.clonejob import FINISHED, State
from clonejob_operator.kube import CLONE_JOB, Kind, Kube
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME, VIRTUAL_MACHINE
from tests.integration.history import History
from tests.integration.hooks import HookedKube, Moment
from tests.integration.kit import StateRecorder, World, running_operator, settings_for, wait_for

BOUNDARIES: list[tuple[Moment, Kind]] = [
    ("before create", DATA_VOLUME),
    ("after create", DATA_VOLUME),
    ("before create", VIRTUAL_MACHINE),
    ("after create", VIRTUAL_MACHINE),
    ("before delete", DATA_VOLUME),  # during cleanup
]


def no_products_left(world: World) -> Callable[[], bool]:
    return lambda: world.all_products() == []


@pytest.mark.parametrize("action", ["cancel", "delete"])
@pytest.mark.parametrize(("moment", "kind"), BOUNDARIES, ids=[f"{m} {k.kind}" for m, k in BOUNDARIES])
def test_race_cancel_or_delete_at_a_step_boundary(
    kube: Kube, world: World, namespace: str, moment: Moment, kind: Kind, action: str
) -> None:
    world.migrating_vm("web-1", disks=2)
    hooked = HookedKube(kube)
    act = (lambda: world.cancel("cj")) if action == "cancel" else (lambda: world.delete(CLONE_JOB, "cj"))
    hooked.arm(moment, kind, act)
    during_cleanup = moment == "before delete"
    with StateRecorder(kube, namespace, "cj") as states, running_operator(hooked, settings_for(namespace)):
        world.clone_job("cj")
        if during_cleanup or kind is VIRTUAL_MACHINE:
            world.wait_object(DATA_VOLUME, "cj-disk-1")
        if during_cleanup and action == "delete":
            world.cancel("cj")  # the cleanup a cancel starts; the delete comes in the middle of it
        elif during_cleanup:
            world.finish_disks("cj", disks=2, phase="Failed")  # the cleanup a failure starts; then a cancel
        elif kind is VIRTUAL_MACHINE:
            world.finish_disks("cj", disks=2)
        wait_for(hooked.fired.is_set, 30, f"the operator to reach '{moment} {kind.kind}'")
        if action == "delete":
            wait_for(lambda: world.get(CLONE_JOB, "cj") is None, 30, "the CloneJob to go")
        else:
            wait_for(lambda: world.state("cj") in FINISHED, 30, "the job to finish")
        wait_for(no_products_left(world), 30, "every product to be removed")
        if action == "cancel":
            seen = states.wait_for(world.state("cj") or "")
            assert State.SUCCEEDED not in seen
            # A failure came first when the cancel met its cleanup: the job stays FAILED (the vmmigration API's
            # cancel is for jobs under way). Otherwise the cancel wins.
            assert seen[-1] == (State.FAILED if during_cleanup else State.CANCELLED), seen
    assert world.all_products() == [], "nothing was created after the cancel or the delete"


def test_race_two_jobs_of_one_migrating_vm_created_in_the_same_instant(
    kube: Kube, world: World, namespace: str
) -> None:
    world.migrating_vm("web-1")
    start = threading.Barrier(2)

    def create(name: str) -> None:
        start.wait(5)
        world.clone_job(name)

    with (
        History(kube, namespace) as history,
        FakeInfrastructure(CountingKube(kube), namespace),
        running_operator(kube, settings_for(namespace)),
    ):
        threads = [threading.Thread(target=create, args=(name,)) for name in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        wait_for(lambda: history.count(State.SUCCEEDED) == 2, 60, "both jobs to succeed, one after the other")
    assert history.most_per_migrating_vm == 1, "exactly one ran at a time"
    first, second = sorted(("a", "b"), key=lambda name: history.order.index((name, State.ACTIVE)))
    assert history.order.index((first, State.SUCCEEDED)) < history.order.index((second, State.ACTIVE))


def test_race_snapshots_that_change_under_a_running_job_are_not_followed(
    kube: Kube, world: World, namespace: str
) -> None:
    world.migrating_vm("web-1", disks=2)  # cycle 3: web-1-c3-d0, web-1-c3-d1
    with running_operator(kube, settings_for(namespace)):
        world.clone_job("cj")
        world.wait_object(DATA_VOLUME, "cj-disk-0")
        started = world.status("cj")["sourceSync"]
        world.sync("web-1", disks=2, cycle=4)  # a new cycle, with new snapshots, while the job runs
        world.finish_disks("cj", disks=2)
        world.ready_vm("cj")
        status = world.wait_state("cj", "SUCCEEDED")
    assert status["sourceSync"] == started and started["cycleNumber"] == 3
    sources = sorted(dv["spec"]["source"]["snapshot"]["name"] for dv in world.products(DATA_VOLUME))
    assert sources == ["web-1-c3-d0", "web-1-c3-d1"], "the disks come from the snapshots the job started from"
