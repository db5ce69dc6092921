"""The adaptingOs step (a batch/v1 Job) through the whole reconciler, against a mock Kubernetes API."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import kmock
import pytest

from clonejob_operator import names
from clonejob_operator.api.clonejob import StepKind
from clonejob_operator.codes import Code
from clonejob_operator.kube import (
    BATCH_JOB,
    CLONE_JOB,
    DATA_VOLUME,
    MIGRATING_VM,
    VIRTUAL_MACHINE,
    VOLUME_SNAPSHOT,
    Kube,
)
from clonejob_operator.reconciler import Outcome, Reconciler
from clonejob_operator.settings import Settings

NS = "ns"
SETTINGS = Settings(step_timeouts={kind: timedelta(hours=1) for kind in StepKind})


def _create(kube: Kube, kind: Any, name: str, **fields: Any) -> None:
    kube.create(
        kind,
        NS,
        {
            "apiVersion": kind.api_version,
            "kind": kind.kind,
            "metadata": {"name": name, "namespace": NS, **fields.pop("metadata", {})},
            **fields,
        },
    )


def _setup(kube: Kube) -> None:
    _create(
        kube,
        MIGRATING_VM,
        "web-1",
        metadata={"uid": "mvm-uid", "resourceVersion": "1"},
        spec={
            "sourceVmId": "vm-1",
            "kubevirtTargetDefaults": {"osAdaptation": {"image": "adapt:1", "args": ["--virtio"]}},
        },
        status={"lastSync": {"cycleNumber": 7, "snapshots": [{"disk": "d0", "volumeSnapshot": "s0"}]}},
    )
    _create(kube, VOLUME_SNAPSHOT, "s0", spec={}, status={"readyToUse": True, "restoreSize": "10Gi"})
    _create(
        kube,
        CLONE_JOB,
        "cj",
        metadata={
            "uid": "cj-uid",
            "generation": 1,
            "creationTimestamp": "2026-11-26T10:00:00Z",
            "resourceVersion": "1",
            "finalizers": [names.FINALIZER],
        },
        spec={"migratingVm": "web-1"},
    )


class Runner:
    """Runs reconcile() in a worker thread (the client is synchronous; kmock serves on this loop)."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.reconciler = Reconciler(kube, SETTINGS)

    async def tick(self, times: int = 1) -> dict[str, Any]:
        for _ in range(times):
            await self.wake()
        return dict((await asyncio.to_thread(self.kube.get, CLONE_JOB, NS, "cj") or {}).get("status") or {})

    async def wake(self) -> Outcome:
        """One wake-up: looks again at once while the job asks for it, as the work queue does."""
        for _ in range(10):
            outcome = await asyncio.to_thread(self.reconciler.reconcile, NS, "cj")
            if not outcome.again:
                break
        return outcome

    async def set_status(self, kind: Any, name: str, status: dict[str, Any]) -> None:
        await asyncio.to_thread(self.kube.patch_status, kind, NS, name, {"status": status})


def _written_states(kmock: kmock.KubernetesEmulator) -> list[str]:
    """Every state the operator wrote into the CloneJob's status, in order."""
    writes = [r for r in kmock[kmock.resource("vmmigration.dev/v1/clonejobs")] if r.method == "PATCH"]
    return [r.data["status"]["state"] for r in writes if r.url.path.endswith("/status") and "state" in r.data["status"]]


def _reasons(kmock: kmock.KubernetesEmulator) -> list[str]:
    return [request.data["reason"] for request in kmock[kmock.resource("v1/events")]]


@pytest.mark.asyncio
async def test_adaptation_runs_between_disks_and_vm(kmock: kmock.KubernetesEmulator, mock_kube: Kube) -> None:
    await asyncio.to_thread(_setup, mock_kube)
    run = Runner(mock_kube)
    status = await run.tick()
    assert status["currentStep"] == "preparingVmDisks"
    await run.tick()
    await run.set_status(DATA_VOLUME, "cj-disk-0", {"phase": "Succeeded", "progress": "100.0%"})
    status = await run.tick()
    assert status["state"] == "ADAPTING_OS" and status["currentStep"] == "adaptingOs"
    status = await run.tick(2)
    jobs = [r for r in kmock[kmock.resource("batch/v1/jobs")] if r.method == "POST"]
    assert len(jobs) == 1, "the adaptation Job is created once, however often the step is reconciled"
    job = jobs[0].data
    assert job["metadata"]["name"] == "cj-adapt-os"
    assert job["metadata"]["labels"][names.LABEL_JOB_UID] == "cj-uid"
    pod = job["spec"]["template"]["spec"]
    assert pod["volumes"] == [{"name": "disk-0", "persistentVolumeClaim": {"claimName": "cj-disk-0"}}]
    assert pod["containers"][0]["args"] == ["--virtio"]
    await run.set_status(BATCH_JOB, "cj-adapt-os", {"active": 1})
    status = await run.tick()
    assert status["steps"][1]["progressPercent"] == 50
    await run.set_status(BATCH_JOB, "cj-adapt-os", {"conditions": [{"type": "Complete", "status": "True"}]})
    status = await run.tick()
    assert status["state"] == "ACTIVE" and status["currentStep"] == "instantiatingMigratedVm"
    await run.tick()
    await run.set_status(VIRTUAL_MACHINE, "cj", {"ready": True, "created": True})
    status = await run.tick()
    assert status["state"] == "SUCCEEDED"
    assert _written_states(kmock) == ["PENDING", "ACTIVE", "ADAPTING_OS", "ACTIVE", "SUCCEEDED"]
    assert [next(iter(k for k in step if k.endswith(("Disks", "Os", "Vm")))) for step in status["steps"]] == [
        "preparingVmDisks",
        "adaptingOs",
        "instantiatingMigratedVm",
    ]
    assert status["kubevirtTargetDetails"]["osAdaptation"]["image"] == "adapt:1"
    # One Event per transition: a step's end and the next one's start are one Event.
    assert _reasons(kmock) == ["Pending", "Started", "AdaptingOs", "InstantiatingMigratedVm", "Succeeded"]
    messages = [request.data["message"] for request in kmock[kmock.resource("v1/events")]]
    assert messages[2].startswith("step preparingVmDisks finished; ADAPTING_OS: step adaptingOs started")
    assert messages[4].startswith("step instantiatingMigratedVm finished")


@pytest.mark.asyncio
async def test_failed_adaptation_job_fails_the_clone(kmock: kmock.KubernetesEmulator, mock_kube: Kube) -> None:
    await asyncio.to_thread(_setup, mock_kube)
    run = Runner(mock_kube)
    await run.tick(2)
    await run.set_status(DATA_VOLUME, "cj-disk-0", {"phase": "Succeeded"})
    await run.tick(2)
    await run.set_status(
        BATCH_JOB,
        "cj-adapt-os",
        {
            "conditions": [
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "no bootloader found"}
            ]
        },
    )
    status = await run.tick(3)
    assert status["state"] == "FAILED"
    assert status["error"]["code"] == Code.INTERNAL
    assert "adaptingOs" in status["error"]["message"] and "no bootloader found" in status["error"]["message"]
    assert await asyncio.to_thread(mock_kube.get, BATCH_JOB, NS, "cj-adapt-os") is None
    assert await asyncio.to_thread(mock_kube.get, DATA_VOLUME, NS, "cj-disk-0") is None
    assert "Warning" in [request.data["type"] for request in kmock[kmock.resource("v1/events")]]


@pytest.mark.asyncio
async def test_cancel_during_adaptation(kmock: kmock.KubernetesEmulator, mock_kube: Kube) -> None:
    await asyncio.to_thread(_setup, mock_kube)
    run = Runner(mock_kube)
    await run.tick(2)
    await run.set_status(DATA_VOLUME, "cj-disk-0", {"phase": "Succeeded"})
    await run.tick(2)
    assert await asyncio.to_thread(mock_kube.get, BATCH_JOB, NS, "cj-adapt-os") is not None
    await asyncio.to_thread(mock_kube.patch, CLONE_JOB, NS, "cj", {"spec": {"cancel": True}})
    status = await run.tick(3)
    assert status["state"] == "CANCELLED"
    assert status["steps"][-1]["adaptingOs"] == {} and status["steps"][-1]["endTime"]
    assert await asyncio.to_thread(mock_kube.get, BATCH_JOB, NS, "cj-adapt-os") is None
    deletes = [r for r in kmock[kmock.resource("batch/v1/jobs")] if r.method == "DELETE"]
    assert deletes and deletes[0].data["propagationPolicy"] == "Background"
    assert _written_states(kmock) == ["PENDING", "ACTIVE", "ADAPTING_OS", "CANCELLING", "CANCELLED"]


@pytest.mark.asyncio
async def test_delete_during_adaptation(kmock: kmock.KubernetesEmulator, mock_kube: Kube) -> None:
    await asyncio.to_thread(_setup, mock_kube)
    run = Runner(mock_kube)
    await run.tick(2)
    await run.set_status(DATA_VOLUME, "cj-disk-0", {"phase": "Succeeded"})
    status = await run.tick(2)
    assert status["currentStep"] == "adaptingOs"
    await asyncio.to_thread(mock_kube.delete, CLONE_JOB, NS, "cj")  # held by the finalizer
    held = await asyncio.to_thread(mock_kube.get, CLONE_JOB, NS, "cj")
    assert held is not None and held["metadata"].get("deletionTimestamp")
    await run.wake()  # CANCELLING, and the products' deletes
    outcome = await run.wake()  # as their watch events would: they are gone
    assert outcome.finished and outcome.state == "CANCELLED"
    assert _written_states(kmock)[-2:] == ["CANCELLING", "CANCELLED"]
    assert await asyncio.to_thread(mock_kube.get, BATCH_JOB, NS, "cj-adapt-os") is None
    assert await asyncio.to_thread(mock_kube.get, DATA_VOLUME, NS, "cj-disk-0") is None
    assert "Cancelling" in _reasons(kmock) and "Cancelled" in _reasons(kmock)


@pytest.mark.asyncio
async def test_forbidden_products_fail_the_job_once_nothing_can_be_left(
    kmock: kmock.KubernetesEmulator, mock_kube: Kube
) -> None:
    """RBAC lacking DataVolumes: PERMISSION_DENIED naming the step, no retry loop; and since nothing can be
    proven gone while even listing is forbidden, the job waits (Stalled) until it can, then FAILS."""
    await asyncio.to_thread(_setup, mock_kube)
    forbidden = {"datavolumes": True}
    datavolumes = kmock[kmock.resource("cdi.kubevirt.io/v1beta1/datavolumes")]
    datavolumes[lambda _: forbidden["datavolumes"]] << 403 << {"kind": "Status", "code": 403}
    run = Runner(mock_kube)
    status = await run.tick(3)
    assert status["state"] == "ACTIVE" and status["error"]["code"] == Code.PERMISSION_DENIED
    assert "step preparingVmDisks" in status["error"]["message"] and "403" in status["error"]["message"]
    stalled = next(c for c in status["conditions"] if c["type"] == "Stalled")
    assert stalled["status"] == "True" and stalled["reason"] == "CleanupStuck"
    assert "cleaning up: the API answered 403" in stalled["message"]
    forbidden["datavolumes"] = False  # RBAC fixed
    status = await run.tick()
    assert status["state"] == "FAILED" and status["error"]["code"] == Code.PERMISSION_DENIED
