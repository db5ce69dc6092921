from __future__ import annotations

from clonejob_operator.api.migratingvm import LastSync, MigratingVmSpec
from clonejob_operator.codes import Code
from clonejob_operator.targets.base import Source
from clonejob_operator.targets.computeengine.driver import ComputeEngineDriver, disks_details, vm_details
from clonejob_operator.targets.computeengine.model import ComputeEngineDisksTargetDefaults, ComputeEngineTargetDefaults


def test_vm_details_copy_the_defaults_field_for_field() -> None:
    defaults = ComputeEngineTargetDefaults.model_validate(
        {
            "vmName": "web",
            "targetProject": "projects/p/locations/global/targetProjects/tp",
            "zone": "europe-west1-b",
            "machineType": "n2-standard-4",
            "networkInterfaces": [{"network": "default", "networkTier": "NETWORK_TIER_PREMIUM"}],
            "diskType": "COMPUTE_ENGINE_DISK_TYPE_SSD",
            "secureBoot": True,
            "labels": {"a": "b"},
        }
    )
    details = vm_details(defaults).wire()
    assert details == {
        "vmName": "web",
        "zone": "europe-west1-b",
        "machineType": "n2-standard-4",
        "networkInterfaces": [{"network": "default", "networkTier": "NETWORK_TIER_PREMIUM"}],
        "diskType": "COMPUTE_ENGINE_DISK_TYPE_SSD",
        "labels": {"a": "b"},
        "secureBoot": True,
    }


def test_disks_details() -> None:
    vm = ComputeEngineDisksTargetDefaults.model_validate(
        {"zone": "z", "vmTargetDefaults": {"vmName": "v", "machineType": "m"}, "disks": [{"sourceDiskNumber": 1}]}
    )
    assert disks_details(vm).wire() == {"vmTargetDetails": {}, "disks": [{"sourceDiskNumber": 1}]}
    only_disks = ComputeEngineDisksTargetDefaults.model_validate({"zone": "z"})
    assert disks_details(only_disks).wire() == {"disksTargetDetails": {}}


def test_plan_records_details_and_mirrors_then_refuses() -> None:
    spec = MigratingVmSpec.model_validate({"sourceVmId": "v", "computeEngineTargetDefaults": {"zone": "z"}})
    plan = ComputeEngineDriver().plan("cj", Source("web-1", "uid", spec, LastSync(cycle_number=2)))
    assert plan.refusal is not None and plan.refusal.code is Code.UNIMPLEMENTED
    assert set(plan.target) == {"compute_engine_target_details", "target_details", "compute_engine_vm_details"}
    assert plan.source_sync.cycle_number == 2 and plan.steps == ()
