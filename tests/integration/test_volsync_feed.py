"""A MigratingVm fed by VolSync, with the operator running as the chart's identity and VolSync played by hand
against its real CRDs: cycles kept in the status, images held while a cycle or a clone needs them, and let go
of (unlabelled if latest, deleted if relinquished) when nothing does."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clonejob_operator import names
from clonejob_operator.kube import MIGRATING_VM, Kube
from clonejob_operator.sources.volsync.holds import DO_NOT_DELETE, HELD_BY, PINNED
from clonejob_operator.sources.volsync.kinds import REPLICATION_DESTINATION
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME, VOLUME_SNAPSHOT
from tests.integration.conftest import product_crds
from tests.integration.kit import OperatorThread, World, running_operator, settings_for, wait_for
from tests.integration.replicas import operator_process
from tests.integration.volsync import VolSync

DISKS = [
    {"disk": "boot", "replicationDestination": "web-1-boot"},
    {"disk": "data", "replicationDestination": "web-1-data"},
]


@pytest.fixture
def volsync(kube: Kube, namespace: str) -> VolSync:
    if not product_crds():
        pytest.skip("VolSync's real CRD is not at hand (CLONEJOB_TEST_PRODUCT_CRDS)")
    return VolSync(kube, namespace)


@pytest.fixture
def operator(operator_kube: Kube, namespace: str) -> Iterator[OperatorThread]:
    with running_operator(operator_kube, settings_for(namespace)) as running:
        yield running


def fed(world: World, volsync: VolSync) -> dict[str, Any]:
    for disk in DISKS:
        volsync.destination(disk["replicationDestination"])
    spec = {"sourceVmId": "vm-web-1", "kubevirtTargetDefaults": {}, "replication": {"volSync": {"disks": DISKS}}}
    return world.create(MIGRATING_VM, "web-1", spec)


def mvm_status(world: World) -> dict[str, Any]:
    body = world.get(MIGRATING_VM, "web-1")
    assert body is not None
    return dict(body.get("status") or {})


def wait_cycle(world: World, number: int) -> list[str]:
    """The images of complete cycle ``number``, once the status names it."""
    wait_for(lambda: (mvm_status(world).get("lastSync") or {}).get("cycleNumber") == number, 20, f"cycle {number}")
    return [s["volumeSnapshot"] for s in mvm_status(world)["lastSync"]["snapshots"]]


def holders(world: World, image: str) -> set[str] | None:
    """Who holds ``image`` (None: it is gone); the label must be there exactly when somebody does."""
    body = world.get(VOLUME_SNAPSHOT, image)
    if body is None:
        return None
    meta = body["metadata"]
    held = {h for h in (meta.get("annotations") or {}).get(HELD_BY, "").split(",") if h}
    assert bool(held) == (DO_NOT_DELETE in (meta.get("labels") or {})) or PINNED in (meta.get("annotations") or {})
    return held


def test_cycles_and_a_clone_that_outlives_volsyncs_rotation(
    world: World, volsync: VolSync, operator: OperatorThread
) -> None:
    mvm = fed(world, volsync)
    uid = mvm["metadata"]["uid"]
    wait_for(lambda: mvm_status(world).get("state") == "FIRST_SYNC", 20, "FIRST_SYNC")
    first_boot = volsync.sync("web-1-boot")
    wait_for(lambda: holders(world, first_boot) == set() and mvm_status(world).get("lastReplicationCycle"), 20, "seen")
    assert "lastSync" not in mvm_status(world), "one disk of two is no cycle"
    volsync.sync("web-1-boot")  # the boot disk syncs again before the data disk once: its first image is gone
    first_data = volsync.sync("web-1-data")
    images = wait_cycle(world, 1)
    assert images == ["volsync-web-1-boot-dst-2", first_data]
    assert mvm_status(world)["state"] == "ACTIVE"
    assert all(holders(world, image) == {f"MigratingVm/{uid}"} for image in images)
    assert names.FINALIZER in (world.get(MIGRATING_VM, "web-1") or {})["metadata"]["finalizers"]

    job = world.clone_job("web-1-test-1")
    job_holder = f"CloneJob/{job['metadata']['uid']}"
    world.wait_object(DATA_VOLUME, "web-1-test-1-disk-1")
    assert all(job_holder in (holders(world, image) or set()) for image in images), "held before the disks"
    assert world.status("web-1-test-1")["sourceSync"]["replication"] == "volSync"

    volsync.sync("web-1-boot")
    volsync.sync("web-1-data")
    second = wait_cycle(world, 2)
    wait_for(lambda: all(holders(world, image) == {job_holder} for image in images), 20, "the MigratingVm let go")
    assert all(not (world.get(VOLUME_SNAPSHOT, i) or {})["metadata"].get("ownerReferences") for i in images), (
        "VolSync relinquished the held images of cycle 1"
    )

    world.finish_disks("web-1-test-1", disks=2)
    wait_for(lambda: all(holders(world, image) is None for image in images), 20, "cycle 1's images deleted")
    world.ready_vm("web-1-test-1")
    assert "error" not in world.wait_state("web-1-test-1", "SUCCEEDED")
    assert all(holders(world, image) == {f"MigratingVm/{uid}"} for image in second)

    world.delete(MIGRATING_VM, "web-1")  # it lets go of cycle 2's images (VolSync's latest: unlabelled), then goes
    world.wait_gone(MIGRATING_VM, "web-1")
    for image in second:
        meta = (world.get(VOLUME_SNAPSHOT, image) or {})["metadata"]
        assert DO_NOT_DELETE not in (meta.get("labels") or {}) and HELD_BY not in (meta.get("annotations") or {})


def test_a_cancelled_clone_lets_go_and_a_persons_pin_is_kept(
    kube: Kube, world: World, volsync: VolSync, operator: OperatorThread, namespace: str
) -> None:
    fed(world, volsync)
    boot = volsync.sync("web-1-boot")
    pin = {"metadata": {"labels": {DO_NOT_DELETE: "keep-for-audit"}}}
    kube.patch(VOLUME_SNAPSHOT, namespace, boot, pin)  # a person's pin, before the operator holds it
    data = volsync.sync("web-1-data")
    assert wait_cycle(world, 1) == [boot, data]
    world.clone_job("web-1-test-2")
    world.wait_object(DATA_VOLUME, "web-1-test-2-disk-0")
    volsync.sync("web-1-boot")
    volsync.sync("web-1-data")
    wait_cycle(world, 2)
    world.cancel("web-1-test-2")
    world.wait_state("web-1-test-2", "CANCELLED")
    assert holders(world, data) is None, "relinquished and let go of by its last holder: deleted"
    kept = world.get(VOLUME_SNAPSHOT, boot)
    assert kept is not None, "a person's pin is never deleted by the operator"
    assert kept["metadata"]["labels"][DO_NOT_DELETE] == "keep-for-audit"
    assert HELD_BY not in (kept["metadata"].get("annotations") or {})


def test_a_missing_or_paused_destination_shows_in_the_state(
    world: World, volsync: VolSync, operator: OperatorThread
) -> None:
    volsync.destination("web-1-boot")
    spec = {"sourceVmId": "vm-web-1", "kubevirtTargetDefaults": {}, "replication": {"volSync": {"disks": DISKS}}}
    world.create(MIGRATING_VM, "web-1", spec)
    wait_for(lambda: mvm_status(world).get("state") == "ERROR", 20, "ERROR")
    assert "ReplicationDestination web-1-data does not exist" in mvm_status(world)["error"]["message"]
    volsync.destination("web-1-data", paused=True)
    wait_for(lambda: mvm_status(world).get("state") == "FIRST_SYNC", 20, "the error cleared")
    volsync.pause("web-1-boot")
    wait_for(lambda: mvm_status(world).get("state") == "PAUSED", 20, "PAUSED")
    assert "error" not in mvm_status(world)
    world.delete(REPLICATION_DESTINATION, "web-1-boot")
    wait_for(lambda: mvm_status(world).get("state") == "ERROR", 20, "ERROR once a destination is deleted")
    assert "disk boot: ReplicationDestination web-1-boot does not exist" in mvm_status(world)["error"]["message"]


def test_a_failed_clone_lets_go_of_exactly_what_it_held(
    world: World, volsync: VolSync, operator: OperatorThread
) -> None:
    fed(world, volsync)
    first = [volsync.sync("web-1-boot"), volsync.sync("web-1-data")]
    assert wait_cycle(world, 1) == first
    job = world.clone_job("web-1-test-5")
    job_holder = f"CloneJob/{job['metadata']['uid']}"
    world.wait_object(DATA_VOLUME, "web-1-test-5-disk-1")
    volsync.sync("web-1-boot")  # VolSync moves on: cycle 1's images are relinquished, the job alone holds them
    volsync.sync("web-1-data")
    second = wait_cycle(world, 2)
    wait_for(lambda: all(holders(world, i) == {job_holder} for i in first), 20, "the job alone holding cycle 1")
    world.finish_disks("web-1-test-5", disks=2, phase="Failed")
    failed = world.wait_state("web-1-test-5", "FAILED")
    assert failed["error"]["code"] == 13 and "VolumeSnapshot" not in failed["error"]["message"]
    assert all(holders(world, i) is None for i in first), "relinquished, let go of by their last holder: deleted"
    uid = (world.get(MIGRATING_VM, "web-1") or {})["metadata"]["uid"]
    assert all(holders(world, i) == {f"MigratingVm/{uid}"} for i in second), "cycle 2: the MigratingVm's alone"


def test_killed_while_holding_then_restarted_nothing_lost_or_leaked(
    world: World, volsync: VolSync, operator_kube: Kube, namespace: str, cluster_kubeconfig: str, tmp_path: Path
) -> None:
    mvm = fed(world, volsync)
    log = tmp_path / "operator.log"
    with operator_process(cluster_kubeconfig, namespace, log) as process:
        volsync.sync("web-1-boot")
        volsync.sync("web-1-data")
        first = wait_cycle(world, 1)
        job = world.clone_job("web-1-test-4")
        job_holder = f"CloneJob/{job['metadata']['uid']}"
        world.wait_object(DATA_VOLUME, "web-1-test-4-disk-1", timeout=60)
        volsync.sync("web-1-boot")
        volsync.sync("web-1-data")
        second = wait_cycle(world, 2)
        wait_for(lambda: all(holders(world, i) == {job_holder} for i in first), 20, "the job alone holds cycle 1")
        process.send_signal(signal.SIGKILL)
        assert process.wait(10) == -signal.SIGKILL
    volsync.sync("web-1-boot")  # VolSync goes on while the operator is down: cycle 2's images are relinquished
    volsync.sync("web-1-data")
    assert all(holders(world, i) == {f"MigratingVm/{mvm['metadata']['uid']}"} for i in second), log.read_text()[-2000:]

    with running_operator(operator_kube, settings_for(namespace)):
        third = wait_cycle(world, 3)
        world.finish_disks("web-1-test-4", disks=2)
        world.ready_vm("web-1-test-4")
        assert "error" not in world.wait_state("web-1-test-4", "SUCCEEDED")
        wait_for(
            lambda: {s["metadata"]["name"] for s in world.products(VOLUME_SNAPSHOT)} == set(third),
            20,
            "only cycle 3's images left",
        )
    assert all(holders(world, i) == {f"MigratingVm/{mvm['metadata']['uid']}"} for i in third)
