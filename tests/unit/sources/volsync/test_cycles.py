"""A VolSync-fed MigratingVm's cycles: complete when every disk has published a new ready image, as old as its
oldest disk, kept until the next one completes; FIRST_SYNC, ACTIVE, PAUSED and ERROR."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from clonejob_operator.api.migratingvm import MigratingVmState, MigratingVmStatus
from clonejob_operator.codes import Code
from clonejob_operator.sources.volsync.cycles import (
    Destination,
    DiskSource,
    Image,
    Observed,
    decide,
    go_duration,
    quantity_bytes,
)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
DISKS = (DiskSource("boot", "web-1-boot"), DiskSource("data", "web-1-data"))


def destination(name: str, image: str | None, synced: int = 0, **extra: Any) -> Destination:
    """A ReplicationDestination as VolSync writes it; ``synced``: its lastSyncTime, minutes before NOW."""
    status: dict[str, Any] = {}
    if image is not None:
        status["latestImage"] = {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": image}
        status["lastSyncTime"] = (NOW - timedelta(minutes=synced)).isoformat().replace("+00:00", "Z")
        status["lastSyncStartTime"] = (NOW - timedelta(minutes=synced + 2)).isoformat().replace("+00:00", "Z")
        status["lastSyncDuration"] = "2m0.5s"
    status.update(extra.pop("status", {}))
    return Destination.of({"metadata": {"name": name}, "spec": extra, "status": status})


def world(
    boot: str | None,
    data: str | None,
    status: MigratingVmStatus | None = None,
    ready: bool = True,
    boot_rd: dict[str, Any] | None = None,
    data_rd: dict[str, Any] | None = None,
) -> Observed:
    """Two disks' destinations with these latest images (``*_rd``: more of a destination's spec, or its status)."""
    destinations = {
        "web-1-boot": destination("web-1-boot", boot, synced=10, **(boot_rd or {})),
        "web-1-data": destination("web-1-data", data, synced=3, **(data_rd or {})),
    }
    images = {name: Image(name, ready, 10 * 2**30) for name in (boot, data) if name}
    return Observed(DISKS, destinations, images, status or MigratingVmStatus(), NOW)


def test_first_sync_until_every_disk_has_an_image_then_cycle_one() -> None:
    waiting = decide(world("boot-1", None))
    assert waiting.status.state == MigratingVmState.FIRST_SYNC and waiting.status.last_sync is None
    assert waiting.holds == frozenset()
    assert waiting.status.last_replication_cycle is not None
    assert waiting.status.last_replication_cycle.progress_percent == 50
    assert waiting.status.last_replication_cycle.state == "RUNNING"
    done = decide(world("boot-1", "data-1", waiting.status))
    last = done.status.last_sync
    assert done.status.state == MigratingVmState.ACTIVE and last is not None
    assert last.cycle_number == 1
    assert [(s.disk, s.volume_snapshot, s.size_bytes) for s in last.snapshots or []] == [
        ("boot", "boot-1", 10 * 2**30),
        ("data", "data-1", 10 * 2**30),
    ], "one per disk, in the spec's order"
    assert last.last_sync_time == "2026-12-04T11:50:00Z", "as old as its oldest disk"
    assert done.holds == {"boot-1", "data-1"}
    assert done.status.state_time == "2026-12-04T12:00:00Z"


def test_a_cycle_completes_disk_by_disk_and_the_last_one_stands_until_then() -> None:
    first = decide(world("boot-1", "data-1")).status
    partway = decide(world("boot-2", "data-1", first))
    assert partway.status.last_sync == first.last_sync, "still the previous complete cycle"
    assert partway.holds == {"boot-1", "data-1"}
    cycle = partway.status.last_replication_cycle
    assert cycle is not None and (cycle.cycle_number, cycle.progress_percent, cycle.state) == (2, 50, "RUNNING")
    again = decide(world("boot-3", "data-1", partway.status))  # the boot disk synced twice meanwhile
    assert again.status.last_sync == first.last_sync
    complete = decide(world("boot-3", "data-2", again.status))
    last = complete.status.last_sync
    assert last is not None and last.cycle_number == 2
    assert [s.volume_snapshot for s in last.snapshots or []] == ["boot-3", "data-2"]
    assert complete.holds == {"boot-3", "data-2"}
    cycle = complete.status.last_replication_cycle
    assert cycle is not None and (cycle.cycle_number, cycle.progress_percent, cycle.state) == (2, 100, "SUCCEEDED")
    assert cycle.start_time == "2026-12-04T11:48:00Z" and cycle.end_time == "2026-12-04T11:57:00Z"
    assert complete.status.state_time == first.state_time, "ACTIVE all along"


def test_an_image_not_ready_to_use_is_not_published_yet() -> None:
    first = decide(world("boot-1", "data-1")).status
    observed = world("boot-2", "data-2", first, ready=False)
    assert decide(observed).status.last_sync == first.last_sync


def test_paused_when_every_destination_is_and_active_again_after() -> None:
    first = decide(world("boot-1", "data-1")).status
    one = decide(world("boot-1", "data-1", first, boot_rd={"paused": True}))
    assert one.status.state == MigratingVmState.ACTIVE, "one paused disk does not pause the VM"
    both = decide(world("boot-1", "data-1", first, boot_rd={"paused": True}, data_rd={"paused": True}))
    assert both.status.state == MigratingVmState.PAUSED and both.holds == {"boot-1", "data-1"}
    assert both.status.state_time == "2026-12-04T12:00:00Z"


def test_error_names_a_missing_destination_or_an_image_that_is_no_snapshot() -> None:
    first = decide(world("boot-1", "data-1")).status
    gone = world("boot-1", "data-1", first)
    gone = Observed(gone.disks, {"web-1-boot": gone.destinations["web-1-boot"]}, gone.images, first, NOW)
    missing = decide(gone)
    assert missing.status.state == MigratingVmState.ERROR and missing.status.error is not None
    assert missing.status.error.code == Code.NOT_FOUND
    assert missing.status.error.message == "disk data: ReplicationDestination web-1-data does not exist"
    assert missing.status.last_sync == first.last_sync and missing.holds == {"boot-1", "data-1"}, "held still"
    pvc = {"latestImage": {"kind": "PersistentVolumeClaim", "name": "web-1-data-dst"}}
    direct = decide(world("boot-1", "data-1", first, data_rd={"status": pvc}))
    assert direct.status.state == MigratingVmState.ERROR and direct.status.error is not None
    assert direct.status.error.code == Code.FAILED_PRECONDITION
    assert "core/PersistentVolumeClaim (web-1-data-dst), not a VolumeSnapshot" in (direct.status.error.message or "")
    healed = decide(world("boot-1", "data-1", direct.status))
    assert healed.status.state == MigratingVmState.ACTIVE and healed.status.error is None


def test_go_durations_and_quantities() -> None:
    assert go_duration("2m0.5s") == timedelta(minutes=2, seconds=0.5)
    assert go_duration("1h2m3s") == timedelta(hours=1, minutes=2, seconds=3)
    assert go_duration("250ms") == timedelta(milliseconds=250)
    assert go_duration("1.5µs") == timedelta(microseconds=1.5)
    assert go_duration("soon") is None and go_duration(None) is None and go_duration("") is None
    assert quantity_bytes("10Gi") == 10 * 2**30 and quantity_bytes("500M") == 500 * 10**6
    assert quantity_bytes("1073741824") == 2**30 and quantity_bytes(7) == 7
    assert quantity_bytes("1.5Gi") is None and quantity_bytes("-1") is None and quantity_bytes(None) is None
