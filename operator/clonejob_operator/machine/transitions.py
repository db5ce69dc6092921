"""The CloneJob state machine: the job and the observed world in, a decision (status, effects) out. No I/O.

PENDING -> ACTIVE (preparingVmDisks) -> ADAPTING_OS (adaptingOs, when asked for)
        -> ACTIVE (instantiatingMigratedVm) -> SUCCEEDED
Any error: the running step ends, ``error`` is set, products are removed, then FAILED.
Cancel or deletion: the running step ends, CANCELLING, products are removed, then CANCELLED
(a job cancelled before it started has made nothing: it goes to CANCELLED at once).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from clonejob_operator import names
from clonejob_operator.api.clonejob import STARTED, CloneJobStatus, CloneStep, State, StepKind
from clonejob_operator.api.common import RpcStatus
from clonejob_operator.codes import Code, JobError
from clonejob_operator.faults import Fault, FaultKind
from clonejob_operator.jobs import Job
from clonejob_operator.machine import conditions, keeping, ordering
from clonejob_operator.machine.conditions import Activity
from clonejob_operator.machine.effects import GiveUp, PatchStatus, PostEvent
from clonejob_operator.machine.model import Admission, Decision, Need, World, cleanup_started, merge
from clonejob_operator.machine.reasons import Reason, WaitReason
from clonejob_operator.settings import Settings
from clonejob_operator.targets.base import StepReport
from clonejob_operator.timestamps import format_duration, format_time, parse_time

STEP_WEIGHTS = {StepKind.PREPARING_VM_DISKS: 70, StepKind.ADAPTING_OS: 20, StepKind.INSTANTIATING_MIGRATED_VM: 10}


def need(job: Job) -> Need:
    state = job.status.current
    if state.terminal or state is State.STATE_UNSPECIFIED:
        return Need.NOTHING  # a new job is first recorded as PENDING, then admitted
    if state is State.CANCELLING or job.status.error is not None:
        return Need.CLEANUP
    if job.cancel_requested or job.spec_error:
        return Need.NOTHING
    if state is State.PENDING:
        return Need.ADMISSION
    return Need.STEP


def decide(job: Job, world: World, settings: Settings) -> Decision:
    """The next status of ``job`` and the effects that get there (``world`` holds what :func:`need` asked for)."""
    now = format_time(world.now)
    status = job.status.model_copy(deep=True)
    decision = Decision(status=status)
    if world.untrusted is not None:
        return _hold(job, world.untrusted, decision, now)
    if world.unwritable or world.refusals >= 2:
        return _unwritable(job, world, decision)
    if not status.current.terminal and not world.refused_write:
        _learn(status, world)
    activity = _transition(job, world, settings, decision, now)
    decision.again = (decision.again or _moved(job.status, status)) and not status.current.terminal
    status.progress_percent = _overall_progress(status, world.steps)
    running = status.running_step
    status.current_step = running.kind if running else None
    status.observed_generation = job.generation
    status.conditions = conditions.compute(status, job.generation, activity, job.status.conditions, now)
    decision.wait = activity.wait if activity is not None else None
    intents = ordering.intended(decision.products)
    if intents:  # written ahead of the creates
        status.created_resources = merge(status.created_resources, intents)
    decision.effects, decision.requeue_after = ordering.order(job, world, settings, decision, bool(intents))
    return decision


def _hold(job: Job, why: str, decision: Decision, now: str) -> Decision:
    """A status the operator did not write: nothing is created, deleted, claimed or released for it, and
    the finalizer stays as it is. Only the conditions say so (without a seal: the status stays untrusted)."""
    status = decision.status
    message = (
        f"held: {why}, so it may have been written by someone other than the operator; nothing is created or "
        "deleted for this CloneJob until a cluster admin vouches for its status (clonejob-operator trust) or "
        "deletes it"
    )
    activity = Activity(Reason.UNTRUSTED_STATUS, message, stalled=True, held=True)
    status.observed_generation = job.generation
    status.conditions = conditions.compute(status, job.generation, activity, job.status.conditions, now)
    if status.wire() != job.status.wire():
        decision.effects = [PatchStatus(status, sealed=False)]
        if Reason.UNTRUSTED_STATUS not in {c.reason for c in job.status.conditions or []}:
            decision.effects.append(PostEvent("Warning", Reason.UNTRUSTED_STATUS, message))
    return decision


def _unwritable(job: Job, world: World, decision: Decision) -> Decision:
    """Every status write refused in the same words, even the failure that says so: nothing can be
    recorded, so nothing is done; the job is left as it is until it changes (any change is another try)."""
    why = world.refused_write or "refused"
    decision.unwritable = f"its status cannot be written ({why}); left as it is until it changes: fix or delete it"
    if not world.unwritable:  # told once per version of the job
        decision.effects = [GiveUp(job.resource_version, decision.unwritable)]
    return decision


def _learn(status: CloneJobStatus, world: World) -> None:
    """What the last look and the last commit found, into the status: products, and a step's learnings."""
    found = [*world.created, *(world.step.products if world.step else ())]
    if found:
        status.created_resources = merge(status.created_resources, found)
    if world.step is not None and world.step.learnt is not None:
        world.step.learnt.apply(status)


def _transition(job: Job, world: World, settings: Settings, decision: Decision, now: str) -> Activity | None:
    status = decision.status
    state = status.current
    if state.terminal:
        decision.record = world.unrecorded  # the record its end owes its MigratingVm, when it got no answer
        return None
    if state is State.STATE_UNSPECIFIED:  # recorded before anything else happens to it
        status.name = status.name or names.resource_name(job.namespace, job.migrating_vm, job.name)
        status.create_time = status.create_time or format_time(job.created)
        if job.resource_version.isdigit() and status.created_revision is None:
            status.created_revision = int(job.resource_version)
    if state is State.STATE_UNSPECIFIED and not job.spec_error:  # as PENDING, unless what is stored is unusable
        _enter(decision, State.PENDING, now, Reason.PENDING, f"waiting to clone MigratingVm {job.migrating_vm}")
        return Activity.waiting(WaitReason.PENDING, f"waiting to clone MigratingVm {job.migrating_vm}")
    if world.refused_write and status.error is None:
        _fail(decision, now, JobError(Code.INVALID_ARGUMENT, f"the status could not be written: {world.refused_write}"))
        return Activity(Reason.CLEANING_UP, "removing products after a failure")
    if state is State.CANCELLING or status.error is not None:
        return _clean_up(world, settings, decision, now)
    if job.spec_error:
        _fail(decision, now, JobError(Code.INVALID_ARGUMENT, job.spec_error))
        return None if status.current.terminal else Activity(Reason.CLEANING_UP, "removing products after a failure")
    if job.cancel_requested:
        return _cancel(job, decision, now)
    if state is State.PENDING:
        return _admit(job, world, settings, decision, now)
    return _advance(world, settings, decision, now)


def _cancel(job: Job, decision: Decision, now: str) -> Activity | None:
    status = decision.status
    why = "the CloneJob is being deleted" if job.deleting else "spec.cancel is true"
    if not _started(status):
        _enter(
            decision, State.CANCELLED, now, Reason.CANCELLED, f"{why}: cancelled before it started; nothing was created"
        )
        return None
    _end_running_step(status, now)
    message = f"{why}: stopping and removing what was created"
    _enter(decision, State.CANCELLING, now, Reason.CANCELLING, message)
    return Activity(Reason.CANCELLING, message)


def _moved(before: CloneJobStatus, after: CloneJobStatus) -> bool:
    return (after.state, len(after.steps or []), after.error) != (before.state, len(before.steps or []), before.error)


def _started(status: CloneJobStatus) -> bool:
    """Whether the job may have made anything (so that it must clean up before it ends)."""
    return status.current in STARTED or bool(status.steps) or bool(status.created_resources)


def _enter(decision: Decision, state: State, now: str, reason: Reason, message: str, warning: bool = False) -> None:
    status = decision.status
    if status.current is not state:
        status.state = state
        status.state_time = now
        decision.notes.append(PostEvent("Warning" if warning else "Normal", reason, message))
    if state.terminal:
        status.end_time = now
        status.current_step = None
        decision.record = True


def _end_running_step(status: CloneJobStatus, now: str) -> None:
    step = status.running_step
    if step is not None:
        step.end_time = now


def _fail(decision: Decision, now: str, error: JobError) -> None:
    """Record ``error``; a job that never started ends at once, otherwise cleanup comes first."""
    status = decision.status
    started = _started(status)
    _end_running_step(status, now)
    status.error = RpcStatus.of(error.code, error.message)
    if not started:
        _enter(decision, State.FAILED, now, Reason.FAILED, f"{error.code.name}: {error.message}", warning=True)
    else:
        message = f"{error.code.name}: {error.message}; removing products"
        decision.notes.append(PostEvent("Warning", Reason.CLEANING_UP, message))


def _stalled(fault: Fault, now: datetime, settings: Settings) -> bool:
    """A fault shows as Stalled once its run has lasted ``stall_after`` (an unexpected one at once)."""
    if fault.kind is not FaultKind.TRANSIENT:
        return True
    return fault.since is not None and now - fault.since >= settings.stall_after


def _clean_up(world: World, settings: Settings, decision: Decision, now: str) -> Activity:
    status = decision.status
    cancelling = status.current is State.CANCELLING
    report = world.cleanup
    if world.fault is not None or report is None:
        why = world.fault.message if world.fault is not None else "cleanup was not looked at"
        stalled = world.fault is None or _stalled(world.fault, world.now, settings)
        return Activity(
            Reason.CLEANUP_STUCK if stalled else Reason.CLEANING_UP, f"cannot clean up yet: {why}", stalled=stalled
        )
    held = keeping.held(world)
    if not report.remaining and not report.blocked and not held:
        if cancelling:
            _enter(decision, State.CANCELLED, now, Reason.CANCELLED, "cancelled; everything it created was removed")
        else:
            error = status.error or RpcStatus.of(Code.UNKNOWN, "failed")
            message = f"{Code(error.code).name}: {error.message}; everything it created was removed"
            _enter(decision, State.FAILED, now, Reason.FAILED, message, warning=True)
        return Activity(Reason.DONE, "")
    decision.products.extend([*keeping.releases(status, world), *report.deletable])
    remaining = (*report.remaining, *held)
    started = parse_time(cleanup_started(status) or now)
    stalled = world.now - started > settings.cleanup_stall_after
    shown = ", ".join(remaining[:5]) + (f" and {len(remaining) - 5} more" if len(remaining) > 5 else "")
    waiting_on = report.blocked or f"waiting for {shown} to be deleted"
    reason = (
        Reason.CLEANUP_STUCK if stalled or report.blocked else (Reason.CANCELLING if cancelling else Reason.CLEANING_UP)
    )
    return Activity(reason, waiting_on, stalled=stalled or report.blocked is not None)


def _admit(job: Job, world: World, settings: Settings, decision: Decision, now: str) -> Activity | None:
    status = decision.status
    admission = world.admission or Admission(waiting=Activity.waiting(WaitReason.PENDING, "waiting to start"))
    if world.fault is not None:
        if world.fault.kind.ends_job:
            _fail(decision, now, world.fault.error)
            return None
        stalled = _stalled(world.fault, world.now, settings)
        admission = Admission(waiting=Activity.waiting(WaitReason.UNAVAILABLE, world.fault.message, stalled))
    if admission.error is not None:
        _fail(decision, now, admission.error)
        return None
    if admission.plan is None:
        waiting = admission.waiting or Activity.waiting(WaitReason.PENDING, "waiting to start")
        _say_what_it_waits_for(job, waiting, decision)
        if waiting.wait is None or not waiting.wait.blocked:
            status.blocked_since = None  # waiting its turn, or a transient error: the deadline does not run
            return waiting
        status.blocked_since = status.blocked_since or now
        if world.now - parse_time(status.blocked_since) > settings.pending_deadline:
            limit = format_duration(settings.pending_deadline)
            _fail(decision, now, JobError(admission.code, f"blocked for {limit}: {waiting.message}"))
            return None
        return waiting
    plan = admission.plan
    status.blocked_since = None
    plan.record.apply(status)
    status.source_sync = plan.source_sync
    if plan.refusal is not None:
        _fail(decision, now, plan.refusal)
        return None
    first = plan.steps[0]
    status.steps = [CloneStep.begin(first, now)]
    decision.claim = True
    _enter(
        decision,
        first.state,
        now,
        Reason.STARTED,
        f"cloning MigratingVm {job.migrating_vm}; step {first.value} started",
    )
    return Activity(Reason.of_step(first), f"{first.value} started")


def _say_what_it_waits_for(job: Job, waiting: Activity, decision: Decision) -> None:
    """An Event each time what a PENDING job waits for changes (NoSnapshots, MaxActiveReached...): the Pending
    Event of its first record could not know it yet."""
    ready = next((c for c in job.status.conditions or [] if c.type == conditions.READY), None)
    told = waiting.wait is not None and waiting.wait not in (WaitReason.PENDING, WaitReason.UNAVAILABLE)
    if told and (ready is None or ready.reason != waiting.reason):
        decision.notes.append(PostEvent("Normal", waiting.reason, waiting.message))


def _advance(world: World, settings: Settings, decision: Decision, now: str) -> Activity | None:
    status = decision.status
    if not world.steps:  # never "nothing left to do, so SUCCEEDED": the status lost what the job was doing
        missing = "its target details are missing from status, so its steps are unknown"
        _fail(decision, now, JobError(Code.INVALID_ARGUMENT, missing))
        return Activity(Reason.CLEANING_UP, "removing products after a failure")
    step = status.running_step
    if step is None:
        return _begin_next(decision, world.steps, now)
    kind = step.kind
    fault = world.fault
    report = world.step or StepReport()
    error = fault.error if fault is not None and fault.kind.ends_job else report.error
    if error is not None:
        detail = error.message.removeprefix(f"step {kind.value}: ")  # a fault says where it met the error too
        _fail(decision, now, JobError(error.code, f"step {kind.value} failed: {detail}"))
        return Activity(Reason.CLEANING_UP, "removing products after a failure")
    decision.products.extend([*keeping.holds(status, world, kind, report.done), *report.releases])
    lingering = _lingering(world, kind, report)
    if report.done and fault is None and lingering:  # a finished job is the clone alone, and holds nothing
        decision.again = bool(keeping.held(world))  # its holds are let go of by this decision: look again then
        report = replace(report, done=False, progress=99, detail=f"{report.detail}; {lingering}")
    if report.done and fault is None:
        step.progress_percent = 100
        step.end_time = now
        return _begin_next(decision, world.steps, now, f"step {kind.value} finished")
    limit = settings.step_timeout(kind)
    if world.now - parse_time(step.start_time or now) > limit:
        detail = fault.message if fault is not None else report.detail
        message = f"step {kind.value} did not finish within {format_duration(limit)}" + (
            f" ({detail})" if detail else ""
        )
        _fail(decision, now, JobError(Code.DEADLINE_EXCEEDED, message))
        return Activity(Reason.CLEANING_UP, "removing products after a timeout")
    if fault is not None:
        return Activity(
            Reason.of_step(kind), f"retrying: {fault.message}", stalled=_stalled(fault, world.now, settings)
        )
    step.progress_percent = max(0, min(99, report.progress))
    decision.products.extend(report.creates)
    return Activity(Reason.of_step(kind), report.detail or f"{kind.value} in progress")


def _lingering(world: World, kind: StepKind, report: StepReport) -> str:
    """What must be gone before the last step may end, in words: a helper the target is removing, the images
    the job still holds ("": nothing)."""
    if kind is not world.steps[-1]:
        return ""
    held = "letting go of its snapshots" if keeping.held(world) else ""
    return "; ".join(part for part in (report.lingering, held) if part)


def _begin_next(decision: Decision, planned: tuple[StepKind, ...], now: str, ended: str = "") -> Activity | None:
    """Start the next planned step, or succeed; one Event says both what ended and what began."""
    status = decision.status
    done = {step.kind for step in status.steps or []}
    following = [kind for kind in planned if kind not in done]
    before = f"{ended}; " if ended else ""
    if not following:
        _enter(decision, State.SUCCEEDED, now, Reason.SUCCEEDED, f"{before}the clone is ready")
        return None
    kind = following[0]
    status.steps = [*(status.steps or []), CloneStep.begin(kind, now)]
    if status.current is kind.state:
        decision.notes.append(PostEvent("Normal", Reason.of_step(kind), f"{before}step {kind.value} started"))
    else:  # one Event for the transition, which names the step
        _enter(
            decision, kind.state, now, Reason.of_step(kind), f"{before}{kind.state.value}: step {kind.value} started"
        )
    return Activity(Reason.of_step(kind), f"{kind.value} started")


def _overall_progress(status: CloneJobStatus, planned: tuple[StepKind, ...]) -> int | None:
    if status.current is State.SUCCEEDED:
        return 100
    if not status.steps:
        return 0 if status.current in (State.PENDING, State.STATE_UNSPECIFIED) else status.progress_percent
    kinds = planned or tuple(step.kind for step in status.steps)
    total = sum(STEP_WEIGHTS[kind] for kind in kinds) or 1
    reached = sum(STEP_WEIGHTS[step.kind] * (step.progress_percent or 0) for step in status.steps if step.kind in kinds)
    return min(100, reached // total)
