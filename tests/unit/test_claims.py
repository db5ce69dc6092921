from __future__ import annotations

import logging

import pytest

from clonejob_operator import claims
from clonejob_operator.api.migratingvm import CloneJobSummary
from clonejob_operator.claims import clone_job_name, merged, running_elsewhere


def entry(name: str, state: str, end: str | None = None, uid: str | None = None) -> CloneJobSummary:
    return CloneJobSummary(
        name=f"namespaces/ns/migratingVms/web-1/cloneJobs/{name}", uid=uid, state=state, end_time=end
    )


def test_running_first_then_the_last_finished() -> None:
    old = [entry("a", "SUCCEEDED", "2026-11-26T09:00:00Z"), entry("b", "FAILED", "2026-11-26T10:00:00Z")]
    assert [clone_job_name(e) for e in merged(old, entry("c", "ACTIVE"))] == ["c", "b"]


def test_a_finished_job_replaces_its_running_entry() -> None:
    running = [entry("c", "ACTIVE"), entry("b", "FAILED", "2026-11-26T10:00:00Z")]
    out = merged(running, entry("c", "SUCCEEDED", "2026-11-26T11:00:00Z"))
    assert [(clone_job_name(e), e.state) for e in out] == [("c", "SUCCEEDED")]


def test_running_elsewhere_ignores_stale_claims_and_itself() -> None:
    body = {"status": {"recentCloneJobs": [entry("a", "ACTIVE").wire(), entry("b", "SUCCEEDED").wire()]}}
    mine = entry("c", "PENDING", uid="uid-c")
    assert running_elsewhere(body, mine, lambda name, uid: True) == "a"
    assert running_elsewhere(body, mine, lambda name, uid: False) is None  # a's CloneJob is gone or finished
    assert running_elsewhere(body, entry("a", "PENDING"), lambda name, uid: True) is None
    assert running_elsewhere({"status": {"recentCloneJobs": [{"bogus": 1}]}}, mine, lambda name, uid: True) is None


def test_claims_are_matched_by_uid_so_a_namesake_is_another_job() -> None:
    old_a = entry("a", "ACTIVE", uid="uid-a1")
    body = {"status": {"recentCloneJobs": [old_a.wire()]}}
    new_a = entry("a", "PENDING", uid="uid-a2")
    asked: list[tuple[str, str | None]] = []

    def holds(name: str, uid: str | None) -> bool:
        asked.append((name, uid))
        return False

    assert running_elsewhere(body, new_a, holds) is None
    assert asked == [("a", "uid-a1")]  # the old a's uid is looked up, not the name
    assert [e.uid for e in merged([old_a], new_a)] == ["uid-a2"]  # the new a replaces nothing of the old one's


def test_record_that_keeps_meeting_conflicts_says_so(caplog: pytest.LogCaptureFixture) -> None:
    from kubernetes.client.exceptions import ApiException

    class Conflicting:
        reads = 0

        def get(self, *_: object) -> dict[str, object]:
            self.reads += 1
            return {"metadata": {"name": "web-1", "resourceVersion": str(self.reads)}, "status": {}}

        refresh = get

        def patch_status(self, *_: object) -> dict[str, object]:
            raise ApiException(status=409, reason="Conflict")

    kube = Conflicting()
    mine = CloneJobSummary(name="namespaces/ns/migratingVms/web-1/cloneJobs/cj", uid="u", state="SUCCEEDED")
    with caplog.at_level(logging.WARNING, logger="clonejob_operator.claims"):
        claims.record(kube, "ns", "web-1", mine)  # type: ignore[arg-type]
    assert kube.reads == 3
    (line,) = [r.getMessage() for r in caplog.records]
    assert "ns/web-1" in line and "cj" in line and "SUCCEEDED" in line and "stale" in line
