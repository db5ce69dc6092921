"""Holding a VolSync image while something needs it (pure).

VolSync deletes a ReplicationDestination's previous image when it publishes a new one, unless that
VolumeSnapshot carries the label ``volsync.backube/do-not-delete``: a labelled image is relinquished, and
VolSync never deletes it; whoever labelled it must. The operator holds an image by that label, and records
who holds it in an annotation (``vmmigration.dev/held-by``: the holders, sorted, comma-separated, each
``Kind/uid``), so that the last holder to let go knows it is the last:

- a MigratingVm holds the images of its last complete cycle; a CloneJob, the images it restores from;
- when the last holder lets go, the image is unlabelled if it is still its ReplicationDestination's latest
  image (VolSync rotates it as usual), and deleted if it is not (VolSync has relinquished it);
- an image somebody else had labelled before the operator first held it (``vmmigration.dev/pinned``) keeps
  its label and is never deleted by the operator: only the operator's record goes.

Every change is a merge patch under the image's resourceVersion (two holders letting go at once cannot both
think they were the last), and a delete is conditioned on the image's uid and resourceVersion.
"""

from __future__ import annotations

from dataclasses import dataclass

from clonejob_operator import names
from clonejob_operator.kube import Body
from clonejob_operator.sources.base import HELD_BY, holder, holders_of

__all__ = ["DO_NOT_DELETE", "HELD_BY", "PINNED", "Delete", "Holding", "hold", "holder", "release"]

DO_NOT_DELETE = "volsync.backube/do-not-delete"
PINNED = f"{names.ANNOTATION_PREFIX}/pinned"
"""Set when the image was already labelled ``do-not-delete`` by somebody else when the operator first held it."""


@dataclass(frozen=True)
class Holding:
    """What an image's metadata says about who holds it."""

    holders: tuple[str, ...]
    labelled: bool
    pinned: bool

    @classmethod
    def of(cls, body: Body) -> Holding:
        meta = body.get("metadata") or {}
        labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
        return cls(holders_of(body), DO_NOT_DELETE in labels, annotations.get(PINNED) == "true")


@dataclass(frozen=True)
class Delete:
    """The image, relinquished by VolSync and let go by its last holder: deleted (if still this very version)."""

    name: str
    uid: str
    resource_version: str


def hold(body: Body, who: str) -> Body | None:
    """The merge patch by which ``who`` holds the image, or None when it already does (and the label is there)."""
    now = Holding.of(body)
    if who in now.holders and now.labelled:
        return None
    annotations: Body = {HELD_BY: ",".join(sorted({*now.holders, who}))}
    if now.labelled and not now.holders and not now.pinned:  # labelled by somebody else first: theirs for ever
        annotations[PINNED] = "true"
    labels = None if now.labelled else {DO_NOT_DELETE: "true"}  # a label already there keeps its value
    return _patch(body, labels=labels, annotations=annotations)


def release(body: Body, who: str, latest: frozenset[str], recorded: bool = True) -> Body | Delete | None:
    """What ``who`` letting go of the image takes: a merge patch, a delete, or nothing (it did not hold it).

    ``latest``: the images the ReplicationDestinations of the namespace publish as their latest now.
    ``recorded``: whether the holder's own record (a status only the operator writes) says it holds the image.
    An image that only its annotations say is held (anybody who may patch it may write those) is never
    deleted nor unlabelled: only the holder's name is taken off it.
    """
    now = Holding.of(body)
    if who not in now.holders:
        return None
    rest = [h for h in now.holders if h != who]
    if rest:
        return _patch(body, annotations={HELD_BY: ",".join(rest)})
    mine_gone: Body = {HELD_BY: None, PINNED: None}
    if now.pinned:
        return _patch(body, annotations=mine_gone)  # somebody else's pin stays
    if not recorded:
        return _patch(body, annotations=mine_gone)  # not the operator's doing: its record alone goes
    meta = body["metadata"]
    if meta["name"] in latest:
        return _patch(body, labels={DO_NOT_DELETE: None}, annotations=mine_gone)  # VolSync's again, to rotate
    return Delete(meta["name"], meta["uid"], meta["resourceVersion"])


def _patch(body: Body, labels: Body | None = None, annotations: Body | None = None) -> Body:
    meta: Body = {"resourceVersion": body["metadata"]["resourceVersion"]}
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta}
