"""The KubeVirt target's manifests, checked against the real KubeVirt, CDI and batch field names."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from clonejob_operator.api.adaptation import AdaptationProfileSpec
from clonejob_operator.api.kubevirt import KubevirtTargetDetails
from clonejob_operator.targets.kubevirt import manifests as build

LABELS = {"vmmigration.dev/clone-job": "cj"}
DISKS = [build.Disk(0, "cj-disk-0", "snap-0", "1073741824"), build.Disk(1, "cj-disk-1", "snap-1", None)]


def details(**fields: Any) -> KubevirtTargetDetails:
    return KubevirtTargetDetails.model_validate({"vmName": "cj", **fields})


def test_data_volume_from_snapshot() -> None:
    dv = build.data_volume(
        details(storageClassName="fast", accessModes=["ReadWriteOnce"], volumeMode="Block"), "ns", DISKS[0], LABELS
    )
    assert dv["apiVersion"] == "cdi.kubevirt.io/v1beta1" and dv["kind"] == "DataVolume"
    assert dv["metadata"]["annotations"] == {"cdi.kubevirt.io/storage.bind.immediate.requested": "true"}
    assert dv["spec"] == {
        "source": {"snapshot": {"namespace": "ns", "name": "snap-0"}},
        "storage": {
            "storageClassName": "fast",
            "accessModes": ["ReadWriteOnce"],
            "volumeMode": "Block",
            "resources": {"requests": {"storage": "1073741824"}},
        },
    }
    assert "ownerReferences" not in dv["metadata"]


def test_data_volume_without_size_lets_cdi_infer() -> None:
    dv = build.data_volume(details(), "ns", DISKS[1], LABELS)
    assert dv["spec"]["storage"] == {}


def test_vm_defaults() -> None:
    vm = build.virtual_machine(details(), "ns", DISKS, LABELS)
    spec = vm["spec"]
    assert vm["apiVersion"] == "kubevirt.io/v1" and vm["metadata"]["name"] == "cj"
    assert spec["runStrategy"] == "Always"
    domain = spec["template"]["spec"]["domain"]
    assert domain["cpu"] == {"cores": 1} and domain["memory"] == {"guest": "2Gi"}
    assert domain["firmware"] == {"bootloader": {"bios": {}}}
    assert domain["devices"]["disks"] == [
        {"name": "disk-0", "disk": {"bus": "virtio"}, "bootOrder": 1},
        {"name": "disk-1", "disk": {"bus": "virtio"}},
    ]
    assert domain["devices"]["interfaces"] == [{"name": "default", "masquerade": {}}]
    assert spec["template"]["spec"]["networks"] == [{"name": "default", "pod": {}}]
    assert spec["template"]["spec"]["volumes"] == [
        {"name": "disk-0", "dataVolume": {"name": "cj-disk-0"}},
        {"name": "disk-1", "dataVolume": {"name": "cj-disk-1"}},
    ]
    assert spec["template"]["metadata"]["labels"] == LABELS


def test_vm_instancetype_preference_efi_networks_hostname() -> None:
    vm = build.virtual_machine(
        details(
            instancetype={"name": "u1.medium", "kind": "VirtualMachineClusterInstancetype"},
            preference={"name": "fedora"},
            firmware={"bootloader": "EFI", "secureBoot": True},
            networks=[{"name": "default", "pod": {}}, {"name": "lan", "multus": {"networkName": "infra/lan"}}],
            hostname="web",
            labels={"app": "web"},
            runStrategy="Halted",
            diskBus="sata",
        ),
        "ns",
        DISKS[:1],
        LABELS,
    )
    spec = vm["spec"]
    assert spec["instancetype"] == {"name": "u1.medium", "kind": "VirtualMachineClusterInstancetype"}
    assert spec["preference"] == {"name": "fedora"}
    assert spec["runStrategy"] == "Halted"
    template = spec["template"]["spec"]
    assert "cpu" not in template["domain"] and "memory" not in template["domain"]
    assert template["domain"]["firmware"] == {"bootloader": {"efi": {"secureBoot": True}}}
    assert template["domain"]["features"] == {"smm": {"enabled": True}}
    assert template["domain"]["devices"]["interfaces"] == [
        {"name": "default", "masquerade": {}},
        {"name": "lan", "bridge": {}},
    ]
    assert template["networks"][1] == {"name": "lan", "multus": {"networkName": "infra/lan"}}
    assert template["hostname"] == "web"
    assert template["domain"]["devices"]["disks"][0]["disk"] == {"bus": "sata"}
    assert vm["metadata"]["labels"] == {"app": "web", **LABELS}


def test_vm_efi_without_secure_boot_says_so() -> None:
    vm = build.virtual_machine(
        details(firmware={"bootloader": "EFI"}, cpu={"cores": 4, "sockets": 2}, memory="8Gi"), "ns", DISKS, LABELS
    )
    domain = vm["spec"]["template"]["spec"]["domain"]
    assert domain["firmware"] == {"bootloader": {"efi": {"secureBoot": False}}}
    assert "features" not in domain
    assert domain["cpu"] == {"cores": 4, "sockets": 2} and domain["memory"] == {"guest": "8Gi"}


def test_adaptation_job_runs_the_profile_and_mounts_every_disk() -> None:
    profile = AdaptationProfileSpec.model_validate(
        {
            "image": "adapt:1",
            "args": ["--virtio"],
            "serviceAccountName": "adapter",
            "env": [{"name": "X", "value": "1"}],
        }
    )
    job = build.adaptation_job(profile, None, ("ns", "cj-adapt-os"), DISKS, LABELS, 3600)
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert job["spec"]["backoffLimit"] == 0 and job["spec"]["activeDeadlineSeconds"] == 3600
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["serviceAccountName"] == "adapter"
    assert pod["automountServiceAccountToken"] is False, "no token unless the profile asks for one"
    container = pod["containers"][0]
    assert container["image"] == "adapt:1" and container["args"] == ["--virtio"]
    assert container["securityContext"] == {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["volumeMounts"] == [
        {"name": "disk-0", "mountPath": "/disks/disk-0"},
        {"name": "disk-1", "mountPath": "/disks/disk-1"},
    ]
    assert container["env"][0] == {"name": "CLONEJOB_DISKS", "value": "/disks/disk-0,/disks/disk-1"}
    assert container["env"][-1] == {"name": "X", "value": "1"}
    assert pod["volumes"][1] == {"name": "disk-1", "persistentVolumeClaim": {"claimName": "cj-disk-1"}}


def test_the_profile_decides_the_token_the_security_context_and_the_resources() -> None:
    profile = AdaptationProfileSpec.model_validate(
        {
            "image": "adapt:1",
            "automountServiceAccountToken": True,
            "backoffLimit": 2,
            "securityContext": {"runAsUser": 0, "privileged": True},
            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
            "env": [{"name": "CLONEJOB_DISKS", "value": "/etc"}],
        }
    )
    job = build.adaptation_job(profile, "Block", ("ns", "j"), DISKS[:1], LABELS, 60)
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["automountServiceAccountToken"] is True and job["spec"]["backoffLimit"] == 2
    assert container["securityContext"] == {"runAsUser": 0, "privileged": True}
    assert container["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}
    assert [e["value"] for e in container["env"] if e["name"] == "CLONEJOB_DISKS"] == ["/dev/disk-0"]
    assert container["volumeDevices"] == [{"name": "disk-0", "devicePath": "/dev/disk-0"}]
    assert "volumeMounts" not in container and "serviceAccountName" not in pod


def test_user_labels_go_on_the_vm_and_only_pod_labels_on_its_pods() -> None:
    """A Service that selects app=web must not send production traffic to a test clone."""
    vm = build.virtual_machine(details(labels={"app": "web"}, podLabels={"clone": "yes"}), "ns", DISKS, LABELS)
    assert vm["metadata"]["labels"] == {"app": "web", **LABELS}
    assert vm["spec"]["template"]["metadata"]["labels"] == {"clone": "yes", **LABELS}


@pytest.mark.parametrize(
    "key", ["kubevirt.io/domain", "vm.kubevirt.io/name", "vmmigration.dev/clone-job-uid", "a" * 318]
)
def test_a_label_key_that_kubevirt_or_the_operator_owns_is_refused(key: str) -> None:
    for field in ("labels", "podLabels"):
        with pytest.raises(ValidationError):
            details(**{field: {key: "x"}})
