from __future__ import annotations

from collections.abc import Mapping

import pytest

from clonejob_operator.api.clonejob import StepKind
from clonejob_operator.api.migratingvm import LastSync, MigratingVmSpec
from clonejob_operator.codes import Code, JobError
from clonejob_operator.kube import ADAPTATION_PROFILE
from clonejob_operator.targets.base import Source
from clonejob_operator.targets.kubevirt.driver import KubevirtDriver, _percent
from tests.fakekube import FakeKube


def source(defaults: Mapping[str, object], snapshots: list[dict[str, object]]) -> Source:
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


def profiles(*names: str) -> FakeKube:
    kube = FakeKube()
    for name in names:
        kube.put(ADAPTATION_PROFILE, "", name, spec={"image": "adapt:1"})
    return kube


def test_plan_keeps_instancetype_without_memory_and_adds_adaptation() -> None:
    defaults = {"vmName": "clone", "instancetype": {"name": "u1.large"}, "osAdaptation": {"profile": "virt-v2v"}}
    plan = KubevirtDriver(kube=profiles("virt-v2v")).plan("cj", source(defaults, []))
    details = plan.target["kubevirt_target_details"]
    assert details.vm_name == "clone" and details.memory is None
    assert details.os_adaptation.profile == "virt-v2v"
    assert plan.steps == (StepKind.PREPARING_VM_DISKS, StepKind.ADAPTING_OS, StepKind.INSTANTIATING_MIGRATED_VM)


def test_plan_refuses_an_adaptation_profile_that_does_not_exist_naming_the_field() -> None:
    defaults = {"osAdaptation": {"profile": "nope"}}
    with pytest.raises(JobError) as caught:
        KubevirtDriver(kube=profiles("virt-v2v")).plan("cj", source(defaults, []))
    assert caught.value.code is Code.FAILED_PRECONDITION
    assert "AdaptationProfile nope (MigratingVm web-1: spec.kubevirtTargetDefaults.osAdaptation.profile)" in str(
        caught.value.message
    )


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


@pytest.mark.parametrize(("name", "refused"), [("lan", False), ("team-a/lan", False), ("team-b/secure-net", True)])
def test_a_multus_network_of_another_namespace_is_refused_naming_the_field(name: str, refused: bool) -> None:
    networks = [{"name": "p", "pod": {}}, {"name": "n", "multus": {"networkName": name}}]
    spec = MigratingVmSpec.model_validate({"sourceVmId": "v", "kubevirtTargetDefaults": {"networks": networks}})
    snapshots = LastSync.model_validate({"snapshots": [{"disk": "d", "volumeSnapshot": "s"}]})
    source = Source("web-1", "mvm-uid", spec, snapshots, namespace="team-a")
    if not refused:
        assert KubevirtDriver(kube=FakeKube()).plan("cj", source).steps
        return
    with pytest.raises(JobError) as caught:
        KubevirtDriver(kube=FakeKube()).plan("cj", source)
    assert caught.value.code is Code.INVALID_ARGUMENT
    assert "spec.kubevirtTargetDefaults.networks[1].multus.networkName 'team-b/secure-net'" in caught.value.message
