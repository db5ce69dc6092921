"""The condition and Event reasons of a CloneJob, each defined once (CamelCase, as kstatus has them).

A waiting PENDING job's reasons are in ``waits.py`` (with what wakes it); a running step's reason is
its ``StepKind.reason``; a failed job's is its error code's (``Code.reason``).
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    PENDING = "Pending"
    STARTED = "Started"
    CANCELLING = "Cancelling"
    CANCELLED = "Cancelled"
    CLEANING_UP = "CleaningUp"
    CLEANUP_STUCK = "CleanupStuck"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"
    DONE = "Done"
    UNWRITABLE = "Unwritable"
    """The API server refuses every status write (an object stored under a looser schema, say)."""
    UNTRUSTED_STATUS = "UntrustedStatus"
    """The stored status carries no valid seal of the operator: the job is held, and nothing is done for it."""
