"""AdaptationProfile: what an ``adaptingOs`` step runs, chosen by a cluster admin (cluster-scoped).

A MigratingVm names a profile (``kubevirtTargetDefaults.osAdaptation.profile``); it cannot name an image, a
command or a ServiceAccount itself, since whoever writes a MigratingVm would otherwise run any container, as
any ServiceAccount of the namespace, with the clone's disks mounted. The aggregated tenant roles grant nothing
on profiles: only cluster admins write them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from clonejob_operator.api.base import ApiModel, Int64, Name, cel, validations
from clonejob_operator.api.bounds import ATOMIC, SET, Argument

MAX_PROFILE_COMMAND = 32
MAX_PROFILE_ARGS = 64
Quantity = Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$", max_length=64)]
RESOURCE_NAMES = ("cpu", "memory", "ephemeral-storage")
_NAMES = validations(
    cel(
        "self.all(k, k in [" + ", ".join(f"'{n}'" for n in RESOURCE_NAMES) + "])",
        "only cpu, memory and ephemeral-storage",
    )
)


class EnvVar(ApiModel):
    name: str = Field(
        min_length=1, max_length=253, pattern=r"^[-._a-zA-Z][-._a-zA-Z0-9]*$", description="The variable's name."
    )
    value: str = Field(default="", max_length=4096, description="The variable's value.")


class Resources(ApiModel):
    """The adaptation container's requests and limits (corev1.ResourceRequirements)."""

    requests: dict[str, Quantity] | None = Field(
        default=None,
        max_length=3,
        description="cpu, memory and ephemeral-storage the pod asks for.",
        json_schema_extra=_NAMES,
    )
    limits: dict[str, Quantity] | None = Field(
        default=None,
        max_length=3,
        description="cpu, memory and ephemeral-storage it may use at most.",
        json_schema_extra=_NAMES,
    )


Capability = Annotated[str, Field(pattern=r"^[A-Z_]+$", max_length=64)]


class Capabilities(ApiModel):
    add: list[Capability] | None = Field(
        default=None, max_length=16, description="Capabilities to add.", json_schema_extra=SET
    )
    drop: list[Capability] | None = Field(
        default=None, max_length=16, description="Capabilities to drop (ALL for every one).", json_schema_extra=SET
    )


class SeccompProfile(ApiModel):
    type: Literal["RuntimeDefault", "Localhost", "Unconfined"]
    localhost_profile: str | None = Field(
        default=None, max_length=253, description="The node's profile file, for Localhost."
    )


class SecurityContext(ApiModel):
    """The adaptation container's securityContext (a subset of corev1.SecurityContext)."""

    run_as_user: Int64 | None = Field(default=None, ge=0, description="The UID to run as.")
    run_as_group: Int64 | None = Field(default=None, ge=0, description="The GID to run as.")
    run_as_non_root: bool | None = Field(default=None, description="Refuse to start as root.")
    privileged: bool | None = Field(default=None, description="Run privileged (the node's devices, every capability).")
    allow_privilege_escalation: bool | None = Field(default=None, description="Let a process gain more privileges.")
    read_only_root_filesystem: bool | None = Field(default=None, description="Mount the image read-only.")
    capabilities: Capabilities | None = Field(default=None, description="Linux capabilities to add and drop.")
    seccomp_profile: SeccompProfile | None = Field(default=None, description="The seccomp profile.")


RESTRICTED = SecurityContext(
    run_as_non_root=True,
    allow_privilege_escalation=False,
    capabilities=Capabilities(drop=["ALL"]),
    seccomp_profile=SeccompProfile(type="RuntimeDefault"),
)
"""The container's securityContext when the profile gives none: the restricted Pod Security Standard."""


class AdaptationProfileSpec(ApiModel):
    image: str = Field(min_length=1, max_length=1024, description="The adaptation image.")
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = Field(
        default=None, description="When to pull the image. Default: the cluster's (IfNotPresent for a tagged image)."
    )
    command: list[Argument] | None = Field(default=None, max_length=MAX_PROFILE_COMMAND, json_schema_extra=ATOMIC)
    args: list[Argument] | None = Field(default=None, max_length=MAX_PROFILE_ARGS, json_schema_extra=ATOMIC)
    env: list[EnvVar] | None = Field(
        default=None,
        max_length=32,
        description="Plain variables for the container, besides CLONEJOB_DISKS and CLONEJOB_VOLUME_MODE.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    service_account_name: Name | None = Field(
        default=None,
        description="A ServiceAccount of the CloneJob's namespace to run as. Default: the namespace's default.",
    )
    automount_service_account_token: bool = Field(
        default=False, description="Mount the ServiceAccount's token into the pod. Default false."
    )
    backoff_limit: int = Field(default=0, ge=0, le=20, description="Retries of a failed run. Default 0.")
    resources: Resources | None = None
    security_context: SecurityContext | None = Field(
        default=None,
        description="The container's securityContext. Default: the restricted Pod Security Standard (non-root, "
        "no privilege escalation, every capability dropped, the runtime's default seccomp profile).",
    )


class AdaptationProfileStatus(ApiModel):
    """Nothing is written here yet; the subresource keeps room for it."""
