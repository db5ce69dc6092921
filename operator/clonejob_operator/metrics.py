"""Prometheus metrics: CloneJobs by state, transitions, failures by code, step durations."""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from clonejob_operator.api.clonejob import CloneJobStatus, State
from clonejob_operator.codes import Code
from clonejob_operator.timestamps import parse_time

STEP_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 21600, 43200)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.jobs = Gauge("clonejob_jobs", "CloneJobs by state, as last seen.", ["state"], registry=self.registry)
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
        self._states: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        for state in State:
            self.jobs.labels(state=state.value).set(0)

    def term(self, leading: bool) -> None:
        """A term begins or ends: the job counts start again from the next term's listing."""
        with self._lock:
            self._states.clear()
            for state in State:
                self.jobs.labels(state=state.value).set(0)
        self.leader.set(1 if leading else 0)

    def seen(self, namespace: str, name: str, state: str | None) -> None:
        """A CloneJob as the watch saw it; ``state`` None when it is gone. O(1): only two counts move."""
        with self._lock:
            key = (namespace, name)
            before = self._states.pop(key, None)
            if state is not None:
                self._states[key] = state
            if before == state:
                return
            if before is not None:
                self.jobs.labels(state=before).dec()
            if state is not None:
                self.jobs.labels(state=state).inc()

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
