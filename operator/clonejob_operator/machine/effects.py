"""What a decision asks to be done: a closed set of small types, carried out by ``commit`` alone, in order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clonejob_operator.api.clonejob import CloneJobStatus, ResourceRef
from clonejob_operator.api.migratingvm import CloneJobSummary
from clonejob_operator.machine.reasons import Reason


@dataclass(frozen=True)
class CreateProduct:
    """An effect: make one product that a step needs and is missing."""

    target: str
    """The driver's name (``Driver.name``)."""
    kind: str
    name: str
    body: Any
    """What the driver needs to make it: a manifest, or a cloud API request."""
    intent: ResourceRef | None = None
    """Recorded in status.createdResources *before* the create is sent (write-ahead): a target whose
    cleanup needs a client that may be unavailable can then prove that nothing was ever sent."""


@dataclass(frozen=True)
class DeleteProduct:
    """An effect: delete one product. The driver re-reads it and deletes only what carries the job's uid."""

    target: str
    ref: ResourceRef


@dataclass(frozen=True)
class Keep:
    """An effect: hold one image the job restores from against its feed's rotation, or let go of it. A hold
    that cannot be taken stops the rest of the decision: nothing is made from an image that is not held."""

    feed: str
    """The feed's name (``Feed.name``), as ``status.sourceSync.replication`` records it."""
    image: str
    hold: bool


@dataclass(frozen=True)
class AddFinalizer:
    """Hold the CloneJob until its products are gone (before anything is created)."""


@dataclass(frozen=True)
class RemoveFinalizer:
    """Let a finished CloneJob go: it has nothing left to clean up, so it is deleted at once, operator or not."""


@dataclass(frozen=True)
class Claim:
    """Take the MigratingVm's one running slot (its recentCloneJobs entry), under a start reservation
    that lasts until the next ``PatchStatus`` is written."""

    summary: CloneJobSummary


@dataclass(frozen=True)
class PatchStatus:
    status: CloneJobStatus
    sealed: bool = True
    """Written with the operator's seal. Only the conditions of a held job are written without one: its
    status stays as untrusted as it was found."""


@dataclass(frozen=True)
class Record:
    """Put the job's latest summary into its MigratingVm's recentCloneJobs (best effort)."""

    migrating_vm: str
    summary: CloneJobSummary


@dataclass(frozen=True)
class PostEvent:
    type: str
    reason: Reason
    message: str


@dataclass(frozen=True)
class GiveUp:
    """Leave a job whose status cannot be written alone until it changes: say so (an ERROR line and a Warning
    Event, the one place left to say it), and remember the version of the job it was decided on."""

    resource_version: str
    message: str


ProductEffect = CreateProduct | DeleteProduct | Keep
Effect = AddFinalizer | RemoveFinalizer | Claim | PatchStatus | Record | PostEvent | GiveUp | ProductEffect

__all__ = [
    "AddFinalizer",
    "Claim",
    "CreateProduct",
    "DeleteProduct",
    "Effect",
    "GiveUp",
    "Keep",
    "PatchStatus",
    "PostEvent",
    "ProductEffect",
    "Record",
    "RemoveFinalizer",
]
