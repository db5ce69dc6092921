"""Prometheus metrics: CloneJobs and MigratingVms by state, transitions, failures by code, step durations, and
what the feeds meet."""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from clonejob_operator.api.clonejob import CloneJobStatus, State
from clonejob_operator.api.migratingvm import MigratingVmState
from clonejob_operator.codes import Code
from clonejob_operator.timestamps import parse_time

STEP_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 21600, 43200)


class Tally:
    """Objects of one kind by state, as the watch last saw each: a gauge whose counts only move by what changed."""

    def __init__(self, gauge: Gauge, states: tuple[str, ...]) -> None:
        self.gauge, self.states = gauge, states
        self._seen: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()
            for state in self.states:
                self.gauge.labels(state=state).set(0)

    def seen(self, namespace: str, name: str, state: str | None) -> None:
        """``state`` None when it is gone. O(1): only two counts move."""
        with self._lock:
            key = (namespace, name)
            before = self._seen.pop(key, None)
            if state is not None:
                self._seen[key] = state
            if before == state:
                return
            if before is not None:
                self.gauge.labels(state=before).dec()
            if state is not None:
                self.gauge.labels(state=state).inc()


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        jobs = Gauge("clonejob_jobs", "CloneJobs by state, as last seen.", ["state"], registry=self.registry)
        self.jobs = Tally(jobs, tuple(state.value for state in State))
        migrating_vms = Gauge(
            "clonejob_migratingvms", "MigratingVms by state, as last seen.", ["state"], registry=self.registry
        )
        self.migrating_vms = Tally(migrating_vms, tuple(state.value for state in MigratingVmState))
        self.feed_faults = Counter(
            "clonejob_feed_faults_total",
            "What a feed met while keeping a MigratingVm's status and holds: a refusal, or no answer (an outage).",
            ["feed", "fault"],
            registry=self.registry,
        )
        self.transitions = Counter(
            "clonejob_transitions_total",
            "CloneJob state transitions.",
            ["from_state", "to_state"],
            registry=self.registry,
        )
        self.failures = Counter(
            "clonejob_failures_total",
            "CloneJobs that ended FAILED, by google.rpc code.",
            ["code"],
            registry=self.registry,
        )
        self.step_seconds = Histogram(
            "clonejob_step_duration_seconds",
            "How long CloneJob steps took, by step and how they ended.",
            ["step", "outcome"],
            buckets=STEP_BUCKETS,
            registry=self.registry,
        )
        self.leader = Gauge(
            "clonejob_operator_leader",
            "1 while this replica acts: it holds the leader Lease, or runs standalone.",
            registry=self.registry,
        )

    def term(self, leading: bool) -> None:
        """A term begins or ends: the counts start again from the next term's listing."""
        self.jobs.clear()
        self.migrating_vms.clear()
        self.leader.set(1 if leading else 0)

    def seen(self, namespace: str, name: str, state: str | None) -> None:
        """A CloneJob as the watch saw it; ``state`` None when it is gone."""
        self.jobs.seen(namespace, name, state)

    def decided(self, before: CloneJobStatus, after: CloneJobStatus) -> None:
        """Count what one decision changed: a transition, a failure, steps that ended."""
        old, new = before.current, after.current
        if old is not new:
            self.transitions.labels(from_state=old.value, to_state=new.value).inc()
            if new is State.FAILED:
                code = Code(after.error.code) if after.error else Code.UNKNOWN
                self.failures.labels(code=code.name).inc()
        ended_before = {step.kind for step in before.steps or [] if step.end_time}
        for step in after.steps or []:
            if step.end_time and step.start_time and step.kind not in ended_before:
                outcome = "failed" if after.error else "cancelled" if new is State.CANCELLING else "succeeded"
                seconds = (parse_time(step.end_time) - parse_time(step.start_time)).total_seconds()
                self.step_seconds.labels(step=step.kind.value, outcome=outcome).observe(max(0.0, seconds))

    def serve(self, port: int, address: str = "0.0.0.0") -> None:
        start_http_server(port, addr=address, registry=self.registry)
