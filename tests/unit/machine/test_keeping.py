"""A fed job's holds as a decision sees them: taken while the disks are made, let go of after or on cleanup."""

from __future__ import annotations

from datetime import UTC, datetime

from clonejob_operator.api.clonejob import CloneJobStatus, StepKind
from clonejob_operator.machine import keeping
from clonejob_operator.machine.effects import Keep
from clonejob_operator.machine.model import World
from clonejob_operator.sources.base import Keeping

NOW = datetime(2026, 12, 4, tzinfo=UTC)
FED = CloneJobStatus.model_validate({"sourceSync": {"replication": "volSync", "snapshots": []}})
WORLD = World(now=NOW, keeping=Keeping(unheld=("a",), held=("b",)))


def test_held_while_the_disks_are_made_then_let_go() -> None:
    assert keeping.holds(FED, WORLD, StepKind.PREPARING_VM_DISKS, done=False) == [Keep("volSync", "a", hold=True)]
    assert keeping.holds(FED, WORLD, StepKind.PREPARING_VM_DISKS, done=True) == [Keep("volSync", "b", hold=False)]
    assert keeping.holds(FED, WORLD, StepKind.INSTANTIATING_MIGRATED_VM, done=False) == [
        Keep("volSync", "b", hold=False)
    ]
    assert keeping.releases(FED, WORLD) == [Keep("volSync", "b", hold=False)]
    assert keeping.held(WORLD) == ("VolumeSnapshot/b (held)",)


def test_a_job_that_is_not_fed_holds_nothing() -> None:
    plain = CloneJobStatus.model_validate({"sourceSync": {"snapshots": []}})
    assert keeping.holds(plain, WORLD, StepKind.PREPARING_VM_DISKS, done=False) == []
    assert keeping.releases(plain, WORLD) == []
    assert keeping.holds(FED, World(now=NOW), StepKind.PREPARING_VM_DISKS, done=False) == []
    assert keeping.held(World(now=NOW)) == ()
