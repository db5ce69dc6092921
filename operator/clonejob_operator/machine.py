"""The CloneJob state machine: status and observed world in, decision out. No I/O here.

PENDING -> ACTIVE (preparingVmDisks) -> ADAPTING_OS (adaptingOs, when asked for)
        -> ACTIVE (instantiatingMigratedVm) -> SUCCEEDED
Any error: the running step ends, ``error`` is set, products are removed, then FAILED.
Cancel or deletion: the running step ends, CANCELLING, products are removed, then CANCELLED.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clonejob_operator import conditions, names
from clonejob_operator.api.clonejob import (
    CloneJobSpec,
    CloneJobStatus,
    CloneStep,
    SourceSync,
    State,
    StepKind,
)
from clonejob_operator.api.common import RpcStatus
from clonejob_operator.codes import Code, JobError
from clonejob_operator.settings import Settings
from clonejob_operator.timestamps import format_duration, format_time, parse_time

STEP_WEIGHTS = {StepKind.PREPARING_VM_DISKS: 70, StepKind.ADAPTING_OS: 20, StepKind.INSTANTIATING_MIGRATED_VM: 10}
STEP_ACTIVITY = {
    StepKind.PREPARING_VM_DISKS: "PreparingVmDisks",
    StepKind.ADAPTING_OS: "AdaptingOs",
    StepKind.INSTANTIATING_MIGRATED_VM: "InstantiatingMigratedVm",
}


@dataclass(frozen=True)
class Job:
    """The CloneJob as read from the API server."""

    namespace: str
    name: str
    uid: str
    generation: int
    created: datetime
    spec: CloneJobSpec | None
    status: CloneJobStatus
    deleting: bool = False
    spec_error: str | None = None
    """Set when the stored spec does not parse (created under an older CRD, say): names the field."""

    @property
    def cancel_requested(self) -> bool:
        return self.deleting or bool(self.spec and self.spec.cancel)


class Need(enum.Enum):
    """What the shell must observe before :func:`decide` can run."""

    NOTHING = "nothing"
    ADMISSION = "admission"
    STEP = "step"
    CLEANUP = "cleanup"


@dataclass(frozen=True)
class Plan:
    """What a job that may start will do: its steps and the status members copied when it starts."""

    steps: tuple[StepKind, ...]
    target: dict[str, Any]
    """CloneJobStatus attribute -> value (the target details, and for Compute Engine their mirrors)."""
    source_sync: SourceSync
    refusal: JobError | None = None
    """The target is known (its details are recorded) but the job cannot run on it."""
    waiting: conditions.Activity | None = None
    """Something the target needs is missing (a TargetProject, say): stay PENDING; nothing is recorded."""
    waiting_code: Code = Code.NOT_FOUND
    """What a wait that outlasts the pending deadline fails with."""


@dataclass(frozen=True)
class Admission:
    """Whether a PENDING job may start now; gathered by the shell."""

    plan: Plan | None = None
    waiting: conditions.Activity | None = None
    code: Code = Code.FAILED_PRECONDITION
    """What a wait that outlasts the pending deadline fails with."""
    error: JobError | None = None
    """A reason to fail at once, without starting."""
    reserved: bool = False
    """The shell holds a start reservation for the job (released once the decision is written)."""


@dataclass(frozen=True)
class StepReport:
    """The running step's products as observed (and created where missing) by the driver."""

    progress: int = 0
    done: bool = False
    error: JobError | None = None
    detail: str = ""


@dataclass(frozen=True)
class CleanupReport:
    remaining: tuple[str, ...] = ()
    """Products still present, ``Kind/name``; includes ones already being deleted."""
    blocked: str | None = None
    """Why products could not even be listed or deleted (forbidden, say)."""


@dataclass(frozen=True)
class Facts:
    now: datetime
    steps: tuple[StepKind, ...] = ()
    """The planned steps of a job that has started."""
    admission: Admission | None = None
    step: StepReport | None = None
    cleanup: CleanupReport | None = None


@dataclass(frozen=True)
class Note:
    """An Event (and a log line) for the job."""

    type: str
    reason: str
    message: str


@dataclass
class Decision:
    status: CloneJobStatus
    claim: bool = False
    """Take the MigratingVm's one running slot before writing ``status``."""
    record: bool = False
    """Write the job into the MigratingVm's ``recentCloneJobs`` after writing ``status``."""
    notes: list[Note] = field(default_factory=list)
    again: bool = False
    """Reconcile again at once: the state or step moved on, and the next one has work to start."""


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


def decide(job: Job, facts: Facts, settings: Settings) -> Decision:
    """The next status of ``job`` given ``facts`` (which must hold what :func:`need` asked for)."""
    now = format_time(facts.now)
    status = job.status.model_copy(deep=True)
    decision = Decision(status=status)
    activity: conditions.Activity | None = None

    new = status.current is State.STATE_UNSPECIFIED
    if new:
        status.name = names.resource_name(job.namespace, _mvm(job), job.name)
        status.create_time = format_time(job.created)
        _enter(decision, State.PENDING, now, "Pending", f"waiting to clone MigratingVm {_mvm(job)}")

    state = status.current
    if state.terminal:
        pass
    elif new:  # recorded as PENDING before anything else happens to it
        activity = conditions.Activity("Pending", f"waiting to clone MigratingVm {_mvm(job)}")
    elif state is State.CANCELLING or status.error is not None:
        activity = _clean_up(facts, settings, decision, now)
    elif job.spec_error:
        _fail(decision, now, JobError(Code.INVALID_ARGUMENT, job.spec_error))
    elif job.cancel_requested:
        _end_running_step(status, now)
        why = "the CloneJob is being deleted" if job.deleting else "spec.cancel is true"
        message = f"{why}: stopping and removing what was created"
        _enter(decision, State.CANCELLING, now, "Cancelling", message)
        activity = conditions.Activity("Cancelling", message)
    elif state is State.PENDING:
        activity = _admit(job, facts, settings, decision, now)
    else:
        activity = _advance(facts, settings, decision, now)

    moved = (status.state, len(status.steps or []), status.error) != (
        job.status.state,
        len(job.status.steps or []),
        job.status.error,
    )
    decision.again = moved and not status.current.terminal

    status.progress_percent = _overall_progress(status, facts.steps)
    running = status.running_step
    status.current_step = running.kind.value if running else None
    status.observed_generation = job.generation
    status.conditions = conditions.compute(status, job.generation, activity, job.status.conditions, now)
    return decision


def _mvm(job: Job) -> str:
    return job.spec.migrating_vm if job.spec else "?"


def _enter(decision: Decision, state: State, now: str, reason: str, message: str, warning: bool = False) -> None:
    status = decision.status
    if status.current is not state:
        status.state = state
        status.state_time = now
        decision.notes.append(Note("Warning" if warning else "Normal", reason, message))
    if state.terminal:
        status.end_time = now
        status.current_step = None
        decision.record = True


def _end_running_step(status: CloneJobStatus, now: str) -> None:
    step = status.running_step
    if step is not None:
        step.end_time = now


def _fail(decision: Decision, now: str, error: JobError) -> None:
    """Record ``error``; with nothing created yet the job ends at once, otherwise cleanup comes first."""
    status = decision.status
    _end_running_step(status, now)
    status.error = RpcStatus.of(error.code, error.message)
    if not status.steps:
        _enter(decision, State.FAILED, now, "Failed", f"{error.code.name}: {error.message}", warning=True)
    else:
        decision.notes.append(Note("Warning", "CleaningUp", f"{error.code.name}: {error.message}; removing products"))


def _clean_up(facts: Facts, settings: Settings, decision: Decision, now: str) -> conditions.Activity:
    report = _required(facts.cleanup, "cleanup")
    status = decision.status
    cancelling = status.current is State.CANCELLING
    if not report.remaining and not report.blocked:
        if cancelling:
            _enter(decision, State.CANCELLED, now, "Cancelled", "cancelled; everything it created was removed")
        else:
            error = status.error or RpcStatus.of(Code.UNKNOWN, "failed")
            message = f"{Code(error.code).name}: {error.message}; everything it created was removed"
            _enter(decision, State.FAILED, now, "Failed", message, warning=True)
        return conditions.Activity("Done", "")
    started = parse_time(_cleanup_started(status) or now)
    stalled = facts.now - started > settings.cleanup_stall_after
    waiting_on = (
        report.blocked
        or "waiting for "
        + ", ".join(report.remaining[:5])
        + (f" and {len(report.remaining) - 5} more" if len(report.remaining) > 5 else "")
        + " to be deleted"
    )
    reason = "CleanupStuck" if stalled or report.blocked else ("Cancelling" if cancelling else "CleaningUp")
    return conditions.Activity(reason, waiting_on, stalled=stalled or report.blocked is not None)


def _cleanup_started(status: CloneJobStatus) -> str | None:
    """When removal began: entering CANCELLING, or the failed step's end."""
    if status.current is State.CANCELLING:
        return status.state_time
    ends = [step.end_time for step in status.steps or [] if step.end_time]
    return max(ends, key=parse_time) if ends else status.state_time


def _admit(job: Job, facts: Facts, settings: Settings, decision: Decision, now: str) -> conditions.Activity | None:
    admission = _required(facts.admission, "admission")
    status = decision.status
    if admission.error is not None:
        _fail(decision, now, admission.error)
        return None
    if admission.plan is None:
        waiting = admission.waiting or conditions.Activity("Pending", "waiting to start")
        waited = facts.now - job.created
        if waited > settings.pending_deadline:
            limit = format_duration(settings.pending_deadline)
            _fail(decision, now, JobError(admission.code, f"still PENDING after {limit}: {waiting.message}"))
            return None
        return waiting
    plan = admission.plan
    for attribute, value in plan.target.items():
        setattr(status, attribute, value)
    status.source_sync = plan.source_sync
    if plan.refusal is not None:
        _fail(decision, now, plan.refusal)
        return None
    first = plan.steps[0]
    status.steps = [CloneStep.begin(first, now)]
    decision.claim = True
    _enter(decision, first.state, now, "Started", f"cloning MigratingVm {_mvm(job)}; step {first.value} started")
    return conditions.Activity(STEP_ACTIVITY[first], f"{first.value} started")


def _advance(facts: Facts, settings: Settings, decision: Decision, now: str) -> conditions.Activity | None:
    status = decision.status
    if not facts.steps:  # never "nothing left to do, so SUCCEEDED": the status lost what the job was doing
        missing = "its target details are missing from status, so its steps are unknown"
        _fail(decision, now, JobError(Code.INVALID_ARGUMENT, missing))
        return conditions.Activity("CleaningUp", "removing products after a failure")
    step = status.running_step
    if step is None:
        return _begin_next(decision, facts.steps, now)
    report = _required(facts.step, "step")
    kind = step.kind
    if report.error is not None:
        _fail(decision, now, JobError(report.error.code, f"step {kind.value} failed: {report.error.message}"))
        return conditions.Activity("CleaningUp", "removing products after a failure")
    if report.done:
        step.progress_percent = 100
        step.end_time = now
        return _begin_next(decision, facts.steps, now, f"step {kind.value} finished")
    limit = settings.step_timeout(kind)
    if facts.now - parse_time(step.start_time or now) > limit:
        message = f"step {kind.value} did not finish within {format_duration(limit)}" + (
            f" ({report.detail})" if report.detail else ""
        )
        _fail(decision, now, JobError(Code.DEADLINE_EXCEEDED, message))
        return conditions.Activity("CleaningUp", "removing products after a timeout")
    step.progress_percent = max(0, min(99, report.progress))
    return conditions.Activity(STEP_ACTIVITY[kind], report.detail or f"{kind.value} in progress")


def _begin_next(
    decision: Decision, planned: tuple[StepKind, ...], now: str, ended: str = ""
) -> conditions.Activity | None:
    """Start the next planned step, or succeed; one Event says both what ended and what began."""
    status = decision.status
    done = {step.kind for step in status.steps or []}
    following = [kind for kind in planned if kind not in done]
    before = f"{ended}; " if ended else ""
    if not following:
        _enter(decision, State.SUCCEEDED, now, "Succeeded", f"{before}the clone is ready")
        return None
    kind = following[0]
    status.steps = [*(status.steps or []), CloneStep.begin(kind, now)]
    if status.current is kind.state:
        decision.notes.append(Note("Normal", STEP_ACTIVITY[kind], f"{before}step {kind.value} started"))
    else:  # one Event for the transition, which names the step
        message = f"{before}{kind.state.value}: step {kind.value} started"
        _enter(decision, kind.state, now, STEP_ACTIVITY[kind], message)
    return conditions.Activity(STEP_ACTIVITY[kind], f"{kind.value} started")


def _overall_progress(status: CloneJobStatus, planned: tuple[StepKind, ...]) -> int | None:
    if status.current is State.SUCCEEDED:
        return 100
    if not status.steps:
        return 0 if status.current in (State.PENDING, State.STATE_UNSPECIFIED) else status.progress_percent
    kinds = planned or tuple(step.kind for step in status.steps)
    total = sum(STEP_WEIGHTS[kind] for kind in kinds) or 1
    reached = sum(STEP_WEIGHTS[step.kind] * (step.progress_percent or 0) for step in status.steps if step.kind in kinds)
    return min(100, reached // total)


def _required(value: Any, what: str) -> Any:
    if value is None:
        raise ValueError(f"decide() needs the {what} facts that need() asked for")
    return value


def next_look(job: Job, settings: Settings) -> datetime | None:
    """When time alone next changes what :func:`decide` says: a deadline of a job that nothing else may wake.

    A PENDING job's pending deadline, a running step's timeout, a cleanup's stall threshold. Watch
    events wake a job for everything else; this is what the shell schedules a delayed look for.
    """
    status = job.status
    state = status.current
    if state.terminal:
        return None
    if state is State.CANCELLING or status.error is not None:
        started = _cleanup_started(status)
        return parse_time(started) + settings.cleanup_stall_after if started else None
    if state in (State.PENDING, State.STATE_UNSPECIFIED):
        return job.created + settings.pending_deadline
    step = status.running_step
    if step is not None and step.start_time:
        return parse_time(step.start_time) + settings.step_timeout(step.kind)
    return None
