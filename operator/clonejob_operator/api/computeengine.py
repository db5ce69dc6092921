"""The Compute Engine targets, field for field as vmmigration v1 defines them.

Fields that the proto marks output-only in the defaults (``appliedLicense``, ``bootOption``) exist only
in the details. ``TargetVmDetails`` is the shape of the older vmmigration message that the deprecated
``targetDetails`` and ``computeEngineVmDetails`` mirrors of a CloneJob carry (checked against the
published v1alpha1 types).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from clonejob_operator.api.base import ApiModel, Empty, SubdomainName, cel, validations
from clonejob_operator.api.bounds import (
    ATOMIC,
    MAX_AFFINITY_VALUES,
    MAX_DISK_LABELS,
    MAX_DISKS,
    MAX_LABELS,
    MAX_LICENSES,
    MAX_METADATA,
    MAX_MODIFIERS,
    MAX_NETWORK_INTERFACES,
    MAX_NETWORK_TAGS,
    MAX_NODE_AFFINITIES,
    REPLICA_ZONES,
    SET,
    Email,
    GceName,
    Hostname,
    IpAddress,
    LabelValue,
    MetadataValue,
    ResourcePath,
    Word,
    keys_at_most,
)

Zone = Annotated[
    str,
    Field(
        max_length=63,
        json_schema_extra=validations(
            cel(
                "self.matches('^[a-z]+-[a-z]+[0-9]+-[a-z]$')",
                "a zone, such as europe-west1-b: a region (europe-west1) is not one",
            )
        ),
    ),
]
"""A Compute Engine zone: a region and a letter."""
NetworkTags = Annotated[list[GceName], Field(max_length=MAX_NETWORK_TAGS, json_schema_extra=SET)]
Licenses = Annotated[list[ResourcePath], Field(max_length=MAX_LICENSES, json_schema_extra=SET)]
Labels = Annotated[
    dict[str, LabelValue], Field(max_length=MAX_LABELS, json_schema_extra=keys_at_most(63, "a label key"))
]
Metadata = Annotated[
    dict[str, MetadataValue], Field(max_length=MAX_METADATA, json_schema_extra=keys_at_most(128, "a metadata key"))
]
NetworkInterfaces = Annotated[
    list["NetworkInterface"], Field(max_length=MAX_NETWORK_INTERFACES, json_schema_extra=ATOMIC)
]

API = "compute.googleapis.com/v1"
"""The apiVersion that status.createdResources gives Compute Engine products."""

DiskType = Literal[
    "COMPUTE_ENGINE_DISK_TYPE_UNSPECIFIED",
    "COMPUTE_ENGINE_DISK_TYPE_STANDARD",
    "COMPUTE_ENGINE_DISK_TYPE_SSD",
    "COMPUTE_ENGINE_DISK_TYPE_BALANCED",
    "COMPUTE_ENGINE_DISK_TYPE_HYPERDISK_BALANCED",
]
LicenseType = Literal[
    "COMPUTE_ENGINE_LICENSE_TYPE_DEFAULT", "COMPUTE_ENGINE_LICENSE_TYPE_PAYG", "COMPUTE_ENGINE_LICENSE_TYPE_BYOL"
]
BootOption = Literal[
    "COMPUTE_ENGINE_BOOT_OPTION_UNSPECIFIED", "COMPUTE_ENGINE_BOOT_OPTION_EFI", "COMPUTE_ENGINE_BOOT_OPTION_BIOS"
]
BootConversion = Literal["BOOT_CONVERSION_UNSPECIFIED", "NONE", "BIOS_TO_EFI"]
NetworkTier = Literal["COMPUTE_ENGINE_NETWORK_TIER_UNSPECIFIED", "NETWORK_TIER_STANDARD", "NETWORK_TIER_PREMIUM"]


class NetworkInterface(ApiModel):
    network: ResourcePath | None = None
    subnetwork: ResourcePath | None = None
    internal_ip: IpAddress | None = None
    external_ip: IpAddress | None = None
    network_tier: NetworkTier | None = None


class AppliedLicense(ApiModel):
    type: Literal["TYPE_UNSPECIFIED", "NONE", "PAYG", "BYOL"] | None = None
    os_license: ResourcePath | None = None


class SchedulingNodeAffinity(ApiModel):
    key: GceName | None = None
    operator: Literal["OPERATOR_UNSPECIFIED", "IN", "NOT_IN"] | None = None
    values: list[GceName] | None = Field(default=None, max_length=MAX_AFFINITY_VALUES, json_schema_extra=SET)


class ComputeScheduling(ApiModel):
    on_host_maintenance: Literal["ON_HOST_MAINTENANCE_UNSPECIFIED", "TERMINATE", "MIGRATE"] | None = None
    restart_type: Literal["RESTART_TYPE_UNSPECIFIED", "AUTOMATIC_RESTART", "NO_AUTOMATIC_RESTART"] | None = None
    node_affinities: list[SchedulingNodeAffinity] | None = Field(
        default=None, max_length=MAX_NODE_AFFINITIES, json_schema_extra=ATOMIC
    )
    min_node_cpus: int | None = None


class Encryption(ApiModel):
    kms_key: ResourcePath


class AdaptationModifier(ApiModel):
    modifier: Word | None = None
    value: Word | None = None


class MetadataSecretRef(ApiModel):
    """A Secret whose keys and values become the VM's metadata."""

    name: SubdomainName = Field(
        description="A Secret of the MigratingVm's namespace, labelled vmmigration.dev/credentials=true: each of its "
        "keys is a metadata key, its value the value. Read only when the VM is made; never copied into a status."
    )


METADATA_MOVED = (
    "metadata: values are no longer read from a MigratingVm, where whoever may read it reads them too (startup "
    "scripts hold secrets): put them in a Secret labelled vmmigration.dev/credentials=true and name it in "
    "metadataSecretRef"
)
_NO_METADATA = validations(cel("!has(self.metadata)", METADATA_MOVED, fieldPath=".metadata"))


def _refuse_metadata(value: Any) -> Any:
    """What the CRD refuses, refused again for what was stored before it did: naming where the values went."""
    if isinstance(value, dict) and value.get("metadata"):
        raise ValueError(METADATA_MOVED)
    return value


class _ComputeEngineVm(ApiModel):
    """Fields that ComputeEngineTargetDefaults and ComputeEngineTargetDetails share."""

    vm_name: GceName | None = None
    zone: Zone | None = None
    machine_type_series: GceName | None = None
    machine_type: GceName | None = None
    network_tags: NetworkTags | None = None
    network_interfaces: NetworkInterfaces | None = None
    service_account: Email | None = None
    disk_type: DiskType | None = None
    labels: Labels | None = None
    license_type: LicenseType | None = None
    compute_scheduling: ComputeScheduling | None = None
    secure_boot: bool | None = None
    enable_vtpm: bool | None = None
    enable_integrity_monitoring: bool | None = None
    metadata: Metadata | None = Field(
        default=None, description="Deprecated: refused in a MigratingVm (use metadataSecretRef); keys only in a status."
    )
    metadata_secret_ref: MetadataSecretRef | None = None
    additional_licenses: Licenses | None = None
    hostname: Hostname | None = None
    encryption: Encryption | None = None
    boot_conversion: BootConversion | None = None
    adaptation_modifiers: list[AdaptationModifier] | None = Field(
        default=None, max_length=MAX_MODIFIERS, json_schema_extra=ATOMIC
    )
    disk_replica_zones: list[Zone] | None = Field(default=None, max_length=REPLICA_ZONES, json_schema_extra=SET)
    storage_pool: ResourcePath | None = None


class ComputeEngineTargetDefaults(_ComputeEngineVm):
    model_config = ConfigDict(json_schema_extra=_NO_METADATA)

    _no_metadata = model_validator(mode="before")(_refuse_metadata)
    target_project: str | None = Field(
        default=None,
        max_length=1024,
        description=(
            "The TargetProject to clone into: projects/*/locations/*/targetProjects/NAME or a bare NAME, "
            "a TargetProject in the MigratingVm's namespace either way."
        ),
    )


class ComputeEngineTargetDetails(_ComputeEngineVm):
    model_config = ConfigDict(json_schema_extra=_NO_METADATA)  # an earlier version's status keeps its own
    project: GceName | None = Field(default=None, description="The Google Cloud target project ID or name.")
    applied_license: AppliedLicense | None = Field(
        default=None, description="Output only. The OS license returned from the adaptation module's report."
    )
    boot_option: BootOption | None = Field(default=None, description="Output only. The VM boot option.")


class TargetVmDetails(ApiModel):
    """The older vmmigration TargetVMDetails message: what the deprecated mirrors carry."""

    model_config = ConfigDict(json_schema_extra=_NO_METADATA)

    name: GceName | None = None
    zone: GceName | None = None
    machine_type_series: GceName | None = None
    machine_type: GceName | None = None
    network_tags: NetworkTags | None = None
    network_interfaces: NetworkInterfaces | None = None
    network: ResourcePath | None = None
    subnetwork: ResourcePath | None = None
    external_ip: IpAddress | None = None
    internal_ip: IpAddress | None = None
    service_account: Email | None = None
    disk_type: Literal["DISK_TYPE_UNSPECIFIED", "STANDARD", "BALANCED", "SSD"] | None = None
    labels: Labels | None = None
    license_type: Literal["DEFAULT", "PAYG", "BYOL"] | None = None
    applied_license: AppliedLicense | None = None
    compute_scheduling: ComputeScheduling | None = None
    secure_boot: bool | None = None
    boot_option: Literal["BOOT_OPTION_UNSPECIFIED", "EFI", "BIOS"] | None = None
    metadata: Metadata | None = None
    project: GceName | None = None
    target_project: Annotated[str, Field(max_length=1024)] | None = None


_LEGACY_DISK = {
    "COMPUTE_ENGINE_DISK_TYPE_STANDARD": "STANDARD",
    "COMPUTE_ENGINE_DISK_TYPE_BALANCED": "BALANCED",
    "COMPUTE_ENGINE_DISK_TYPE_SSD": "SSD",
}
_LEGACY_LICENSE = {
    "COMPUTE_ENGINE_LICENSE_TYPE_DEFAULT": "DEFAULT",
    "COMPUTE_ENGINE_LICENSE_TYPE_PAYG": "PAYG",
    "COMPUTE_ENGINE_LICENSE_TYPE_BYOL": "BYOL",
}
_LEGACY_BOOT = {"COMPUTE_ENGINE_BOOT_OPTION_EFI": "EFI", "COMPUTE_ENGINE_BOOT_OPTION_BIOS": "BIOS"}


def legacy_details(details: ComputeEngineTargetDetails, target_project: str | None) -> TargetVmDetails:
    """``details`` in the older message's shape: enum values renamed, the first NIC's fields at the top.

    A disk type the older message has no value for (hyperdisk) becomes DISK_TYPE_UNSPECIFIED.
    """
    first = details.network_interfaces[0] if details.network_interfaces else None
    renamed = {
        "disk_type": _LEGACY_DISK.get(details.disk_type, "DISK_TYPE_UNSPECIFIED") if details.disk_type else None,
        "license_type": _LEGACY_LICENSE.get(details.license_type) if details.license_type else None,
        "boot_option": _LEGACY_BOOT.get(details.boot_option, "BOOT_OPTION_UNSPECIFIED")
        if details.boot_option
        else None,
    }
    same = details.model_dump(
        include={
            "zone",
            "machine_type_series",
            "machine_type",
            "network_tags",
            "network_interfaces",
            "service_account",
            "labels",
            "applied_license",
            "compute_scheduling",
            "secure_boot",
            "metadata",
            "project",
        }
    )
    nic = first.model_dump(include={"network", "subnetwork", "external_ip", "internal_ip"}) if first else {}
    return TargetVmDetails.model_validate(
        {**same, **nic, **renamed, "name": details.vm_name, "target_project": target_project}
    )


class VmAttachmentDetails(ApiModel):
    device_name: GceName | None = None


class PersistentDiskDefaults(ApiModel):
    source_disk_number: int
    disk_name: GceName | None = None
    disk_type: DiskType | None = None
    additional_labels: (
        Annotated[
            dict[str, LabelValue], Field(max_length=MAX_DISK_LABELS, json_schema_extra=keys_at_most(63, "a label key"))
        ]
        | None
    ) = None
    encryption: Encryption | None = None
    vm_attachment_details: VmAttachmentDetails | None = None


class DiskImageDefaults(ApiModel):
    source_image: ResourcePath


class BootDiskDefaults(ApiModel):
    image: DiskImageDefaults | None = None
    disk_name: GceName | None = None
    disk_type: DiskType | None = None
    device_name: GceName | None = None
    encryption: Encryption | None = None


class DisksMigrationVmTargetDefaults(ApiModel):
    model_config = ConfigDict(json_schema_extra=_NO_METADATA)

    _no_metadata = model_validator(mode="before")(_refuse_metadata)

    vm_name: GceName
    machine_type_series: GceName | None = None
    machine_type: GceName
    network_tags: NetworkTags | None = None
    network_interfaces: NetworkInterfaces | None = None
    service_account: Email | None = None
    compute_scheduling: ComputeScheduling | None = None
    secure_boot: bool | None = None
    enable_vtpm: bool | None = None
    enable_integrity_monitoring: bool | None = None
    metadata: Metadata | None = Field(default=None, description="Deprecated: refused (use metadataSecretRef).")
    metadata_secret_ref: MetadataSecretRef | None = None
    additional_licenses: Licenses | None = None
    hostname: Hostname | None = None
    labels: Labels | None = None
    boot_disk_defaults: BootDiskDefaults | None = None
    encryption: Encryption | None = None


_ONE_VM_TARGET = validations(
    {
        "rule": "!(has(self.disksTargetDefaults) && has(self.vmTargetDefaults))",
        "message": "set at most one of disksTargetDefaults and vmTargetDefaults",
    }
)


class ComputeEngineDisksTargetDefaults(ApiModel):
    model_config = ConfigDict(json_schema_extra=_ONE_VM_TARGET)

    zone: Zone | None = None
    disks_target_defaults: Empty | None = None
    vm_target_defaults: DisksMigrationVmTargetDefaults | None = None
    target_project: str | None = Field(
        default=None,
        max_length=1024,
        description=(
            "The TargetProject to clone into: projects/*/locations/*/targetProjects/NAME or a bare NAME, "
            "a TargetProject in the MigratingVm's namespace either way."
        ),
    )
    disks: list[PersistentDiskDefaults] | None = Field(default=None, max_length=MAX_DISKS, json_schema_extra=ATOMIC)


class PersistentDisk(ApiModel):
    source_disk_number: int | None = None
    disk_uri: ResourcePath | None = None


class DisksMigrationVmTargetDetails(ApiModel):
    vm_uri: ResourcePath | None = None


class ComputeEngineDisksTargetDetails(ApiModel):
    disks_target_details: Empty | None = None
    vm_target_details: DisksMigrationVmTargetDetails | None = None
    disks: list[PersistentDisk] | None = Field(default=None, max_length=MAX_DISKS, json_schema_extra=ATOMIC)
