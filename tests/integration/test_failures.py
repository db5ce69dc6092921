"""Failure in each step: products removed, then FAILED with the code and the step named."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from clonejob_operator.api.clonejob import StepKind
from clonejob_operator.codes import Code
from clonejob_operator.kube import MIGRATING_VM, Kube
from clonejob_operator.machine.reasons import Reason
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME, VIRTUAL_MACHINE
from tests.integration.kit import SOMEBODY_ELSES, StateRecorder, World, running_operator, settings_for, wait_for


def _failed(world: World, name: str) -> dict[str, Any]:
    def done() -> bool:
        if world.state(name) != "FAILED":
            return False
        assert world.all_products() == [], "FAILED while products still exist"
        return True

    wait_for(done, 30, f"{name} to fail")
    status = world.status(name)
    assert status["endTime"] == status["stateTime"]
    assert all(step["endTime"] for step in status.get("steps", []))
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Stalled"]["status"] == "True"
    assert conditions["Ready"]["status"] == "False"
    assert conditions["Ready"]["reason"] == Reason.of_code(Code(status["error"]["code"]))
    return status


def test_datavolume_failed_fails_the_job(kube: Kube, operator_kube: Kube, world: World, namespace: str) -> None:
    world.migrating_vm("web-1", disks=2)
    with StateRecorder(kube, namespace, "cj") as states, running_operator(operator_kube, settings_for(namespace)):
        world.clone_job("cj")
        world.wait_object(DATA_VOLUME, "cj-disk-1")
        world.set_status(
            DATA_VOLUME,
            "cj-disk-1",
            {
                "phase": "Failed",
                "conditions": [{"type": "Running", "status": "False", "message": "snapshot restore failed: quota"}],
            },
        )
        status = _failed(world, "cj")
        assert states.wait_for("FAILED") == ["PENDING", "ACTIVE", "FAILED"]
    assert status["error"]["code"] == Code.INTERNAL
    assert "preparingVmDisks" in status["error"]["message"]
    assert "cj-disk-1" in status["error"]["message"] and "quota" in status["error"]["message"]
    assert len(status["steps"]) == 1 and status["steps"][0]["preparingVmDisks"] == {}


def test_vm_failure_condition_fails_the_job(kube: Kube, operator_kube: Kube, world: World, namespace: str) -> None:
    world.migrating_vm("web-1")
    with running_operator(operator_kube, settings_for(namespace)):
        world.clone_job("cj")
        world.finish_disks("cj")
        world.wait_object(VIRTUAL_MACHINE, "cj")
        world.set_status(
            VIRTUAL_MACHINE,
            "cj",
            {
                "created": True,
                "conditions": [
                    {"type": "Failure", "status": "True", "reason": "FailedCreate", "message": "insufficient memory"}
                ],
            },
        )
        status = _failed(world, "cj")
    assert status["error"]["code"] == Code.INTERNAL
    assert "instantiatingMigratedVm" in status["error"]["message"]
    assert "insufficient memory" in status["error"]["message"]
    assert status["steps"][-1].get("instantiatingMigratedVm") == {}


@pytest.mark.parametrize("step", [StepKind.PREPARING_VM_DISKS, StepKind.INSTANTIATING_MIGRATED_VM])
def test_step_timeout_gives_deadline_exceeded(
    kube: Kube, operator_kube: Kube, world: World, namespace: str, step: StepKind
) -> None:
    world.migrating_vm("web-1")
    timeouts = {kind: timedelta(minutes=5) for kind in StepKind}
    timeouts[step] = timedelta(seconds=2)
    with running_operator(operator_kube, settings_for(namespace, step_timeouts=timeouts)):
        world.clone_job("cj")
        world.wait_object(DATA_VOLUME, "cj-disk-0")
        if step is StepKind.INSTANTIATING_MIGRATED_VM:
            world.finish_disks("cj")
            world.wait_object(VIRTUAL_MACHINE, "cj")
        status = _failed(world, "cj")
    assert status["error"]["code"] == Code.DEADLINE_EXCEEDED
    assert f"step {step.value} did not finish within 2s" in status["error"]["message"]
    assert status["steps"][-1].get(step.value) == {}


def test_missing_volumesnapshot_fails_with_not_found(
    kube: Kube, operator_kube: Kube, world: World, namespace: str
) -> None:
    world.migrating_vm("web-1", synced=False)
    world.kube.patch_status(
        MIGRATING_VM,
        namespace,
        "web-1",
        {"status": {"lastSync": {"cycleNumber": 1, "snapshots": [{"disk": "d0", "volumeSnapshot": "nope"}]}}},
    )
    with running_operator(operator_kube, settings_for(namespace)):
        world.clone_job("cj")
        status = _failed(world, "cj")
    assert status["error"]["code"] == Code.NOT_FOUND
    assert "VolumeSnapshot nope" in status["error"]["message"]


def test_name_taken_by_someone_else_fails_and_leaves_it(
    kube: Kube, operator_kube: Kube, world: World, namespace: str
) -> None:
    world.migrating_vm("web-1")
    theirs = world.create(VIRTUAL_MACHINE, "cj", SOMEBODY_ELSES[VIRTUAL_MACHINE])
    with running_operator(operator_kube, settings_for(namespace)):
        world.clone_job("cj")
        world.finish_disks("cj")
        wait_for(lambda: world.state("cj") == "FAILED", 30, "FAILED")
    status = world.status("cj")
    assert status["error"]["code"] == Code.ALREADY_EXISTS
    still = world.get(VIRTUAL_MACHINE, "cj")
    assert still is not None and still["metadata"]["uid"] == theirs["metadata"]["uid"]
    assert world.get(DATA_VOLUME, "cj-disk-0") is None
