"""A VolSync-fed MigratingVm's status, from its ReplicationDestinations and their images (pure).

A cycle is complete when every disk has published a new image (ready to use) since the last complete cycle:
``lastSync`` then names those images, one per disk in the order of ``spec.replication.volSync.disks``, its
``cycleNumber`` one more, and its ``lastSyncTime`` the oldest of the disks' (a cycle is as old as its oldest
disk). Until the next cycle completes, ``lastSync`` keeps naming the previous one. Each disk is synced on its
own: VolSync gives no point in time common to several disks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from clonejob_operator.api.common import RpcStatus
from clonejob_operator.api.migratingvm import (
    DiskSnapshot,
    LastSync,
    MigratingVmState,
    MigratingVmStatus,
    ReplicationCycle,
)
from clonejob_operator.codes import Code
from clonejob_operator.kube import Body
from clonejob_operator.timestamps import format_time, parse_time

SNAPSHOT_GROUP = "snapshot.storage.k8s.io"


@dataclass(frozen=True)
class DiskSource:
    """``spec.replication.volSync.disks[]``: a source disk and the ReplicationDestination that replicates it."""

    disk: str
    destination: str


@dataclass(frozen=True)
class Destination:
    """What is read of one ReplicationDestination."""

    name: str
    paused: bool = False
    image_kind: str | None = None
    """``status.latestImage``: ``group/Kind`` of the image (None: no image published yet)."""
    image: str | None = None
    synced: datetime | None = None
    sync_started: datetime | None = None
    sync_took: timedelta | None = None

    @classmethod
    def of(cls, body: Body) -> Destination:
        spec, status = body.get("spec") or {}, body.get("status") or {}
        latest = status.get("latestImage") or {}
        return cls(
            name=body["metadata"]["name"],
            paused=spec.get("paused") is True,
            image_kind=f"{latest.get('apiGroup') or 'core'}/{latest.get('kind')}" if latest else None,
            image=latest.get("name") or None,
            synced=_time(status.get("lastSyncTime")),
            sync_started=_time(status.get("lastSyncStartTime")),
            sync_took=go_duration(status.get("lastSyncDuration")),
        )

    @property
    def snapshot(self) -> str | None:
        """The VolumeSnapshot it published last, if its image is one."""
        return self.image if self.image_kind == f"{SNAPSHOT_GROUP}/VolumeSnapshot" else None


@dataclass(frozen=True)
class Image:
    """What is read of one VolumeSnapshot."""

    name: str
    ready: bool
    size_bytes: int | None

    @classmethod
    def of(cls, body: Body) -> Image:
        status = body.get("status") or {}
        return cls(
            body["metadata"]["name"], status.get("readyToUse") is True, quantity_bytes(status.get("restoreSize"))
        )


@dataclass(frozen=True)
class Observed:
    disks: tuple[DiskSource, ...]
    destinations: Mapping[str, Destination]
    """By name; a ReplicationDestination missing from it does not exist."""
    images: Mapping[str, Image]
    """The VolumeSnapshots of the namespace the destinations name, by name."""
    status: MigratingVmStatus
    now: datetime


@dataclass(frozen=True)
class Outcome:
    status: MigratingVmStatus
    holds: frozenset[str]
    """The images the MigratingVm holds: those of its last complete cycle."""


def decide(observed: Observed) -> Outcome:
    """The MigratingVm's status now, and the images it holds."""
    old = observed.status
    last = old.last_sync
    problem = _problem(observed)
    fresh = None if problem else _fresh(observed, last)
    if fresh is not None:
        last = _completed(observed, last, fresh)
    state, error = _state(observed, last, problem)
    changed = state != old.state
    status = old.model_copy(
        update={
            "state": state,
            "state_time": format_time(observed.now) if changed or old.state_time is None else old.state_time,
            "error": error,
            "last_sync": last,
            "last_replication_cycle": _cycle(observed, last) if not problem else old.last_replication_cycle,
        }
    )
    return Outcome(status=status, holds=frozenset(name for name in _named(last).values() if name))


def _problem(observed: Observed) -> RpcStatus | None:
    for source in observed.disks:
        found = observed.destinations.get(source.destination)
        if found is None:
            return RpcStatus(
                code=Code.NOT_FOUND,
                message=f"disk {source.disk}: ReplicationDestination {source.destination} does not exist",
            )
        if found.image is not None and found.snapshot is None:
            return RpcStatus(
                code=Code.FAILED_PRECONDITION,
                message=f"disk {source.disk}: ReplicationDestination {source.destination} publishes a "
                f"{found.image_kind} ({found.image}), not a VolumeSnapshot: set its copyMethod to Snapshot",
            )
    return None


def _fresh(observed: Observed, last: LastSync | None) -> list[tuple[DiskSource, Destination, Image]] | None:
    """Every disk's new ready image since ``last``, or None while one disk has none yet."""
    before = _named(last)
    out = []
    for source in observed.disks:
        destination = observed.destinations[source.destination]
        image = observed.images.get(destination.snapshot or "")
        if image is None or not image.ready or image.name == before.get(source.disk):
            return None
        out.append((source, destination, image))
    return out


def _completed(
    observed: Observed, last: LastSync | None, fresh: list[tuple[DiskSource, Destination, Image]]
) -> LastSync:
    times = [d.synced for _, d, _ in fresh if d.synced is not None]
    return LastSync(
        cycle_number=((last.cycle_number or 0) if last else 0) + 1,
        last_sync_time=format_time(min(times)) if times else format_time(observed.now),
        snapshots=[
            DiskSnapshot(disk=source.disk, volume_snapshot=image.name, size_bytes=image.size_bytes)
            for source, _, image in fresh
        ],
    )


def _named(last: LastSync | None) -> dict[str, str | None]:
    """The image each disk had in the last complete cycle."""
    return {s.disk: s.volume_snapshot for s in (last.snapshots or [])} if last else {}


def _state(
    observed: Observed, last: LastSync | None, problem: RpcStatus | None
) -> tuple[MigratingVmState, RpcStatus | None]:
    if problem is not None:
        return MigratingVmState.ERROR, problem
    if all(observed.destinations[s.destination].paused for s in observed.disks):
        return MigratingVmState.PAUSED, None
    return (MigratingVmState.ACTIVE if last is not None else MigratingVmState.FIRST_SYNC), None


def _cycle(observed: Observed, last: LastSync | None) -> ReplicationCycle:
    """The cycle under way (or, when every disk's latest image is the last complete cycle's, that cycle)."""
    named = _named(last)
    destinations = [observed.destinations[s.destination] for s in observed.disks]
    published = [
        d for s, d in zip(observed.disks, destinations, strict=True) if d.snapshot and d.snapshot != named.get(s.disk)
    ]
    done = last is not None and not published
    starts = [d.sync_started for d in destinations if d.sync_started is not None]
    ends = [d.synced for d in destinations if d.synced is not None]
    paused = all(d.paused for d in destinations)
    return ReplicationCycle(
        cycle_number=(last.cycle_number or 0) + (0 if done else 1) if last else 1,
        start_time=format_time(min(starts)) if starts else None,
        end_time=format_time(max(ends)) if done and ends else None,
        progress_percent=100 if done else len(published) * 100 // len(destinations),
        state="SUCCEEDED" if done else "PAUSED" if paused else "RUNNING",
    )


_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration(text: object) -> timedelta | None:
    """A Go duration as metav1.Duration writes it (``1m30.5s``, ``250ms``); None when there is none or it is not one."""
    if not isinstance(text, str) or not text:
        return None
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(a + b for a, b in parts) != text:
        return None
    return timedelta(seconds=sum(float(value) * _GO_UNITS[unit] for value, unit in parts))


_QUANTITY = re.compile(r"^(\d+)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$")
_FACTORS = {None: 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}
_FACTORS |= {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}


def quantity_bytes(value: object) -> int | None:
    """A whole-number Kubernetes quantity in bytes (``10Gi``, ``500M``, ``1073741824``); None for anything else."""
    if isinstance(value, int) and value >= 0:
        return value
    match = _QUANTITY.match(value) if isinstance(value, str) else None
    return int(match[1]) * _FACTORS[match[2]] if match else None


def _time(value: object) -> datetime | None:
    try:
        return parse_time(value) if isinstance(value, str) else None
    except ValueError:
        return None
