"""The whole path of a reconcile (observe -> decide -> commit) on the in-memory cluster: every write it
makes, in order, and every fault as a fact for the next look."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from urllib3.exceptions import MaxRetryError

from clonejob_operator import names
from clonejob_operator.api.clonejob import StepKind
from clonejob_operator.codes import Code
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Body
from clonejob_operator.reconciler import Outcome, Reconciler
from clonejob_operator.settings import Settings
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME, VIRTUAL_MACHINE, VOLUME_SNAPSHOT
from tests.clocks import NOON, Clock
from tests.fakekube import FakeKube, refusal

NS = "ns"
SETTINGS = Settings(step_timeouts={kind: timedelta(hours=1) for kind in StepKind})


def cluster(disks: int = 1) -> FakeKube:
    kube = FakeKube()
    snapshots = [{"disk": f"d{i}", "volumeSnapshot": f"s{i}"} for i in range(disks)]
    kube.put(
        MIGRATING_VM,
        NS,
        "web-1",
        spec={"sourceVmId": "vm-1", "kubevirtTargetDefaults": {}},
        status={"lastSync": {"cycleNumber": 7, "snapshots": snapshots}},
    )
    for i in range(disks):
        kube.put(VOLUME_SNAPSHOT, NS, f"s{i}", spec={}, status={"readyToUse": True, "restoreSize": "1Gi"})
    kube.put(CLONE_JOB, NS, "cj", spec={"migratingVm": "web-1"})
    kube.writes.clear()
    return kube


def settle(reconciler: Reconciler, times: int = 1) -> Outcome:
    """``times`` wake-ups; each looks again while the job asks for it (at once) or met a fault (after the work
    queue's backoff, here at once), as the work queue does."""
    outcome = Outcome(finished=False)
    for _ in range(times):
        for _ in range(10):
            outcome = reconciler.reconcile(NS, "cj")
            if not outcome.again and outcome.failed is None:
                break
    return outcome


def play(kube: FakeKube, kind: Any, name: str, status: Body) -> None:
    """Another controller (CDI, KubeVirt) writes a product's status."""
    kube.patch_status(kind, NS, name, {"status": status})
    kube.writes.pop()


def to_a_ready_vm(kube: FakeKube) -> Reconciler:
    """A one-disk job run up to its VM's readiness, which the next look finds."""
    reconciler = Reconciler(kube, SETTINGS)
    settle(reconciler)
    play(kube, DATA_VOLUME, "cj-disk-0", {"phase": "Succeeded", "progress": "100.0%"})
    settle(reconciler)
    play(kube, VIRTUAL_MACHINE, "cj", {"ready": True, "created": True})
    return reconciler


def job_status(kube: FakeKube) -> Body:
    return kube.status_of(CLONE_JOB, NS, "cj")


def test_a_one_disk_job_makes_ten_writes_from_creation_to_success() -> None:
    kube = cluster()
    reconciler = to_a_ready_vm(kube)
    outcome = settle(reconciler)
    assert outcome.finished and job_status(kube)["state"] == "SUCCEEDED"
    assert kube.writes == [
        ("patch_status", "clonejobs", "cj"),  # PENDING, with its place in the queue
        ("patch", "clonejobs", "cj"),  # the finalizer
        ("patch_status", "migratingvms", "web-1"),  # the claim
        ("patch_status", "clonejobs", "cj"),  # ACTIVE, preparingVmDisks
        ("create", "datavolumes", "cj-disk-0"),
        ("patch_status", "clonejobs", "cj"),  # instantiatingMigratedVm
        ("create", "virtualmachines", "cj"),
        ("patch_status", "clonejobs", "cj"),  # SUCCEEDED
        ("patch_status", "migratingvms", "web-1"),  # the record
        ("patch", "clonejobs", "cj"),  # the finalizer goes: a finished job is deleted at once, operator or not
    ]
    assert names.FINALIZER not in (kube.objects[("clonejobs", NS, "cj")]["metadata"].get("finalizers") or [])
    assert [e["reason"] for e in kube.events] == ["Pending", "Started", "InstantiatingMigratedVm", "Succeeded"]
    assert job_status(kube)["createdRevision"] > 0


def test_a_conflict_is_a_fact_and_the_next_look_wins() -> None:
    kube = cluster()
    kube.fail("patch_status", CLONE_JOB, refusal(409))
    reconciler = Reconciler(kube, SETTINGS)
    first = reconciler.reconcile(NS, "cj")
    assert first.again and "state" not in job_status(kube), "nothing escaped; another look was asked for"
    settle(reconciler)
    assert job_status(kube)["state"] == "ACTIVE"


def test_a_refused_create_fails_the_step_with_the_servers_words_and_leaves_nothing() -> None:
    kube = cluster()
    kube.fail("create", DATA_VOLUME, refusal(403, 'datavolumes is forbidden: User "op" cannot create'))
    reconciler = Reconciler(kube, SETTINGS)
    settle(reconciler, 3)
    status = job_status(kube)
    assert status["state"] == "FAILED" and status["error"]["code"] == Code.PERMISSION_DENIED
    assert "cannot create" in status["error"]["message"] and "preparingVmDisks" in status["error"]["message"]
    assert kube.names(DATA_VOLUME) == []


def test_cancel_deletes_by_effect_and_ends_only_once_everything_is_gone() -> None:
    kube = cluster(disks=2)
    clock = Clock(NOON)
    reconciler = Reconciler(kube, SETTINGS, clock=clock)
    settle(reconciler)
    assert kube.names(DATA_VOLUME) == ["cj-disk-0", "cj-disk-1"]
    kube.objects[("datavolumes", NS, "cj-disk-1")]["metadata"]["finalizers"] = ["cdi.kubevirt.io/dataVolume"]
    kube.patch(CLONE_JOB, NS, "cj", {"spec": {"cancel": True}})
    settle(reconciler, 2)
    assert job_status(kube)["state"] == "CANCELLING" and kube.names(DATA_VOLUME) == ["cj-disk-1"]
    clock.now += SETTINGS.message_interval  # what it waits for is a message: written at most that often
    settle(reconciler)
    reconciling = next(c for c in job_status(kube)["conditions"] if c["type"] == "Ready")
    assert "waiting for DataVolume/cj-disk-1 to be deleted" in reconciling["message"]
    kube.patch(DATA_VOLUME, NS, "cj-disk-1", {"metadata": {"finalizers": None}})  # CDI lets it go
    outcome = settle(reconciler)
    assert outcome.finished and job_status(kube)["state"] == "CANCELLED" and kube.names(DATA_VOLUME) == []


def test_deleting_a_finished_job_lets_it_go_and_leaves_the_clone() -> None:
    kube = cluster()
    reconciler = Reconciler(kube, SETTINGS)
    settle(reconciler)
    play(kube, DATA_VOLUME, "cj-disk-0", {"phase": "Succeeded"})
    settle(reconciler)
    play(kube, VIRTUAL_MACHINE, "cj", {"ready": True})
    settle(reconciler)
    kube.writes.clear()
    kube.delete(CLONE_JOB, NS, "cj")  # no finalizer is left on it: it goes at once, without the operator
    assert ("clonejobs", NS, "cj") not in kube.objects
    kube.writes.clear()
    settle(reconciler)
    assert kube.writes == [], "nothing is written, and the clone is never touched"
    assert kube.names(DATA_VOLUME) == ["cj-disk-0"] and kube.names(VIRTUAL_MACHINE) == ["cj"]


@pytest.mark.parametrize(
    ("break_it", "kind"),
    [
        (lambda kube: kube.fail("get", VOLUME_SNAPSHOT, ConnectionResetError("reset by peer")), "transient"),
        (lambda kube: kube.fail("get", VOLUME_SNAPSHOT, refusal(503, "etcdserver: leader changed")), "transient"),
    ],
)
def test_a_transient_error_while_looking_keeps_the_job_and_names_the_error(
    break_it: Callable[[FakeKube], None], kind: str
) -> None:
    kube = cluster()
    clock = Clock(NOON)
    reconciler = Reconciler(kube, SETTINGS, clock=clock)
    settle(reconciler)  # ACTIVE; the disk exists
    kube.objects.pop(("datavolumes", NS, "cj-disk-0"))  # so that the next look reads the snapshot again
    break_it(kube)
    clock.now += timedelta(seconds=30)
    outcome = settle(reconciler)
    status = job_status(kube)
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert status["state"] == "ACTIVE" and "error" not in status and kind == "transient"
    assert "step preparingVmDisks" in ready["message"]
    assert outcome.requeue_after is not None and outcome.requeue_after <= 60
    settle(reconciler)
    assert kube.names(DATA_VOLUME) == ["cj-disk-0"], "once the error is gone, the step goes on"


def test_a_new_job_is_recorded_with_its_creation_revision_then_held() -> None:
    kube = cluster()
    created = int(kube.objects[("clonejobs", NS, "cj")]["metadata"]["resourceVersion"])
    reconciler = Reconciler(kube, SETTINGS)
    reconciler.reconcile(NS, "cj")
    assert names.FINALIZER in kube.objects[("clonejobs", NS, "cj")]["metadata"]["finalizers"]
    assert kube.writes[:2] == [("patch_status", "clonejobs", "cj"), ("patch", "clonejobs", "cj")]
    assert job_status(kube)["createdRevision"] == created


def test_a_status_the_api_server_always_refuses_is_decided_unwritable_once_and_left_until_it_changes() -> None:
    kube = cluster()
    reconciler = Reconciler(kube, SETTINGS, clock=Clock(NOON))
    for _ in range(2):  # the first record, then the failure that says it: both refused in the same words
        kube.fail("patch_status", CLONE_JOB, refusal(422, "status.name: Too long"))
    outcome = settle(reconciler)
    unwritable = [e for e in kube.events if e["reason"] == "Unwritable"]
    assert outcome.finished and outcome.failed is None and not outcome.again, outcome
    assert len(unwritable) == 1 and "status.name: Too long" in unwritable[0]["message"]
    assert "state" not in job_status(kube), "nothing was written"
    kube.writes.clear()
    again = reconciler.reconcile(NS, "cj")  # woken by something else: the same job, the same decision
    assert again.finished and kube.writes == [] and len(kube.events) == len(unwritable) + _others(kube)
    kube.patch(CLONE_JOB, NS, "cj", {"metadata": {"labels": {"fixed": "yes"}}})  # the job changed: another try
    settle(reconciler)
    assert job_status(kube)["state"] in ("PENDING", "ACTIVE"), "written at last"


def _others(kube: FakeKube) -> int:
    return len([e for e in kube.events if e["reason"] != "Unwritable"])


def test_a_record_that_got_no_answer_is_owed_and_written_by_the_next_look() -> None:
    kube = cluster()
    reconciler = to_a_ready_vm(kube)
    lost = lambda body: MaxRetryError(None, "/", "refused") if "SUCCEEDED" in str(body) else None  # type: ignore[arg-type]  # noqa: E731
    kube.fail("patch_status", MIGRATING_VM, lost)
    kube.writes.clear()
    first = reconciler.reconcile(NS, "cj")
    assert first.failed is not None and first.failed.unanswered and not first.finished, "back to the queue"
    assert kube.writes == [("patch_status", "clonejobs", "cj"), ("patch", "clonejobs", "cj")], "the rest went on"
    entries = kube.status_of(MIGRATING_VM, NS, "web-1")["recentCloneJobs"]
    assert [e["state"] for e in entries] == ["ACTIVE"], "the claim, not yet the record"
    kube.writes.clear()
    again = reconciler.reconcile(NS, "cj")
    assert again.finished and again.failed is None
    assert kube.writes == [("patch_status", "migratingvms", "web-1")], "the record alone"
    entries = kube.status_of(MIGRATING_VM, NS, "web-1")["recentCloneJobs"]
    assert [e["state"] for e in entries] == ["SUCCEEDED"]
    kube.writes.clear()
    assert reconciler.reconcile(NS, "cj").finished and kube.writes == [], "owed once: nothing more"
