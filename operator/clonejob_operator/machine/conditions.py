"""The one place that computes a CloneJob's kstatus conditions: ``Ready``, ``Reconciling`` and ``Stalled``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from clonejob_operator.api.clonejob import CloneJobStatus, State
from clonejob_operator.api.common import Condition
from clonejob_operator.codes import Code
from clonejob_operator.machine.reasons import Reason, WaitReason

READY, RECONCILING, STALLED = "Ready", "Reconciling", "Stalled"


@dataclass(frozen=True)
class Activity:
    """What a job that is not finished is doing or waiting for, in condition terms."""

    reason: Reason
    message: str
    stalled: bool = False
    wait: WaitReason | None = None
    """Set for a PENDING job's wait: what wakes it."""
    held: bool = False
    """The status itself is not to be believed (see ``seal.py``): the conditions say so, whatever its state."""

    @classmethod
    def waiting(cls, wait: WaitReason, message: str, stalled: bool = False) -> Activity:
        return cls(wait.reason, message, stalled=stalled, wait=wait)


def compute(
    status: CloneJobStatus,
    generation: int,
    activity: Activity | None,
    previous: list[Condition] | None,
    now: str,
) -> list[Condition]:
    """Conditions for ``status``; a condition whose status is unchanged keeps its lastTransitionTime."""
    before = {c.type: c for c in previous or []}
    out = []
    for kind, value, reason, message in _wanted(status, activity):
        old = before.get(kind)
        since = old.last_transition_time if old is not None and old.status == value else now
        out.append(
            Condition(
                type=kind,
                status=value,
                observed_generation=generation,
                last_transition_time=since,
                reason=reason,
                message=message,
            )
        )
    return out


Wanted = list[tuple[str, Literal["True", "False", "Unknown"], str, str]]
"""(type, status, reason, message) of each condition."""


def _wanted(status: CloneJobStatus, activity: Activity | None) -> Wanted:
    state = status.current
    if activity is not None and activity.held:
        return [
            (READY, "False", activity.reason, activity.message),
            (RECONCILING, "False", activity.reason, ""),
            (STALLED, "True", activity.reason, activity.message),
        ]
    if state is State.SUCCEEDED:
        done = Reason.SUCCEEDED
        return [
            (READY, "True", done, "the clone is ready"),
            (RECONCILING, "False", done, ""),
            (STALLED, "False", done, ""),
        ]
    if state is State.FAILED:
        code = Code(status.error.code) if status.error else Code.UNKNOWN
        message = (status.error.message if status.error else None) or "failed"
        return [
            (READY, "False", Reason.of_code(code), message),
            (RECONCILING, "False", Reason.FAILED, ""),
            (STALLED, "True", Reason.of_code(code), message),
        ]
    if state is State.CANCELLED:
        message = "cancelled; everything it created was removed"
        return [
            (READY, "False", Reason.CANCELLED, message),
            (RECONCILING, "False", Reason.CANCELLED, ""),
            (STALLED, "True", Reason.CANCELLED, message),
        ]
    act = activity or Activity(Reason.PENDING, "waiting to start")
    if act.stalled:
        return [
            (READY, "False", act.reason, act.message),
            (RECONCILING, "False", act.reason, ""),
            (STALLED, "True", act.reason, act.message),
        ]
    return [
        (READY, "False", act.reason, act.message),
        (RECONCILING, "True", act.reason, act.message),
        (STALLED, "False", act.reason, ""),
    ]
