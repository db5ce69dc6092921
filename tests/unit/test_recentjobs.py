from __future__ import annotations

from clonejob_operator.api.migratingvm import CloneJobSummary
from clonejob_operator.recentjobs import clone_job_name, merged, running_elsewhere


def entry(name: str, state: str, end: str | None = None) -> CloneJobSummary:
    return CloneJobSummary(name=f"namespaces/ns/migratingVms/web-1/cloneJobs/{name}", state=state, end_time=end)


def test_running_first_then_the_last_finished() -> None:
    old = [entry("a", "SUCCEEDED", "2026-11-26T09:00:00Z"), entry("b", "FAILED", "2026-11-26T10:00:00Z")]
    assert [clone_job_name(e) for e in merged(old, entry("c", "ACTIVE"))] == ["c", "b"]


def test_a_finished_job_replaces_its_running_entry() -> None:
    running = [entry("c", "ACTIVE"), entry("b", "FAILED", "2026-11-26T10:00:00Z")]
    out = merged(running, entry("c", "SUCCEEDED", "2026-11-26T11:00:00Z"))
    assert [(clone_job_name(e), e.state) for e in out] == [("c", "SUCCEEDED")]


def test_running_elsewhere_ignores_stale_claims_and_itself() -> None:
    body = {"status": {"recentCloneJobs": [entry("a", "ACTIVE").wire(), entry("b", "SUCCEEDED").wire()]}}
    mine = "namespaces/ns/migratingVms/web-1/cloneJobs/c"
    assert running_elsewhere(body, mine, lambda name: True) == "a"
    assert running_elsewhere(body, mine, lambda name: False) is None  # a's CloneJob is gone or finished
    assert running_elsewhere(body, entry("a", "PENDING").name, lambda name: True) is None
    assert running_elsewhere({"status": {"recentCloneJobs": [{"bogus": 1}]}}, mine, lambda name: True) is None
