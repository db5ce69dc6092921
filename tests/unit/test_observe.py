"""observe: reads only (the API server and memory), and every exception it meets is a fault in the World,
dated from the start of its run; the committer says it once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import pytest

from clonejob_operator.codes import Code
from clonejob_operator.faults import Fault, FaultKind
from clonejob_operator.jobs import read_job
from clonejob_operator.kube import CLONE_JOB, KindNotServed
from clonejob_operator.reconciler import Reconciler
from clonejob_operator.targets.kubevirt.driver import KubevirtDriver
from clonejob_operator.targets.kubevirt.kinds import VOLUME_SNAPSHOT
from tests.clocks import NOON, Clock
from tests.fakekube import FakeKube
from tests.unit.test_reconciler import NS, SETTINGS, cluster, settle


def started() -> tuple[FakeKube, Reconciler, Clock[datetime]]:
    kube = cluster()
    clock = Clock(NOON)
    reconciler = Reconciler(kube, SETTINGS, clock=clock)
    settle(reconciler)
    kube.objects.pop(("datavolumes", NS, "cj-disk-0"))  # the next look reads the snapshot again
    kube.writes.clear()
    return kube, reconciler, clock


def look(kube: FakeKube, reconciler: Reconciler) -> Any:
    body = kube.get(CLONE_JOB, NS, "cj")
    assert body is not None
    return reconciler.observer.observe(read_job(body), body)


def test_observe_writes_nothing() -> None:
    kube, reconciler, _ = started()
    world = look(kube, reconciler)
    assert world.step is not None and world.step.creates and kube.writes == []


def test_an_unexpected_exception_is_a_fault_and_its_traceback_is_logged_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    kube, reconciler, clock = started()

    def broken(self: KubevirtDriver, *_: Any) -> Any:
        raise KeyError("volumeSnapshot")

    monkeypatch.setattr(KubevirtDriver, "look", broken)
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="clonejob_operator"):
        first = look(kube, reconciler)
        assert caplog.records == [], "observe says nothing: the committer does"
        outcome = reconciler.reconcile(NS, "cj")
        clock.now += timedelta(seconds=5)
        second = look(kube, reconciler)
        reconciler.reconcile(NS, "cj")
    assert (
        first.fault.kind is FaultKind.UNEXPECTED and "step preparingVmDisks: unexpected KeyError" in first.fault.message
    )
    assert outcome.failed is not None and not outcome.again, "back to the work queue, for its backoff"
    assert second.fault.since == first.fault.since == NOON, "one run of faults, from its start"
    traced = [r for r in caplog.records if r.exc_info]
    assert len(traced) == 1 and "unexpected KeyError" in traced[0].getMessage(), caplog.records
    monkeypatch.undo()
    assert look(kube, reconciler).fault is None, "a clean look ends the run"


def test_a_kind_that_is_not_served_is_a_configuration_fault() -> None:
    kube, reconciler, _ = started()
    kube.fail("get", VOLUME_SNAPSHOT, KindNotServed(VOLUME_SNAPSHOT))
    world = look(kube, reconciler)
    assert world.fault.kind is FaultKind.CONFIGURATION and world.fault.code is Code.FAILED_PRECONDITION
    assert "volumesnapshots.snapshot.storage.k8s.io/v1" in world.fault.message


def test_a_missing_snapshot_and_a_missing_snapshot_crd_say_which_it_is() -> None:
    kube, reconciler, _ = started()
    kube.objects.pop(("volumesnapshots", NS, "s0"))
    missing = look(kube, reconciler).fault
    assert missing.code is Code.NOT_FOUND
    assert f"VolumeSnapshot s0 not found in namespace {NS}" in missing.message
    assert "VolumeSnapshots are served: the snapshot itself is missing" in missing.message
    kube.fail("get", VOLUME_SNAPSHOT, KindNotServed(VOLUME_SNAPSHOT))
    unserved = look(kube, reconciler).fault
    assert unserved.code is Code.FAILED_PRECONDITION and "its CRD is not installed" in unserved.message
    assert "not found" not in unserved.message


def test_a_commits_fault_is_read_not_consumed_and_the_next_commit_settles_it() -> None:
    kube, reconciler, _ = started()
    uid = kube.objects[("clonejobs", NS, "cj")]["metadata"]["uid"]
    reconciler.memory.failed(uid, Fault(FaultKind.REFUSED, Code.PERMISSION_DENIED, "creating DataVolume: 403"))
    assert look(kube, reconciler).fault.code is Code.PERMISSION_DENIED
    assert look(kube, reconciler).fault.code is Code.PERMISSION_DENIED, "a look changes nothing"
    reconciler.reconcile(NS, "cj")  # decided with it in view: the job fails for it
    assert reconciler.memory.read(uid).fault is None
