"""The KubeVirt target: ``kubevirtTargetDefaults`` on a MigratingVm, ``kubevirtTargetDetails`` on a CloneJob.

Every field is optional; ``kubevirtTargetDefaults: {}`` clones to a 1-core, 2Gi BIOS VM on the pod network,
named after the CloneJob, with disks on the default storage class.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from clonejob_operator.api.base import (
    DNS_LABEL,
    QUANTITY,
    ApiModel,
    Empty,
    Name,
    SubdomainName,
    cel,
    exactly_one,
    validations,
)
from clonejob_operator.api.bounds import LABEL_KEY, MAX_KUBE_LABELS, LabelValue, keys_at_most, with_rules

RunStrategy = Literal["Always", "Halted", "Manual", "RerunOnFailure", "Once"]
AccessMode = Literal["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]


class InstancetypeRef(ApiModel):
    """``spec.instancetype`` of a kubevirt.io/v1 VirtualMachine."""

    name: SubdomainName
    kind: Literal["VirtualMachineInstancetype", "VirtualMachineClusterInstancetype"] | None = None


class PreferenceRef(ApiModel):
    """``spec.preference`` of a kubevirt.io/v1 VirtualMachine."""

    name: SubdomainName
    kind: Literal["VirtualMachinePreference", "VirtualMachineClusterPreference"] | None = None


class Cpu(ApiModel):
    """``domain.cpu`` topology."""

    cores: int | None = Field(default=None, ge=1, le=1024)
    sockets: int | None = Field(default=None, ge=1, le=64)
    threads: int | None = Field(default=None, ge=1, le=8)


RESERVED_PREFIXES = ("kubevirt.io/", "vmmigration.dev/")
"""Label prefixes that KubeVirt and this operator own: a user's label never sets them."""
_RESERVED_RULE = cel(
    "self.all(k, !k.startsWith('kubevirt.io/') && !k.contains('.kubevirt.io/') && !k.startsWith('vmmigration.dev/'))",
    "no label may use the kubevirt.io/ or vmmigration.dev/ prefixes: KubeVirt and this operator own them",
)


def _own_keys(labels: dict[str, str]) -> dict[str, str]:
    """The CRD refuses these; a label stored under an older CRD is refused here, naming it."""
    for key in labels:
        if len(key) > LABEL_KEY:
            raise ValueError(f"the label key {key[:40]!r}... is longer than {LABEL_KEY} characters")
        if key.startswith(RESERVED_PREFIXES) or ".kubevirt.io/" in key:
            raise ValueError(f"the label {key!r} uses a prefix that KubeVirt or this operator owns")
    return labels


KubeLabels = Annotated[
    dict[str, LabelValue],
    Field(
        max_length=MAX_KUBE_LABELS,
        json_schema_extra=with_rules(keys_at_most(LABEL_KEY, "a label key"), _RESERVED_RULE),
    ),
    AfterValidator(_own_keys),
]


class MultusNetwork(ApiModel):
    network_name: str = Field(
        min_length=1,
        max_length=253,
        description="A NetworkAttachmentDefinition of the MigratingVm's own namespace: NAME, or NAMESPACE/NAME with "
        "that namespace. Another namespace's network is refused.",
    )


class Network(ApiModel):
    """One NIC: a VM network (``pod`` or ``multus``) plus its interface binding."""

    model_config = ConfigDict(json_schema_extra=validations(exactly_one(["pod", "multus"])))

    name: Name
    pod: Empty | None = None
    multus: MultusNetwork | None = None
    binding: Literal["masquerade", "bridge", "sriov"] | None = Field(
        default=None, description="Interface binding; masquerade for pod networks, bridge otherwise by default."
    )


class Firmware(ApiModel):
    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!has(self.secureBoot) || !self.secureBoot || (has(self.bootloader) && self.bootloader == 'EFI')",
                "secureBoot requires bootloader: EFI",
                fieldPath=".secureBoot",
            )
        )
    )

    bootloader: Literal["BIOS", "EFI"] | None = Field(default=None, description="Default BIOS.")
    secure_boot: bool | None = Field(default=None, description="EFI only. Default false.")


MOVED_TO_PROFILE = ("image", "command", "args", "serviceAccountName", "backoffLimit")
"""osAdaptation's fields before AdaptationProfiles: a MigratingVm may no longer name them."""


class OsAdaptation(ApiModel):
    """A batch/v1 Job that mounts the prepared disks and adapts the guest OS before the VM starts: what it runs
    is the named AdaptationProfile's, which only a cluster admin writes."""

    profile: Name = Field(description="The cluster-scoped AdaptationProfile that says what the Job runs, and as whom.")

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, value: Any) -> Any:
        """A MigratingVm stored before profiles existed reads as ``osAdaptation: {}`` (the API server prunes the
        old fields): say where they went instead of "Field required"."""
        if isinstance(value, dict) and "profile" not in value:
            old = ", ".join(MOVED_TO_PROFILE)
            raise ValueError(
                f"names no profile: {old} are no longer read from a MigratingVm (whoever writes one could run any "
                "container as any ServiceAccount of the namespace); a cluster admin writes them in an "
                "AdaptationProfile, and osAdaptation.profile names it"
            )
        return value


class KubevirtTargetDefaults(ApiModel):
    """How a clone of the migrating VM is made on KubeVirt."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!has(self.instancetype) || (!has(self.cpu) && !has(self.memory))",
                "set instancetype or cpu/memory, not both",
                fieldPath=".instancetype",
            )
        )
    )

    vm_name: Name | None = Field(default=None, description="Default: the CloneJob's name.")
    storage_class_name: SubdomainName | None = None
    access_modes: list[AccessMode] | None = Field(
        default=None, max_length=4, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    volume_mode: Literal["Filesystem", "Block"] | None = None
    disk_bus: Literal["virtio", "sata", "scsi"] | None = Field(default=None, description="Default virtio.")
    instancetype: InstancetypeRef | None = None
    preference: PreferenceRef | None = None
    cpu: Cpu | None = Field(default=None, description="Default 1 core, unless instancetype is set.")
    memory: str | None = Field(
        default=None, pattern=QUANTITY, max_length=64, description="Guest memory. Default 2Gi, unless instancetype."
    )
    labels: KubeLabels | None = Field(
        default=None,
        description="Labels for the VirtualMachine object only (not its pods: a Service that selects them would "
        "send traffic to the clone). No kubevirt.io/ or vmmigration.dev/ keys.",
    )
    pod_labels: KubeLabels | None = Field(
        default=None,
        description="Labels for the clone's pods (the VM's template), asked for explicitly. No kubevirt.io/ or "
        "vmmigration.dev/ keys.",
    )
    networks: list[Network] | None = Field(
        default=None,
        max_length=16,
        description="Default: one pod network.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    hostname: str | None = Field(default=None, pattern=DNS_LABEL, max_length=63)
    firmware: Firmware | None = None
    run_strategy: RunStrategy | None = Field(default=None, description="Default Always.")
    os_adaptation: OsAdaptation | None = None


class KubevirtTargetDetails(KubevirtTargetDefaults):
    """The defaults as resolved when the CloneJob started: what the clone was built from."""


DEFAULT_MEMORY = "2Gi"


def with_defaults(details: KubevirtTargetDetails) -> KubevirtTargetDetails:
    """``details`` with every default of the KubeVirt target filled in: the one place they are set.

    Applied when a job starts (so that ``status.kubevirtTargetDetails`` shows what the clone gets) and
    again by the manifest builders (a no-op then, which also serves details recorded by older versions).
    """
    out = details.model_copy(deep=True)
    out.run_strategy = out.run_strategy or "Always"
    out.disk_bus = out.disk_bus or "virtio"
    out.firmware = out.firmware or Firmware(bootloader="BIOS")
    if out.firmware.bootloader is None:
        out.firmware.bootloader = "BIOS"
    out.networks = [
        network.model_copy(update={"binding": network.binding or ("masquerade" if network.pod else "bridge")})
        for network in out.networks or [Network(name="default", pod=Empty())]
    ]
    if out.instancetype is None:
        out.memory = out.memory or DEFAULT_MEMORY
        out.cpu = out.cpu if out.cpu and out.cpu.model_dump(exclude_none=True) else Cpu(cores=1)
    return out
