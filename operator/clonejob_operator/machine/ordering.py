"""What a decision writes, in which order, and when time alone should bring another look. Pure: it returns
both and changes nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from clonejob_operator.api.clonejob import ResourceRef, State
from clonejob_operator.faults import FaultKind
from clonejob_operator.jobs import Job
from clonejob_operator.machine.effects import (
    AddFinalizer,
    Claim,
    CreateProduct,
    Effect,
    PatchStatus,
    ProductEffect,
    Record,
    RemoveFinalizer,
)
from clonejob_operator.machine.model import Decision, World, cleanup_started
from clonejob_operator.machine.reasons import Trigger
from clonejob_operator.settings import Settings
from clonejob_operator.timestamps import parse_time


def order(
    job: Job, world: World, settings: Settings, decision: Decision, intents: bool
) -> tuple[list[Effect], float | None]:
    """The decision's effects, in the order commit must carry them out, and the seconds until time alone
    should bring another look (None: only a change will). ``intents``: the status records products about to be
    created (``intended``), so it is written ahead of them."""
    status = decision.status
    out: list[Effect] = []
    hold = not job.held and not job.deleting and not status.current.terminal
    first_record = job.status.current is State.STATE_UNSPECIFIED
    if hold and not first_record:  # before anything is created (someone removed it by hand)
        out.append(AddFinalizer())
    products = decision.products
    write, wait = _worth_writing(job, world, settings, decision, intents)
    mine = status.summary(job.uid)
    if decision.claim:
        out.append(Claim(mine))
    if write and intents:  # write-ahead: recorded before anything is sent
        out.append(PatchStatus(status))
    out.extend(products)
    if write and not intents:
        out.append(PatchStatus(status))
    if hold and first_record:
        # A new job is first recorded (with status.createdRevision, its place in the queue), then held:
        # the finalizer's write changes its resourceVersion, which must not be mistaken for its creation's.
        out.append(AddFinalizer())
    if decision.record and job.spec is not None:
        out.append(Record(job.spec.migrating_vm, mine))
    out.extend(decision.notes if write else [])
    if job.held and status.current.terminal:  # nothing is left to clean up: it may go without an operator
        out.append(RemoveFinalizer())
    return out, _next_look(job, world, settings, decision, wait)


def intended(products: list[ProductEffect]) -> list[ResourceRef]:
    """The products to be recorded in status.createdResources before their create is sent (write-ahead)."""
    return [e.intent for e in products if isinstance(e, CreateProduct) and e.intent is not None]


def _worth_writing(
    job: Job, world: World, settings: Settings, decision: Decision, forced: bool
) -> tuple[bool, float | None]:
    """(write now, seconds until a deferred message-only change may be written).

    A change of state, step, progress, error, condition status or reason is written at once. A change of
    messages or recorded products alone is written at most once every ``settings.message_interval``
    per job, so that a waiting reason always reaches ``kubectl get``, but progress chatter costs little.
    """
    old, new = job.status.wire(), decision.status.wire()
    if old == new:
        return False, None
    if forced or decision.claim or _essence(old) != _essence(new):
        return True, None
    if world.last_write is None:
        return True, None
    due = world.last_write + settings.message_interval
    if world.now >= due:
        return True, None
    return False, (due - world.now).total_seconds()


def _essence(status: dict[str, object]) -> dict[str, object]:
    kept = {k: v for k, v in status.items() if k not in ("createdResources", "conditions")}
    kept["conditions"] = [
        {k: v for k, v in c.items() if k not in ("message", "lastTransitionTime")}
        for c in status.get("conditions") or []  # type: ignore[attr-defined]
    ]
    return kept


LOAD_LOOK = 2.0
"""Seconds between looks of a job that waits for a target's library to load."""


def _next_look(job: Job, world: World, settings: Settings, decision: Decision, deferred: float | None) -> float | None:
    """Seconds until time alone may change the decision: a deadline, a fault's run becoming a stall, a
    deferred write. A fault's retry is not here: the work queue owns its backoff."""
    status = decision.status
    looks: list[float] = [deferred] if deferred is not None else []
    deadline = next_look(replace(job, status=status), settings)
    if deadline is not None:
        looks.append(max(0.0, (deadline - world.now).total_seconds()) + 0.05)
    if decision.wait is not None and decision.wait.trigger is Trigger.TIME and world.fault is None:
        looks.append(max(settings.poll_interval, 10.0))  # nothing watched will say when it ends: look again
    if decision.wait is not None and decision.wait.trigger is Trigger.TARGET_LOADED:
        looks.append(LOAD_LOOK)  # the load's end wakes it; this covers an end that came before the write
    fault = world.fault
    transient = fault is not None and fault.kind is FaultKind.TRANSIENT and not status.current.terminal
    if transient and fault is not None and fault.since is not None:  # when its run shows as Stalled
        until_stall = (fault.since + settings.stall_after - world.now).total_seconds()
        if until_stall > 0:
            looks.append(until_stall + 0.05)
    return min(looks) if looks else None


def next_look(job: Job, settings: Settings) -> datetime | None:
    """When time alone next changes what :func:`decide` says: a deadline of a job that nothing else may wake.

    A PENDING job's pending deadline, a running step's timeout, a cleanup's stall threshold.
    """
    status = job.status
    state = status.current
    if state.terminal:
        return None
    if state is State.CANCELLING or status.error is not None:
        started = cleanup_started(status)
        return parse_time(started) + settings.cleanup_stall_after if started else None
    if state in (State.PENDING, State.STATE_UNSPECIFIED):  # only a job blocked on something missing has one
        return parse_time(status.blocked_since) + settings.pending_deadline if status.blocked_since else None
    step = status.running_step
    if step is not None and step.start_time:
        return parse_time(step.start_time) + settings.step_timeout(step.kind)
    return None
