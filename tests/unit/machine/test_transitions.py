"""The state machine as a table: (status, observed world) -> decision."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clonejob_operator.api.clonejob import CloneJobSpec, CloneJobStatus, ResourceRef, SourceSync, StepKind
from clonejob_operator.api.kubevirt import KubevirtTargetDetails
from clonejob_operator.codes import Code, JobError
from clonejob_operator.faults import Fault, FaultKind
from clonejob_operator.jobs import Job
from clonejob_operator.machine.conditions import Activity
from clonejob_operator.machine.effects import (
    AddFinalizer,
    Claim,
    CreateProduct,
    DeleteProduct,
    GiveUp,
    Keep,
    PatchStatus,
    PostEvent,
    RemoveFinalizer,
)
from clonejob_operator.machine.model import Admission, Decision, Need, World
from clonejob_operator.machine.reasons import Reason, WaitReason
from clonejob_operator.machine.transitions import decide, need
from clonejob_operator.settings import Settings
from clonejob_operator.sources.base import Keeping
from clonejob_operator.targets.base import CleanupReport, NoRecord, Plan, StepReport
from clonejob_operator.targets.kubevirt.driver import KubevirtRecord

T0 = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=10)
DISKS, ADAPT, VM = StepKind.PREPARING_VM_DISKS, StepKind.ADAPTING_OS, StepKind.INSTANTIATING_MIGRATED_VM
TWO = (DISKS, VM)
THREE = (DISKS, ADAPT, VM)
SETTINGS = Settings(pending_deadline=timedelta(hours=1))
PLAN = Plan(
    steps=TWO,
    record=KubevirtRecord(KubevirtTargetDetails(vm_name="cj")),
    source_sync=SourceSync(cycle_number=3),
)


def ts(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def step(kind: StepKind, start: float, end: float | None = None, progress: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {kind.value: {}, "startTime": ts(start), "progressPercent": progress}
    if end is not None:
        out["endTime"] = ts(end)
    return out


def status(state: str, steps: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"state": state, "stateTime": ts(0), "createTime": ts(0), "name": "n", **extra}
    if steps is not None:
        out["steps"] = steps
        out["kubevirtTargetDetails"] = {"vmName": "cj"}
    return out


def job(
    raw_status: dict[str, Any] | None = None,
    cancel: bool = False,
    deleting: bool = False,
    spec_error: str | None = None,
    generation: int = 1,
) -> Job:
    return Job(
        namespace="ns",
        name="cj",
        uid="u",
        generation=generation,
        created=T0,
        spec=CloneJobSpec(migrating_vm="web-1", cancel=cancel),
        status=CloneJobStatus.model_validate(raw_status or {}),
        deleting=deleting,
        spec_error=spec_error,
    )


@dataclass
class Row:
    id: str
    job: Job
    facts: World
    state: str
    need: Need
    checks: dict[str, Any] = field(default_factory=dict)


LOST = {"state": "ACTIVE", "stateTime": ts(0), "steps": [step(DISKS, 1)]}  # no target details: steps unknown

REFUSED = Plan(
    steps=(),
    record=NoRecord(),
    source_sync=SourceSync(cycle_number=1),
    refusal=JobError(Code.UNIMPLEMENTED, "not implemented yet"),
)

ROWS = [
    Row(
        "a started job whose steps cannot be known fails instead of succeeding",
        job(LOST),
        World(NOW, steps=()),
        "ACTIVE",
        Need.STEP,
        {"code": Code.INVALID_ARGUMENT, "message": "steps are unknown", "first_end": True, "again": True},
    ),
    Row(
        "a refused target is recorded, then FAILED without steps or claim",
        job(status("PENDING")),
        World(NOW, admission=Admission(plan=REFUSED)),
        "FAILED",
        Need.ADMISSION,
        {"code": Code.UNIMPLEMENTED, "claim": False, "steps": 0, "ended": True},
    ),
    Row(
        "a new job is recorded PENDING first, and asks to go on at once",
        job(),
        World(NOW),
        "PENDING",
        Need.NOTHING,
        {"reason": "Pending", "claim": False, "again": True, "notes": 1},
    ),
    Row(
        "pending job waits for its MigratingVm",
        job(status("PENDING")),
        World(
            NOW,
            admission=Admission(
                waiting=Activity(Reason.MIGRATING_VM_NOT_FOUND, "MigratingVm web-1 not found"), code=Code.NOT_FOUND
            ),
        ),
        "PENDING",
        Need.ADMISSION,
        {"reason": "MigratingVmNotFound", "claim": False, "again": False},
    ),
    Row(
        "admitted job starts its first step and claims",
        job(status("PENDING")),
        World(NOW, admission=Admission(plan=PLAN)),
        "ACTIVE",
        Need.ADMISSION,
        {"claim": True, "current": "preparingVmDisks", "steps": 1, "details": "cj"},
    ),
    Row(
        "blocked past the deadline fails with the wait's code",
        job(status("PENDING", blockedSince=ts(30))),
        World(
            T0 + timedelta(hours=2),
            admission=Admission(
                waiting=Activity.waiting(WaitReason.MIGRATING_VM_NOT_FOUND, "MigratingVm web-1 not found"),
                code=Code.NOT_FOUND,
            ),
        ),
        "FAILED",
        Need.ADMISSION,
        {"code": Code.NOT_FOUND, "message": "blocked for 1h: MigratingVm web-1 not found"},
    ),
    Row(
        "admission error fails at once without steps",
        job(status("PENDING")),
        World(NOW, admission=Admission(error=JobError(Code.UNIMPLEMENTED, "not yet"))),
        "FAILED",
        Need.ADMISSION,
        {"code": Code.UNIMPLEMENTED, "steps": 0},
    ),
    Row(
        "disk progress is recorded",
        job(status("ACTIVE", [step(DISKS, 1)])),
        World(NOW, steps=TWO, step=StepReport(progress=40, detail="0/2 disks ready")),
        "ACTIVE",
        Need.STEP,
        {"step_progress": 40, "overall": 40 * 70 // 80, "reason": "PreparingVmDisks"},
    ),
    Row(
        "disks done: the VM step begins",
        job(status("ACTIVE", [step(DISKS, 1)])),
        World(NOW, steps=TWO, step=StepReport(done=True)),
        "ACTIVE",
        Need.STEP,
        {"current": "instantiatingMigratedVm", "steps": 2, "first_end": True},
    ),
    Row(
        "disks done: OS adaptation when planned",
        job(status("ACTIVE", [step(DISKS, 1)])),
        World(NOW, steps=THREE, step=StepReport(done=True)),
        "ADAPTING_OS",
        Need.STEP,
        {"current": "adaptingOs", "state_time_changed": True},
    ),
    Row(
        "adaptation done: back to ACTIVE for the VM",
        job(status("ADAPTING_OS", [step(DISKS, 1, 2, 100), step(ADAPT, 2)])),
        World(NOW, steps=THREE, step=StepReport(done=True)),
        "ACTIVE",
        Need.STEP,
        {"current": "instantiatingMigratedVm", "steps": 3},
    ),
    Row(
        "VM ready: SUCCEEDED with endTime",
        job(status("ACTIVE", [step(DISKS, 1, 2, 100), step(VM, 2)])),
        World(NOW, steps=TWO, step=StepReport(done=True)),
        "SUCCEEDED",
        Need.STEP,
        {"ended": True, "overall": 100, "record": True, "current": None},
    ),
    Row(
        "step error: the step ends, error set, cleanup next",
        job(status("ACTIVE", [step(DISKS, 1)])),
        World(NOW, steps=TWO, step=StepReport(error=JobError(Code.INTERNAL, "DataVolume x failed"))),
        "ACTIVE",
        Need.STEP,
        {
            "code": Code.INTERNAL,
            "message": "step preparingVmDisks failed: DataVolume x failed",
            "first_end": True,
            "current": None,
        },
    ),
    Row(
        "step timeout: DEADLINE_EXCEEDED",
        job(status("ACTIVE", [step(DISKS, 1)])),
        World(T0 + timedelta(hours=7), steps=TWO, step=StepReport(progress=10)),
        "ACTIVE",
        Need.STEP,
        {"code": Code.DEADLINE_EXCEEDED, "message": "did not finish within 6h"},
    ),
    Row(
        "cancel while running: CANCELLING, step ended",
        job(status("ACTIVE", [step(DISKS, 1)]), cancel=True),
        World(NOW, steps=TWO),
        "CANCELLING",
        Need.NOTHING,
        {"first_end": True, "state_time_changed": True},
    ),
    Row(
        "deletion acts as cancel",
        job(status("ACTIVE", [step(DISKS, 1)]), deleting=True),
        World(NOW, steps=TWO),
        "CANCELLING",
        Need.NOTHING,
        {"message_note": "being deleted"},
    ),
    Row(
        "cancelling waits for products",
        job(status("CANCELLING", [step(DISKS, 1, 2)])),
        World(NOW, steps=TWO, cleanup=CleanupReport(remaining=("DataVolume/cj-disk-0",))),
        "CANCELLING",
        Need.CLEANUP,
        {"reason": "Cancelling"},
    ),
    Row(
        "cancelling ends when products are gone",
        job(status("CANCELLING", [step(DISKS, 1, 2)])),
        World(NOW, steps=TWO, cleanup=CleanupReport()),
        "CANCELLED",
        Need.CLEANUP,
        {"ended": True, "record": True},
    ),
    Row(
        "blocked cleanup never ends the job",
        job(status("CANCELLING", [step(DISKS, 1, 2)])),
        World(NOW, steps=TWO, cleanup=CleanupReport(blocked="cannot list jobs (API answered 403)")),
        "CANCELLING",
        Need.CLEANUP,
        {"reason": "CleanupStuck", "stalled": True},
    ),
    Row(
        "failing job ends FAILED once products are gone",
        job(status("ACTIVE", [step(DISKS, 1, 2)], error={"code": 13, "message": "boom"})),
        World(NOW, steps=TWO, cleanup=CleanupReport()),
        "FAILED",
        Need.CLEANUP,
        {"code": Code.INTERNAL, "ended": True},
    ),
    Row(
        "cleanup taking long is Stalled but keeps waiting",
        job(status("ACTIVE", [step(DISKS, 1, 2)], error={"code": 13, "message": "boom"})),
        World(T0 + timedelta(hours=1), steps=TWO, cleanup=CleanupReport(remaining=("VirtualMachine/cj",))),
        "ACTIVE",
        Need.CLEANUP,
        {"stalled": True, "reason": "CleanupStuck"},
    ),
    Row(
        "invalid spec while running: error, then cleanup",
        job(status("ACTIVE", [step(DISKS, 1)]), spec_error="spec.migratingVm: Field required"),
        World(NOW, steps=TWO),
        "ACTIVE",
        Need.NOTHING,
        {"code": Code.INVALID_ARGUMENT, "first_end": True},
    ),
    Row(
        "invalid spec before starting: FAILED at once",
        job(status("PENDING"), spec_error="spec.x: bad"),
        World(NOW),
        "FAILED",
        Need.NOTHING,
        {"code": Code.INVALID_ARGUMENT},
    ),
    Row(
        "terminal never changes",
        job(
            status("SUCCEEDED", [step(DISKS, 1, 2, 100), step(VM, 2, 3, 100)], endTime=ts(3)), cancel=True, generation=2
        ),
        World(NOW),
        "SUCCEEDED",
        Need.NOTHING,
        {"generation": 2, "notes": 0},
    ),
    Row(
        "terminal FAILED stays FAILED on deletion",
        job(status("FAILED", [], error={"code": 4, "message": "x"}, endTime=ts(3)), deleting=True),
        World(NOW),
        "FAILED",
        Need.NOTHING,
        {"notes": 0},
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_table(row: Row) -> None:
    assert need(row.job) is row.need
    decision = decide(row.job, row.facts, SETTINGS)
    out = decision.status
    assert out.state == row.state
    assert out.observed_generation == row.job.generation
    conditions = {c.type: c for c in out.conditions or []}
    assert set(conditions) == {"Ready", "Reconciling", "Stalled"}
    assert all(c.observed_generation == row.job.generation for c in conditions.values())
    before = row.job.status.state
    checks = row.checks
    if "reason" in checks:
        assert conditions["Ready"].reason == checks["reason"]
    if "claim" in checks:
        assert decision.claim is checks["claim"]
    if "again" in checks:
        assert decision.again is checks["again"]
    if "record" in checks:
        assert decision.record is checks["record"]
    if "current" in checks:
        assert out.current_step == checks["current"]
    if "steps" in checks:
        assert len(out.steps or []) == checks["steps"]
    if "details" in checks:
        assert out.kubevirt_target_details is not None and out.kubevirt_target_details.vm_name == checks["details"]
    if "code" in checks:
        assert out.error is not None and out.error.code == checks["code"]
    if "message" in checks:
        assert out.error is not None and checks["message"] in (out.error.message or "")
    if "step_progress" in checks:
        assert out.steps and out.steps[-1].progress_percent == checks["step_progress"]
    if "overall" in checks:
        assert out.progress_percent == checks["overall"]
    if "first_end" in checks:
        assert out.steps and out.steps[0].end_time == NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    if checks.get("ended"):
        assert out.end_time == out.state_time
        assert all(s.end_time for s in out.steps or [])
    if checks.get("state_time_changed"):
        assert out.state_time != row.job.status.state_time
    if "stalled" in checks:
        assert conditions["Stalled"].status == ("True" if checks["stalled"] else "False")
    if "generation" in checks:
        assert out.observed_generation == checks["generation"]
    if "notes" in checks:
        assert len(decision.notes) == checks["notes"]
    if "message_note" in checks:
        assert any(checks["message_note"] in n.message for n in decision.notes)
    if out.state != before and out.state != "PENDING":
        assert out.state_time == row.facts.now.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_every_state_change_posts_a_note() -> None:
    first = decide(job(), World(NOW), SETTINGS)
    assert [n.reason for n in first.notes] == ["Pending"] and first.again
    second = decide(job(first.status.wire()), World(NOW, admission=Admission(plan=PLAN)), SETTINGS)
    assert [n.reason for n in second.notes] == ["Started"] and second.status.state == "ACTIVE" and second.again
    assert second.claim


def test_terminal_state_is_never_left() -> None:
    for terminal in ("SUCCEEDED", "FAILED", "CANCELLED"):
        j = job(status(terminal, [step(DISKS, 1, 2)], endTime=ts(2)), cancel=True, deleting=True)
        out = decide(j, World(NOW, cleanup=CleanupReport(remaining=("x",))), SETTINGS).status
        assert out.state == terminal and out.end_time == ts(2)


def test_a_look_that_found_nothing_keeps_the_job_where_it_is() -> None:
    decision = decide(job(status("ACTIVE", [step(DISKS, 1)])), World(NOW, steps=TWO), SETTINGS)
    assert decision.status.state == "ACTIVE" and decision.status.error is None
    assert decision.status.running_step is not None and decision.status.running_step.kind is DISKS


def test_condition_transition_time_kept_while_status_unchanged() -> None:
    running = job(status("ACTIVE", [step(DISKS, 1)]))
    first = decide(running, World(NOW, steps=TWO, step=StepReport(progress=10)), SETTINGS).status
    again = job(first.wire())
    later = NOW + timedelta(minutes=1)
    second = decide(again, World(later, steps=TWO, step=StepReport(progress=20)), SETTINGS).status
    assert {c.type: c.last_transition_time for c in second.conditions or []} == {
        c.type: c.last_transition_time for c in first.conditions or []
    }


def test_next_look_is_the_next_deadline_time_alone_can_bring() -> None:
    from clonejob_operator.api.clonejob import CloneJobStatus
    from clonejob_operator.jobs import Job
    from clonejob_operator.machine.ordering import next_look

    created = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    settings = Settings(pending_deadline=timedelta(minutes=5), cleanup_stall_after=timedelta(minutes=10))

    def look(status: dict[str, Any]) -> datetime | None:
        return next_look(Job("ns", "cj", "u", 1, created, None, CloneJobStatus.model_validate(status)), settings)

    assert look({"state": "PENDING"}) is None, "a job that waits its turn has no deadline"
    assert look({"state": "PENDING", "blockedSince": "2026-11-26T10:03:00Z"}) == created + timedelta(minutes=8)
    running = {"state": "ACTIVE", "steps": [{"preparingVmDisks": {}, "startTime": "2026-11-26T10:01:00Z"}]}
    assert look(running) == datetime(2026, 11, 26, 16, 1, tzinfo=UTC)  # the 6h default step timeout
    assert look({"state": "CANCELLING", "stateTime": "2026-11-26T10:02:00Z"}) == datetime(
        2026, 11, 26, 10, 12, tzinfo=UTC
    )
    assert look({"state": "SUCCEEDED"}) is None


# --- faults as facts, effects, and writes -------------------------------------------------------------------
def fault(kind: FaultKind, seconds_ago: float = 0.0, message: str = "ConnectionError: refused") -> Fault:
    return Fault(kind, Code.UNAVAILABLE, message, since=NOW - timedelta(seconds=seconds_ago))


def conditions_of(decision: Decision) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.message or "") for c in decision.status.conditions or []}


RUNNING = job(status("ACTIVE", [step(DISKS, 9)], kubevirtTargetDetails={"vmName": "cj"}))


def test_a_transient_fault_keeps_the_step_names_the_error_and_stalls_after_the_threshold() -> None:
    fresh = decide(RUNNING, World(NOW, steps=TWO, fault=fault(FaultKind.TRANSIENT, 5)), SETTINGS)
    assert fresh.status.state == "ACTIVE" and fresh.status.error is None
    assert conditions_of(fresh)["Stalled"][0] == "False" and "ConnectionError" in conditions_of(fresh)["Ready"][1]
    assert fresh.requeue_after is not None and fresh.requeue_after <= 60
    lasting = decide(RUNNING, World(NOW, steps=TWO, fault=fault(FaultKind.TRANSIENT, 61)), SETTINGS)
    assert conditions_of(lasting)["Stalled"] == ("True", "retrying: ConnectionError: refused")
    unexpected = decide(RUNNING, World(NOW, steps=TWO, fault=fault(FaultKind.UNEXPECTED)), SETTINGS)
    assert conditions_of(unexpected)["Stalled"][0] == "True" and unexpected.status.state == "ACTIVE"


def test_the_step_timeout_and_the_pending_deadline_fire_while_every_look_fails() -> None:
    late = job(status("ACTIVE", [step(DISKS, -600)], kubevirtTargetDetails={"vmName": "cj"}))
    timed_out = decide(late, World(NOW, steps=TWO, fault=fault(FaultKind.TRANSIENT, 300)), SETTINGS)
    assert timed_out.status.error is not None and timed_out.status.error.code == Code.DEADLINE_EXCEEDED
    assert "ConnectionError" in (timed_out.status.error.message or "")
    waiting = job(status("PENDING", blockedSince=ts(0)))
    later = T0 + SETTINGS.pending_deadline + timedelta(seconds=1)
    kept = decide(waiting, World(later, fault=fault(FaultKind.TRANSIENT, 300)), SETTINGS)
    assert kept.status.state == "PENDING" and kept.status.blocked_since is None, "an outage is nobody's to fix"
    assert conditions_of(kept)["Stalled"] == ("True", "ConnectionError: refused")


@pytest.mark.parametrize("wait", [WaitReason.QUEUED, WaitReason.WAITING_FOR_CLONE_JOB, WaitReason.MAX_ACTIVE_REACHED])
def test_a_job_that_waits_its_turn_never_fails_at_the_pending_deadline(wait: WaitReason) -> None:
    """A batch queued behind a 6-hour disk preparation waits as long as it takes."""
    blocked_before = job(status("PENDING", blockedSince=ts(0)))
    turn = Admission(waiting=Activity.waiting(wait, "its turn"))
    decision = decide(blocked_before, World(T0 + timedelta(hours=7), admission=turn), SETTINGS)
    assert decision.status.state == "PENDING" and decision.status.blocked_since is None
    assert decision.requeue_after is None, "nothing but a change wakes it"


def test_the_pending_deadline_counts_from_when_the_job_became_blocked() -> None:
    missing = Admission(
        waiting=Activity.waiting(WaitReason.NO_SNAPSHOTS, "no snapshots yet"), code=Code.FAILED_PRECONDITION
    )
    after_its_turn = job(status("PENDING"))  # it waited its turn for hours; now its snapshots are missing
    first = decide(after_its_turn, World(T0 + timedelta(hours=5), admission=missing), SETTINGS)
    assert first.status.state == "PENDING" and first.status.blocked_since == ts(300)
    assert first.requeue_after is not None and 3599 < first.requeue_after < 3601
    later = decide(job(first.status.wire()), World(T0 + timedelta(hours=6, seconds=1), admission=missing), SETTINGS)
    assert later.status.state == "FAILED" and later.status.error is not None
    assert later.status.error.message == "blocked for 1h: no snapshots yet"


def test_a_configuration_fault_fails_a_running_job_with_its_code_then_cleans_up() -> None:
    missing = Fault(FaultKind.CONFIGURATION, Code.FAILED_PRECONDITION, "no usable Google credentials", NOW)
    decision = decide(RUNNING, World(NOW, steps=TWO, fault=missing), SETTINGS)
    assert decision.status.error is not None and decision.status.error.code == Code.FAILED_PRECONDITION
    assert decision.status.state == "ACTIVE" and need(job(decision.status.wire())) is Need.CLEANUP


def test_cleanup_that_cannot_look_is_stalled_and_never_finishes() -> None:
    cancelling = job(status("CANCELLING", [step(DISKS, 1, 2)], kubevirtTargetDetails={"vmName": "cj"}))
    blocked = Fault(FaultKind.CONFIGURATION, Code.FAILED_PRECONDITION, "no usable Google credentials", NOW)
    decision = decide(cancelling, World(NOW, steps=TWO, fault=blocked), SETTINGS)
    assert decision.status.state == "CANCELLING"
    assert conditions_of(decision)["Stalled"] == ("True", "cannot clean up yet: no usable Google credentials")


def test_cleanup_deletes_what_it_found_and_finishes_only_when_nothing_remains() -> None:
    cancelling = job(status("CANCELLING", [step(DISKS, 1, 2)], kubevirtTargetDetails={"vmName": "cj"}))
    dv = ResourceRef(api_version="cdi.kubevirt.io/v1beta1", kind="DataVolume", name="cj-disk-0", namespace="ns")
    report = CleanupReport(remaining=("DataVolume/cj-disk-0",), deletable=(DeleteProduct("kubevirt", dv),))
    deleting = decide(cancelling, World(NOW, steps=TWO, cleanup=report), SETTINGS)
    assert deleting.status.state == "CANCELLING" and DeleteProduct("kubevirt", dv) in deleting.effects
    done = decide(cancelling, World(NOW, steps=TWO, cleanup=CleanupReport()), SETTINGS)
    assert done.status.state == "CANCELLED" and not any(isinstance(e, DeleteProduct) for e in done.effects)


def test_a_pending_job_that_is_cancelled_ends_at_once() -> None:
    decision = decide(job(status("PENDING"), cancel=True), World(NOW), SETTINGS)
    assert decision.status.state == "CANCELLED" and "nothing was created" in decision.notes[0].message


def test_a_refused_status_write_fails_the_job_with_the_servers_words() -> None:
    refused = "status.createdResources: Too many: 65: must have at most 64 items"
    decision = decide(RUNNING, World(NOW, steps=TWO, refused_write=refused), SETTINGS)
    assert decision.status.error is not None and decision.status.error.code == Code.INVALID_ARGUMENT
    assert refused in (decision.status.error.message or "")


def test_a_status_refused_twice_in_the_same_words_is_decided_unwritable_and_told_once_per_version() -> None:
    refused = "status.name: Too long"
    first = decide(RUNNING, World(NOW, steps=TWO, refused_write=refused, refusals=1), SETTINGS)
    assert first.unwritable is None and first.status.error is not None, "the first refusal fails the job"
    gave_up = decide(RUNNING, World(NOW, steps=TWO, refused_write=refused, refusals=2), SETTINGS)
    assert gave_up.unwritable is not None and refused in gave_up.unwritable
    assert gave_up.effects == [GiveUp(RUNNING.resource_version, gave_up.unwritable)], "nothing else is tried"
    assert gave_up.status == RUNNING.status and gave_up.requeue_after is None and not gave_up.again
    told = decide(RUNNING, World(NOW, unwritable=True), SETTINGS)
    assert told.unwritable is not None and told.effects == [], "told once for this version of the job"


def test_effects_come_in_commit_order() -> None:
    new = decide(replace(RUNNING, status=CloneJobStatus(), held=False), World(NOW), SETTINGS)
    assert [type(e) for e in new.effects][:2] == [PatchStatus, AddFinalizer], "recorded, then held"
    held_by_hand = decide(replace(RUNNING, held=False), World(NOW, steps=TWO), SETTINGS)
    assert type(held_by_hand.effects[0]) is AddFinalizer, "a started job is held before anything else"
    start = decide(job(status("PENDING")), World(NOW, admission=Admission(plan=PLAN)), SETTINGS)
    kinds = [type(e) for e in start.effects]
    assert kinds.index(Claim) < kinds.index(PatchStatus) < kinds.index(PostEvent)
    intent = ResourceRef(
        api_version="compute.googleapis.com/v1", kind="Disk", name="d0", uri="projects/p/zones/z/disks/d0"
    )
    create = CreateProduct("computeengine", "Disk", "d0", body=None, intent=intent)
    ahead = decide(RUNNING, World(NOW, steps=TWO, step=StepReport(creates=(create,))), SETTINGS)
    kinds = [type(e) for e in ahead.effects]
    assert kinds.index(PatchStatus) < kinds.index(CreateProduct), "an insert is recorded before it is sent"
    patched = next(e for e in ahead.effects if isinstance(e, PatchStatus))
    assert intent in (patched.status.created_resources or [])
    settled = decide(job(status("SUCCEEDED")), World(NOW), SETTINGS).status.wire()  # as it was last written
    finished = job(settled, deleting=True)
    assert [type(e) for e in decide(finished, World(NOW), SETTINGS).effects] == [RemoveFinalizer]


def test_a_message_only_change_is_written_at_most_once_per_interval() -> None:
    settings = Settings(message_interval=timedelta(seconds=10))
    settled = job(decide(RUNNING, World(NOW, steps=TWO, step=StepReport()), settings).status.wire())
    report = StepReport(detail="0/1 disks ready; VolumeSnapshot s0 is not readyToUse")
    just_written = World(NOW, steps=TWO, step=report, last_write=NOW - timedelta(seconds=4))
    deferred = decide(settled, just_written, settings)
    assert not any(isinstance(e, PatchStatus) for e in deferred.effects)
    assert deferred.requeue_after is not None and 5.9 <= deferred.requeue_after <= 6.1
    due = decide(settled, World(NOW, steps=TWO, step=report, last_write=NOW - timedelta(seconds=10)), settings)
    written = next(e for e in due.effects if isinstance(e, PatchStatus))
    assert any("is not readyToUse" in (c.message or "") for c in written.status.conditions or [])
    progress = decide(settled, World(NOW, steps=TWO, step=StepReport(progress=40), last_write=NOW), settings)
    assert any(isinstance(e, PatchStatus) for e in progress.effects), "progress is written at once"


@pytest.mark.parametrize(
    "raw",
    [status("SUCCEEDED"), status("CANCELLING", [step(DISKS, 1, 2)]), status("ACTIVE", [step(DISKS, 1)])],
    ids=["finished", "cancelling", "running"],
)
def test_a_status_the_operator_did_not_write_is_held_whatever_it_says(raw: dict[str, Any]) -> None:
    """Nothing is created, deleted, claimed, recorded or released: only the conditions say why, unsealed."""
    for deleting in (False, True):
        held = job(raw, deleting=deleting)
        decision = decide(held, World(NOW, untrusted="its status carries no seal of this operator"), SETTINGS)
        patches = [e for e in decision.effects if isinstance(e, PatchStatus)]
        events = [e for e in decision.effects if isinstance(e, PostEvent)]
        assert len(patches) == 1 and not patches[0].sealed
        assert len(patches) + len(events) == len(decision.effects), decision.effects
        assert [(e.type, e.reason) for e in events] == [("Warning", "UntrustedStatus")]
        assert "no seal of this operator" in events[0].message
        assert decision.status.state == raw["state"] and not decision.claim and not decision.record
        by_type = {c.type: c for c in decision.status.conditions or []}
        assert (by_type["Ready"].status, by_type["Stalled"].status) == ("False", "True")
        assert by_type["Ready"].reason == "UntrustedStatus" and decision.requeue_after is None
        # Looked at again as it is: nothing more to write, and the Event is not repeated.
        seen = replace(held, status=decision.status)
        assert decide(seen, World(NOW, untrusted="its status carries no seal of this operator"), SETTINGS).effects == []
        other = decide(seen, World(NOW, untrusted="its status does not match"), SETTINGS).effects
        assert [type(e) for e in other] == [PatchStatus], "another reason is written, without another Event"


def test_each_change_of_what_a_pending_job_waits_for_is_an_event_naming_it() -> None:
    waiting = Admission(waiting=Activity.waiting(WaitReason.MAX_ACTIVE_REACHED, "all 1 active slot are held: ns/a"))
    first = decide(job(status("PENDING")), World(NOW, admission=waiting), SETTINGS)
    notes = [e for e in first.effects if isinstance(e, PostEvent)]
    assert [(e.type, e.reason, e.message) for e in notes] == [
        ("Normal", "MaxActiveReached", "all 1 active slot are held: ns/a")
    ]
    again = decide(job(first.status.wire()), World(NOW, admission=waiting), SETTINGS)
    assert not [e for e in again.effects if isinstance(e, PostEvent)], "the same wait is told once"


FED_SYNC = {"replication": "volSync", "snapshots": [{"disk": "d0", "volumeSnapshot": "a"}]}


def test_a_fed_job_holds_before_it_creates_and_never_finishes_holding() -> None:
    preparing = job(status("ACTIVE", [step(DISKS, 1)], sourceSync=FED_SYNC))
    create = CreateProduct("kubevirt", "DataVolume", "cj-disk-0", body={})
    look = World(NOW, steps=TWO, step=StepReport(creates=(create,)), keeping=Keeping(unheld=("a",)))
    effects = decide(preparing, look, SETTINGS).effects
    assert effects.index(Keep("volSync", "a", hold=True)) < effects.index(create), "held before the first disk"
    last = job(status("ACTIVE", [step(DISKS, 1, 2, 100), step(VM, 2)], sourceSync=FED_SYNC))
    held = World(NOW, steps=TWO, step=StepReport(progress=100, done=True), keeping=Keeping(held=("a",)))
    decision = decide(last, held, SETTINGS)
    assert decision.status.state == "ACTIVE" and decision.again
    assert Keep("volSync", "a", hold=False) in decision.effects
    assert decide(last, replace(held, keeping=Keeping()), SETTINGS).status.state == "SUCCEEDED"


def test_cleanup_lets_go_of_what_the_job_holds_before_it_ends() -> None:
    cancelling = job(status("CANCELLING", [step(DISKS, 1, 2)], sourceSync=FED_SYNC))
    holding = World(NOW, steps=TWO, cleanup=CleanupReport(), keeping=Keeping(held=("a",)))
    decision = decide(cancelling, holding, SETTINGS)
    assert decision.status.state == "CANCELLING" and Keep("volSync", "a", hold=False) in decision.effects
    assert decide(cancelling, replace(holding, keeping=Keeping()), SETTINGS).status.state == "CANCELLED"


def test_a_helper_still_there_holds_the_last_steps_end_back_and_only_the_last_steps() -> None:
    """A finished job is the clone alone: what the target says lingers keeps the job from finishing, waiting for the
    helper's own removal (no look at once: its watch event brings the next)."""
    last = job(status("ACTIVE", [step(DISKS, 1, 2, 100), step(VM, 2)]))
    lingering = StepReport(progress=100, done=True, detail="VirtualMachine cj Running", lingering="Job x being removed")
    decision = decide(last, World(NOW, steps=TWO, step=lingering), SETTINGS)
    assert decision.status.state == "ACTIVE" and not decision.again
    assert decision.status.steps is not None and decision.status.steps[-1].progress_percent == 99
    ready = conditions_of(decision)
    assert any("VirtualMachine cj Running; Job x being removed" in message for _, message in ready.values()), ready
    gone = replace(lingering, lingering="")
    assert decide(last, World(NOW, steps=TWO, step=gone), SETTINGS).status.state == "SUCCEEDED"
    first = job(status("ACTIVE", [step(DISKS, 1)]))
    assert decide(first, World(NOW, steps=TWO, step=lingering), SETTINGS).status.current_step is VM, "not the last"
