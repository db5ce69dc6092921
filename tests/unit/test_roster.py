"""The roster: admission's questions answered from memory, reservations, and who to wake."""

from __future__ import annotations

from typing import Any

from clonejob_operator.machine.reasons import WaitReason
from clonejob_operator.roster import Entry, Roster
from clonejob_operator.targets.kubevirt.kinds import VOLUME_SNAPSHOT
from tests.builders import CREATED, clone_job


def job(
    name: str,
    state: str | None = None,
    mvm: str = "web-1",
    created: str = CREATED,
    **extra: Any,
) -> dict[str, Any]:
    return clone_job(name, state, migrating_vm=mvm, held=True, creationTimestamp=created, **_parts(extra))


def _parts(extra: dict[str, Any]) -> dict[str, Any]:
    """``status``, ``spec`` and ``metadata`` overrides as the builder takes them."""
    return {"status": extra.pop("status", {}), "spec": extra.pop("spec", {}), **extra.pop("metadata", {}), **extra}


def test_a_reservation_holds_the_migratingvm_and_the_active_limit_while_the_start_is_written() -> None:
    roster = Roster(max_active=1)
    a, b, c = (Entry.of(job(n, "PENDING", mvm=m)) for n, m in (("a", "web-1"), ("b", "web-1"), ("c", "web-2")))
    for entry in (a, b, c):
        roster.observe(job(entry.name, "PENDING", mvm=entry.migrating_vm))
    with roster.reservation(a) as refused:
        assert refused is None
        with roster.reservation(b) as other:
            assert other is not None and other[0] is WaitReason.WAITING_FOR_CLONE_JOB and "starting" in other[1]
        with roster.reservation(c) as other:
            assert other is not None and other[0] is WaitReason.MAX_ACTIVE_REACHED
        assert roster.holds("ns", "a", "uid-a") and roster.active() == 1
        roster.observe(job("a", "ACTIVE"))  # the start as written (and cached), then the reservation goes
    refused_b = roster.refusal(b)
    assert roster.active() == 1 and refused_b is not None and "CloneJob a" in refused_b[1]
    assert roster.refusal(c) is not None  # a refused reservation held nothing, and a is still active


def test_a_finished_job_wakes_the_head_of_its_queue_and_the_oldest_waiting_for_a_slot() -> None:
    roster = Roster(max_active=1)
    roster.observe(job("a", "ACTIVE"))
    roster.observe(job("c", "PENDING", created="2026-11-26T10:00:02Z"))
    roster.observe(job("b", "PENDING", created="2026-11-26T10:00:01Z"))
    roster.observe(job("x", "PENDING", mvm="web-2", created="2026-11-26T09:00:00Z"))
    roster.observe(job("y", "PENDING", mvm="web-3", created="2026-11-26T11:00:00Z"))
    roster.waiting("uid-x", WaitReason.MAX_ACTIVE_REACHED)  # as their last decisions said
    roster.waiting("uid-y", WaitReason.MAX_ACTIVE_REACHED)
    woken = roster.observe(job("a", "SUCCEEDED"))
    assert woken == {("ns", "b"), ("ns", "x")}  # b heads web-1's queue; x is the oldest waiting for a slot
    assert roster.observe(job("c", "PENDING", created="2026-11-26T10:00:02Z")) == set()  # nothing moved


def test_a_job_leaving_the_queue_wakes_the_next() -> None:
    roster = Roster()
    roster.observe(job("a", "PENDING"))
    roster.observe(job("b", "PENDING", created="2026-11-26T10:00:01Z"))
    assert roster.ahead(Entry.of(job("b", "PENDING", created="2026-11-26T10:00:01Z"))) is not None
    assert roster.observe(job("a", "PENDING", spec={"cancel": True})) == {("ns", "b")}
    assert roster.ahead(Entry.of(job("b", "PENDING", created="2026-11-26T10:00:01Z"))) is None
    assert roster.forget(job("b", "PENDING")) == set()


def test_products_of_finished_jobs_wake_nobody() -> None:
    roster = Roster()
    roster.observe(job("a", "ACTIVE"))
    assert roster.key_of("uid-a") == ("ns", "a")
    roster.observe(job("a", "SUCCEEDED"))
    assert roster.key_of("uid-a") is None and roster.key_of("nobody") is None
    assert roster.needing_attention() == [("ns", "a")], "its finalizer is still to be let go"
    roster.observe(job("a", "SUCCEEDED", metadata={"finalizers": []}))
    assert roster.needing_attention() == []
    roster.observe(job("a", "SUCCEEDED", metadata={"generation": 2, "finalizers": []}))  # a spec change to observe
    assert roster.needing_attention() == [("ns", "a")]


def test_migratingvm_changes_wake_the_head_and_those_waiting_for_it() -> None:
    roster = Roster()
    roster.observe(job("a", "PENDING"))
    roster.observe(job("b", "PENDING", created="2026-11-26T10:00:01Z"))
    roster.observe(job("c", "PENDING", created="2026-11-26T10:00:02Z"))
    roster.waiting("uid-a", WaitReason.MIGRATING_VM_NOT_FOUND)
    roster.waiting("uid-b", WaitReason.QUEUED)
    roster.waiting("uid-c", WaitReason.NO_SNAPSHOTS)
    assert roster.for_migrating_vm("ns", "web-1") == {("ns", "a"), ("ns", "c")}
    assert roster.for_migrating_vm("ns", "other") == set()


def test_snapshot_readers_are_only_jobs_preparing_disks() -> None:
    roster = Roster()
    sync = {"sourceSync": {"snapshots": [{"disk": "d0", "volumeSnapshot": "s0"}]}}
    roster.observe(job("a", "ACTIVE", status={"currentStep": "preparingVmDisks", **sync}))
    roster.observe(job("b", "ACTIVE", mvm="web-2", status={"currentStep": "instantiatingMigratedVm", **sync}))
    assert roster.reading(VOLUME_SNAPSHOT, "ns", "s0") == {("ns", "a")}
    roster.observe(job("a", "ACTIVE", status={"currentStep": "instantiatingMigratedVm", **sync}))
    assert roster.reading(VOLUME_SNAPSHOT, "ns", "s0") == set()


def test_a_job_whose_status_the_operator_did_not_write_holds_no_slot_and_no_queue() -> None:
    from clonejob_operator.seal import Sealer

    sealer = Sealer.random()
    roster = Roster(max_active=1, doubt=sealer.doubt)
    forged = job(
        "forged",
        "ACTIVE",
        status={"currentStep": "preparingVmDisks", "sourceSync": {"snapshots": [{"volumeSnapshot": "s"}]}},
    )
    roster.observe(forged)  # a tenant's ACTIVE, never admitted
    queued = job("queued", "PENDING", created="2026-11-26T09:00:00Z")
    queued["status"] = sealer.sealed("uid-queued", queued["status"])
    roster.observe(queued)
    held = roster.entry(forged)
    assert held.held and not held.started and not held.queued and held.attention
    assert roster.active() == 0 and roster.reading(VOLUME_SNAPSHOT, "ns", "s") == set()
    newer = roster.entry(job("newer", "PENDING", created="2026-11-26T11:00:00Z"))
    assert roster.refusal(newer) is None, "the forged job holds neither the MigratingVm nor an active slot"
    assert roster.ahead(newer) is not None and roster.ahead(newer).name == "queued"  # type: ignore[union-attr]
    assert roster.key_of("uid-forged") == ("ns", "forged")


def _in(namespace: str, name: str, state: str, created: str, mvm: str | None = None) -> dict[str, Any]:
    body = job(name, state, mvm=mvm or f"vm-{name}", created=created)
    body["metadata"].update(namespace=namespace, uid=f"uid-{namespace}-{name}")
    return body


def test_a_freed_slot_goes_to_the_namespace_that_waited_longest_not_to_the_oldest_job() -> None:
    roster = Roster(max_active=1)
    a1 = _in("team-a", "a1", "ACTIVE", "2026-11-26T09:00:00Z")
    queued = [_in("team-a", f"a{i}", "PENDING", f"2026-11-26T09:0{i}:00Z") for i in (2, 3)]
    b1 = _in("team-b", "b1", "PENDING", "2026-11-26T09:30:00Z")
    for body in (a1, *queued, b1):
        roster.observe(body)
    for body in (*queued, b1):  # each was told to wait for a slot
        refused = roster.refusal(roster.entry(body))
        assert refused is not None and refused[0] is WaitReason.MAX_ACTIVE_REACHED
        assert "all 1 active slot are held (--max-active): team-a/a1" in refused[1]
        roster.waiting(body["metadata"]["uid"], refused[0])
    woken = roster.observe({**a1, "status": {**a1["status"], "state": "SUCCEEDED"}})
    assert ("team-b", "b1") in woken and ("team-a", "a3") not in woken
    assert roster.refusal(roster.entry(b1)) is None, "team-b has had no slot: it goes first"
    turn = roster.refusal(roster.entry(queued[0]))
    assert turn is not None and turn[0] is WaitReason.MAX_ACTIVE_REACHED and "team-b/b1" in turn[1]
    roster.observe({**b1, "status": {**b1["status"], "state": "ACTIVE"}})
    roster.observe({**b1, "status": {**b1["status"], "state": "SUCCEEDED"}})
    assert roster.refusal(roster.entry(queued[0])) is None, "then team-a again, oldest first"


def test_one_namespace_holds_at_most_its_share_of_the_slots() -> None:
    roster = Roster(max_active=3, per_namespace=1)
    a1, a2 = (
        _in("team-a", "a1", "ACTIVE", "2026-11-26T09:00:00Z"),
        _in("team-a", "a2", "PENDING", "2026-11-26T09:01:00Z"),
    )
    b1 = _in("team-b", "b1", "PENDING", "2026-11-26T09:02:00Z")
    for body in (a1, a2, b1):
        roster.observe(body)
    refused = roster.refusal(roster.entry(a2))
    assert refused is not None and refused[0] is WaitReason.MAX_ACTIVE_PER_NAMESPACE_REACHED
    assert "namespace team-a holds its 1 active slot (--max-active-per-namespace): team-a/a1" in refused[1]
    assert roster.refusal(roster.entry(b1)) is None
    roster.waiting(a2["metadata"]["uid"], refused[0])
    assert ("team-a", "a2") in roster.observe({**a1, "status": {**a1["status"], "state": "FAILED"}})


def test_a_job_that_stops_waiting_for_a_slot_wakes_the_one_behind_it() -> None:
    roster = Roster(max_active=1)
    b1, a2 = (
        _in("team-b", "b1", "PENDING", "2026-11-26T09:00:00Z"),
        _in("team-a", "a2", "PENDING", "2026-11-26T09:01:00Z"),
    )
    for body in (b1, a2):
        roster.observe(body)
        roster.waiting(body["metadata"]["uid"], WaitReason.MAX_ACTIVE_REACHED)
    assert roster.refusal(roster.entry(a2)) is not None, "b1 goes first"
    assert roster.waiting(b1["metadata"]["uid"], WaitReason.MIGRATING_VM_NOT_FOUND) == {("team-a", "a2")}
    assert roster.refusal(roster.entry(a2)) is None
