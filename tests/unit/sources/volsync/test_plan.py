"""What a VolSync-fed MigratingVm's commit holds, lets go of and writes (pure)."""

from __future__ import annotations

from typing import Any

from clonejob_operator.api.common import RpcStatus
from clonejob_operator.api.migratingvm import LastSync, MigratingVmState, MigratingVmStatus
from clonejob_operator.codes import Code
from clonejob_operator.sources.volsync import plan
from clonejob_operator.sources.volsync.holds import DO_NOT_DELETE, HELD_BY

CYCLE = frozenset({"boot-2", "data-2"})


def test_the_new_cycle_is_held_in_name_order_and_only_volsyncs_latest() -> None:
    wanted = plan.Holds.of(CYCLE | {"forged"}, {"boot-1", "data-1"}, frozenset({"data-2", "boot-2"}), frozenset())
    assert wanted.hold == ("boot-2", "data-2"), "an image no destination publishes is never taken hold of"
    assert wanted.release == {"boot-1", "data-1"}


def test_images_a_started_job_awaits_are_kept_and_a_starting_job_keeps_everything() -> None:
    mine = {"boot-1", "data-1", "boot-2"}
    assert plan.Holds.of(CYCLE, mine, CYCLE, frozenset({"data-1"})).release == {"boot-1"}
    assert plan.Holds.of(CYCLE, mine, CYCLE, None).release == frozenset()
    assert plan.Holds.of(CYCLE, mine, CYCLE, None).hold == ("data-2",)


def image(name: str, *holders: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if holders:
        meta["labels"] = {DO_NOT_DELETE: "true"}
        meta["annotations"] = {HELD_BY: ",".join(holders)}
    return {"metadata": meta}


def job(state: str, replication: str | None = "volSync", *snapshots: str) -> dict[str, Any]:
    sync: dict[str, Any] = {"snapshots": [{"disk": f"d{i}", "volumeSnapshot": s} for i, s in enumerate(snapshots)]}
    if replication:
        sync["replication"] = replication
    return {"metadata": {"name": "j", "uid": "u1"}, "status": {"state": state, "sourceSync": sync}}


def test_what_the_running_job_restores_from_and_awaits() -> None:
    images = {"a": image("a", "MigratingVm/m"), "b": image("b", "CloneJob/u1", "MigratingVm/m")}
    started = job("ACTIVE", "volSync", "a", "b", "gone")
    assert plan.restored_from([started]) == {"a", "b", "gone"}
    assert plan.awaited([started], images) == {"a"}, "b is held by the job already; gone is not there"
    assert plan.awaited([job("SUCCEEDED", "volSync", "a")], images) == set(), "a finished job awaits nothing"
    assert plan.awaited([job("ACTIVE", None, "a")], images) == set(), "a job that was not fed holds nothing"
    assert plan.restored_from([job("ACTIVE", None, "a")]) == set()


def test_the_running_jobs_and_the_published_images() -> None:
    entries = [
        {"name": "namespaces/n/migratingVms/m/cloneJobs/old", "state": "SUCCEEDED"},
        {"name": "namespaces/n/migratingVms/m/cloneJobs/now", "state": "ACTIVE"},
    ]
    assert plan.running({"status": {"recentCloneJobs": entries}}) == [("now", None)]
    status = MigratingVmStatus.model_validate({"lastSync": {"snapshots": [{"disk": "d", "volumeSnapshot": "x"}]}})
    assert plan.published(status) == {"x"} and plan.published(MigratingVmStatus()) == set()


def test_an_unrecorded_claim() -> None:
    def mvm(*entries: dict[str, str]) -> dict[str, Any]:
        return {"status": {"recentCloneJobs": list(entries)}}

    running = {"name": "namespaces/n/migratingVms/m/cloneJobs/j", "state": "ACTIVE"}
    recorded = job("ACTIVE", "volSync", "a")
    assert plan.unrecorded_claim(mvm(running), {"j": {"status": {"state": "PENDING"}}})
    assert not plan.unrecorded_claim(mvm(running), {}), "the entry of a job that is gone claims nothing"
    assert not plan.unrecorded_claim(mvm(running), {"j": recorded})
    assert not plan.unrecorded_claim(mvm({**running, "state": "SUCCEEDED"}), {})


def test_the_status_patch_keeps_recent_clone_jobs_out() -> None:
    old = MigratingVmStatus.model_validate({"state": "FIRST_SYNC", "recentCloneJobs": [{"name": "x"}]})
    assert plan.status_patch(old, old) is None
    new = old.model_copy(
        update={"state": MigratingVmState.ACTIVE, "last_sync": LastSync(cycle_number=1), "error": None}
    )
    assert plan.status_patch(old, new) == {"state": "ACTIVE", "lastSync": {"cycleNumber": 1}}
    errored = old.model_copy(update={"error": RpcStatus(code=Code.NOT_FOUND, message="gone")})
    assert plan.status_patch(errored, old) == {"error": None}, "an error cleared is removed"


def test_told() -> None:
    assert plan.told(MigratingVmStatus(state=MigratingVmState.ACTIVE, last_sync=LastSync(cycle_number=4))) == (
        "ACTIVE (last complete cycle 4)"
    )
    failed = MigratingVmStatus(state=MigratingVmState.ERROR, error=RpcStatus(code=Code.NOT_FOUND, message="no rd"))
    assert plan.told(failed) == "ERROR: no rd"
