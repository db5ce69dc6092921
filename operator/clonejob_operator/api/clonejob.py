"""CloneJob: a test clone of a MigratingVm, made from its latest successful snapshots."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field

from clonejob_operator.api.base import (
    DNS_SUBDOMAIN,
    ApiModel,
    Empty,
    Int64,
    Timestamp,
    at_most_one,
    cel,
    exactly_one,
    validations,
)
from clonejob_operator.api.bounds import MAX_DISKS, MAX_PRODUCTS
from clonejob_operator.api.common import Condition, RpcStatus
from clonejob_operator.api.computeengine import (
    ComputeEngineDisksTargetDefaults,
    ComputeEngineDisksTargetDetails,
    ComputeEngineTargetDetails,
    TargetVmDetails,
)
from clonejob_operator.api.kubevirt import KubevirtTargetDetails
from clonejob_operator.api.migratingvm import CloneJobSummary, DiskSnapshot, Feed
from clonejob_operator.api.states import FINISHED as FINISHED  # re-exported: the CloneJob's own states
from clonejob_operator.api.states import STARTED as STARTED
from clonejob_operator.api.states import State as State
from clonejob_operator.api.targetproject import SecretKeyRef


class StepKind(StrEnum):
    """The member of the vmmigration API's CloneStep oneof, with the CloneJob state it runs in."""

    PREPARING_VM_DISKS = "preparingVmDisks"
    ADAPTING_OS = "adaptingOs"
    INSTANTIATING_MIGRATED_VM = "instantiatingMigratedVm"

    @property
    def state(self) -> State:
        return State.ADAPTING_OS if self is StepKind.ADAPTING_OS else State.ACTIVE

    @property
    def attribute(self) -> str:
        """The member's name in CloneStep: ``preparingVmDisks`` -> ``preparing_vm_disks``."""
        return _ATTRIBUTES[self]


_ATTRIBUTES = {kind: "".join(f"_{c.lower()}" if c.isupper() else c for c in kind.value) for kind in StepKind}
"""Worked out once: every look at a job asks a step for its kind."""
STEP_MEMBERS = [kind.value for kind in StepKind]


def _a_name_of_its_namespace(value: str) -> str:
    """What the CRD refuses in words, refused again for what was stored before it did."""
    if "/" in value:
        raise ValueError("a CloneJob clones a MigratingVm of its own namespace: give its name alone")
    if not re.fullmatch(DNS_SUBDOMAIN, value):
        raise ValueError("not a MigratingVm's name: lowercase letters, digits, '-' and '.'")
    return value


class CloneJobSpec(ApiModel):
    migrating_vm: Annotated[str, AfterValidator(_a_name_of_its_namespace)] = Field(
        min_length=1,
        max_length=253,
        description="A MigratingVm of the CloneJob's own namespace, by name.",
        json_schema_extra=validations(
            cel(
                "!self.contains('/')",
                "a CloneJob clones a MigratingVm of its own namespace: give its name alone (no namespace, no path)",
            ),
            cel(
                "self.contains('/') || "
                "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",
                "migratingVm must be a MigratingVm's name: lowercase letters, digits, '-' and '.'",
            ),
            cel("self == oldSelf", "migratingVm is immutable; create a new CloneJob to clone another VM"),
        ),
    )
    cancel: bool = Field(
        default=False,
        description="Set true to cancel. It can't be set back to false.",
        json_schema_extra=validations(cel("self || !oldSelf", "cancel may only change from false to true")),
    )


class CloneStep(ApiModel):
    model_config = ConfigDict(json_schema_extra=validations(exactly_one(STEP_MEMBERS)))

    adapting_os: Empty | None = None
    preparing_vm_disks: Empty | None = None
    instantiating_migrated_vm: Empty | None = None
    start_time: Timestamp | None = None
    end_time: Timestamp | None = None
    progress_percent: int | None = Field(default=None, ge=0, le=100)

    @property
    def kind(self) -> StepKind:
        for kind in StepKind:
            if getattr(self, kind.attribute) is not None:
                return kind
        raise ValueError("a CloneStep has none of its members set")

    @classmethod
    def begin(cls, kind: StepKind, at: str) -> CloneStep:
        return cls.model_validate({kind.value: {}, "startTime": at, "progressPercent": 0})


class SourceSync(ApiModel):
    """The replication cycle and snapshots this clone was made from."""

    migrating_vm_uid: str | None = Field(default=None, max_length=64)
    cycle_number: int | None = None
    last_sync_time: Timestamp | None = None
    snapshots: list[DiskSnapshot] | None = Field(default=None, max_length=MAX_DISKS)
    replication: Feed | None = Field(
        default=None,
        description="What fed the MigratingVm when the job started, when the operator keeps its status (volSync): "
        "the job holds the snapshots it restores from against that feed's rotation, from before its first disk "
        "is made until every disk is done (or it is cancelled or fails). Unset: a replication tool writes the "
        "MigratingVm's status, and nothing is held.",
    )
    target_project: str | None = Field(
        default=None, max_length=253, description="The TargetProject a Compute Engine clone was resolved to."
    )
    target_project_uid: str | None = Field(
        default=None,
        max_length=64,
        description="That TargetProject's metadata.uid: a TargetProject deleted and made again under the same "
        "name is another one, and the job fails rather than use it.",
    )
    project: str | None = Field(
        default=None,
        max_length=30,
        description="The Google Cloud project ID the TargetProject named when the job started: the job works in "
        "this project only, whatever the TargetProject says later.",
    )
    credentials_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description="The TargetProject's credentials Secret when the job started; unset: the operator's own "
        "identity (only with --allow-ambient-credentials). A job never switches to other credentials.",
    )
    disks_target_defaults: ComputeEngineDisksTargetDefaults | None = Field(
        default=None,
        description="computeEngineDisksTargetDefaults as they were when the clone started (an addition: the "
        "vmmigration API records no copy).",
    )


class ResourceRef(ApiModel):
    """Something a CloneJob created: a Kubernetes object (apiVersion, kind, namespace, name, uid), or a
    cloud resource (apiVersion such as compute.googleapis.com/v1, kind, name, and its URI)."""

    api_version: str = Field(max_length=64)
    kind: str = Field(max_length=63)
    name: str = Field(max_length=253)
    namespace: str | None = Field(default=None, max_length=63)
    uid: str | None = Field(default=None, max_length=64)
    uri: str | None = Field(
        default=None,
        max_length=256,
        description="The resource's URI when it is not a Kubernetes object (a Compute Engine selfLink).",
    )
    operation: str | None = Field(
        default=None, max_length=128, description="The zone operation creating it, while it runs (Compute Engine)."
    )


class CloneJobStatus(ApiModel):
    """The vmmigration API's CloneJob fields, with their names and meanings, plus the Kubernetes extensions."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            at_most_one(["kubevirtTargetDetails", "computeEngineTargetDetails", "computeEngineDisksTargetDetails"])
        )
    )

    # The vmmigration API's fields.
    name: str | None = Field(default=None, max_length=640)
    create_time: Timestamp | None = None
    state: State | None = None
    state_time: Timestamp | None = None
    end_time: Timestamp | None = None
    error: RpcStatus | None = None
    steps: list[CloneStep] | None = Field(default=None, max_length=8)
    kubevirt_target_details: KubevirtTargetDetails | None = None
    compute_engine_target_details: ComputeEngineTargetDetails | None = None
    compute_engine_disks_target_details: ComputeEngineDisksTargetDetails | None = None
    target_details: TargetVmDetails | None = Field(
        default=None,
        description="Deprecated: computeEngineTargetDetails in the older TargetVMDetails message's shape.",
    )
    compute_engine_vm_details: TargetVmDetails | None = Field(
        default=None,
        description="Deprecated: computeEngineTargetDetails in the older TargetVMDetails message's shape.",
    )
    # Kubernetes extensions.
    observed_generation: Int64 | None = None
    conditions: list[Condition] | None = Field(
        default=None,
        max_length=4,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    current_step: StepKind | None = None
    progress_percent: int | None = Field(default=None, ge=0, le=100)
    source_sync: SourceSync | None = None
    created_resources: list[ResourceRef] | None = Field(default=None, max_length=MAX_PRODUCTS)
    created_revision: Int64 | None = Field(
        default=None,
        ge=0,
        description="The resourceVersion the CloneJob had when the operator first recorded it (its creation's, "
        "unless it was changed before): the order in which the API server stored it, which breaks ties of "
        "creationTimestamp (one-second resolution) in its MigratingVm's queue.",
    )
    blocked_since: Timestamp | None = Field(
        default=None,
        description="Since when a PENDING job has waited for something missing (its MigratingVm, its snapshots, its "
        "TargetProject): the pending deadline counts from here. Waiting its turn (its MigratingVm's queue, an active "
        "slot) never counts.",
    )
    seal: str | None = Field(
        default=None,
        max_length=64,
        description="The operator's HMAC of this status and the CloneJob's uid, under a key only the operator "
        "and cluster admins can read: a status without a matching seal was not written by the operator, and the "
        "operator neither creates nor deletes anything because of it.",
    )

    @property
    def current(self) -> State:
        return State(self.state) if self.state else State.STATE_UNSPECIFIED

    def summary(self, uid: str) -> CloneJobSummary:
        """The job's entry in its MigratingVm's ``recentCloneJobs``."""
        return CloneJobSummary(
            name=self.name or "",
            uid=uid,
            create_time=self.create_time,
            state=self.state,
            state_time=self.state_time,
            end_time=self.end_time,
            error=self.error,
        )

    @property
    def running_step(self) -> CloneStep | None:
        if self.steps and self.steps[-1].end_time is None:
            return self.steps[-1]
        return None
