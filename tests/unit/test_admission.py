"""Admission against a roster of CloneJobs (as the watch would fill it): the order of the checks and the queue."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from clonejob_operator import names
from clonejob_operator.admission import Gate
from clonejob_operator.api.clonejob import CloneJobSpec, CloneJobStatus
from clonejob_operator.codes import Code
from clonejob_operator.jobs import Job
from clonejob_operator.kube import CLONE_JOB, Kind
from clonejob_operator.machine.reasons import WaitReason
from clonejob_operator.roster import Roster
from clonejob_operator.settings import Settings
from clonejob_operator.targets.base import Driver, Target
from clonejob_operator.targets.catalog import Drivers, TargetLoading


class Objects:
    """Just enough of Kube for the gate: list and get of CloneJobs."""

    def __init__(self, *jobs: dict[str, Any]) -> None:
        self.jobs = list(jobs)

    def list(self, kind: Kind, namespace: str | None, selector: str | None = None) -> list[dict[str, Any]]:
        assert kind is CLONE_JOB
        return [j for j in self.jobs if namespace is None or j["metadata"]["namespace"] == namespace]

    def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
        return next((j for j in self.jobs if j["metadata"]["name"] == name), None)


def clonejob(
    name: str, created: str, state: str | None = None, mvm: str = "web-1", cancel: bool = False, namespace: str = "ns"
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{name}",
            "creationTimestamp": created,
            "finalizers": [names.FINALIZER],
        },
        "spec": {"migratingVm": mvm, "cancel": cancel},
        "status": {"state": state} if state else {},
    }


MVM: dict[str, Any] = {
    "metadata": {"name": "web-1", "uid": "m"},
    "spec": {"sourceVmId": "v", "kubevirtTargetDefaults": {}},
    "status": {"lastSync": {"cycleNumber": 1, "snapshots": [{"disk": "d", "volumeSnapshot": "s"}]}},
}


def admit(body: dict[str, Any], *others: dict[str, Any], mvm: dict[str, Any] | None = MVM, **settings: Any) -> Any:
    objects = Objects(body, *others)
    roster = Roster(settings.get("max_active", 0))
    for item in (body, *others):
        roster.observe(item)
    gate = Gate(objects, Drivers(objects), Settings(**settings), roster)  # type: ignore[arg-type]
    job = Job(
        namespace="ns",
        name=body["metadata"]["name"],
        uid=body["metadata"]["uid"],
        generation=1,
        created=datetime(2026, 11, 26, tzinfo=UTC),
        spec=CloneJobSpec.model_validate(body["spec"]),
        status=CloneJobStatus.model_validate(body["status"]),
        held=names.FINALIZER in (body["metadata"].get("finalizers") or []),
    )
    before = roster.active()
    admission = gate.admit(job, body, mvm)
    assert roster.active() == before, "admission only reads: the commit reserves"
    return admission


def reason(admission: Any) -> str:
    return admission.waiting.reason if admission.waiting else ("ready" if admission.plan else "error")


def test_checks_in_order() -> None:
    mine = clonejob("b", "2026-11-26T10:00:01Z", "PENDING")
    no_finalizer = {**mine, "metadata": {**mine["metadata"], "finalizers": []}}
    assert reason(admit(no_finalizer)) == "AwaitingFinalizer"
    missing = admit(mine, mvm=None)
    assert reason(missing) == "MigratingVmNotFound" and missing.code is Code.NOT_FOUND
    assert reason(admit(mine, mvm={**MVM, "status": {}})) == "NoSnapshots"
    assert reason(admit(mine)) == "ready"


def test_fifo_and_one_running_per_migratingvm() -> None:
    mine = clonejob("b", "2026-11-26T10:00:01Z", "PENDING")
    assert reason(admit(mine, clonejob("a", "2026-11-26T10:00:00Z", "PENDING"))) == "Queued"
    assert reason(admit(mine, clonejob("a", "2026-11-26T10:00:00Z", "PENDING", cancel=True))) == "ready"
    assert reason(admit(mine, clonejob("c", "2026-11-26T10:00:02Z", "ACTIVE"))) == "WaitingForCloneJob"
    assert reason(admit(mine, clonejob("a", "2026-11-26T10:00:00Z", "SUCCEEDED"))) == "ready"
    assert reason(admit(mine, clonejob("a", "2026-11-26T10:00:00Z", "PENDING", mvm="other"))) == "ready"
    same_second = clonejob("a", "2026-11-26T10:00:01Z", "PENDING")
    assert reason(admit(mine, same_second)) == "Queued"  # no revision known: ties go by name


def test_jobs_created_in_the_same_second_go_in_the_order_the_api_server_stored_them() -> None:
    def stored(name: str, revision: str, recorded: int | None = None) -> dict[str, Any]:
        body = clonejob(name, "2026-11-26T10:00:01Z", "PENDING")
        body["metadata"]["resourceVersion"] = revision
        if recorded is not None:
            body["status"]["createdRevision"] = recorded
        return body

    first, second = stored("zz-first", "101"), stored("aa-second", "102")
    assert reason(admit(first, second)) == "ready" and reason(admit(second, first)) == "Queued"
    # Once recorded, the revision at creation counts, however often the job was written since.
    first, second = stored("zz-first", "990", recorded=101), stored("aa-second", "500", recorded=102)
    assert reason(admit(first, second)) == "ready" and reason(admit(second, first)) == "Queued"


def test_max_active_counts_running_jobs_of_other_migratingvms() -> None:
    mine = clonejob("b", "2026-11-26T10:00:01Z", "PENDING")
    busy = clonejob("x", "2026-11-26T09:00:00Z", "ADAPTING_OS", mvm="other", namespace="elsewhere")
    assert reason(admit(mine, busy, max_active=1)) == "MaxActiveReached"
    assert reason(admit(mine, busy, max_active=2)) == "ready"


def test_a_stale_claim_or_a_namesake_never_holds_the_migratingvm() -> None:
    mine = clonejob("b", "2026-11-26T10:00:01Z", "PENDING")
    gone = {"name": "namespaces/ns/migratingVms/web-1/cloneJobs/a", "uid": "uid-old-a", "state": "ACTIVE"}
    namesake = clonejob("a", "2026-11-26T10:00:02Z", "PENDING")  # a new "a", queued after b
    claimed = {**MVM, "status": {**MVM["status"], "recentCloneJobs": [gone]}}
    assert reason(admit(mine, namesake, mvm=claimed)) == "ready"
    live = {**gone, "uid": "uid-a"}
    running = clonejob("a", "2026-11-26T10:00:02Z", "ACTIVE")
    assert reason(admit(mine, running, mvm={**MVM, "status": {**MVM["status"], "recentCloneJobs": [live]}})) == (
        "WaitingForCloneJob"
    )


class Loading(Drivers):
    """Drivers whose Compute Engine library is still loading in the background."""

    def _ready(self, target: Target) -> Driver:
        if not target.heavy:
            return super()._ready(target)
        raise TargetLoading("loading the Compute Engine client library (once after each start of the operator)")


def test_a_job_whose_target_library_is_loading_waits_for_it_without_a_deadline() -> None:
    mine = clonejob("b", "2026-11-26T10:00:01Z", "PENDING")
    objects = Objects(mine)
    roster = Roster(0)
    roster.observe(mine)
    gate = Gate(objects, Loading(objects), Settings(), roster)  # type: ignore[arg-type]
    job = Job(
        namespace="ns",
        name="b",
        uid="uid-b",
        generation=1,
        created=datetime(2026, 11, 26, tzinfo=UTC),
        spec=CloneJobSpec.model_validate(mine["spec"]),
        status=CloneJobStatus.model_validate(mine["status"]),
        held=True,
    )
    compute = {**MVM, "spec": {"sourceVmId": "v", "computeEngineTargetDefaults": {"zone": "europe-west1-b"}}}
    waiting = gate.admit(job, mine, compute).waiting
    assert waiting is not None
    assert waiting.wait is WaitReason.LOADING_TARGET and waiting.reason == "LoadingTargetClient"
    assert waiting.message.startswith("loading the Compute Engine client library")
    assert not WaitReason.LOADING_TARGET.blocked, "a load never fails a job for its pending deadline"
    assert reason(gate.admit(job, mine, MVM)) == "ready", "a KubeVirt job never waits for it"
