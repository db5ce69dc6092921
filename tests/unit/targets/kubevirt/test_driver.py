from __future__ import annotations

import pytest

from clonejob_operator.api.clonejob import StepKind
from clonejob_operator.api.migratingvm import LastSync, MigratingVmSpec
from clonejob_operator.codes import Code, JobError
from clonejob_operator.targets.base import Source
from clonejob_operator.targets.kubevirt.driver import KubevirtDriver, _percent


def source(defaults: dict[str, object], snapshots: list[dict[str, object]]) -> Source:
    spec = MigratingVmSpec.model_validate({"sourceVmId": "v", "kubevirtTargetDefaults": defaults})
    return Source("web-1", "mvm-uid", spec, LastSync.model_validate({"cycleNumber": 4, "snapshots": snapshots}))


def test_plan_resolves_every_default() -> None:
    plan = KubevirtDriver(kube=None).plan("web-1-test", source({}, [{"disk": "d", "volumeSnapshot": "s"}]))  # type: ignore[arg-type]
    details = plan.target["kubevirt_target_details"]
    assert details.wire() == {
        "vmName": "web-1-test",
        "diskBus": "virtio",
        "firmware": {"bootloader": "BIOS"},
        "memory": "2Gi",
        "cpu": {"cores": 1},
        "networks": [{"name": "default", "pod": {}, "binding": "masquerade"}],
        "runStrategy": "Always",
    }
    assert plan.steps == (StepKind.PREPARING_VM_DISKS, StepKind.INSTANTIATING_MIGRATED_VM)
    assert plan.source_sync.cycle_number == 4 and plan.source_sync.migrating_vm_uid == "mvm-uid"


def test_plan_keeps_instancetype_without_memory_and_adds_adaptation() -> None:
    defaults = {"vmName": "clone", "instancetype": {"name": "u1.large"}, "osAdaptation": {"image": "a:1"}}
    plan = KubevirtDriver(kube=None).plan("cj", source(defaults, []))  # type: ignore[arg-type]
    details = plan.target["kubevirt_target_details"]
    assert details.vm_name == "clone" and details.memory is None
    assert plan.steps == (StepKind.PREPARING_VM_DISKS, StepKind.ADAPTING_OS, StepKind.INSTANTIATING_MIGRATED_VM)


def test_plan_refuses_a_disk_without_a_volumesnapshot_naming_the_field() -> None:
    snapshots = [{"disk": "a", "volumeSnapshot": "s"}, {"disk": "b", "computeEngineSnapshot": "projects/p/snap"}]
    with pytest.raises(JobError) as caught:
        KubevirtDriver(kube=None).plan("cj", source({}, snapshots))  # type: ignore[arg-type]
    assert caught.value.code is Code.INVALID_ARGUMENT
    assert "status.lastSync.snapshots[1].volumeSnapshot" in caught.value.message


@pytest.mark.parametrize(
    ("text", "value"), [("45.5%", 45.5), ("100.0%", 99.0), ("N/A", 0.0), (None, 0.0), ("7 %", 7.0)]
)
def test_datavolume_progress_parsing(text: str | None, value: float) -> None:
    assert _percent(text) == value
