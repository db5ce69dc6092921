"""The VolSync feed's commit against a fake API server: its order, and what a fault stops."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from urllib3.exceptions import MaxRetryError

from clonejob_operator import names
from clonejob_operator.kube import MIGRATING_VM, VOLUME_SNAPSHOT, Body, Kind
from clonejob_operator.sources.volsync.feed import VolSyncFeed
from clonejob_operator.sources.volsync.holds import DO_NOT_DELETE, HELD_BY
from clonejob_operator.sources.volsync.kinds import REPLICATION_DESTINATION
from tests.fakekube import FakeKube, refusal

NS = "ns"
DISKS = [{"disk": "boot", "replicationDestination": "rd-boot"}]


@dataclass
class Cold(FakeKube):
    """A cache the watch has not filled yet (right after a start): ``get`` misses what ``cold`` names, which the
    API server itself (``refresh``) has."""

    cold: set[str] = field(default_factory=set)

    def get(self, kind: Kind, namespace: str, name: str) -> Body | None:
        return None if name in self.cold else super().get(kind, namespace, name)

    def refresh(self, kind: Kind, namespace: str, name: str) -> Body | None:
        return super().get(kind, namespace, name)


def world(spec: dict[str, Any] | None = None) -> Cold:
    kube = Cold()
    replication = {"volSync": {"disks": DISKS}} if spec is None else spec
    kube.put(MIGRATING_VM, NS, "m", spec={"sourceVmId": "v", "kubevirtTargetDefaults": {}, "replication": replication})
    latest = {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "img-1"}
    kube.put(REPLICATION_DESTINATION, NS, "rd-boot", spec={}, status={"latestImage": latest})
    owner = {"apiVersion": "volsync.backube/v1alpha1", "kind": "ReplicationDestination", "name": "rd-boot", "uid": "r"}
    meta = {"name": "img-1", "namespace": NS, "ownerReferences": [owner]}
    kube.put(VOLUME_SNAPSHOT, NS, "img-1", metadata=meta, spec={}, status={"readyToUse": True, "restoreSize": "1Gi"})
    return kube


def test_holds_then_publishes_then_a_second_look_writes_nothing() -> None:
    kube = world()
    assert VolSyncFeed(kube).reconcile(NS, "m").fault is None
    assert [w[:2] for w in kube.writes] == [
        ("patch", "migratingvms"),  # the finalizer, before anything is held
        ("patch_status", "migratingvms"),  # the record of what it is about to hold, written ahead
        ("patch", "volumesnapshots"),  # the hold, before the status names it
        ("patch_status", "migratingvms"),  # the cycle published
    ]
    assert kube.status_of(MIGRATING_VM, NS, "m")["heldSnapshots"] == ["img-1"]
    snapshot = kube.objects[("volumesnapshots", NS, "img-1")]["metadata"]
    uid = kube.objects[("migratingvms", NS, "m")]["metadata"]["uid"]
    assert snapshot["labels"] == {DO_NOT_DELETE: "true"} and snapshot["annotations"][HELD_BY] == f"MigratingVm/{uid}"
    assert kube.status_of(MIGRATING_VM, NS, "m")["lastSync"]["snapshots"][0]["volumeSnapshot"] == "img-1"
    kube.writes.clear()
    assert VolSyncFeed(kube).reconcile(NS, "m").fault is None and kube.writes == []


def test_an_image_gone_before_its_hold_is_never_published() -> None:
    kube = world()
    kube.fail("patch", VOLUME_SNAPSHOT, lambda body: _gone())
    outcome = VolSyncFeed(kube).reconcile(NS, "m")
    assert outcome.conflict and "lastSync" not in kube.status_of(MIGRATING_VM, NS, "m")


@pytest.mark.parametrize("verb", ["get", "patch"])
def test_no_answer_is_an_outage_for_the_queue_and_nothing_is_published(verb: str) -> None:
    """urllib3's errors too (a MaxRetryError is no OSError): never the queue's "a bug" branch."""
    kube = world()
    kube.fail(verb, MIGRATING_VM if verb == "get" else VOLUME_SNAPSHOT, MaxRetryError(None, "/", "refused"))  # type: ignore[arg-type]
    outcome = VolSyncFeed(kube).reconcile(NS, "m")
    assert outcome.outage and outcome.fault is not None and "no answer from the API server" in outcome.fault
    assert "lastSync" not in kube.status_of(MIGRATING_VM, NS, "m")


def test_a_refusal_is_a_fault_that_is_no_outage() -> None:
    kube = world()
    kube.fail("patch", VOLUME_SNAPSHOT, refusal(403, "volumesnapshots is forbidden"))
    outcome = VolSyncFeed(kube).reconcile(NS, "m")
    assert not outcome.outage and outcome.fault is not None and "403 Forbidden" in outcome.fault


def _gone() -> Exception:
    return refusal(404, 'volumesnapshots "img-1" not found', "NotFound")


def test_a_spec_the_schema_let_through_is_an_error_naming_the_field_and_nothing_is_let_go() -> None:
    kube = world({"volSync": {"disks": [{"disk": "boot"}]}})
    assert VolSyncFeed(kube).reconcile(NS, "m").fault is None
    status = kube.status_of(MIGRATING_VM, NS, "m")
    assert status["state"] == "ERROR" and status["error"]["code"] == 3
    assert "spec.replication.volSync.disks[0].replicationDestination" in status["error"]["message"]


def test_a_deleted_migrating_vm_lets_go_then_goes() -> None:
    kube = world()
    VolSyncFeed(kube).reconcile(NS, "m")
    kube.delete(MIGRATING_VM, NS, "m")
    assert kube.objects[("migratingvms", NS, "m")]["metadata"]["finalizers"] == [names.FINALIZER]
    VolSyncFeed(kube).reconcile(NS, "m", held=frozenset({"img-1"}))  # as the watch saw it
    assert ("migratingvms", NS, "m") not in kube.objects
    meta = kube.objects[("volumesnapshots", NS, "img-1")]["metadata"]
    assert not meta.get("labels") and not meta.get("annotations"), "VolSync's latest: unlabelled, VolSync's again"


def test_right_after_a_start_what_the_cache_has_not_brought_yet_is_read_from_the_api_server() -> None:
    """A MigratingVm deleted before the watch brought its image and destination: the image is let go of (VolSync's
    latest: unlabelled, not deleted), never left labelled for ever nor taken for relinquished."""
    kube = world()
    VolSyncFeed(kube).reconcile(NS, "m")
    kube.delete(MIGRATING_VM, NS, "m")
    kube.cold = {"img-1", "rd-boot"}
    assert VolSyncFeed(kube).reconcile(NS, "m", held=frozenset()).fault is None  # the index not filled either
    assert ("migratingvms", NS, "m") not in kube.objects
    meta = kube.objects[("volumesnapshots", NS, "img-1")]["metadata"]
    assert not meta.get("labels") and not meta.get("annotations"), "let go of, and VolSync's latest still"


def test_volsyncs_latest_image_is_never_taken_for_relinquished_when_the_cache_misses_its_destination() -> None:
    kube = world()
    VolSyncFeed(kube).reconcile(NS, "m")
    kube.delete(MIGRATING_VM, NS, "m")
    kube.cold = {"rd-boot"}
    VolSyncFeed(kube).reconcile(NS, "m", held=frozenset({"img-1"}))
    assert ("volumesnapshots", NS, "img-1") in kube.objects, "VolSync's latest image: never deleted"
    assert ("delete", "volumesnapshots", "img-1") not in kube.writes


def test_a_destination_the_cache_has_not_brought_yet_is_no_error() -> None:
    kube = world()
    kube.cold = {"rd-boot"}
    assert VolSyncFeed(kube).reconcile(NS, "m").fault is None
    status = kube.status_of(MIGRATING_VM, NS, "m")
    assert status["state"] == "ACTIVE" and "error" not in status, status


def test_a_relinquished_image_let_go_of_by_its_last_holder_is_deleted() -> None:
    kube = world()
    VolSyncFeed(kube).reconcile(NS, "m")
    image = kube.objects[("volumesnapshots", NS, "img-1")]["metadata"]
    image["ownerReferences"] = []  # VolSync published another and relinquished this one
    kube.objects[("replicationdestinations", NS, "rd-boot")]["status"]["latestImage"]["name"] = "img-2"
    kube.delete(MIGRATING_VM, NS, "m")
    VolSyncFeed(kube).reconcile(NS, "m", held=frozenset({"img-1"}))
    assert ("volumesnapshots", NS, "img-1") not in kube.objects
    assert ("migratingvms", NS, "m") not in kube.objects


def test_an_image_only_its_annotations_say_is_held_is_never_deleted() -> None:
    """Anybody who may patch an image may write its annotations: only the status's record lets the operator
    delete one, and the status of a fed MigratingVm is the operator's alone."""
    kube = world()
    VolSyncFeed(kube).reconcile(NS, "m")
    uid = kube.objects[("migratingvms", NS, "m")]["metadata"]["uid"]
    forged = {"name": "theirs", "namespace": NS, "labels": {DO_NOT_DELETE: "true"}}
    forged["annotations"] = {HELD_BY: f"MigratingVm/{uid}"}
    kube.put(VOLUME_SNAPSHOT, NS, "theirs", metadata=forged, spec={})
    kube.delete(MIGRATING_VM, NS, "m")
    VolSyncFeed(kube).reconcile(NS, "m", held=frozenset({"img-1", "theirs"}))
    left = kube.objects[("volumesnapshots", NS, "theirs")]["metadata"]
    assert left["labels"] == {DO_NOT_DELETE: "true"} and not left.get("annotations"), "only the holder's name goes"
    assert ("migratingvms", NS, "m") not in kube.objects


def test_what_the_record_names_is_let_go_of_even_before_the_watch_brings_it() -> None:
    """Right after a start the watch may not have brought every image: the status's record is read too."""
    kube = world()
    VolSyncFeed(kube).reconcile(NS, "m")
    uid = kube.objects[("migratingvms", NS, "m")]["metadata"]["uid"]
    old = {"name": "img-0", "namespace": NS, "labels": {DO_NOT_DELETE: "true"}}
    old["annotations"] = {HELD_BY: f"MigratingVm/{uid}"}
    kube.put(VOLUME_SNAPSHOT, NS, "img-0", metadata=old, spec={})  # an earlier cycle's, relinquished by VolSync
    kube.objects[("migratingvms", NS, "m")]["status"]["heldSnapshots"] = ["img-0", "img-1"]
    assert VolSyncFeed(kube).reconcile(NS, "m", held=frozenset()).fault is None
    assert ("volumesnapshots", NS, "img-0") not in kube.objects
    assert kube.status_of(MIGRATING_VM, NS, "m")["heldSnapshots"] == ["img-1"]
