"""Operator settings: deadlines, limits and timing, with their defaults."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import timedelta

from clonejob_operator.api.clonejob import StepKind
from clonejob_operator.seal import Sealer

DEFAULT_STEP_TIMEOUTS = {
    StepKind.PREPARING_VM_DISKS: timedelta(hours=6),
    StepKind.ADAPTING_OS: timedelta(hours=1),
    StepKind.INSTANTIATING_MIGRATED_VM: timedelta(minutes=30),
}


@dataclass(frozen=True)
class Settings:
    pending_deadline: timedelta = timedelta(hours=1)
    step_timeouts: dict[StepKind, timedelta] = field(default_factory=lambda: dict(DEFAULT_STEP_TIMEOUTS))
    max_active: int = 0
    """At most this many CloneJobs hold products at once; 0 means no limit."""
    max_active_per_namespace: int = 0
    """At most this many of them in one namespace; 0 means no limit."""
    resync_interval: float = 300.0
    """Seconds between safety resyncs: every unfinished job is looked at again, whether or not anything changed.
    Watch events and deadlines drive everything else."""
    poll_interval: float = 5.0
    """Seconds between looks at a job whose products are of a kind the operator cannot watch."""
    workers: int = 8
    """Jobs reconciled at once."""
    stall_after: timedelta = timedelta(seconds=60)
    """A transient error (an outage, a connection refused) that has lasted this long shows as Stalled=True."""
    message_interval: timedelta = timedelta(seconds=10)
    """A change of messages alone (a waiting reason, progress detail) is written at most this often per job."""
    retry_max: timedelta = timedelta(seconds=60)
    """The longest wait between looks at a job that meets errors (the backoff doubles up to it)."""
    cleanup_stall_after: timedelta = timedelta(minutes=10)
    """Cleanup still waiting after this long is reported as Stalled (it keeps waiting)."""
    compute_endpoint: str | None = None
    """Send every Compute Engine call here, with anonymous credentials (tests, emulators, proxies)."""
    allow_ambient_credentials: bool = False
    """Whether a TargetProject without credentials may use the operator's own identity (ADC)."""
    namespaces: tuple[str, ...] = ()
    """Watched namespaces; empty means all."""
    sealer: Sealer = field(default_factory=Sealer.random)
    """Seals the statuses the operator writes and checks those it reads (a key of this process unless given)."""
    instance: str = field(default_factory=socket.gethostname)
    """This replica's name: its Events' reportingInstance, and with leader election its identity in the Lease."""

    def step_timeout(self, kind: StepKind) -> timedelta:
        return self.step_timeouts.get(kind, DEFAULT_STEP_TIMEOUTS[kind])
