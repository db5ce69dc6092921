"""VolSync as a MigratingVm's feed: each disk replicated by a ``volsync.backube/v1alpha1`` ReplicationDestination
with ``copyMethod: Snapshot``, whose ``status.latestImage`` names the VolumeSnapshot of its latest sync.

- ``cycles``: the MigratingVm's status worked out from its ReplicationDestinations and their images (pure);
- ``holds``: keeping an image from VolSync's rotation while something needs it, by VolSync's own
  ``volsync.backube/do-not-delete`` label and a record of who holds it (pure);
- ``plan``: what a commit holds, lets go of and writes (pure);
- ``feed``: the reconcile (observe, decide, commit) and a CloneJob's holds.

``FEED`` is what the catalog registers.
"""

from __future__ import annotations

from clonejob_operator.api.migratingvm import Feed as Member
from clonejob_operator.kube import Body, KubeClient
from clonejob_operator.permissions import Rule
from clonejob_operator.sources.base import Feed, FeedDriver
from clonejob_operator.sources.volsync.feed import VolSyncFeed
from clonejob_operator.sources.volsync.kinds import REPLICATION_DESTINATION


def _build(kube: KubeClient) -> FeedDriver:
    return VolSyncFeed(kube)


def _reads(migrating_vm: Body) -> tuple[str, ...]:
    """The ReplicationDestinations a fed MigratingVm's spec names."""
    disks = (((migrating_vm.get("spec") or {}).get("replication") or {}).get("volSync") or {}).get("disks")
    return tuple(
        str(d["replicationDestination"]) for d in disks or [] if isinstance(d, dict) and d.get("replicationDestination")
    )


FEED = Feed(
    name=Member.VOL_SYNC.value,
    title="VolSync",
    watches=(REPLICATION_DESTINATION,),
    rules=(
        Rule(
            "volsync.backube",
            ("replicationdestinations",),
            ("get", "list", "watch"),
            "a VolSync-fed MigratingVm's cycles come from its ReplicationDestinations' latest images",
        ),
        Rule(
            "snapshot.storage.k8s.io",
            ("volumesnapshots",),
            ("patch", "delete"),
            "hold a VolSync image (its do-not-delete label) while a cycle or a clone needs it; delete one only "
            "when the operator held it, VolSync relinquished it and its last holder let go",
        ),
        Rule(
            "vmmigration.dev",
            ("migratingvms",),
            ("patch",),
            "a VolSync-fed MigratingVm keeps a finalizer until it has let go of the images it holds",
        ),
    ),
    build=_build,
    reads=_reads,
)
