"""Every refusal the CRDs' CEL rules can give, as a user sees it: the field, the rule's message, and
(through the plugin's formatting) nothing of the API server's boilerplate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from clonejob_kubectl.query import server_message
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Kube
from tests.integration.kit import World, manifest


def _mvm(spec: dict[str, Any]) -> Callable[[World], Any]:
    return lambda world: world.kube.create(
        MIGRATING_VM, world.namespace, manifest(MIGRATING_VM, world.namespace, "bad", {"sourceVmId": "v", **spec})
    )


def _job_patch(
    patch: dict[str, Any], status: dict[str, Any] | None = None, first: Any = None
) -> Callable[[World], Any]:
    def act(world: World) -> Any:
        world.clone_job("cj", migrating_vm="web-1")
        if status is not None:
            world.set_status(CLONE_JOB, "cj", status)
        if first is not None:
            world.kube.patch(CLONE_JOB, world.namespace, "cj", first)
        return world.kube.patch(CLONE_JOB, world.namespace, "cj", patch)

    return act


def _job_status(status: dict[str, Any]) -> Callable[[World], Any]:
    def act(world: World) -> Any:
        world.clone_job("cj", migrating_vm="web-1")
        return world.set_status(CLONE_JOB, "cj", status)

    return act


def _mvm_status(status: dict[str, Any]) -> Callable[[World], Any]:
    def act(world: World) -> Any:
        world.create(MIGRATING_VM, "m", {"sourceVmId": "v", "kubevirtTargetDefaults": {}})
        return world.set_status(MIGRATING_VM, "m", status)

    return act


def _job_of(migrating_vm: str) -> Callable[[World], Any]:
    return lambda world: world.clone_job("cj", migrating_vm=migrating_vm)


CASES: list[tuple[str, Callable[[World], Any], str]] = [
    (
        "another-namespace",
        _job_of("other/web-1"),
        'spec.migratingVm: Invalid value: "other/web-1": a CloneJob clones a MigratingVm of its own namespace: '
        "give its name alone (no namespace, no path)",
    ),
    (
        "a-path",
        _job_of("namespaces/other/migratingVms/web-1"),
        'spec.migratingVm: Invalid value: "namespaces/other/migratingVms/web-1": a CloneJob clones a MigratingVm of '
        "its own namespace: give its name alone (no namespace, no path)",
    ),
    (
        "not-a-name",
        _job_of("Web_1"),
        'spec.migratingVm: Invalid value: "Web_1": migratingVm must be a MigratingVm\'s name: lowercase letters, '
        "digits, '-' and '.'",
    ),
    (
        "one-target",
        _mvm({"kubevirtTargetDefaults": {}, "computeEngineTargetDefaults": {}}),
        "spec: exactly one of kubevirtTargetDefaults, computeEngineTargetDefaults, "
        "computeEngineDisksTargetDefaults must be set",
    ),
    (
        "instancetype-or-cpu",
        _mvm({"kubevirtTargetDefaults": {"instancetype": {"name": "u1"}, "memory": "2Gi"}}),
        "spec.kubevirtTargetDefaults.instancetype: set instancetype or cpu/memory, not both",
    ),
    (
        "pod-or-multus",
        _mvm({"kubevirtTargetDefaults": {"networks": [{"name": "n"}]}}),
        "spec.kubevirtTargetDefaults.networks[0]: exactly one of pod, multus must be set",
    ),
    (
        "secure-boot-efi",
        _mvm({"kubevirtTargetDefaults": {"firmware": {"secureBoot": True}}}),
        "spec.kubevirtTargetDefaults.firmware.secureBoot: secureBoot requires bootloader: EFI",
    ),
    (
        "disks-or-vm",
        _mvm(
            {
                "computeEngineDisksTargetDefaults": {
                    "disksTargetDefaults": {},
                    "vmTargetDefaults": {"vmName": "v", "machineType": "m"},
                }
            }
        ),
        "spec.computeEngineDisksTargetDefaults: set at most one of disksTargetDefaults and vmTargetDefaults",
    ),
    (
        "snapshot-source",
        _mvm_status({"lastSync": {"snapshots": [{"disk": "d"}]}}),
        "status.lastSync.snapshots[0]: exactly one of volumeSnapshot, computeEngineSnapshot must be set",
    ),
    (
        "migratingvm-immutable",
        _job_patch({"spec": {"migratingVm": "web-2"}}),
        'spec.migratingVm: Invalid value: "web-2": migratingVm is immutable; create a new CloneJob to clone another VM',
    ),
    (
        "cancel-one-way",
        _job_patch({"spec": {"cancel": False}}, first={"spec": {"cancel": True}}),
        "spec.cancel: Invalid value: false: cancel may only change from false to true",
    ),
    (
        "cancel-finished",
        _job_patch({"spec": {"cancel": True}}, {"state": "FAILED"}),
        "spec.cancel: the CloneJob has finished (status.state FAILED): there is nothing to cancel",
    ),
    (
        "one-step-member",
        _job_status({"steps": [{"startTime": "2026-11-26T10:00:00Z"}]}),
        "status.steps[0]: exactly one of preparingVmDisks, adaptingOs, instantiatingMigratedVm must be set",
    ),
]


@pytest.mark.parametrize(("action", "message"), [(a, m) for _, a, m in CASES], ids=[c[0] for c in CASES])
def test_each_cel_refusal_says_the_field_and_why(kube: Kube, world: World, action: Any, message: str) -> None:
    with pytest.raises(ApiException) as raised:
        action(world)
    assert raised.value.status == 422
    assert server_message(raised.value) == message


def test_a_region_is_no_zone(world: World) -> None:
    defaults = {"targetProject": "tp", "zone": "europe-west1", "machineType": "n2-standard-2"}
    with pytest.raises(ApiException) as raised:
        _mvm({"computeEngineTargetDefaults": defaults})(world)
    assert raised.value.status == 422
    assert "zone: Invalid value" in server_message(raised.value)
    assert "a zone, such as europe-west1-b: a region (europe-west1) is not one" in server_message(raised.value)
