"""The API server itself rejects bad manifests, with messages that name the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Kube
from tests.integration.kit import World, manifest


def _rejected(call: Any) -> str:
    with pytest.raises(ApiException) as caught:
        call()
    assert caught.value.status in (400, 422), caught.value.body
    return str(json.loads(caught.value.body or "{}")["message"])


def _create(kube: Kube, namespace: str, kind: Any, spec: dict[str, Any], name: str = "x") -> Any:
    return lambda: kube.create(kind, namespace, manifest(kind, namespace, name, spec))


def _patch(kube: Kube, namespace: str, name: str, patch: dict[str, Any]) -> Any:
    return lambda: kube.patch(CLONE_JOB, namespace, name, patch)


def test_clonejob_without_migratingvm(kube: Kube, namespace: str) -> None:
    assert "spec.migratingVm: Required value" in _rejected(_create(kube, namespace, CLONE_JOB, {}))


def test_clonejob_unknown_field(kube: Kube, namespace: str) -> None:
    def create() -> Any:
        return kube.call(
            kube.custom.create_namespaced_custom_object,
            CLONE_JOB.group,
            CLONE_JOB.version,
            namespace,
            CLONE_JOB.plural,
            {
                "apiVersion": CLONE_JOB.api_version,
                "kind": CLONE_JOB.kind,
                "metadata": {"name": "x"},
                "spec": {"migratingVm": "a", "migratingVM": "b"},
            },
            field_validation="Strict",
        )

    assert 'unknown field "spec.migratingVM"' in _rejected(create)


def test_clonejob_naming_another_namespace(kube: Kube, namespace: str) -> None:
    message = _rejected(_create(kube, namespace, CLONE_JOB, {"migratingVm": "other-ns/web-1"}))
    assert "spec.migratingVm" in message


def test_uncancel_is_rejected(kube: Kube, world: World, namespace: str) -> None:
    world.clone_job("cj")
    _patch(kube, namespace, "cj", {"spec": {"cancel": True}})()
    message = _rejected(_patch(kube, namespace, "cj", {"spec": {"cancel": False}}))
    assert "spec.cancel" in message and "only change from false to true" in message


def test_spec_change_is_rejected(kube: Kube, world: World, namespace: str) -> None:
    world.clone_job("cj")
    message = _rejected(_patch(kube, namespace, "cj", {"spec": {"migratingVm": "web-2"}}))
    assert "spec.migratingVm" in message and "immutable" in message


def test_migratingvm_with_two_targets(kube: Kube, namespace: str) -> None:
    spec = {"sourceVmId": "vm-1", "kubevirtTargetDefaults": {}, "computeEngineTargetDefaults": {}}
    message = _rejected(_create(kube, namespace, MIGRATING_VM, spec))
    assert "exactly one of kubevirtTargetDefaults, computeEngineTargetDefaults" in message


def test_migratingvm_without_target_or_source(kube: Kube, namespace: str) -> None:
    message = _rejected(_create(kube, namespace, MIGRATING_VM, {"kubevirtTargetDefaults": {}}))
    assert "spec.sourceVmId: Required value" in message
    message = _rejected(_create(kube, namespace, MIGRATING_VM, {"sourceVmId": "vm-1"}))
    assert "exactly one of" in message


@pytest.mark.parametrize(
    ("defaults", "field"),
    [
        ({"firmware": {"secureBoot": True}}, "spec.kubevirtTargetDefaults.firmware.secureBoot"),
        ({"instancetype": {"name": "u1.small"}, "memory": "2Gi"}, "spec.kubevirtTargetDefaults.instancetype"),
        ({"runStrategy": "Sometimes"}, "spec.kubevirtTargetDefaults.runStrategy"),
        ({"memory": "lots"}, "spec.kubevirtTargetDefaults.memory"),
        (
            {"networks": [{"name": "a", "pod": {}}, {"name": "a", "multus": {"networkName": "x"}}]},
            "spec.kubevirtTargetDefaults.networks[1]: Duplicate value",
        ),
        ({"accessModes": ["ReadWriteOnce", "ReadWriteOnce"]}, "spec.kubevirtTargetDefaults.accessModes[1]: Duplicate"),
        (
            {"networks": [{"name": "n", "pod": {}, "multus": {"networkName": "x"}}]},
            "spec.kubevirtTargetDefaults.networks[0]",
        ),
    ],
)
def test_kubevirt_defaults_rejected_naming_field(
    kube: Kube, namespace: str, defaults: dict[str, Any], field: str
) -> None:
    spec = {"sourceVmId": "vm-1", "kubevirtTargetDefaults": defaults}
    assert field in _rejected(_create(kube, namespace, MIGRATING_VM, spec))


@pytest.mark.parametrize(
    ("member", "defaults", "field"),
    [
        ("computeEngineTargetDefaults", {"bootOption": "COMPUTE_ENGINE_BOOT_OPTION_EFI"}, "bootOption"),
        ("computeEngineTargetDefaults", {"appliedLicense": {"type": "BYOL"}}, "appliedLicense"),
    ],
)
def test_output_only_fields_are_refused_in_the_compute_engine_defaults(
    kube: Kube, namespace: str, member: str, defaults: dict[str, Any], field: str
) -> None:
    """kubectl validates strictly by default and so refuses them; a lax client has them pruned."""
    body = manifest(MIGRATING_VM, namespace, "x", {"sourceVmId": "vm-1", member: defaults})
    group, version, plural = MIGRATING_VM.group, MIGRATING_VM.version, MIGRATING_VM.plural
    custom = kube.custom

    def create() -> Any:
        return custom.create_namespaced_custom_object(
            group, version, namespace, plural, body, field_validation="Strict"
        )

    message = _rejected(create)
    assert f"spec.{member}.{field}" in message and "unknown field" in message
    pruned: Any = custom.create_namespaced_custom_object(group, version, namespace, plural, body)  # server's default
    assert field not in pruned["spec"][member]


def test_status_step_must_have_exactly_one_member(kube: Kube, world: World, namespace: str) -> None:
    world.clone_job("cj")
    message = _rejected(
        lambda: kube.patch_status(
            CLONE_JOB, namespace, "cj", {"status": {"steps": [{"startTime": "2026-11-26T10:00:00Z"}]}}
        )
    )
    assert "status.steps[0]" in message


def test_status_timestamps_must_be_rfc3339_utc(kube: Kube, world: World, namespace: str) -> None:
    world.clone_job("cj")
    message = _rejected(
        lambda: kube.patch_status(CLONE_JOB, namespace, "cj", {"status": {"createTime": "2026-11-26 10:00:00+01:00"}})
    )
    assert "status.createTime" in message
