from __future__ import annotations

from clonejob_demo import standins
from clonejob_operator.names import LABEL_JOB
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME, VIRTUAL_MACHINE, VOLUME_SNAPSHOT
from tests.fakekube import FakeKube


def _hand(fake: FakeKube, **kwargs: object) -> standins.Stagehand:
    return standins.Stagehand(kube=fake, namespace="m", **kwargs)  # type: ignore[arg-type]


def _volume(fake: FakeKube, name: str, job: str) -> None:
    fake.put(DATA_VOLUME, "m", name, metadata={"name": name, "namespace": "m", "labels": {LABEL_JOB: job}})


def test_the_crds_are_marked_as_stand_ins_and_cover_the_three_kinds() -> None:
    crds = standins.crds()
    assert {c["spec"]["names"]["kind"] for c in crds} == {k.kind for k in standins.KINDS}
    assert all(standins.is_stand_in(c) for c in crds)
    assert all(c["spec"]["versions"][0]["subresources"] == {"status": {}} for c in crds)
    assert not standins.is_stand_in({"metadata": {"name": "datavolumes.cdi.kubevirt.io"}})


def test_a_data_volume_is_imported_a_step_at_a_time_then_left_alone() -> None:
    fake = FakeKube()
    _volume(fake, "cj-disk-0", "cj")
    hand = _hand(fake, step=50)
    assert hand.act() == ["DataVolume cj-disk-0 ImportInProgress 50%"]
    assert fake.status_of(DATA_VOLUME, "m", "cj-disk-0")["progress"] == "50.0%"
    assert hand.act() == ["DataVolume cj-disk-0 Succeeded 100%"]
    assert fake.status_of(DATA_VOLUME, "m", "cj-disk-0")["phase"] == "Succeeded"
    assert hand.act() == []


def test_failing_and_holding_jobs() -> None:
    fake = FakeKube()
    _volume(fake, "bad-disk-0", "bad")
    _volume(fake, "held-disk-0", "held")
    hand = _hand(fake, step=40, failing={"bad"}, holding={"held"})
    assert sorted(hand.act()) == [
        "DataVolume bad-disk-0 Failed (the import failed)",
        "DataVolume held-disk-0 ImportInProgress 40%",
    ]
    assert hand.act() == [] and fake.status_of(DATA_VOLUME, "m", "held-disk-0")["phase"] == "ImportInProgress"
    assert fake.status_of(DATA_VOLUME, "m", "bad-disk-0")["phase"] == "Failed"


def test_snapshots_become_ready_and_machines_run() -> None:
    fake = FakeKube()
    fake.put(VOLUME_SNAPSHOT, "m", "snap")
    fake.put(VIRTUAL_MACHINE, "m", "vm")
    fake.put(VIRTUAL_MACHINE, "other", "elsewhere")
    assert sorted(_hand(fake).act()) == ["VirtualMachine vm is Running", "VolumeSnapshot snap is readyToUse"]
    assert fake.status_of(VOLUME_SNAPSHOT, "m", "snap")["readyToUse"] is True
    assert fake.status_of(VIRTUAL_MACHINE, "other", "elsewhere") == {}, "only its own namespace"
