"""The feed contract: one small interface per replication tool the operator reads, one package per feed.

A feed keeps the status of the MigratingVms whose ``spec.replication`` names it (``reconcile``), and keeps the
images a CloneJob restores from while the job needs them (``keeping`` reads, ``keep`` writes one hold or
release). The core knows a feed by its name only (``catalog.FEEDS``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from clonejob_operator import names
from clonejob_operator.kube import Body, Kind, KubeClient
from clonejob_operator.permissions import Rule

JOB_HOLDER = "CloneJob"
FEED_HOLDER = "MigratingVm"
HELD_BY = f"{names.ANNOTATION_PREFIX}/held-by"
"""On an image: who holds it, sorted, comma-separated, each ``Kind/uid`` (the operator's record of its holds)."""


def holders_of(body: Body) -> tuple[str, ...]:
    """Who holds an image, as its ``HELD_BY`` annotation says."""
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    return tuple(sorted({h for h in str(annotations.get(HELD_BY, "")).split(",") if h}))


def holder(kind: str, uid: str) -> str:
    """How a holder of an image is named: ``MigratingVm/<uid>``, ``CloneJob/<uid>``."""
    return f"{kind}/{uid}"


@dataclass(frozen=True)
class Keeping:
    """What a job holds of the images it restores from, as one look found it."""

    unheld: tuple[str, ...] = ()
    """Images it restores from that it does not hold yet."""
    held: tuple[str, ...] = ()
    """Images it holds now."""


@dataclass(frozen=True)
class FeedOutcome:
    """What one reconcile of a fed MigratingVm asks of the work queue."""

    fault: str | None = None
    """Why it could not finish (a refusal, an outage): looked at again after the queue's backoff."""
    outage: bool = False
    """The fault was no answer from the API server: said at DEBUG (the operator says an outage once), not as a
    Warning Event on the MigratingVm, as a refusal is."""
    conflict: bool = False
    """Somebody wrote first: looked at again at once."""


FEED_FAILING = "FeedFailing"
"""The reason of the Warning Event on a fed MigratingVm whose feed the API server refuses something."""


class FeedDriver(Protocol):
    def reconcile(self, namespace: str, name: str, held: frozenset[str]) -> FeedOutcome:
        """Observe the MigratingVm's replication, decide its status and holds, commit them. ``held``: the images
        its watch says the MigratingVm holds (of its namespace)."""

    def keeping(self, namespace: str, images: tuple[str, ...], holder: str) -> Keeping:
        """Which of ``images`` ``holder`` holds (read only, from the caches)."""

    def keep(self, namespace: str, image: str, holder: str, hold: bool) -> None:
        """Hold (or let go of) one image for ``holder``; an ApiException when the API server refuses."""


@dataclass(frozen=True)
class Feed:
    """A replication tool as the core knows it, registered in ``catalog.FEEDS``."""

    name: str
    """Its member of ``spec.replication`` (``volSync``), as a job's ``status.sourceSync.replication`` records it."""
    title: str
    watches: tuple[Kind, ...]
    """What it reads, watched into the caches: a change wakes the MigratingVms of that namespace it feeds."""
    rules: tuple[Rule, ...]
    build: Callable[[KubeClient], FeedDriver]
    reads: Callable[[Body], tuple[str, ...]]
    """The names of the objects of its watched kinds that a MigratingVm it feeds reads (as its spec says)."""

    def feeds(self, migrating_vm: Body) -> bool:
        """Whether this feed keeps the status of ``migrating_vm`` (its spec names it)."""
        replication = (migrating_vm.get("spec") or {}).get("replication") or {}
        return isinstance(replication, dict) and replication.get(self.name) is not None
