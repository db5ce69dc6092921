"""A refusal injected into the whole reconciler, against a mock Kubernetes API (kmock can refuse one
resource at will; the adaptingOs step's own runs are on the real API server, tests/integration)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import kmock
import pytest

from clonejob_operator import names
from clonejob_operator.api.clonejob import StepKind
from clonejob_operator.codes import Code
from clonejob_operator.kube import ADAPTATION_PROFILE, CLONE_JOB, MIGRATING_VM, Kube
from clonejob_operator.reconciler import Outcome, Reconciler
from clonejob_operator.settings import Settings
from clonejob_operator.targets.kubevirt.kinds import VOLUME_SNAPSHOT

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
            "kubevirtTargetDefaults": {"osAdaptation": {"profile": "virt-v2v"}},
        },
        status={"lastSync": {"cycleNumber": 7, "snapshots": [{"disk": "d0", "volumeSnapshot": "s0"}]}},
    )
    profile: dict[str, Any] = {"apiVersion": ADAPTATION_PROFILE.api_version, "kind": ADAPTATION_PROFILE.kind}
    profile |= {"metadata": {"name": "virt-v2v"}, "spec": {"image": "adapt:1", "args": ["--virtio"]}}
    k = ADAPTATION_PROFILE
    kube.custom.create_cluster_custom_object(k.group, k.version, k.plural, profile)
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
