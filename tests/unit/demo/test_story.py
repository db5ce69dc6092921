"""The demo's progress lines."""

from __future__ import annotations

from clonejob_demo.story import _progress_line
from clonejob_operator.jobs import read_job
from tests.builders import clone_job


def body(status: dict[str, object]) -> dict[str, object]:
    return clone_job("web-1-test-1", namespace="d", status=status)


def test_a_job_the_operator_has_not_looked_at_reads_created_not_state_unspecified() -> None:
    assert _progress_line(read_job(body({}))) == "created     (the operator has not looked at it yet)"
    line = _progress_line(read_job(body({"state": "ACTIVE", "currentStep": "preparingVmDisks", "progressPercent": 40})))
    assert line.split()[:3] == ["ACTIVE", "preparingVmDisks", "40%"]
