"""The adaptingOs step's batch/v1 Job on a real API server, as the chart's ServiceAccount: created once,
between the disks and the VM; its failure fails the clone; a cancel or a delete during it removes it."""

from __future__ import annotations

from typing import Any

from clonejob_operator import names
from clonejob_operator.codes import Code
from clonejob_operator.kube import CLONE_JOB, Kube
from clonejob_operator.targets.kubevirt.kinds import BATCH_JOB, DATA_VOLUME
from tests.integration.kit import StateRecorder, World, running_operator, settings_for, wait_for


def _to_adaptation(world: World) -> dict[str, Any]:
    profile = world.profile("virt-v2v", {"image": "adapt:1", "args": ["--virtio"], "serviceAccountName": "adapter"})
    world.migrating_vm("web-1", defaults={"osAdaptation": {"profile": profile}})
    world.clone_job("cj")
    world.finish_disks("cj")
    job = world.wait_object(BATCH_JOB, "cj-adapt-os")
    world.wait_state("cj", "ADAPTING_OS")
    return job


def _reasons(kube: Kube, namespace: str) -> list[str]:
    events: list[Any] = kube.core.list_namespaced_event(namespace, field_selector="involvedObject.name=cj").items
    return [str(e.reason) for e in sorted(events, key=lambda e: str(e.metadata.name))]  # named by their time


def test_adaptation_runs_between_disks_and_vm(kube: Kube, operator_kube: Kube, world: World, namespace: str) -> None:
    with StateRecorder(kube, namespace, "cj") as states, running_operator(operator_kube, settings_for(namespace)):
        job = _to_adaptation(world)
        pod = job["spec"]["template"]["spec"]
        assert job["metadata"]["labels"][names.LABEL_JOB_UID] == world.job("cj")["metadata"]["uid"]
        assert pod["volumes"] == [{"name": "disk-0", "persistentVolumeClaim": {"claimName": "cj-disk-0"}}]
        assert pod["containers"][0]["args"] == ["--virtio"] and pod["containers"][0]["image"] == "adapt:1"
        assert pod["serviceAccountName"] == "adapter" and pod["automountServiceAccountToken"] is False
        assert pod["containers"][0]["securityContext"]["runAsNonRoot"] is True
        world.set_status(BATCH_JOB, "cj-adapt-os", {"active": 1})
        wait_for(lambda: world.status("cj")["steps"][1].get("progressPercent") == 50, 15, "adaptingOs at 50 %")
        world.set_status(BATCH_JOB, "cj-adapt-os", {"conditions": [{"type": "Complete", "status": "True"}]})
        world.wait_gone(BATCH_JOB, "cj-adapt-os")  # a helper, not part of the clone: gone once its step ended
        assert world.state("cj") == "ACTIVE"
        world.ready_vm("cj")
        status = world.wait_state("cj", "SUCCEEDED")
        assert states.wait_for("SUCCEEDED") == ["PENDING", "ACTIVE", "ADAPTING_OS", "ACTIVE", "SUCCEEDED"]
    (made,) = [r for r in status["createdResources"] if r["kind"] == "Job"]
    assert made["uid"] == job["metadata"]["uid"], "created once"
    assert sorted(world.all_products()) == ["DataVolume/cj-disk-0", "VirtualMachine/cj"], "the clone alone"
    assert [next(k for k in step if k.endswith(("Disks", "Os", "Vm"))) for step in status["steps"]] == [
        "preparingVmDisks",
        "adaptingOs",
        "instantiatingMigratedVm",
    ]
    assert status["kubevirtTargetDetails"]["osAdaptation"] == {"profile": f"{namespace}-virt-v2v"}
    # One Event per transition: a step's end and the next one's start are one Event.
    assert _reasons(kube, namespace) == ["Pending", "Started", "AdaptingOs", "InstantiatingMigratedVm", "Succeeded"]


def test_failed_adaptation_job_fails_the_clone(kube: Kube, operator_kube: Kube, world: World, namespace: str) -> None:
    with running_operator(operator_kube, settings_for(namespace)):
        _to_adaptation(world)
        failed = {
            "type": "Failed",
            "status": "True",
            "reason": "BackoffLimitExceeded",
            "message": "no bootloader found",
        }
        world.set_status(BATCH_JOB, "cj-adapt-os", {"conditions": [failed]})
        status = world.wait_state("cj", "FAILED")
        world.wait_gone(BATCH_JOB, "cj-adapt-os")
        world.wait_gone(DATA_VOLUME, "cj-disk-0")
    assert status["error"]["code"] == Code.INTERNAL
    assert "adaptingOs" in status["error"]["message"] and "no bootloader found" in status["error"]["message"]
    events = kube.core.list_namespaced_event(namespace, field_selector="involvedObject.name=cj").items
    assert "Warning" in {e.type for e in events}


def test_cancel_during_adaptation(kube: Kube, operator_kube: Kube, world: World, namespace: str) -> None:
    with StateRecorder(kube, namespace, "cj") as states, running_operator(operator_kube, settings_for(namespace)):
        _to_adaptation(world)
        world.cancel("cj")
        status = world.wait_state("cj", "CANCELLED")
        assert states.wait_for("CANCELLED") == ["PENDING", "ACTIVE", "ADAPTING_OS", "CANCELLING", "CANCELLED"]
    assert status["steps"][-1]["adaptingOs"] == {} and status["steps"][-1]["endTime"]
    assert world.get(BATCH_JOB, "cj-adapt-os") is None and world.all_products() == []


def test_delete_during_adaptation(kube: Kube, operator_kube: Kube, world: World, namespace: str) -> None:
    with running_operator(operator_kube, settings_for(namespace)):
        _to_adaptation(world)
        world.delete(CLONE_JOB, "cj")  # held by the finalizer until the products are gone
        world.wait_gone(CLONE_JOB, "cj")
        assert world.get(BATCH_JOB, "cj-adapt-os") is None and world.all_products() == []
    assert {"Cancelling", "Cancelled"} <= set(_reasons(kube, namespace))
