"""Compute Engine jobs that cannot reach Google: no credentials at all, or an endpoint where nothing
listens. Neither may hang a job, a cancel or a delete; both say what is wrong in the job's status."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, TARGET_PROJECT, Kube
from tests.computeengine.fake import FakeCompute
from tests.integration.kit import World, running_operator, settings_for, wait_for

PROJECT, ZONE = "my-proj-123", "europe-west1-b"
SNAPSHOT = f"projects/{PROJECT}/global/snapshots/web-c3-d0"
VM = {"vmName": "web-clone", "machineType": "n2-standard-2", "targetProject": "tp", "zone": ZONE}


def _world(world: World, secret: bool = True) -> None:
    spec: dict[str, Any] = {"project": PROJECT}
    if secret:
        spec["credentialsSecretRef"] = {"name": "sa", "key": "k"}
    world.create(TARGET_PROJECT, "tp", spec)
    world.create(MIGRATING_VM, "web", {"sourceVmId": "vm-7", "computeEngineTargetDefaults": VM})
    snapshots = [{"disk": "disk-0", "computeEngineSnapshot": SNAPSHOT}]
    world.set_status(MIGRATING_VM, "web", {"lastSync": {"cycleNumber": 3, "snapshots": snapshots}})


def _condition(world: World, name: str, kind: str) -> dict[str, Any]:
    conditions = world.status(name).get("conditions") or []
    return next((c for c in conditions if c["type"] == kind), {})


@pytest.fixture
def no_google_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A machine with no Application Default Credentials: no key file, no gcloud login, no metadata server."""
    from google.auth.compute_engine import _metadata

    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    monkeypatch.setattr(_metadata, "_NO_GCE_CHECK", True)


@pytest.fixture
def free_port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    yield port


@pytest.mark.usefixtures("no_google_credentials")
def test_no_credentials_fails_the_job_naming_the_fix_and_lets_it_go(kube: Kube, world: World, namespace: str) -> None:
    _world(world, secret=False)
    settings = settings_for(namespace, allow_ambient_credentials=True, poll_interval=0.2)
    with running_operator(kube, settings):
        world.clone_job("cj", migrating_vm="web")
        status = world.wait_state("cj", "FAILED", timeout=30)
        assert status["error"]["code"] == 9, status["error"]
        assert "credentials" in status["error"]["message"] and "credentialsSecretRef" in status["error"]["message"]
        assert not status.get("createdResources"), "nothing was ever sent to Google"
        world.clone_job("cj2", migrating_vm="web")  # and a delete right away is not held by the finalizer
        wait_for(lambda: world.state("cj2") in ("ACTIVE", "FAILED"), 30, "cj2 to start")
        world.delete(CLONE_JOB, "cj2")
        world.wait_gone(CLONE_JOB, "cj2", timeout=30)


def test_an_unreachable_endpoint_is_named_stalls_and_recovers(
    kube: Kube, world: World, namespace: str, free_port: int
) -> None:
    _world(world)
    url = f"http://127.0.0.1:{free_port}"
    settings = settings_for(namespace, compute_endpoint=url, poll_interval=0.2, stall_after=timedelta(seconds=3))
    with running_operator(kube, settings):
        world.clone_job("cj", migrating_vm="web")
        world.wait_step("cj", "preparingVmDisks")
        wait_for(lambda: "ConnectionError" in _condition(world, "cj", "Ready").get("message", ""), 20, "why")
        wait_for(lambda: _condition(world, "cj", "Stalled").get("status") == "True", 20, "Stalled=True")
        assert world.state("cj") == "ACTIVE"
        fake = FakeCompute(op_delay=0.2, snapshots={SNAPSHOT})
        with fake.serving(port=free_port):
            status = world.wait_state("cj", "SUCCEEDED", timeout=60)
    assert [name for (_, _, name) in fake.disks] == ["web-clone-disk-0"] and len(fake.instances) == 1
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Ready": "True",
        "Reconciling": "False",
        "Stalled": "False",
    }


@pytest.mark.parametrize("how", ["cancel", "delete"])
def test_cancel_and_delete_end_while_the_endpoint_is_unreachable(
    kube: Kube, world: World, namespace: str, free_port: int, how: str
) -> None:
    _world(world)
    settings = settings_for(namespace, compute_endpoint=f"http://127.0.0.1:{free_port}", poll_interval=0.2)
    with running_operator(kube, settings):
        world.clone_job("cj", migrating_vm="web")
        world.wait_step("cj", "preparingVmDisks")
        wait_for(lambda: "ConnectionError" in _condition(world, "cj", "Ready").get("message", ""), 20, "why")
        if how == "cancel":
            world.cancel("cj")
            status = world.wait_state("cj", "CANCELLED", timeout=30)
            assert not status.get("createdResources")
        else:
            world.delete(CLONE_JOB, "cj")
            world.wait_gone(CLONE_JOB, "cj", timeout=30)
