"""VolSync played by hand, for the demo and the tests: a ReplicationDestination with ``copyMethod: Snapshot``,
as VolSync's controller behaves.

Each sync makes a new VolumeSnapshot (owned by the ReplicationDestination, ready to use) and publishes it in
``status.latestImage``; the image it replaces is deleted under its resourceVersion, unless it carries
``volsync.backube/do-not-delete``, in which case it is relinquished (VolSync's ownership and cleanup label
removed) and never deleted by VolSync again. Never let it loose where VolSync runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes.client.exceptions import ApiException

from clonejob_operator.kube import VOLUME_SNAPSHOT, Kube
from clonejob_operator.sources.volsync.holds import DO_NOT_DELETE
from clonejob_operator.sources.volsync.kinds import REPLICATION_DESTINATION
from clonejob_operator.timestamps import format_time

CLEANUP = "volsync.backube/cleanup"
CREATED_BY = {"app.kubernetes.io/created-by": "volsync"}


@dataclass
class VolSync:
    kube: Kube
    namespace: str
    clock: datetime = field(default_factory=lambda: datetime(2026, 12, 4, 10, 0, tzinfo=UTC))
    syncs: dict[str, int] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    """Put on every ReplicationDestination it makes."""
    made: list[str] = field(default_factory=list)
    """The ReplicationDestinations it made and the images it published, ``Kind/name``, in order."""

    def destination(self, name: str, paused: bool = False) -> dict[str, Any]:
        """A ReplicationDestination receiving by rsync-over-TLS into snapshots, on a schedule."""
        spec = {
            "trigger": {"schedule": "*/10 * * * *"},
            "paused": paused,
            "rsyncTLS": {"copyMethod": "Snapshot", "capacity": "10Gi", "accessModes": ["ReadWriteOnce"]},
        }
        body = {
            "apiVersion": REPLICATION_DESTINATION.api_version,
            "kind": REPLICATION_DESTINATION.kind,
            "metadata": {"name": name, "namespace": self.namespace, "labels": dict(self.labels)},
            "spec": spec,
        }
        created = self.kube.create(REPLICATION_DESTINATION, self.namespace, body)
        self.made.append(f"{REPLICATION_DESTINATION.kind}/{name}")
        return created

    def sync(self, name: str, took: timedelta = timedelta(minutes=2)) -> str:
        """One sync of ``name``: its new image, published; the one it replaces deleted or relinquished."""
        rd = self.kube.refresh(REPLICATION_DESTINATION, self.namespace, name)
        if rd is None:
            raise LookupError(f"ReplicationDestination {self.namespace}/{name} does not exist")
        count = self.syncs[name] = self.syncs.get(name, 0) + 1
        started, self.clock = self.clock, self.clock + took
        image = f"volsync-{name}-dst-{count}"
        owner = {"apiVersion": rd["apiVersion"], "kind": rd["kind"], "name": name, "uid": rd["metadata"]["uid"]}
        snapshot = {
            "apiVersion": VOLUME_SNAPSHOT.api_version,
            "kind": VOLUME_SNAPSHOT.kind,
            "metadata": {"name": image, "namespace": self.namespace, "labels": CREATED_BY, "ownerReferences": [owner]},
            "spec": {"source": {"persistentVolumeClaimName": f"volsync-{name}-dst"}},
        }
        self.kube.create(VOLUME_SNAPSHOT, self.namespace, snapshot)
        self.made.append(f"{VOLUME_SNAPSHOT.kind}/{image}")
        ready = {"status": {"readyToUse": True, "restoreSize": "10Gi", "creationTime": format_time(self.clock)}}
        self.kube.patch_status(VOLUME_SNAPSHOT, self.namespace, image, ready)
        before = ((rd.get("status") or {}).get("latestImage") or {}).get("name")
        latest = {"apiGroup": VOLUME_SNAPSHOT.group, "kind": VOLUME_SNAPSHOT.kind, "name": image}
        status = {
            "latestImage": latest,
            "lastSyncStartTime": format_time(started),
            "lastSyncTime": format_time(self.clock),
            "lastSyncDuration": f"{int(took.total_seconds())}s",
        }
        self.kube.patch_status(REPLICATION_DESTINATION, self.namespace, name, {"status": status})
        if before:
            self._clean_up(before, rd["metadata"]["uid"])
        return image

    def pause(self, name: str, paused: bool = True) -> None:
        self.kube.patch(REPLICATION_DESTINATION, self.namespace, name, {"spec": {"paused": paused}})

    def _clean_up(self, name: str, owner: str) -> None:
        """VolSync's end of a sync: the replaced image goes, unless labelled do-not-delete (then relinquished)."""
        while True:
            snapshot = self.kube.refresh(VOLUME_SNAPSHOT, self.namespace, name)
            if snapshot is None:
                return
            meta = snapshot["metadata"]
            try:
                if DO_NOT_DELETE in (meta.get("labels") or {}):
                    refs = [r for r in meta.get("ownerReferences") or [] if r["uid"] != owner]
                    relinquish = {
                        "resourceVersion": meta["resourceVersion"],
                        "labels": {CLEANUP: None, "app.kubernetes.io/created-by": None},
                        "ownerReferences": refs,
                    }
                    self.kube.patch(VOLUME_SNAPSHOT, self.namespace, name, {"metadata": relinquish})
                else:
                    self.kube.delete(VOLUME_SNAPSHOT, self.namespace, name, resource_version=meta["resourceVersion"])
                return
            except ApiException as error:
                if error.status == 404:
                    return
                if error.status != 409:  # changed meanwhile (labelled, say): look again
                    raise

    def remove(self) -> list[str]:
        """Delete what it made that is left (what VolSync's garbage collection would): ``Kind/name`` of each."""
        kinds = {kind.kind: kind for kind in (REPLICATION_DESTINATION, VOLUME_SNAPSHOT)}
        gone = []
        for made in reversed(self.made):
            kind, _, name = made.partition("/")
            if self.kube.refresh(kinds[kind], self.namespace, name) is not None:
                self.kube.delete(kinds[kind], self.namespace, name)
                gone.append(made)
        return gone
