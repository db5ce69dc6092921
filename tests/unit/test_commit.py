"""commit: the only writer, carrying out effects in order; a failed effect is a fact, never an escape."""

from __future__ import annotations

import logging

import pytest

from clonejob_operator.api.clonejob import ResourceRef
from clonejob_operator.jobs import read_job
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM
from clonejob_operator.machine.transitions import decide
from clonejob_operator.roster import Entry
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME
from tests.clocks import NOON, Clock
from tests.fakekube import FakeKube, refusal
from tests.unit.test_reconciler import NS, SETTINGS, cluster, settle


def pending() -> tuple[FakeKube, object]:
    from clonejob_operator.reconciler import Reconciler

    kube = cluster()
    reconciler = Reconciler(kube, SETTINGS, clock=Clock(NOON))
    reconciler.reconcile(NS, "cj")  # the finalizer and PENDING
    kube.writes.clear()
    return kube, reconciler


def test_a_start_whose_slot_was_taken_meanwhile_writes_nothing() -> None:
    kube, reconciler = pending()
    body = kube.get(CLONE_JOB, NS, "cj")
    assert body is not None
    job = read_job(body)
    world = reconciler.observer.observe(job, body)  # type: ignore[attr-defined]
    decision = decide(job, world, SETTINGS)
    other = kube.put(CLONE_JOB, NS, "other", SETTINGS.sealer, spec={"migratingVm": "web-1"}, status={"state": "ACTIVE"})
    reconciler.cache.roster.observe(other)  # type: ignore[attr-defined]  # another job started first
    done = reconciler.committer.commit(job, body, world, decision)  # type: ignore[attr-defined]
    assert done.again and kube.writes == [], "neither the claim nor the start was written"
    assert reconciler.cache.roster.refusal(Entry.of(body)) is not None  # type: ignore[attr-defined]


def test_a_failed_create_is_a_fact_and_the_other_effects_still_run() -> None:
    kube = cluster(disks=2)
    from clonejob_operator.reconciler import Reconciler

    reconciler = Reconciler(kube, SETTINGS, clock=Clock(NOON))
    kube.fail(
        "create", DATA_VOLUME, lambda body: refusal(422, "bad") if body["metadata"]["name"] == "cj-disk-0" else None
    )
    settle(reconciler, 3)
    assert [name for verb, kind, name in kube.writes if verb == "create"] == ["cj-disk-1"]
    status = kube.status_of(CLONE_JOB, NS, "cj")
    assert status["state"] == "FAILED" and "bad" in status["error"]["message"]
    assert kube.names(DATA_VOLUME) == [], "cleanup removed what the other create made"


def test_what_a_create_made_is_recorded_with_the_next_real_change() -> None:
    kube = cluster()
    from clonejob_operator.reconciler import Reconciler

    reconciler = Reconciler(kube, SETTINGS, clock=Clock(NOON))
    settle(reconciler)
    assert "createdResources" not in kube.status_of(CLONE_JOB, NS, "cj")  # bookkeeping rides along
    kube.patch_status(DATA_VOLUME, NS, "cj-disk-0", {"status": {"phase": "Succeeded"}})
    settle(reconciler)
    recorded = [ResourceRef.model_validate(r) for r in kube.status_of(CLONE_JOB, NS, "cj")["createdResources"]]
    assert [(r.kind, r.name) for r in recorded] == [("DataVolume", "cj-disk-0")] and recorded[0].uid
    assert kube.status_of(MIGRATING_VM, NS, "web-1")["recentCloneJobs"][0]["state"] == "ACTIVE"


def test_a_replica_that_lost_its_lease_carries_out_no_effect() -> None:
    from clonejob_operator.reconciler import Reconciler

    kube = cluster()
    holding = [True]
    reconciler = Reconciler(kube, SETTINGS, clock=Clock(NOON), fence=lambda: holding[0])
    reconciler.reconcile(NS, "cj")
    assert kube.writes, "while it leads, it writes"
    kube.writes.clear()
    holding[0] = False
    outcome = reconciler.reconcile(NS, "cj")
    assert kube.writes == [] and outcome.again, "the next leader takes the next look"


def test_a_status_the_api_server_stores_otherwise_is_told_as_an_outdated_crd(caplog: pytest.LogCaptureFixture) -> None:
    """A cluster whose CloneJob CRD is older than the operator prunes a field it does not know: the seal no
    longer matches (the job will be held), and the operator says why and what to do, at ERROR."""
    from clonejob_operator.kube import Body, Kind
    from clonejob_operator.reconciler import Reconciler

    class OlderCrd(FakeKube):
        def patch_status(self, kind: Kind, namespace: str, name: str, patch: Body) -> Body:
            stored = super().patch_status(kind, namespace, name, patch)
            if kind is CLONE_JOB:
                stored["status"].pop("createdRevision", None)
                self.objects[(kind.plural, namespace, name)]["status"].pop("createdRevision", None)
            return stored

    kube = OlderCrd()
    kube.objects.update(cluster().objects)
    with caplog.at_level(logging.ERROR):
        Reconciler(kube, SETTINGS, clock=Clock(NOON)).reconcile(NS, "cj")
    (said,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "stored its status otherwise than it was written (createdRevision)" in said
    assert "apply this version's CRDs" in said
