"""A fed job's holds on the images it restores from, as a decision sees them (pure).

The images are held from before the first disk is made until every disk is done: while ``preparingVmDisks``
runs, what is not held yet is taken first (ahead of any create); once it is done, in any later step, and
while cancelled or failed work is removed, what is held is let go of. A job never finishes holding one.
"""

from __future__ import annotations

from clonejob_operator.api.clonejob import CloneJobStatus, StepKind
from clonejob_operator.machine.effects import Keep
from clonejob_operator.machine.model import World


def _feed(status: CloneJobStatus) -> str | None:
    sync = status.source_sync
    return sync.replication.value if sync is not None and sync.replication is not None else None


def holds(status: CloneJobStatus, world: World, step: StepKind, done: bool) -> list[Keep]:
    """The holds to take (while the disks are made) or to let go of (after), for a look at ``step``."""
    feed, keeping = _feed(status), world.keeping
    if feed is None or keeping is None:
        return []
    if step is StepKind.PREPARING_VM_DISKS and not done:
        return [Keep(feed, image, hold=True) for image in keeping.unheld]
    return releases(status, world)


def releases(status: CloneJobStatus, world: World) -> list[Keep]:
    """Every hold the job has, let go of (its disks are done, or it is cancelled or failed)."""
    feed, keeping = _feed(status), world.keeping
    if feed is None or keeping is None:
        return []
    return [Keep(feed, image, hold=False) for image in keeping.held]


def held(world: World) -> tuple[str, ...]:
    """What the job still holds, as ``Kind/name`` for the words that say what it waits for."""
    return tuple(f"VolumeSnapshot/{image} (held)" for image in (world.keeping.held if world.keeping else ()))
