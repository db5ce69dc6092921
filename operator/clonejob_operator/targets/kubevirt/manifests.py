"""Manifests for the KubeVirt target: CDI DataVolumes, the adaptation Job, the KubeVirt VirtualMachine.

Field names follow cdi.kubevirt.io/v1beta1 DataVolume, kubevirt.io/v1 VirtualMachine and batch/v1 Job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clonejob_operator.api.adaptation import RESTRICTED, AdaptationProfileSpec
from clonejob_operator.api.kubevirt import KubevirtTargetDetails, Network, with_defaults
from clonejob_operator.targets.kubevirt.kinds import BATCH_JOB, DATA_VOLUME, VIRTUAL_MACHINE

Manifest = dict[str, Any]
BIND_IMMEDIATE = "cdi.kubevirt.io/storage.bind.immediate.requested"


@dataclass(frozen=True)
class Disk:
    """A disk of the clone: its DataVolume (and so PVC) name, and where it comes from."""

    index: int
    name: str
    volume_snapshot: str
    size: str | None


def _meta(name: str, namespace: str, labels: dict[str, str], annotations: dict[str, str] | None = None) -> Manifest:
    meta: Manifest = {"name": name, "namespace": namespace, "labels": dict(labels)}
    if annotations:
        meta["annotations"] = annotations
    return meta


def data_volume(details: KubevirtTargetDetails, namespace: str, disk: Disk, labels: dict[str, str]) -> Manifest:
    """A DataVolume restored from the disk's VolumeSnapshot, bound at once (the VM comes only later)."""
    storage: Manifest = {}
    if details.storage_class_name:
        storage["storageClassName"] = details.storage_class_name
    if details.access_modes:
        storage["accessModes"] = list(details.access_modes)
    if details.volume_mode:
        storage["volumeMode"] = details.volume_mode
    if disk.size:
        storage["resources"] = {"requests": {"storage": disk.size}}
    return {
        "apiVersion": DATA_VOLUME.api_version,
        "kind": DATA_VOLUME.kind,
        "metadata": _meta(disk.name, namespace, labels, {BIND_IMMEDIATE: "true"}),
        "spec": {
            "source": {"snapshot": {"namespace": namespace, "name": disk.volume_snapshot}},
            "storage": storage,
        },
    }


def adaptation_job(
    profile: AdaptationProfileSpec,
    volume_mode: str | None,
    where: tuple[str, str],
    disks: list[Disk],
    labels: dict[str, str],
    deadline_seconds: int,
) -> Manifest:
    """A Job in ``where`` (namespace, name) that runs the profile's image with every disk attached, then exits.

    What runs, and as whom, is the profile's (a cluster admin's); the pod gets no ServiceAccount token unless
    the profile asks for one, and the restricted securityContext unless it gives another.
    """
    namespace, name = where
    container = _adaptation_container(profile, volume_mode == "Block", disks)
    pod: Manifest = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": profile.automount_service_account_token,
        "containers": [container],
        "volumes": [{"name": f"disk-{d.index}", "persistentVolumeClaim": {"claimName": d.name}} for d in disks],
    }
    if profile.service_account_name:
        pod["serviceAccountName"] = profile.service_account_name
    return {
        "apiVersion": BATCH_JOB.api_version,
        "kind": BATCH_JOB.kind,
        "metadata": _meta(name, namespace, labels),
        "spec": {
            "backoffLimit": profile.backoff_limit,
            "activeDeadlineSeconds": max(1, deadline_seconds),
            "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
        },
    }


def _adaptation_container(profile: AdaptationProfileSpec, block: bool, disks: list[Disk]) -> Manifest:
    """The profile's container, every disk attached, told where they are ($CLONEJOB_DISKS, which it cannot override)."""
    env = [
        {"name": "CLONEJOB_DISKS", "value": ",".join(_disk_path(disk, block) for disk in disks)},
        {"name": "CLONEJOB_VOLUME_MODE", "value": "Block" if block else "Filesystem"},
    ]
    reserved = {variable["name"] for variable in env}
    env += [variable.wire() for variable in profile.env or [] if variable.name not in reserved]
    container: Manifest = {"name": "adapt-os", "image": profile.image, "env": env}
    if profile.image_pull_policy:
        container["imagePullPolicy"] = profile.image_pull_policy
    if profile.command:
        container["command"] = list(profile.command)
    if profile.args:
        container["args"] = list(profile.args)
    if profile.resources is not None:
        container["resources"] = profile.resources.wire()
    container["securityContext"] = (profile.security_context or RESTRICTED).wire()
    attach = [
        {"name": f"disk-{d.index}", ("devicePath" if block else "mountPath"): _disk_path(d, block)} for d in disks
    ]
    container["volumeDevices" if block else "volumeMounts"] = attach
    return container


def _disk_path(disk: Disk, block: bool) -> str:
    return f"/dev/disk-{disk.index}" if block else f"/disks/disk-{disk.index}"


def virtual_machine(
    details: KubevirtTargetDetails, namespace: str, disks: list[Disk], labels: dict[str, str]
) -> Manifest:
    """The clone: a VirtualMachine booting from the prepared DataVolumes (the first disk boots)."""
    details = with_defaults(details)
    name = details.vm_name or ""
    bus = details.disk_bus
    networks = details.networks or []
    domain: Manifest = {
        "devices": {
            "disks": [
                {"name": f"disk-{d.index}", "disk": {"bus": bus}, **({"bootOrder": 1} if d.index == 0 else {})}
                for d in disks
            ],
            "interfaces": [_interface(network) for network in networks],
        },
        "firmware": _firmware(details),
    }
    if details.firmware and details.firmware.secure_boot:
        domain["features"] = {"smm": {"enabled": True}}
    spec: Manifest = {"runStrategy": details.run_strategy}
    if details.instancetype:
        spec["instancetype"] = details.instancetype.wire()
    else:
        domain["cpu"] = details.cpu.wire() if details.cpu else {}
        domain["memory"] = {"guest": details.memory}
    if details.preference:
        spec["preference"] = details.preference.wire()
    template_labels = {**(details.pod_labels or {}), **labels}
    vmi: Manifest = {
        "domain": domain,
        "networks": [_network(network) for network in networks],
        "volumes": [{"name": f"disk-{d.index}", "dataVolume": {"name": d.name}} for d in disks],
    }
    if details.hostname:
        vmi["hostname"] = details.hostname
    spec["template"] = {"metadata": {"labels": template_labels}, "spec": vmi}
    return {
        "apiVersion": VIRTUAL_MACHINE.api_version,
        "kind": VIRTUAL_MACHINE.kind,
        "metadata": _meta(name, namespace, {**(details.labels or {}), **labels}),
        "spec": spec,
    }


def _firmware(details: KubevirtTargetDetails) -> Manifest:
    firmware = details.firmware
    if firmware and firmware.bootloader == "EFI":
        return {"bootloader": {"efi": {"secureBoot": bool(firmware.secure_boot)}}}
    return {"bootloader": {"bios": {}}}


def _interface(network: Network) -> Manifest:
    return {"name": network.name, str(network.binding): {}}


def _network(network: Network) -> Manifest:
    if network.multus is not None:  # NAME or OWN-NAMESPACE/NAME: the driver refused any other namespace
        return {"name": network.name, "multus": {"networkName": network.multus.network_name}}
    return {"name": network.name, "pod": {}}
