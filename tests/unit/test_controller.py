"""Watch events in, job keys out: which change wakes which job."""

from __future__ import annotations

import logging
from typing import Any

import kubernetes
import pytest

from clonejob_operator import names
from clonejob_operator.cache import Cache
from clonejob_operator.controller import Controller
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Kube
from clonejob_operator.reconciler import Reconciler
from clonejob_operator.settings import Settings
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME, VOLUME_SNAPSHOT
from tests.builders import body, clone_job
from tests.fakekube import FakeKube


def controller() -> Controller:
    cache = Cache((CLONE_JOB, MIGRATING_VM, DATA_VOLUME, VOLUME_SNAPSHOT))
    return Controller(Reconciler(Kube(kubernetes.client.Configuration()), Settings(), cache=cache))


def job(name: str, version: str, state: str, **status: Any) -> dict[str, Any]:
    return clone_job(name, state, status=status, resourceVersion=version)


def drain(c: Controller) -> list[tuple[str, str]]:
    out = []
    while (key := c.queue.get(0)) is not None:
        out.append(key)
        c.queue.done(key)
    return out


def test_events_wake_the_jobs_they_concern() -> None:
    c = controller()
    c.observed(
        CLONE_JOB,
        job(
            "cj",
            "1",
            "ACTIVE",
            currentStep="preparingVmDisks",
            sourceSync={"snapshots": [{"disk": "d0", "volumeSnapshot": "s0"}]},
        ),
        deleted=False,
    )
    assert drain(c) == [("ns", "cj")] and c.synced.is_set()
    labelled = body("cj-disk-0", resourceVersion="2", labels={names.LABEL_JOB_UID: "uid-cj"})
    c.observed(DATA_VOLUME, labelled, deleted=False)
    assert drain(c) == [("ns", "cj")]
    c.observed(DATA_VOLUME, labelled, deleted=True)
    assert drain(c) == [("ns", "cj")]
    c.observed(VOLUME_SNAPSHOT, body("s0", resourceVersion="3"), deleted=False)
    assert drain(c) == [("ns", "cj")]
    c.observed(VOLUME_SNAPSHOT, body("other", resourceVersion="4"), deleted=False)
    c.observed(DATA_VOLUME, body("foreign", resourceVersion="5", labels={names.LABEL_JOB_UID: "nobody"}), deleted=False)
    assert drain(c) == []


def test_own_writes_coming_back_and_finished_jobs_wake_nothing() -> None:
    c = controller()
    c.cache.wrote(CLONE_JOB, job("cj", "7", "ACTIVE"))
    drain(c)
    c.observed(CLONE_JOB, job("cj", "7", "ACTIVE"), deleted=False)
    assert drain(c) == []
    c.observed(CLONE_JOB, job("cj", "8", "SUCCEEDED"), deleted=False)
    assert drain(c) == []
    c.observed(DATA_VOLUME, body("d", resourceVersion="9", labels={names.LABEL_JOB_UID: "uid-cj"}), deleted=False)
    assert drain(c) == []  # the clone of a finished job is never looked at again


def test_a_migratingvm_change_wakes_its_waiting_job() -> None:
    c = controller()
    waiting = job("cj", "1", "PENDING", conditions=[{"type": "Reconciling", "reason": "MigratingVmNotFound"}])
    c.observed(CLONE_JOB, waiting, deleted=False)
    drain(c)
    c.observed(MIGRATING_VM, body("web-1", resourceVersion="2"), deleted=False)
    assert drain(c) == [("ns", "cj")]


def test_a_bug_in_a_reconcile_is_retried_and_its_traceback_logged_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = Controller(Reconciler(FakeKube(), Settings()))
    calls: list[str] = []

    def broken(namespace: str, name: str) -> Any:
        calls.append(name)
        raise RuntimeError("a bug")

    monkeypatch.setattr(c.reconciler, "reconcile", broken)
    with caplog.at_level(logging.ERROR, logger="clonejob_operator.controller"):
        for _ in range(3):
            c.queue.add(("ns", "cj"))
            assert c._work_once(timeout=5)
            c.queue.forget(("ns", "cj"))  # no backoff wait between the tries here
    assert calls == ["cj", "cj", "cj"]
    lines = [r for r in caplog.records if "reconciling failed (a bug)" in r.getMessage()]
    assert len(lines) == 3 and sum(1 for r in lines if r.exc_info) == 1, "the traceback once, then a line each"


def test_a_reconcile_that_met_a_fault_goes_back_to_the_queue_which_owns_the_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from clonejob_operator.codes import Code
    from clonejob_operator.faults import Fault, FaultKind
    from clonejob_operator.reconciler import Outcome
    from clonejob_operator.workqueue import Backoff, WorkQueue
    from tests.clocks import Clock

    c = Controller(Reconciler(FakeKube(), Settings()))
    clock = Clock(100.0)
    c.queue = WorkQueue(Backoff(first=4.0, most=16.0), clock=clock)
    busy = Fault(FaultKind.TRANSIENT, Code.UNAVAILABLE, "reading: the API answered 429", retry_after=5.0)
    outcomes = iter([Outcome(False, again=True, failed=busy), Outcome(False, failed=busy), Outcome(True)])
    monkeypatch.setattr(c.reconciler, "reconcile", lambda namespace, name: next(outcomes))
    c.queue.add(("ns", "cj"))
    assert c._work_once(timeout=0)
    assert c.queue.get(0) is None, "not again at once, though the decision asked: the fault came first"
    clock.now += 4.9
    assert c.queue.get(0) is None, "the server's Retry-After is respected"
    clock.now += 0.2
    assert c.queue.get(0) == ("ns", "cj")
    c.queue.done(("ns", "cj"))
    c.queue.add(("ns", "cj"))
    assert c._work_once(timeout=0)
    clock.now += 5.0
    assert c.queue.get(0) is None, "the second failure in a row waits longer than Retry-After: 8 s"
    clock.now += 3.0
    assert c.queue.get(0) == ("ns", "cj")


def test_the_api_servers_return_wakes_the_jobs_an_outage_left_backing_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from clonejob_operator.codes import Code
    from clonejob_operator.faults import Fault, FaultKind
    from clonejob_operator.reconciler import Outcome
    from clonejob_operator.workqueue import Backoff, WorkQueue
    from tests.clocks import Clock

    c = controller()
    clock = Clock(100.0)
    c.queue = WorkQueue(Backoff(first=30.0, most=60.0), clock=clock)
    gone = Fault(FaultKind.TRANSIENT, Code.UNAVAILABLE, "reading: ConnectionRefusedError", unanswered=True)
    monkeypatch.setattr(c.reconciler, "reconcile", lambda namespace, name: Outcome(False, failed=gone))
    c.queue.add(("ns", "cj"))
    assert c._work_once(timeout=0)
    assert c.queue.get(0) is None, "backing off"
    for _ in range(6):  # no answer at all: kopf's outage schedule (2 s at most), not the queue's 30 s and up
        clock.now += 2.0
        assert c.queue.get(0) == ("ns", "cj")
        c.queue.done(("ns", "cj"))
        c.queue.add(("ns", "cj"))
        assert c._work_once(timeout=0)
    c.observed(MIGRATING_VM, body("web-9", resourceVersion="5"), deleted=False)  # the server answers again
    assert c.queue.get(0) == ("ns", "cj"), "looked at on the server's return, not after its backoff"
    c.queue.done(("ns", "cj"))
    assert c.queue.retry(("ns", "cj")) == 30.0, "its backoff starts afresh"


def test_a_deleted_job_is_forgotten_by_the_memory() -> None:
    c = controller()
    c.reconciler.memory.recorded("uid-cj", done=False)  # a finished job owes its record, and is then deleted
    assert c.reconciler.memory.read("uid-cj").unrecorded and "uid-cj" in c.reconciler.memory
    c.observed(CLONE_JOB, job("cj", "9", "SUCCEEDED"), deleted=True)
    assert "uid-cj" not in c.reconciler.memory


def test_migrating_vms_are_counted_by_state_as_the_watch_sees_them() -> None:
    c = controller()
    gauge = c.reconciler.metrics.registry.get_sample_value
    failed = {**body("web-1", resourceVersion="1"), "status": {"state": "ERROR"}}
    c.observed(MIGRATING_VM, failed, deleted=False)
    c.observed(MIGRATING_VM, body("web-2", resourceVersion="2"), deleted=False)
    assert gauge("clonejob_migratingvms", {"state": "ERROR"}) == 1
    assert gauge("clonejob_migratingvms", {"state": "STATE_UNSPECIFIED"}) == 1
    c.observed(MIGRATING_VM, failed, deleted=True)
    assert gauge("clonejob_migratingvms", {"state": "ERROR"}) == 0
