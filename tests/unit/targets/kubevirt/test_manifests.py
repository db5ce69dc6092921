"""The KubeVirt target's manifests, checked against the real KubeVirt, CDI and batch field names."""

from __future__ import annotations

from typing import Any

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


def test_adaptation_job_mounts_every_disk() -> None:
    d = details(osAdaptation={"image": "adapt:1", "args": ["--virtio"], "serviceAccountName": "adapter"})
    job = build.adaptation_job(d, "ns", "cj-adapt-os", DISKS, LABELS, 3600)
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert job["spec"]["backoffLimit"] == 0 and job["spec"]["activeDeadlineSeconds"] == 3600
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["serviceAccountName"] == "adapter"
    container = pod["containers"][0]
    assert container["image"] == "adapt:1" and container["args"] == ["--virtio"]
    assert container["volumeMounts"] == [
        {"name": "disk-0", "mountPath": "/disks/disk-0"},
        {"name": "disk-1", "mountPath": "/disks/disk-1"},
    ]
    assert {"name": "CLONEJOB_DISKS", "value": "/disks/disk-0,/disks/disk-1"} in container["env"]
    assert pod["volumes"][1] == {"name": "disk-1", "persistentVolumeClaim": {"claimName": "cj-disk-1"}}


def test_adaptation_job_block_devices() -> None:
    d = details(volumeMode="Block", osAdaptation={"image": "adapt:1"})
    container = build.adaptation_job(d, "ns", "j", DISKS[:1], LABELS, 60)["spec"]["template"]["spec"]["containers"][0]
    assert container["volumeDevices"] == [{"name": "disk-0", "devicePath": "/dev/disk-0"}]
    assert "volumeMounts" not in container
