"""VolSync's cycles and holds against the real ReplicationDestination and VolumeSnapshot schemas, with VolSync's
rotation played: the status worked out from the objects as the API server returns them, and holds that make an
image outlive its replacement until its last holder lets go (then unlabelled if latest, deleted if not)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from clonejob_operator.api.migratingvm import MigratingVmState, MigratingVmStatus
from clonejob_operator.kube import Kube
from clonejob_operator.sources.volsync import cycles, holds
from clonejob_operator.sources.volsync.kinds import REPLICATION_DESTINATION
from clonejob_operator.targets.kubevirt.kinds import VOLUME_SNAPSHOT
from tests.integration.conftest import product_crds
from tests.integration.volsync import VolSync

DISKS = (cycles.DiskSource("boot", "web-1-boot"), cycles.DiskSource("data", "web-1-data"))
MVM, JOB = holds.holder("MigratingVm", "mvm-uid"), holds.holder("CloneJob", "job-uid")


@pytest.fixture
def volsync(kube: Kube, namespace: str) -> VolSync:
    if not product_crds():
        pytest.skip("VolSync's real CRD is not at hand (CLONEJOB_TEST_PRODUCT_CRDS)")
    return VolSync(kube, namespace)


def observe(kube: Kube, namespace: str, status: MigratingVmStatus) -> cycles.Observed:
    destinations = {
        b["metadata"]["name"]: cycles.Destination.of(b) for b in kube.list(REPLICATION_DESTINATION, namespace)
    }
    images = {b["metadata"]["name"]: cycles.Image.of(b) for b in kube.list(VOLUME_SNAPSHOT, namespace)}
    return cycles.Observed(DISKS, destinations, images, status, datetime.now(UTC))


def latest(kube: Kube, namespace: str) -> frozenset[str]:
    found = (cycles.Destination.of(b).snapshot for b in kube.list(REPLICATION_DESTINATION, namespace))
    return frozenset(name for name in found if name)


def take(kube: Kube, namespace: str, name: str, who: str) -> None:
    body = kube.refresh(VOLUME_SNAPSHOT, namespace, name)
    assert body is not None, f"{name} is gone before {who} could hold it"
    patch = holds.hold(body, who)
    if patch is not None:
        kube.patch(VOLUME_SNAPSHOT, namespace, name, patch)


def let_go(kube: Kube, namespace: str, name: str, who: str) -> None:
    body = kube.refresh(VOLUME_SNAPSHOT, namespace, name)
    assert body is not None
    done = holds.release(body, who, latest(kube, namespace))
    if isinstance(done, holds.Delete):
        kube.delete(VOLUME_SNAPSHOT, namespace, done.name, done.uid, done.resource_version)
    elif done is not None:
        kube.patch(VOLUME_SNAPSHOT, namespace, name, done)


def images(kube: Kube, namespace: str) -> dict[str, dict[str, str]]:
    return {b["metadata"]["name"]: b["metadata"].get("labels") or {} for b in kube.list(VOLUME_SNAPSHOT, namespace)}


def test_held_images_outlive_volsyncs_rotation_until_the_last_holder_lets_go(
    kube: Kube, namespace: str, volsync: VolSync
) -> None:
    volsync.destination("web-1-boot")
    volsync.destination("web-1-data")
    status = cycles.decide(observe(kube, namespace, MigratingVmStatus())).status
    assert status.state == MigratingVmState.FIRST_SYNC
    boot1, data1 = volsync.sync("web-1-boot"), volsync.sync("web-1-data")
    first = cycles.decide(observe(kube, namespace, status))
    assert first.status.state == MigratingVmState.ACTIVE and first.holds == {boot1, data1}
    last = first.status.last_sync
    assert last is not None and last.cycle_number == 1
    assert [s.size_bytes for s in last.snapshots or []] == [10 * 2**30] * 2, "restoreSize as the real schema keeps it"
    for name in first.holds:  # the MigratingVm holds its cycle, and a job restores from it
        take(kube, namespace, name, MVM)
        take(kube, namespace, name, JOB)

    boot2 = volsync.sync("web-1-boot")
    boot3 = volsync.sync("web-1-boot")  # boot-2 was nobody's: VolSync deleted it
    assert boot1 in images(kube, namespace) and boot2 not in images(kube, namespace)
    assert "app.kubernetes.io/created-by" not in images(kube, namespace)[boot1], "relinquished by VolSync"
    partway = cycles.decide(observe(kube, namespace, first.status))
    assert partway.status.last_sync == last, "the data disk has not synced since: the cycle stands"
    data2 = volsync.sync("web-1-data")
    kube.patch(VOLUME_SNAPSHOT, namespace, data2, {"metadata": {"labels": {holds.DO_NOT_DELETE: "ramen"}}})
    second = cycles.decide(observe(kube, namespace, partway.status))
    assert second.holds == {boot3, data2} and second.status.last_sync is not None
    assert second.status.last_sync.cycle_number == 2
    for name in second.holds:
        take(kube, namespace, name, MVM)
    for name in first.holds:
        let_go(kube, namespace, name, MVM)
    assert {boot1, data1} <= set(images(kube, namespace)), "the job holds them still"
    for name in first.holds:
        let_go(kube, namespace, name, JOB)
    assert not {boot1, data1} & set(images(kube, namespace)), "relinquished by VolSync, let go by all: deleted"

    for name in second.holds:  # the MigratingVm lets go of images that are still the latest
        let_go(kube, namespace, name, MVM)
    now = images(kube, namespace)
    assert holds.DO_NOT_DELETE not in now[boot3], "unlabelled: VolSync's to rotate"
    assert now[data2][holds.DO_NOT_DELETE] == "ramen", "somebody else's pin stays"
    volsync.sync("web-1-boot")
    volsync.sync("web-1-data")
    after = images(kube, namespace)
    assert boot3 not in after, "VolSync rotated it away as usual"
    assert data2 in after, "pinned by somebody else: never deleted"


def test_a_paused_or_missing_destination_shows_in_the_state(kube: Kube, namespace: str, volsync: VolSync) -> None:
    volsync.destination("web-1-boot", paused=True)
    observed = observe(kube, namespace, MigratingVmStatus())
    missing = cycles.decide(observed).status
    assert missing.state == MigratingVmState.ERROR and missing.error is not None
    assert missing.error.message == "disk data: ReplicationDestination web-1-data does not exist"
    volsync.destination("web-1-data", paused=True)
    paused = cycles.decide(observe(kube, namespace, missing)).status
    assert paused.state == MigratingVmState.PAUSED and paused.error is None
