"""Compute Engine requests for a clone, as google-cloud-compute messages: pure functions, no I/O.

Names are valid Compute Engine names (RFC 1035, at most 63 characters) and the same for the same job;
every insert carries a request ID derived from the job's uid and the product, so that a repeat after
a crash is deduplicated by Compute Engine itself.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass

from google.cloud import compute_v1

from clonejob_operator import names
from clonejob_operator.api.computeengine import (
    ComputeEngineTargetDetails,
    ComputeScheduling,
    DisksMigrationVmTargetDefaults,
    Encryption,
    NetworkInterface,
)
from clonejob_operator.codes import Code, JobError

_REQUEST_IDS = uuid.UUID("6f1c2a8e-3b7d-4c55-9e0a-c10e10b00001")  # the namespace of request IDs: never change it
_NAME_CHARS = re.compile(r"[^a-z0-9-]+")
_LABEL_CHARS = re.compile(r"[^a-z0-9_-]+")
DISK_TYPES = {
    "COMPUTE_ENGINE_DISK_TYPE_UNSPECIFIED": "pd-standard",
    "COMPUTE_ENGINE_DISK_TYPE_STANDARD": "pd-standard",
    "COMPUTE_ENGINE_DISK_TYPE_SSD": "pd-ssd",
    "COMPUTE_ENGINE_DISK_TYPE_BALANCED": "pd-balanced",
    "COMPUTE_ENGINE_DISK_TYPE_HYPERDISK_BALANCED": "hyperdisk-balanced",
}
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
LABEL_JOB, LABEL_JOB_UID, LABEL_MIGRATING_VM, LABEL_MANAGED_BY, LABEL_JOB_RUN = (
    "clone-job",
    "clone-job-uid",
    "migrating-vm",
    "managed-by",
    "clone-job-run",
)


def gce_name(base: str, suffix: str = "") -> str:
    """``base`` + ``suffix`` as a Compute Engine name: a lowercase letter first, [a-z0-9-], at most 63.

    A name that had to change keeps a readable prefix and gains a short hash of the original.
    """
    cleaned = _NAME_CHARS.sub("-", base.lower()).strip("-")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = f"cj-{cleaned}".rstrip("-")
    if cleaned == base and len(base) + len(suffix) <= 63:
        return base + suffix
    digest = hashlib.sha256(base.encode()).hexdigest()[:8]
    room = 63 - len(suffix) - len(digest) - 1
    return f"{cleaned[:room].rstrip('-')}-{digest}{suffix}"


def label_value(text: str) -> str:
    """A Compute Engine label value: lowercase [a-z0-9_-], at most 63 characters."""
    cleaned = _LABEL_CHARS.sub("-", text.lower())
    if len(cleaned) <= 63:
        return cleaned
    return f"{cleaned[:54]}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def product_labels(clone_job: str, uid: str, migrating_vm: str, run: str | None = None) -> dict[str, str]:
    labels = {
        LABEL_JOB: label_value(clone_job),
        LABEL_JOB_UID: label_value(uid),
        LABEL_MIGRATING_VM: label_value(migrating_vm),
        LABEL_MANAGED_BY: label_value(names.MANAGED_BY[1]),
    }
    if run is not None:
        labels[LABEL_JOB_RUN] = label_value(run)
    return labels


def made_by(labels: dict[str, str] | None, uid: str, run: str | None) -> bool:
    """Whether a Compute Engine resource with these labels was made by this run of this job (names.LABEL_JOB_RUN)."""
    found = labels or {}
    mine = found.get(LABEL_JOB_UID) == label_value(uid)
    return mine and (run is None or found.get(LABEL_JOB_RUN) == label_value(run))


def uid_filter(uid: str) -> str:
    """The list filter that finds a job's products (and nothing else) by their uid label."""
    return f'labels.{LABEL_JOB_UID} = "{label_value(uid)}"'


def request_id(uid: str, kind: str, name: str, run: str | None = None) -> str:
    """The insert's request ID: the same for the same run of a job and product, so a repeat is deduplicated."""
    return str(uuid.uuid5(_REQUEST_IDS, f"{uid}/{kind}/{name}" + (f"/{run}" if run is not None else "")))


@dataclass(frozen=True)
class DiskPlan:
    """One disk of the clone: its name, the snapshot it comes from, and how it is made."""

    index: int
    name: str
    snapshot: str
    disk_type: str | None = None
    labels: dict[str, str] | None = None
    encryption: Encryption | None = None
    device_name: str | None = None


def disk(
    plan: DiskPlan,
    zone: str,
    labels: dict[str, str],
    replica_zones: list[str] | None,
    storage_pool: str | None,
    licenses: list[str] | None = None,
    uefi: bool = False,
) -> compute_v1.Disk:
    """``disks.insert``'s body: from the snapshot, with type, labels, KMS key, replica zones and storage pool."""
    message = compute_v1.Disk(
        name=plan.name,
        source_snapshot=plan.snapshot,
        type_=f"zones/{zone}/diskTypes/{DISK_TYPES[plan.disk_type or 'COMPUTE_ENGINE_DISK_TYPE_UNSPECIFIED']}",
        labels={**(plan.labels or {}), **labels},
    )
    if plan.encryption is not None:
        message.disk_encryption_key = compute_v1.CustomerEncryptionKey(kms_key_name=plan.encryption.kms_key)
    if replica_zones:
        message.replica_zones = list(replica_zones)
    if storage_pool:
        message.storage_pool = storage_pool
    if licenses:
        message.licenses = list(licenses)
    if uefi:
        message.guest_os_features = [compute_v1.GuestOsFeature(type_="UEFI_COMPATIBLE")]
    return message


def instance(
    details: ComputeEngineTargetDetails | DisksMigrationVmTargetDefaults,
    name: str,
    zone: str,
    disks: list[tuple[DiskPlan, str]],
    labels: dict[str, str],
) -> compute_v1.Instance:
    """``instances.insert``'s body: every field of the target details, the disks attached boot disk first.

    ``disks`` pairs each disk with its selfLink. Fields the details leave unset are left out.
    """
    machine = details.machine_type
    if not machine:
        raise JobError(
            Code.INVALID_ARGUMENT,
            "machineType is required to create the VM (machineTypeSeries alone does not name a machine type)",
        )
    message = compute_v1.Instance(
        name=name,
        machine_type=machine if "/" in machine else f"zones/{zone}/machineTypes/{machine}",
        labels={**(details.labels or {}), **labels},
        disks=[
            compute_v1.AttachedDisk(
                source=link,
                boot=plan.index == 0,
                auto_delete=False,
                device_name=plan.device_name or plan.name,
                mode="READ_WRITE",
            )
            for plan, link in sorted(disks, key=lambda pair: pair[0].index)
        ],
    )
    _optional(message, details)
    return message


def _optional(
    message: compute_v1.Instance, details: ComputeEngineTargetDetails | DisksMigrationVmTargetDefaults
) -> None:
    """The instance fields that the details may leave unset."""
    if details.network_interfaces:
        message.network_interfaces = [_nic(nic) for nic in details.network_interfaces]
    if details.network_tags:
        message.tags = compute_v1.Tags(items=list(details.network_tags))
    if details.service_account:
        message.service_accounts = [compute_v1.ServiceAccount(email=details.service_account, scopes=SCOPES)]
    if details.compute_scheduling is not None:
        message.scheduling = _scheduling(details.compute_scheduling)
    shielded = {
        "enable_secure_boot": details.secure_boot,
        "enable_vtpm": details.enable_vtpm,
        "enable_integrity_monitoring": details.enable_integrity_monitoring,
    }
    if any(value is not None for value in shielded.values()):
        message.shielded_instance_config = compute_v1.ShieldedInstanceConfig(
            **{key: bool(value) for key, value in shielded.items() if value is not None}
        )
    if details.metadata:
        message.metadata = compute_v1.Metadata(
            items=[compute_v1.Items(key=key, value=value) for key, value in sorted(details.metadata.items())]
        )
    if details.hostname:
        message.hostname = details.hostname


_TIERS = {"NETWORK_TIER_STANDARD": "STANDARD", "NETWORK_TIER_PREMIUM": "PREMIUM"}


def _nic(nic: NetworkInterface) -> compute_v1.NetworkInterface:
    out = compute_v1.NetworkInterface()
    if nic.network:
        out.network = nic.network
    if nic.subnetwork:
        out.subnetwork = nic.subnetwork
    if nic.internal_ip:
        out.network_i_p = nic.internal_ip
    tier = _TIERS.get(nic.network_tier or "")
    if nic.external_ip or tier:
        access = compute_v1.AccessConfig(name="External NAT", type_="ONE_TO_ONE_NAT")
        if nic.external_ip:
            access.nat_i_p = nic.external_ip
        if tier:
            access.network_tier = tier
        out.access_configs = [access]
    return out


def _scheduling(scheduling: ComputeScheduling) -> compute_v1.Scheduling:
    out = compute_v1.Scheduling()
    if scheduling.on_host_maintenance in ("TERMINATE", "MIGRATE"):
        out.on_host_maintenance = scheduling.on_host_maintenance
    if scheduling.restart_type in ("AUTOMATIC_RESTART", "NO_AUTOMATIC_RESTART"):
        out.automatic_restart = scheduling.restart_type == "AUTOMATIC_RESTART"
    if scheduling.node_affinities:
        out.node_affinities = [
            compute_v1.SchedulingNodeAffinity(
                key=affinity.key or "", operator=affinity.operator or "IN", values=list(affinity.values or [])
            )
            for affinity in scheduling.node_affinities
        ]
    if scheduling.min_node_cpus:
        out.min_node_cpus = scheduling.min_node_cpus
    return out


_EXHAUSTED = ("QUOTA_EXCEEDED", "ZONE_RESOURCE_POOL_EXHAUSTED", "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS")
_BY_REASON = {
    **dict.fromkeys(_EXHAUSTED, Code.RESOURCE_EXHAUSTED),
    "RESOURCE_ALREADY_EXISTS": Code.ALREADY_EXISTS,
    "RESOURCE_NOT_FOUND": Code.NOT_FOUND,
}
_BY_STATUS = {400: Code.INVALID_ARGUMENT, 403: Code.PERMISSION_DENIED, 404: Code.NOT_FOUND, 409: Code.ALREADY_EXISTS}


def operation_error(operation: compute_v1.Operation, what: str) -> JobError | None:
    """The job's error when a finished operation failed: its code mapped to google.rpc, its message kept."""
    errors = list(operation.error.errors) if operation.error else []
    if not errors and not operation.http_error_status_code:
        return None
    first = errors[0] if errors else None
    code = _BY_REASON.get(first.code if first else "") or _BY_STATUS.get(
        operation.http_error_status_code, Code.INTERNAL
    )
    message = (first.message if first else "") or operation.http_error_message or "failed"
    return JobError(code, f"{what}: {first.code + ': ' if first and first.code else ''}{message}")
