"""The shipped samples are accepted by the API server as they are (server-side dry run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Kind, Kube

SAMPLES = Path(__file__).resolve().parents[2] / "manifests" / "samples"
KINDS = {"CloneJob": CLONE_JOB, "MigratingVm": MIGRATING_VM}


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_sample_is_accepted(kube: Kube, namespace: str, path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    assert {"apiVersion", "kind", "metadata"} <= set(doc), "samples/ holds manifests only: kubectl applies it whole"
    kind = KINDS[doc["kind"]]
    created = dry_run(kube, namespace, kind, doc)
    assert created["spec"] == {**doc["spec"], **({"cancel": False} if kind is CLONE_JOB else {})}


def dry_run(kube: Kube, namespace: str, kind: Kind, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc``, in ``namespace``, as the API server would store it (a strict server-side dry run)."""
    doc["metadata"]["namespace"] = namespace
    created: dict[str, Any] = kube.call(
        kube.custom.create_namespaced_custom_object,
        kind.group,
        kind.version,
        namespace,
        kind.plural,
        doc,
        dry_run="All",
        field_validation="Strict",
    )
    return created


def test_the_cancel_patch_is_kept_apart_and_cancels(kube: Kube, namespace: str) -> None:
    patch = yaml.safe_load((SAMPLES.parent / "patches" / "cancel.yaml").read_text())
    job = {"apiVersion": CLONE_JOB.api_version, "kind": "CloneJob", "metadata": {"name": "cj"}, "spec": {}}
    job["spec"] = {"migratingVm": "web-1"}
    kube.create(CLONE_JOB, namespace, job)
    patched = kube.patch(CLONE_JOB, namespace, "cj", patch)
    assert patched["spec"]["cancel"] is True


def test_the_replication_sample_and_the_synced_patch_name_the_same_snapshot(kube: Kube, namespace: str) -> None:
    from clonejob_operator.targets.kubevirt.kinds import VOLUME_SNAPSHOT

    snapshot = yaml.safe_load((SAMPLES / "replication" / "volumesnapshot.yaml").read_text())
    snapshot["metadata"]["namespace"] = namespace
    kube.create(VOLUME_SNAPSHOT, namespace, snapshot)
    sample = yaml.safe_load((SAMPLES / "migratingvm.yaml").read_text())
    sample["metadata"]["namespace"] = namespace
    kube.create(MIGRATING_VM, namespace, sample)
    patch = yaml.safe_load((SAMPLES.parent / "patches" / "migratingvm-synced.yaml").read_text())
    synced = kube.patch_status(MIGRATING_VM, namespace, sample["metadata"]["name"], patch)
    (disk,) = synced["status"]["lastSync"]["snapshots"]
    assert disk["volumeSnapshot"] == snapshot["metadata"]["name"]


def test_the_volsync_samples_are_accepted_as_they_are(kube: Kube, namespace: str) -> None:
    """The fed MigratingVm always; its ReplicationDestinations against VolSync's real CRD where it is at hand."""
    from clonejob_operator.sources.volsync.kinds import REPLICATION_DESTINATION
    from tests.integration.conftest import product_crds

    kinds = {**KINDS, "ReplicationDestination": REPLICATION_DESTINATION}
    docs = [d for p in sorted((SAMPLES / "volsync").glob("*.yaml")) for d in yaml.safe_load_all(p.read_text())]
    fed = next(d for d in docs if d["kind"] == "MigratingVm")
    named = {disk["replicationDestination"] for disk in fed["spec"]["replication"]["volSync"]["disks"]}
    assert named == {d["metadata"]["name"] for d in docs if d["kind"] == "ReplicationDestination"}
    for doc in docs:
        if doc["kind"] == "ReplicationDestination" and not product_crds():
            continue
        created = dry_run(kube, namespace, kinds[doc["kind"]], doc)
        assert {k: created["spec"].get(k) for k in doc["spec"]} == doc["spec"], "everything sent is kept"
