from __future__ import annotations

import pytest

from clonejob_operator.api.clonejob import CloneJobStatus
from clonejob_operator.api.common import Condition
from clonejob_operator.machine.conditions import Activity, compute
from clonejob_operator.machine.reasons import Reason

NOW = "2026-11-26T10:00:00Z"
EARLIER = "2026-11-26T09:00:00Z"


def _by_type(conditions: list[Condition]) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in conditions}


@pytest.mark.parametrize(
    ("raw", "activity", "expected"),
    [
        (
            {"state": "SUCCEEDED"},
            None,
            {"Ready": ("True", "Succeeded"), "Reconciling": ("False", "Succeeded"), "Stalled": ("False", "Succeeded")},
        ),
        (
            {"state": "FAILED", "error": {"code": 4, "message": "slow"}},
            None,
            {
                "Ready": ("False", "DeadlineExceeded"),
                "Reconciling": ("False", "Failed"),
                "Stalled": ("True", "DeadlineExceeded"),
            },
        ),
        (
            {"state": "CANCELLED"},
            None,
            {"Ready": ("False", "Cancelled"), "Reconciling": ("False", "Cancelled"), "Stalled": ("True", "Cancelled")},
        ),
        (
            {"state": "PENDING"},
            Activity(Reason("Queued"), "behind a"),
            {"Ready": ("False", "Queued"), "Reconciling": ("True", "Queued"), "Stalled": ("False", "Queued")},
        ),
        (
            {"state": "ACTIVE"},
            Activity(Reason("PreparingVmDisks"), "1/2"),
            {
                "Ready": ("False", "PreparingVmDisks"),
                "Reconciling": ("True", "PreparingVmDisks"),
                "Stalled": ("False", "PreparingVmDisks"),
            },
        ),
        (
            {"state": "CANCELLING"},
            Activity(Reason("CleanupStuck"), "forbidden", stalled=True),
            {
                "Ready": ("False", "CleanupStuck"),
                "Reconciling": ("False", "CleanupStuck"),
                "Stalled": ("True", "CleanupStuck"),
            },
        ),
    ],
)
def test_kstatus_polarity(raw: dict[str, object], activity: Activity | None, expected: dict[str, object]) -> None:
    conditions = compute(CloneJobStatus.model_validate(raw), 3, activity, None, NOW)
    assert _by_type(conditions) == expected
    assert all(c.observed_generation == 3 and c.last_transition_time == NOW for c in conditions)


def test_failed_message_is_the_error_message() -> None:
    status = CloneJobStatus.model_validate({"state": "FAILED", "error": {"code": 5, "message": "MigratingVm x"}})
    ready = next(c for c in compute(status, 1, None, None, NOW) if c.type == "Ready")
    assert ready.message == "MigratingVm x"


def test_transition_time_moves_only_when_status_flips() -> None:
    old = compute(CloneJobStatus(state="ACTIVE"), 1, Activity(Reason("PreparingVmDisks"), ""), None, EARLIER)
    same = compute(CloneJobStatus(state="ACTIVE"), 1, Activity(Reason("InstantiatingMigratedVm"), ""), old, NOW)
    assert {c.last_transition_time for c in same} == {EARLIER}
    done = compute(CloneJobStatus(state="SUCCEEDED"), 1, None, old, NOW)
    times = {c.type: c.last_transition_time for c in done}
    assert times == {"Ready": NOW, "Reconciling": NOW, "Stalled": EARLIER}
