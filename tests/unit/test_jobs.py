"""Reading a stored CloneJob: unusable fields become an INVALID_ARGUMENT that names them."""

from __future__ import annotations

from typing import Any

from clonejob_operator.jobs import read_job
from tests.builders import clone_job


def body(spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    built = clone_job(status=status, uid="u", generation=2)
    built["spec"] = spec  # as stored, whatever it holds
    return built


def test_read_job() -> None:
    job = read_job(body({"migratingVm": "web-1", "cancel": True}, {"state": "ACTIVE"}))
    assert job.spec is not None and job.spec.cancel and job.cancel_requested
    assert job.generation == 2 and job.status.state == "ACTIVE" and job.spec_error is None


def test_unusable_spec_is_named() -> None:
    job = read_job(body({"migratingVm": "Bad_Name", "extra": 1}))
    assert job.spec is None
    assert job.spec_error is not None
    assert "spec.migratingVm" in job.spec_error and "spec.extra" in job.spec_error


def test_unusable_status_field_is_named_and_the_rest_kept() -> None:
    status = {
        "state": "ACTIVE",
        "steps": [{"preparingVmDisks": {}, "startTime": "2026-11-26T10:00:00Z"}],
        "kubevirtTargetDetails": {"vmName": "cj"},
        "progressPercent": 250,
    }
    job = read_job(body({"migratingVm": "web-1"}, status))
    assert job.spec_error is not None and "status.progressPercent" in job.spec_error
    assert job.status.state == "ACTIVE" and job.status.steps and job.status.kubevirt_target_details is not None
    assert job.status.progress_percent is None
