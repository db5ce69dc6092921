from __future__ import annotations

from clonejob_operator.api.clonejob import CloneJobStatus
from clonejob_operator.metrics import Metrics


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_jobs_by_state_follow_what_the_watch_sees() -> None:
    metrics = Metrics()
    metrics.seen("a", "j1", "ACTIVE")
    metrics.seen("a", "j2", "ACTIVE")
    metrics.seen("b", "j1", "SUCCEEDED")
    assert value(metrics, "clonejob_jobs", state="ACTIVE") == 2
    metrics.seen("a", "j1", "SUCCEEDED")
    metrics.seen("a", "j2", None)
    assert value(metrics, "clonejob_jobs", state="ACTIVE") == 0
    assert value(metrics, "clonejob_jobs", state="SUCCEEDED") == 2
    assert value(metrics, "clonejob_jobs", state="FAILED") == 0


def status(**fields: object) -> CloneJobStatus:
    return CloneJobStatus.model_validate(fields)


def test_transitions_failures_and_step_durations() -> None:
    metrics = Metrics()
    running = status(state="ACTIVE", steps=[{"preparingVmDisks": {}, "startTime": "2026-11-26T10:00:00Z"}])
    failing = status(
        state="ACTIVE",
        error={"code": 4, "message": "slow"},
        steps=[{"preparingVmDisks": {}, "startTime": "2026-11-26T10:00:00Z", "endTime": "2026-11-26T10:02:00Z"}],
    )
    failed = failing.model_copy(update={"state": "FAILED"})
    metrics.decided(status(state="PENDING"), running)
    metrics.decided(running, failing)
    metrics.decided(failing, failed)
    assert value(metrics, "clonejob_transitions_total", from_state="PENDING", to_state="ACTIVE") == 1
    assert value(metrics, "clonejob_transitions_total", from_state="ACTIVE", to_state="FAILED") == 1
    assert value(metrics, "clonejob_failures_total", code="DEADLINE_EXCEEDED") == 1
    labels = {"step": "preparingVmDisks", "outcome": "failed"}
    assert value(metrics, "clonejob_step_duration_seconds_count", **labels) == 1
    assert value(metrics, "clonejob_step_duration_seconds_sum", **labels) == 120


def test_migrating_vms_by_state_and_a_new_term_starts_the_counts_again() -> None:
    metrics = Metrics()
    metrics.migrating_vms.seen("a", "web-1", "FIRST_SYNC")
    metrics.migrating_vms.seen("a", "web-2", "ERROR")
    metrics.migrating_vms.seen("a", "web-1", "ACTIVE")
    assert value(metrics, "clonejob_migratingvms", state="FIRST_SYNC") == 0
    assert value(metrics, "clonejob_migratingvms", state="ACTIVE") == 1
    assert value(metrics, "clonejob_migratingvms", state="ERROR") == 1
    metrics.migrating_vms.seen("a", "web-2", None)
    assert value(metrics, "clonejob_migratingvms", state="ERROR") == 0
    metrics.seen("a", "j1", "ACTIVE")
    metrics.term(leading=False)
    assert (
        value(metrics, "clonejob_migratingvms", state="ACTIVE") == 0
        and value(metrics, "clonejob_jobs", state="ACTIVE") == 0
    )
