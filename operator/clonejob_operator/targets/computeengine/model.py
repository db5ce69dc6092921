"""The Compute Engine targets, field for field as vmmigration v1 defines them.

Their driver is not implemented yet; the models exist so that MigratingVms can carry them and CloneJobs
can report them exactly as the seed API does.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from clonejob_operator.api.base import ApiModel, Empty, validations

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
    network: str | None = None
    subnetwork: str | None = None
    internal_ip: str | None = None
    external_ip: str | None = None
    network_tier: NetworkTier | None = None


class AppliedLicense(ApiModel):
    type: Literal["TYPE_UNSPECIFIED", "NONE", "PAYG", "BYOL"] | None = None
    os_license: str | None = None


class SchedulingNodeAffinity(ApiModel):
    key: str | None = None
    operator: Literal["OPERATOR_UNSPECIFIED", "IN", "NOT_IN"] | None = None
    values: list[str] | None = None


class ComputeScheduling(ApiModel):
    on_host_maintenance: Literal["ON_HOST_MAINTENANCE_UNSPECIFIED", "TERMINATE", "MIGRATE"] | None = None
    restart_type: Literal["RESTART_TYPE_UNSPECIFIED", "AUTOMATIC_RESTART", "NO_AUTOMATIC_RESTART"] | None = None
    node_affinities: list[SchedulingNodeAffinity] | None = None
    min_node_cpus: int | None = None


class Encryption(ApiModel):
    kms_key: str


class AdaptationModifier(ApiModel):
    modifier: str | None = None
    value: str | None = None


class _ComputeEngineVm(ApiModel):
    """Fields that ComputeEngineTargetDefaults and ComputeEngineTargetDetails share."""

    vm_name: str | None = None
    zone: str | None = None
    machine_type_series: str | None = None
    machine_type: str | None = None
    network_tags: list[str] | None = None
    network_interfaces: list[NetworkInterface] | None = None
    service_account: str | None = None
    disk_type: DiskType | None = None
    labels: dict[str, str] | None = None
    license_type: LicenseType | None = None
    applied_license: AppliedLicense | None = None
    compute_scheduling: ComputeScheduling | None = None
    secure_boot: bool | None = None
    enable_vtpm: bool | None = None
    enable_integrity_monitoring: bool | None = None
    boot_option: BootOption | None = None
    metadata: dict[str, str] | None = None
    additional_licenses: list[str] | None = None
    hostname: str | None = None
    encryption: Encryption | None = None
    boot_conversion: BootConversion | None = None
    adaptation_modifiers: list[AdaptationModifier] | None = None
    disk_replica_zones: list[str] | None = None
    storage_pool: str | None = None


class ComputeEngineTargetDefaults(_ComputeEngineVm):
    target_project: str | None = Field(default=None, description="Full path of a TargetProject resource.")


class ComputeEngineTargetDetails(_ComputeEngineVm):
    project: str | None = Field(default=None, description="The Google Cloud target project ID or name.")


class VmAttachmentDetails(ApiModel):
    device_name: str | None = None


class PersistentDiskDefaults(ApiModel):
    source_disk_number: int
    disk_name: str | None = None
    disk_type: DiskType | None = None
    additional_labels: dict[str, str] | None = None
    encryption: Encryption | None = None
    vm_attachment_details: VmAttachmentDetails | None = None


class DiskImageDefaults(ApiModel):
    source_image: str


class BootDiskDefaults(ApiModel):
    image: DiskImageDefaults | None = None
    disk_name: str | None = None
    disk_type: DiskType | None = None
    device_name: str | None = None
    encryption: Encryption | None = None


class DisksMigrationVmTargetDefaults(ApiModel):
    vm_name: str
    machine_type_series: str | None = None
    machine_type: str
    network_tags: list[str] | None = None
    network_interfaces: list[NetworkInterface] | None = None
    service_account: str | None = None
    compute_scheduling: ComputeScheduling | None = None
    secure_boot: bool | None = None
    enable_vtpm: bool | None = None
    enable_integrity_monitoring: bool | None = None
    metadata: dict[str, str] | None = None
    additional_licenses: list[str] | None = None
    hostname: str | None = None
    labels: dict[str, str] | None = None
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

    zone: str | None = None
    disks_target_defaults: Empty | None = None
    vm_target_defaults: DisksMigrationVmTargetDefaults | None = None
    target_project: str | None = None
    disks: list[PersistentDiskDefaults] | None = None


class PersistentDisk(ApiModel):
    source_disk_number: int | None = None
    disk_uri: str | None = None


class DisksMigrationVmTargetDetails(ApiModel):
    vm_uri: str | None = None


class ComputeEngineDisksTargetDetails(ApiModel):
    disks_target_details: Empty | None = None
    vm_target_details: DisksMigrationVmTargetDetails | None = None
    disks: list[PersistentDisk] | None = None
