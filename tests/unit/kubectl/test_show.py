"""How the plugin shows CloneJobs."""

from __future__ import annotations

from clonejob_kubectl.show import bar, table, timeline
from tests.unit.kubectl.samples import JOB, NOW


def test_bar() -> None:
    assert bar(0) == "[--------------------]   0%"
    assert bar(50) == "[##########----------]  50%"
    assert bar(100, width=4) == "[####] 100%"
    assert bar(None) == bar(0) and bar(250) == bar(100)


def test_timeline_shows_steps_durations_and_progress() -> None:
    text = timeline(JOB, NOW)
    assert "CloneJob m/cj  (MigratingVm web-1)" in text
    assert "State:    ACTIVE for 9m55s" in text
    assert "preparingVmDisks" in text and "took 8m" in text
    assert "instantiatingMigratedVm" in text and "running 1m55s" in text
    assert "[##########----------]  50%" in text
    assert "Now:      VirtualMachine cj Starting" in text


def test_timeline_says_why_a_stalled_job_is_stuck() -> None:
    """An unreachable Compute Engine endpoint: Reconciling goes False with no message, Stalled says why."""
    stalled = [
        {
            "type": "Reconciling",
            "status": "False",
            "reason": "Unavailable",
            "lastTransitionTime": "2026-11-26T10:09:00Z",
        },
        {
            "type": "Stalled",
            "status": "True",
            "reason": "Unavailable",
            "lastTransitionTime": "2026-11-26T10:09:00Z",
            "message": "ConnectionError: compute.googleapis.com refused",
        },
    ]
    text = timeline({**JOB, "status": {**JOB["status"], "conditions": stalled}}, NOW)
    assert "Now:      stuck (Unavailable): ConnectionError: compute.googleapis.com refused" in text


def test_timeline_shows_the_error() -> None:
    failed = {
        **JOB,
        "status": {"state": "FAILED", "error": {"code": 4, "message": "too slow"}, "endTime": "2026-11-26T10:09:00Z"},
    }
    text = timeline(failed, NOW)
    assert "Error:    too slow (code 4)" in text and "ended 1m ago" in text


def test_table() -> None:
    lines = table([JOB], NOW).splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "STATE", "STEP", "PROGRESS", "MIGRATINGVM", "AGE"]
    assert lines[1].split() == ["m", "cj", "ACTIVE", "instantiatingMigratedVm", "80%", "web-1", "10m"]


def test_table_has_a_namespace_column_only_across_namespaces() -> None:
    one = table([JOB], NOW, namespaces=False).splitlines()
    assert one[0].split() == ["NAME", "STATE", "STEP", "PROGRESS", "MIGRATINGVM", "AGE"]
    assert one[1].split()[0] == "cj"
