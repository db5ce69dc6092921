"""Cancel and delete during each step: products are removed before CANCELLED or disappearance."""

from __future__ import annotations

import pytest

from clonejob_operator.kube import CLONE_JOB, Kube
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME, VIRTUAL_MACHINE
from tests.integration.kit import StateRecorder, World, running_operator, settings_for, wait_for

STEPS = ["preparingVmDisks", "instantiatingMigratedVm"]


def _run_to(world: World, name: str, step: str) -> None:
    world.clone_job(name)
    world.wait_step(name, "preparingVmDisks")
    world.wait_object(DATA_VOLUME, f"{name}-disk-0")
    if step == "instantiatingMigratedVm":
        world.finish_disks(name, disks=2)
        world.wait_step(name, step)
        world.wait_object(VIRTUAL_MACHINE, name)


@pytest.mark.parametrize("step", STEPS)
def test_cancel_during_step_removes_products_then_cancels(
    kube: Kube, operator_kube: Kube, world: World, namespace: str, step: str
) -> None:
    world.migrating_vm("web-1", disks=2)
    with StateRecorder(kube, namespace, "cj") as states, running_operator(operator_kube, settings_for(namespace)):
        _run_to(world, "cj", step)
        world.cancel("cj")

        def cancelled() -> bool:
            if world.state("cj") != "CANCELLED":
                return False
            assert world.all_products() == [], "CANCELLED while products still exist"
            return True

        wait_for(cancelled, 30, "CANCELLED")
        assert states.wait_for("CANCELLED") == ["PENDING", "ACTIVE", "CANCELLING", "CANCELLED"]
    status = world.status("cj")
    assert all(step_["endTime"] for step_ in status["steps"])
    assert status["steps"][-1].get(step) == {}
    assert status["endTime"] == status["stateTime"]
    assert "error" not in status
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions["Stalled"] == ("True", "Cancelled")
    assert conditions["Ready"][0] == "False"


@pytest.mark.parametrize("step", STEPS)
def test_delete_during_step_removes_products_then_the_job(
    kube: Kube, operator_kube: Kube, world: World, namespace: str, step: str
) -> None:
    world.migrating_vm("web-1", disks=2)
    with running_operator(operator_kube, settings_for(namespace)):
        _run_to(world, "cj", step)
        products_before = world.all_products()
        assert products_before
        world.delete(CLONE_JOB, "cj")

        def gone() -> bool:
            if world.get(CLONE_JOB, "cj") is not None:
                return False
            assert world.all_products() == [], "the CloneJob vanished before its products"
            return True

        wait_for(gone, 30, "the CloneJob to be deleted")


def test_cancel_while_pending_cancels_without_starting(
    kube: Kube, operator_kube: Kube, world: World, namespace: str
) -> None:
    with running_operator(operator_kube, settings_for(namespace)):
        world.clone_job("cj", migrating_vm="missing")
        status = world.wait_state("cj", "PENDING")
        world.cancel("cj")
        status = world.wait_state("cj", "CANCELLED")
    assert "steps" not in status
    assert world.all_products() == []
    assert status["observedGeneration"] == 2


def test_delete_pending_job_lets_go(kube: Kube, operator_kube: Kube, world: World, namespace: str) -> None:
    with running_operator(operator_kube, settings_for(namespace)):
        world.clone_job("cj", migrating_vm="missing")
        world.wait_state("cj", "PENDING")
        wait_for(lambda: world.job("cj")["metadata"].get("finalizers"), 10, "the finalizer")
        world.delete(CLONE_JOB, "cj")
        world.wait_gone(CLONE_JOB, "cj")


def test_cancel_is_acted_on_without_waiting_for_a_resync(
    kube: Kube, operator_kube: Kube, world: World, namespace: str
) -> None:
    world.migrating_vm("web-1")
    with running_operator(operator_kube, settings_for(namespace, resync_interval=60.0)):
        world.clone_job("cj")
        world.wait_object(DATA_VOLUME, "cj-disk-0", timeout=10)
        world.cancel("cj")
        world.wait_state("cj", "CANCELLED", timeout=10)
    assert world.all_products() == []


def test_finished_jobs_are_deleted_at_once_with_the_operator_stopped(kube: Kube, world: World, namespace: str) -> None:
    """A finished job has nothing left to clean up: it carries no finalizer, so nothing waits for an operator."""
    world.migrating_vm("web-1")
    world.migrating_vm("web-2", ready_snapshots=False)
    with running_operator(kube, settings_for(namespace)):
        world.clone_to_success("done")
        world.clone_job("cancelled", migrating_vm="web-2")
        world.wait_step("cancelled", "preparingVmDisks")
        world.cancel("cancelled")
        world.wait_state("cancelled", "CANCELLED")
        for name in ("done", "cancelled"):
            wait_for(lambda n=name: not world.job(n)["metadata"].get("finalizers"), 10, f"{name} to be let go")  # type: ignore[misc]
    for name in ("done", "cancelled"):  # the operator is gone
        world.delete(CLONE_JOB, name)
        assert world.get(CLONE_JOB, name) is None, f"{name} went at once"
    assert world.all_products() == ["DataVolume/done-disk-0", "VirtualMachine/done"], "the clone is yours"
