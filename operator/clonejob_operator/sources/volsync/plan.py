"""What a VolSync-fed MigratingVm's commit writes, worked out from what one look found (pure).

- ``Holds.of``: which images the MigratingVm takes hold of now, and which it lets go of;
- ``running``, ``restored_from``, ``awaited``, ``unrecorded_claim``: what the running CloneJob needs kept;
- ``status_patch``: the merge patch of the status members the feed keeps (never ``recentCloneJobs``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from clonejob_operator.api.clonejob import State
from clonejob_operator.api.migratingvm import Feed, MigratingVmStatus
from clonejob_operator.kube import Body
from clonejob_operator.sources.base import JOB_HOLDER, holder
from clonejob_operator.sources.volsync import holds

KEPT = ("state", "stateTime", "error", "lastSync", "lastReplicationCycle", "heldSnapshots")
"""The status members the feed writes: everything but ``recentCloneJobs`` (the CloneJobs' own record)."""
_FINISHED = frozenset(state.value for state in State if state.terminal)


@dataclass(frozen=True)
class Holds:
    hold: tuple[str, ...]
    """Taken before the status names them, in name order."""
    release: frozenset[str]
    """Let go of once the status no longer names them."""

    @classmethod
    def of(cls, cycle: frozenset[str], mine: set[str], latest: frozenset[str], awaited: frozenset[str] | None) -> Holds:
        """``cycle``: the images of the last complete cycle; ``mine``: those the MigratingVm holds now;
        ``latest``: the images the ReplicationDestinations publish as their latest now; ``awaited``: the
        images started CloneJobs restore from and do not hold yet (None: a job has claimed the MigratingVm but
        not yet recorded what it restores from, so nothing is let go of).

        Only an image VolSync publishes as its latest is taken hold of: one that is not is either held already
        or was named by a status the feed did not write."""
        hold = tuple(sorted(name for name in cycle - mine if name in latest))
        release = frozenset() if awaited is None else frozenset(mine - cycle - awaited)
        return cls(hold=hold, release=release)


def recorded(status: MigratingVmStatus) -> set[str]:
    """The images the status records the MigratingVm holds (``heldSnapshots``)."""
    return set(status.held_snapshots or [])


def record(status: MigratingVmStatus, held: set[str] | frozenset[str]) -> MigratingVmStatus:
    """``status`` recording ``held`` as what the MigratingVm holds."""
    return status.model_copy(update={"held_snapshots": sorted(held) or None})


def published(status: MigratingVmStatus) -> set[str]:
    """The images the status names as its last complete cycle."""
    snapshots = status.last_sync.snapshots or [] if status.last_sync else []
    return {s.volume_snapshot for s in snapshots if s.volume_snapshot}


def running(migrating_vm: Body) -> list[tuple[str, str | None]]:
    """(name, uid) of the CloneJobs its recentCloneJobs names as unfinished (one runs at a time)."""
    entries = (migrating_vm.get("status") or {}).get("recentCloneJobs") or []
    return [
        (str(e.get("name", "")).rsplit("/", 1)[-1], e.get("uid"))
        for e in entries
        if isinstance(e, dict) and e.get("name") and e.get("state") not in _FINISHED
    ]


def _fed_sync(job: Body) -> dict[str, Any]:
    """A started, unfinished, fed job's status.sourceSync (empty for any other)."""
    status = job.get("status") or {}
    sync = status.get("sourceSync") or {}
    fed = status.get("state") not in _FINISHED and sync.get("replication") == Feed.VOL_SYNC.value
    return dict(sync) if fed else {}


def _named(job: Body) -> set[str]:
    snapshots = _fed_sync(job).get("snapshots") or []
    return {str(s.get("volumeSnapshot")) for s in snapshots if isinstance(s, dict) and s.get("volumeSnapshot")}


def restored_from(jobs: Iterable[Body]) -> set[str]:
    """The images started, unfinished, fed CloneJobs restore from."""
    return {name for job in jobs for name in _named(job)}


def awaited(jobs: Iterable[Body], images: Mapping[str, Body]) -> frozenset[str]:
    """The images started, unfinished, fed CloneJobs restore from and do not hold yet."""
    out: set[str] = set()
    for job in jobs:
        who = holder(JOB_HOLDER, str((job.get("metadata") or {}).get("uid", "")))
        out |= {name for name in _named(job) if name in images and who not in holds.Holding.of(images[name]).holders}
    return frozenset(out)


def unrecorded_claim(migrating_vm: Body, jobs: Mapping[str, Body]) -> bool:
    """Whether a CloneJob holds the MigratingVm's running slot (its recentCloneJobs entry) but has not yet
    recorded what it restores from: it may be about to, from the images the status names now. ``jobs``: the
    running ones that exist, by name; an entry of a job that is gone (deleted mid-run) claims nothing."""
    return any(
        name in jobs and not ((jobs[name].get("status") or {}).get("sourceSync")) for name, _ in running(migrating_vm)
    )


def status_patch(old: MigratingVmStatus, new: MigratingVmStatus) -> Body | None:
    """The merge patch from ``old`` to ``new`` of the members the feed keeps; None when nothing changed."""
    before, after = old.wire(), new.wire()
    patch: dict[str, Any] = {}
    for member in KEPT:
        if before.get(member) != after.get(member):
            patch[member] = after.get(member)
    return patch or None


def told(status: MigratingVmStatus) -> str:
    """A state change, as the log says it."""
    state = status.state.value if status.state else "STATE_UNSPECIFIED"
    if status.error is not None:
        return f"{state}: {status.error.message}"
    cycle = status.last_sync.cycle_number if status.last_sync else None
    return f"{state}" + (f" (last complete cycle {cycle})" if cycle else "")
