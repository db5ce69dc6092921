"""The demo's progress lines."""

from __future__ import annotations

from clonejob_demo.story import _progress_line
from clonejob_operator.jobs import read_job


def body(status: dict[str, object]) -> dict[str, object]:
    meta = {"name": "web-1-test-1", "namespace": "d", "uid": "u", "creationTimestamp": "2026-12-04T00:00:00Z"}
    return {"metadata": meta, "spec": {"migratingVm": "web-1"}, "status": status}


def test_a_job_the_operator_has_not_looked_at_reads_created_not_state_unspecified() -> None:
    assert _progress_line(read_job(body({}))) == "created     (the operator has not looked at it yet)"
    line = _progress_line(read_job(body({"state": "ACTIVE", "currentStep": "preparingVmDisks", "progressPercent": 40})))
    assert line.split()[:3] == ["ACTIVE", "preparingVmDisks", "40%"]
