"""What the state machine reads and returns: the World one look found, and the Decision it takes."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from clonejob_operator.api.clonejob import CloneJobStatus, ResourceRef, State, StepKind
from clonejob_operator.codes import Code, JobError
from clonejob_operator.faults import Fault
from clonejob_operator.jobs import Job
from clonejob_operator.machine.conditions import Activity
from clonejob_operator.machine.effects import Effect, PostEvent, ProductEffect
from clonejob_operator.machine.reasons import WaitReason
from clonejob_operator.settings import Settings
from clonejob_operator.sources.base import Keeping
from clonejob_operator.targets.base import CleanupReport, JobContext, Plan, StepReport
from clonejob_operator.timestamps import parse_time


class Need(enum.Enum):
    """What the shell must observe before :func:`decide` can run."""

    NOTHING = "nothing"
    ADMISSION = "admission"
    STEP = "step"
    CLEANUP = "cleanup"


@dataclass(frozen=True)
class Admission:
    """Whether a PENDING job may start now; gathered by the shell."""

    plan: Plan | None = None
    waiting: Activity | None = None
    code: Code = Code.FAILED_PRECONDITION
    """What a wait that outlasts the pending deadline fails with."""
    error: JobError | None = None
    """A reason to fail at once, without starting."""


@dataclass(frozen=True)
class World:
    """Everything one look found. Built by ``observe``; read by :func:`decide` only."""

    now: datetime
    steps: tuple[StepKind, ...] = ()
    """The planned steps of a job that has started."""
    admission: Admission | None = None
    step: StepReport | None = None
    cleanup: CleanupReport | None = None
    fault: Fault | None = None
    """What went wrong while looking (or in the last commit), as a fact."""
    created: tuple[ResourceRef, ...] = ()
    """Products the last commit made that the status may not list yet."""
    refused_write: str | None = None
    """The API server refused the last status write (422, say): why."""
    refusals: int = 0
    """How many status writes in a row it refused in those words, the job unchanged meanwhile."""
    unwritable: bool = False
    """The job, as it is, was decided unwritable and told so: nothing is to be done until it changes."""
    last_write: datetime | None = None
    """When this process last wrote the job's status (message-only changes are rate-limited by it)."""
    untrusted: str | None = None
    """Why the stored status is not the operator's own writing (see ``seal.py``): the job is held."""
    keeping: Keeping | None = None
    """What a job fed by a feed holds of the images it restores from (None: its images are nobody's to hold)."""
    unrecorded: bool = False
    """The finished job's record in its MigratingVm got no answer: it is owed."""


@dataclass
class Decision:
    status: CloneJobStatus
    products: list[ProductEffect] = field(default_factory=list)
    """What a step or a cleanup asks to be created, deleted or released, gathered while deciding."""
    effects: list[Effect] = field(default_factory=list)
    """Everything the committer is to carry out, in order (``ordering.order``: the products among them)."""
    notes: list[PostEvent] = field(default_factory=list)
    again: bool = False
    """Look again at once: the state or step moved on, and the next one has work to start."""
    requeue_after: float | None = None
    """Seconds until time alone changes the decision (a deadline, a stall, a deferred message). Errors are
    not time: the work queue owns their backoff."""
    unwritable: str | None = None
    """Why nothing can be written to the job as it is: it is left alone until it changes."""
    wait: WaitReason | None = None
    """Why a PENDING job waits: the roster routes wake-ups by it."""
    claim: bool = False
    record: bool = False


def merge(existing: Sequence[ResourceRef] | None, found: Sequence[ResourceRef]) -> list[ResourceRef]:
    """Recorded products, each once: what is found now replaces what was recorded before (a pending
    operation that has finished, say); a namesake with another uid is another product."""

    def key(ref: ResourceRef) -> tuple[str, str, str, str | None, str | None]:
        return (ref.api_version, ref.kind, ref.name, ref.namespace, ref.uid if ref.uid else None)

    def loose(ref: ResourceRef) -> tuple[str, str, str, str | None]:
        return (ref.api_version, ref.kind, ref.name, ref.namespace)

    fresh = {key(ref): ref for ref in found}
    by_name = {loose(ref): ref for ref in found}
    out = []
    for ref in existing or []:
        newer = fresh.pop(key(ref), None)
        if newer is None and not ref.uid:  # a write-ahead intent, now made
            newer = by_name.get(loose(ref))
            if newer is not None:
                fresh.pop(key(newer), None)
        out.append(newer or ref)
    return out + list(fresh.values())


def job_context(job: Job, created: Sequence[ResourceRef], settings: Settings) -> JobContext:
    """What a driver works with: the job, with the products this process made and has not yet recorded
    (``created``), and its running step's timeout."""
    status = job.status
    if created:
        status = status.model_copy(update={"created_resources": merge(status.created_resources, created)})
    running = status.running_step
    context = JobContext(
        namespace=job.namespace,
        name=job.name,
        uid=job.uid,
        migrating_vm=job.spec.migrating_vm if job.spec else "",
        status=status,
    )
    return replace(context, step_timeout=settings.step_timeout(running.kind)) if running else context


def cleanup_started(status: CloneJobStatus) -> str | None:
    """When removal began: entering CANCELLING, or the failed step's end."""
    if status.current is State.CANCELLING:
        return status.state_time
    ends = [step.end_time for step in status.steps or [] if step.end_time]
    return max(ends, key=parse_time) if ends else status.state_time
