"""MigratingVm: the VM being replicated, parent of CloneJobs.

Without ``spec.replication`` its ``status`` belongs to whatever replicates the VM; this operator reads it and
writes only ``status.recentCloneJobs``. With ``spec.replication.volSync`` the operator keeps its status itself,
from the VolSync ReplicationDestinations named there.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from clonejob_operator.api.base import ApiModel, Int64, SubdomainName, Timestamp, cel, exactly_one, validations
from clonejob_operator.api.bounds import MAX_DISKS, SET, Duration, ResourcePath, Word, keys_at_most, with_rules
from clonejob_operator.api.common import RpcStatus
from clonejob_operator.api.computeengine import ComputeEngineDisksTargetDefaults, ComputeEngineTargetDefaults
from clonejob_operator.api.kubevirt import KubevirtTargetDefaults
from clonejob_operator.api.states import State

TARGET_MEMBERS = ["kubevirtTargetDefaults", "computeEngineTargetDefaults", "computeEngineDisksTargetDefaults"]


class MigratingVmState(StrEnum):
    STATE_UNSPECIFIED = "STATE_UNSPECIFIED"
    PENDING = "PENDING"
    READY = "READY"
    FIRST_SYNC = "FIRST_SYNC"
    ACTIVE = "ACTIVE"
    CUTTING_OVER = "CUTTING_OVER"
    CUTOVER = "CUTOVER"
    FINAL_SYNC = "FINAL_SYNC"
    PAUSED = "PAUSED"
    FINALIZING = "FINALIZING"
    FINALIZED = "FINALIZED"
    ERROR = "ERROR"
    EXPIRED = "EXPIRED"
    FINALIZED_EXPIRED = "FINALIZED_EXPIRED"


DiskName = Annotated[str, Field(min_length=1, max_length=128)]
"""A source disk's name, as ``status.lastSync.snapshots[].disk`` carries it."""


class Feed(StrEnum):
    """What replicates a MigratingVm's VM when the operator keeps its status: the members of ``spec.replication``."""

    VOL_SYNC = "volSync"


class VolSyncDisk(ApiModel):
    """One source disk and the ReplicationDestination that replicates it."""

    disk: DiskName = Field(description="The source disk's name: status.lastSync.snapshots[].disk carries it.")
    replication_destination: SubdomainName = Field(
        description="A volsync.backube/v1alpha1 ReplicationDestination in the MigratingVm's namespace, with "
        "copyMethod Snapshot: each sync's VolumeSnapshot (its status.latestImage) is this disk's snapshot."
    )


_ONE_DESTINATION_PER_DISK = cel(
    "self.all(a, self.exists_one(b, b.replicationDestination == a.replicationDestination))",
    "each disk has a ReplicationDestination of its own: two disks name the same one",
    reason="FieldValueDuplicate",
)


class VolSyncReplication(ApiModel):
    disks: list[VolSyncDisk] = Field(
        min_length=1,
        max_length=MAX_DISKS,
        description="One entry per source disk, in the order of the clone's disks.",
        json_schema_extra=with_rules(
            {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["disk"]}, _ONE_DESTINATION_PER_DISK
        ),
    )


class Replication(ApiModel):
    """What replicates the VM, when the operator is to keep the MigratingVm's status from it."""

    model_config = ConfigDict(
        json_schema_extra=validations(cel("has(self.volSync)", "volSync is required: the one replication read"))
    )

    vol_sync: VolSyncReplication | None = Field(
        default=None,
        description="VolSync: the operator keeps status.lastSync from the ReplicationDestinations' images, and "
        "keeps the images a clone needs from VolSync's rotation while it needs them.",
    )


_REPLICATED_TO_KUBEVIRT = cel(
    "!has(self.replication) || has(self.kubevirtTargetDefaults)",
    "spec.replication.volSync makes VolumeSnapshots: only a MigratingVm with kubevirtTargetDefaults clones from them",
    fieldPath=".replication",
)


class MigratingVmSpec(ApiModel):
    model_config = ConfigDict(json_schema_extra=validations(exactly_one(TARGET_MEMBERS), _REPLICATED_TO_KUBEVIRT))

    source_vm_id: str = Field(min_length=1, max_length=256, description="The VM's id in the source.")
    display_name: str | None = Field(default=None, max_length=256)
    description: str | None = Field(default=None, max_length=1024)
    kubevirt_target_defaults: KubevirtTargetDefaults | None = None
    compute_engine_target_defaults: ComputeEngineTargetDefaults | None = None
    compute_engine_disks_target_defaults: ComputeEngineDisksTargetDefaults | None = None
    replication: Replication | None = Field(
        default=None,
        description="Unset: whatever replicates the VM writes this MigratingVm's status. Set: the operator keeps "
        "the status itself, from the replication named here.",
    )


class DiskSnapshot(ApiModel):
    """One replicated disk at the end of the last successful sync."""

    model_config = ConfigDict(json_schema_extra=validations(exactly_one(["volumeSnapshot", "computeEngineSnapshot"])))

    disk: DiskName = Field(description="The source disk this snapshot is of.")
    volume_snapshot: SubdomainName | None = Field(
        default=None, description="A snapshot.storage.k8s.io/v1 VolumeSnapshot in the MigratingVm's namespace."
    )
    compute_engine_snapshot: ResourcePath | None = Field(default=None, description="A Compute Engine snapshot.")
    size_bytes: Int64 | None = Field(default=None, ge=0)


class LastSync(ApiModel):
    last_sync_time: Timestamp | None = None
    cycle_number: int | None = Field(default=None, ge=0)
    snapshots: list[DiskSnapshot] | None = Field(default=None, max_length=MAX_DISKS)


Counters = Annotated[dict[str, int], Field(max_length=8, json_schema_extra=keys_at_most(32))]


class CycleStep(ApiModel):
    initializing_replication: Counters | None = None
    replicating: Counters | None = Field(
        default=None, description="totalBytes, replicatedBytes and the average rates, as in the vmmigration API."
    )
    post_processing: Counters | None = None
    start_time: Timestamp | None = None
    end_time: Timestamp | None = None


class ReplicationCycle(ApiModel):
    name: Word | None = None
    cycle_number: int | None = None
    start_time: Timestamp | None = None
    end_time: Timestamp | None = None
    total_pause_duration: Duration | None = Field(default=None, description="A google.protobuf.Duration, e.g. 3.5s.")
    progress_percent: int | None = Field(default=None, ge=0, le=100)
    steps: list[CycleStep] | None = Field(default=None, max_length=4)
    state: Literal["STATE_UNSPECIFIED", "RUNNING", "PAUSED", "FAILED", "SUCCEEDED"] | None = None
    error: RpcStatus | None = None


class CloneJobSummary(ApiModel):
    """An entry of ``recentCloneJobs``: the vmmigration API's CloneJob, without the bulky parts."""

    name: str = Field(max_length=640, description="namespaces/NS/migratingVms/MVM/cloneJobs/NAME")
    uid: str | None = Field(
        default=None,
        max_length=64,
        description="The CloneJob's metadata.uid (an addition to the vmmigration API): tells a job from a later "
        "namesake.",
    )
    create_time: Timestamp | None = None
    state: State | None = None
    state_time: Timestamp | None = None
    end_time: Timestamp | None = None
    error: RpcStatus | None = None


class MigratingVmStatus(ApiModel):
    state: MigratingVmState | None = None
    state_time: Timestamp | None = None
    last_sync: LastSync | None = None
    last_replication_cycle: ReplicationCycle | None = None
    error: RpcStatus | None = None
    held_snapshots: list[SubdomainName] | None = Field(
        default=None,
        max_length=3 * MAX_DISKS,
        description="Written by clonejob-operator for a MigratingVm fed by spec.replication (an addition to the "
        "vmmigration API): the VolumeSnapshots it holds from the feed's rotation, recorded before it holds them. "
        "The operator deletes a relinquished image only when this record names it.",
        json_schema_extra=SET,
    )
    recent_clone_jobs: list[CloneJobSummary] | None = Field(
        default=None, max_length=2, description="Written by clonejob-operator: the running and the last finished."
    )
