"""The watch cache: newer wins, own writes are recognised, deletions stay deleted."""

from __future__ import annotations

from typing import Any

import pytest

from clonejob_operator.cache import Cache, Kept
from clonejob_operator.kube import CLONE_JOB, Body, Kind
from clonejob_operator.roster import Entry
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME


def obj(name: str, version: str, uid: str = "u1", **labels: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": uid,
            "resourceVersion": version,
            "labels": labels,
            "managedFields": [{"manager": "kubectl"}],
        },
        "status": {"phase": version},
    }


def test_a_late_event_never_replaces_a_newer_write() -> None:
    cache = Cache((DATA_VOLUME,))
    assert cache.upsert(DATA_VOLUME, obj("dv", "12"))
    assert not cache.upsert(DATA_VOLUME, obj("dv", "11"))
    assert not cache.upsert(DATA_VOLUME, obj("dv", "12"))  # the same version again
    stored = cache.get(DATA_VOLUME, "ns", "dv")
    assert stored is not None and stored["status"]["phase"] == "12"
    assert "managedFields" not in stored["metadata"]


def test_a_deleted_object_is_not_brought_back_by_an_older_write_but_a_recreation_is_kept() -> None:
    cache = Cache((DATA_VOLUME,))
    cache.upsert(DATA_VOLUME, obj("dv", "5"))
    cache.remove(DATA_VOLUME, obj("dv", "7"))
    assert not cache.upsert(DATA_VOLUME, obj("dv", "6")) and cache.get(DATA_VOLUME, "ns", "dv") is None
    assert cache.upsert(DATA_VOLUME, obj("dv", "9", uid="u2"))
    cache.remove(DATA_VOLUME, obj("dv", "8", uid="u1"))  # the old one's late deletion: the namesake stays
    assert cache.get(DATA_VOLUME, "ns", "dv") is not None


def test_a_deletion_seen_while_an_older_body_is_encoded_keeps_it_deleted(monkeypatch: pytest.MonkeyPatch) -> None:
    """A body is encoded outside the lock: a deletion recorded meanwhile wins, as it would have before."""
    cache = Cache((DATA_VOLUME,))
    cache.upsert(DATA_VOLUME, obj("dv", "5"))
    encode = Kept.of

    def deleted_meanwhile(kind: Kind, body: Body) -> Kept:
        cache.remove(DATA_VOLUME, obj("dv", "7"))
        return encode(kind, body)

    monkeypatch.setattr(Kept, "of", deleted_meanwhile)
    assert not cache.upsert(DATA_VOLUME, obj("dv", "6"))
    assert cache.get(DATA_VOLUME, "ns", "dv") is None


def test_own_writes_are_recognised_once_when_the_watch_brings_them_back() -> None:
    cache = Cache((DATA_VOLUME,))
    cache.wrote(DATA_VOLUME, obj("dv", "3"))
    assert not cache.echo(DATA_VOLUME, obj("dv", "4"))
    assert cache.echo(DATA_VOLUME, obj("dv", "3"))
    assert not cache.echo(DATA_VOLUME, obj("dv", "3"))


def test_list_by_equality_selector_and_namespace() -> None:
    cache = Cache((DATA_VOLUME,))
    cache.upsert(DATA_VOLUME, obj("a", "1", uid="a", job="x"))
    cache.upsert(DATA_VOLUME, obj("b", "1", uid="b", job="y"))
    assert [o["metadata"]["name"] for o in cache.list(DATA_VOLUME, "ns", "job=x")] == ["a"]
    assert len(cache.list(DATA_VOLUME, None)) == 2 and cache.list(DATA_VOLUME, "other") == []


def test_clonejob_changes_keep_the_roster_and_wake_others() -> None:
    cache = Cache((CLONE_JOB,))
    woken: list[set[tuple[str, str]]] = []
    cache.wake = woken.append

    def job(name: str, state: str, version: str, created: str) -> dict[str, Any]:
        return {
            "metadata": {
                "name": name,
                "namespace": "ns",
                "uid": f"uid-{name}",
                "resourceVersion": version,
                "creationTimestamp": created,
            },
            "spec": {"migratingVm": "web-1"},
            "status": {"state": state},
        }

    cache.upsert(CLONE_JOB, job("a", "ACTIVE", "1", "t1"))
    cache.upsert(CLONE_JOB, job("b", "PENDING", "2", "t2"))
    cache.upsert(CLONE_JOB, job("a", "SUCCEEDED", "3", "t1"))
    b = Entry.of(job("b", "PENDING", "2", "t2"))
    assert woken[-1] == {("ns", "b")} and cache.roster.refusal(b) is None
    cache.remove(CLONE_JOB, job("b", "PENDING", "4", "t2"))
    assert len(cache.roster) == 1


def test_only_what_the_operator_reads_is_kept() -> None:
    from clonejob_operator.kube import MIGRATING_VM

    cache = Cache((MIGRATING_VM, DATA_VOLUME, CLONE_JOB))
    applied = {"kubectl.kubernetes.io/last-applied-configuration": "x" * 100_000}
    mvm: dict[str, Any] = {
        "metadata": {"name": "web-1", "namespace": "ns", "uid": "m", "resourceVersion": "3", "annotations": applied},
        "spec": {"sourceVmId": "v", "description": "d" * 1024, "displayName": "Web", "kubevirtTargetDefaults": {}},
        "status": {
            "state": "ACTIVE",
            "lastSync": {"cycleNumber": 3},
            "recentCloneJobs": [{"name": "cj"}],
            "lastReplicationCycle": {"steps": [{"replicating": {"totalBytes": 1}}]},
        },
    }
    cache.upsert(MIGRATING_VM, {**mvm, "metadata": {**mvm["metadata"], "labels": {"team": "web"}}})
    kept = cache.get(MIGRATING_VM, "ns", "web-1")
    assert kept is not None
    assert kept["metadata"] == {"name": "web-1", "namespace": "ns", "uid": "m", "resourceVersion": "3"}
    assert kept["spec"] == {"sourceVmId": "v", "kubevirtTargetDefaults": {}}
    assert kept["status"] == {"lastSync": {"cycleNumber": 3}, "recentCloneJobs": [{"name": "cj"}]}
    job = {**obj("cj", "4"), "spec": {"migratingVm": "web-1"}, "status": {"state": "ACTIVE", "seal": "v1.x"}}
    job["metadata"]["annotations"] = applied
    cache.upsert(CLONE_JOB, job)
    stored = cache.get(CLONE_JOB, "ns", "cj")
    assert stored is not None and stored["status"] == job["status"], "a job's status is kept whole (its seal)"
    assert "annotations" not in stored["metadata"] and "labels" not in stored["metadata"]
    cache.upsert(DATA_VOLUME, obj("dv", "5", **{"vmmigration.dev/clone-job-uid": "u"}))
    product = cache.get(DATA_VOLUME, "ns", "dv")
    assert product is not None and product["metadata"]["labels"] == {"vmmigration.dev/clone-job-uid": "u"}
