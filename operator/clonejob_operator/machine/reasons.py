"""The condition and Event reasons of a CloneJob, each defined once (CamelCase, as kstatus has them).

``Reason``: a job's transitions. ``WaitReason``: why a PENDING job waits, with what wakes it (``Trigger``),
so that the reason a user reads and the wake-up routing can never drift apart (nothing parses a condition
reason back out of a status). A running step's reason is its ``StepKind.reason``; a failed job's is its
error code's (``Code.reason``).
"""

from __future__ import annotations

import enum
from enum import StrEnum


class Reason(StrEnum):
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

    PENDING = (Reason.PENDING.value, Trigger.MIGRATING_VM)
    AWAITING_FINALIZER = ("AwaitingFinalizer", Trigger.TIME)
    MIGRATING_VM_NOT_FOUND = ("MigratingVmNotFound", Trigger.MIGRATING_VM)
    NO_SNAPSHOTS = ("NoSnapshots", Trigger.MIGRATING_VM)
    QUEUED = ("Queued", Trigger.QUEUE)
    WAITING_FOR_CLONE_JOB = ("WaitingForCloneJob", Trigger.QUEUE)
    MAX_ACTIVE_REACHED = ("MaxActiveReached", Trigger.ACTIVE_SLOT)
    MAX_ACTIVE_PER_NAMESPACE_REACHED = ("MaxActivePerNamespaceReached", Trigger.ACTIVE_SLOT)
    TARGET_PROJECT_NOT_FOUND = ("TargetProjectNotFound", Trigger.TARGET_PROJECT)
    LOADING_TARGET = ("LoadingTargetClient", Trigger.TARGET_LOADED)
    """The target's client library is loading (seconds, once per start); never counts towards a deadline."""
    CREDENTIALS_SECRET_UNUSABLE = ("CredentialsSecretUnusable", Trigger.TIME)
    """The TargetProject's Secret is missing, not labelled for the operator, or lacks its key: looked at again
    every little while (Secrets are not watched)."""
    UNAVAILABLE = ("Unavailable", Trigger.TIME)
    """Admission met a transient error: looked at again after a backoff."""

    def __init__(self, reason: str, trigger: Trigger) -> None:
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
