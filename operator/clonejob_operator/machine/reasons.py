"""The condition and Event reasons of a CloneJob: one vocabulary, each reason defined once (CamelCase, as
kstatus has them).

``Reason`` holds every reason a user can read: a job's transitions, its waits, its running steps
(``Reason.of_step``) and the error code of a failed job (``Reason.of_code``). ``WaitReason`` pairs a wait's
reason with what wakes it (``Trigger``), so that the reason a user reads and the wake-up routing can never
drift apart (nothing parses a condition reason back out of a status).
"""

from __future__ import annotations

import enum
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clonejob_operator.api.clonejob import StepKind
    from clonejob_operator.codes import Code


class Reason(StrEnum):
    # A job's transitions.
    PENDING = "Pending"
    STARTED = "Started"
    CANCELLING = "Cancelling"
    CANCELLED = "Cancelled"
    CLEANING_UP = "CleaningUp"
    CLEANUP_STUCK = "CleanupStuck"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"
    DONE = "Done"
    UNWRITABLE = "Unwritable"
    """The API server refuses every status write (an object stored under a looser schema, say)."""
    UNTRUSTED_STATUS = "UntrustedStatus"
    """The stored status carries no valid seal of the operator: the job is held, and nothing is done for it."""
    # Why a PENDING job waits (see WaitReason for what wakes each).
    AWAITING_FINALIZER = "AwaitingFinalizer"
    MIGRATING_VM_NOT_FOUND = "MigratingVmNotFound"
    NO_SNAPSHOTS = "NoSnapshots"
    QUEUED = "Queued"
    WAITING_FOR_CLONE_JOB = "WaitingForCloneJob"
    MAX_ACTIVE_REACHED = "MaxActiveReached"
    MAX_ACTIVE_PER_NAMESPACE_REACHED = "MaxActivePerNamespaceReached"
    TARGET_PROJECT_NOT_FOUND = "TargetProjectNotFound"
    LOADING_TARGET_CLIENT = "LoadingTargetClient"
    CREDENTIALS_SECRET_UNUSABLE = "CredentialsSecretUnusable"
    UNAVAILABLE = "Unavailable"
    # A running step (StepKind in CamelCase).
    PREPARING_VM_DISKS = "PreparingVmDisks"
    ADAPTING_OS = "AdaptingOs"
    INSTANTIATING_MIGRATED_VM = "InstantiatingMigratedVm"
    # A failed job: its error code (google.rpc.Code in CamelCase; Cancelled and Unavailable are above).
    OK = "Ok"
    UNKNOWN = "Unknown"
    INVALID_ARGUMENT = "InvalidArgument"
    DEADLINE_EXCEEDED = "DeadlineExceeded"
    NOT_FOUND = "NotFound"
    ALREADY_EXISTS = "AlreadyExists"
    PERMISSION_DENIED = "PermissionDenied"
    RESOURCE_EXHAUSTED = "ResourceExhausted"
    FAILED_PRECONDITION = "FailedPrecondition"
    ABORTED = "Aborted"
    OUT_OF_RANGE = "OutOfRange"
    UNIMPLEMENTED = "Unimplemented"
    INTERNAL = "Internal"
    DATA_LOSS = "DataLoss"
    UNAUTHENTICATED = "Unauthenticated"

    @classmethod
    def of_step(cls, kind: StepKind) -> Reason:
        """``preparingVmDisks`` -> ``PreparingVmDisks``."""
        return cls(kind.value[0].upper() + kind.value[1:])

    @classmethod
    def of_code(cls, code: Code) -> Reason:
        """``DEADLINE_EXCEEDED`` -> ``DeadlineExceeded``."""
        return cls("".join(part.capitalize() for part in code.name.split("_")))


class Trigger(enum.Enum):
    """What change may end a wait."""

    MIGRATING_VM = "MigratingVm"
    """A change of the job's MigratingVm (it appears, gains snapshots)."""
    QUEUE = "queue"
    """Another job of the same MigratingVm finishes or leaves the queue."""
    ACTIVE_SLOT = "active slot"
    """Any job frees an active slot (--max-active)."""
    TARGET_PROJECT = "TargetProject"
    """A TargetProject appears or changes in the job's namespace."""
    TARGET_LOADED = "target loaded"
    """A target's client library has finished loading (in the background, after a start)."""
    TIME = "time"
    """Nothing but time (a retry after a transient error, a deadline)."""


class WaitReason(enum.Enum):
    """The ``Reconciling`` reason of a waiting job, with its wake trigger."""

    PENDING = (Reason.PENDING, Trigger.MIGRATING_VM)
    AWAITING_FINALIZER = (Reason.AWAITING_FINALIZER, Trigger.TIME)
    MIGRATING_VM_NOT_FOUND = (Reason.MIGRATING_VM_NOT_FOUND, Trigger.MIGRATING_VM)
    NO_SNAPSHOTS = (Reason.NO_SNAPSHOTS, Trigger.MIGRATING_VM)
    QUEUED = (Reason.QUEUED, Trigger.QUEUE)
    WAITING_FOR_CLONE_JOB = (Reason.WAITING_FOR_CLONE_JOB, Trigger.QUEUE)
    MAX_ACTIVE_REACHED = (Reason.MAX_ACTIVE_REACHED, Trigger.ACTIVE_SLOT)
    MAX_ACTIVE_PER_NAMESPACE_REACHED = (Reason.MAX_ACTIVE_PER_NAMESPACE_REACHED, Trigger.ACTIVE_SLOT)
    TARGET_PROJECT_NOT_FOUND = (Reason.TARGET_PROJECT_NOT_FOUND, Trigger.TARGET_PROJECT)
    LOADING_TARGET = (Reason.LOADING_TARGET_CLIENT, Trigger.TARGET_LOADED)
    """The target's client library is loading (seconds, once per start); never counts towards a deadline."""
    CREDENTIALS_SECRET_UNUSABLE = (Reason.CREDENTIALS_SECRET_UNUSABLE, Trigger.TIME)
    """The TargetProject's Secret is missing, not labelled for the operator, or lacks its key: looked at again
    every little while (Secrets are not watched)."""
    UNAVAILABLE = (Reason.UNAVAILABLE, Trigger.TIME)
    """Admission met a transient error: looked at again after the work queue's backoff."""

    def __init__(self, reason: Reason, trigger: Trigger) -> None:
        self.reason = reason
        self.trigger = trigger

    @property
    def blocked(self) -> bool:
        """Something the job needs is missing: only such a wait counts towards the pending deadline. A job that
        waits its turn (its MigratingVm's queue, an active slot) or a transient error never fails for it."""
        return self in BLOCKED


BLOCKED = frozenset(
    {
        WaitReason.MIGRATING_VM_NOT_FOUND,
        WaitReason.NO_SNAPSHOTS,
        WaitReason.TARGET_PROJECT_NOT_FOUND,
        WaitReason.CREDENTIALS_SECRET_UNUSABLE,
    }
)
