"""The CloneJob's states, and the sets of them that mean something, defined once.

Here rather than in clonejob.py because a MigratingVm's ``recentCloneJobs`` records them too.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    STATE_UNSPECIFIED = "STATE_UNSPECIFIED"
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    FAILED = "FAILED"
    SUCCEEDED = "SUCCEEDED"
    CANCELLED = "CANCELLED"
    CANCELLING = "CANCELLING"
    ADAPTING_OS = "ADAPTING_OS"

    @property
    def terminal(self) -> bool:
        return self in FINISHED

    @classmethod
    def of(cls, value: object) -> State:
        """A stored state, read leniently: unset or unknown is STATE_UNSPECIFIED."""
        try:
            return cls(str(value)) if value else cls.STATE_UNSPECIFIED
        except ValueError:
            return cls.STATE_UNSPECIFIED


FINISHED = frozenset({State.SUCCEEDED, State.FAILED, State.CANCELLED})
"""The states a CloneJob never leaves."""
STARTED = frozenset({State.ACTIVE, State.ADAPTING_OS, State.CANCELLING})
"""The states of a job that may hold products, and so an active slot and its MigratingVm."""
