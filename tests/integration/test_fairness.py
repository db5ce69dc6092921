"""Fair and patient queueing on the real API server: two namespaces under --max-active 1, one operator."""

from __future__ import annotations

import time
from datetime import timedelta

from clonejob_operator.kube import Kube
from tests.integration.kit import World, running_operator, settings_for, wait_for


def reason(world: World, name: str) -> tuple[str, str]:
    ready = [c for c in world.status(name).get("conditions") or [] if c["type"] == "Ready"]
    return (ready[0]["reason"], ready[0]["message"]) if ready else ("", "")


def test_a_freed_slot_goes_to_the_namespace_that_waited_and_waiting_jobs_never_time_out(
    kube: Kube, world: World, namespace: str, other_namespace: str
) -> None:
    first, second = world, World(kube, other_namespace)
    for name in ("web-1", "web-2", "web-3"):
        first.migrating_vm(name)
    second.migrating_vm("web-1")
    deadline = timedelta(seconds=3)
    settings = settings_for(namespace, namespaces=(namespace, other_namespace), max_active=1, pending_deadline=deadline)
    with running_operator(kube, settings):
        first.clone_job("a1", migrating_vm="web-1")
        first.wait_state("a1", "ACTIVE")
        first.clone_job("a2", migrating_vm="web-2")
        first.clone_job("a3", migrating_vm="web-3")
        wait_for(lambda: reason(first, "a3")[0] == "MaxActiveReached", 15, "a3 to wait for a slot")
        second.clone_job("b1", migrating_vm="web-1")  # the last to come
        wait_for(lambda: reason(second, "b1")[0] == "MaxActiveReached", 15, "b1 to wait for a slot")
        assert f"all 1 active slot are held (--max-active): {namespace}/a1" in reason(second, "b1")[1]
        time.sleep(deadline.total_seconds() + 1)  # time passes beyond the pending deadline, on purpose
        assert [first.state("a2"), first.state("a3"), second.state("b1")] == ["PENDING"] * 3, "waiting is no failure"
        first.finish_disks("a1")
        first.ready_vm("a1")
        first.wait_state("a1", "SUCCEEDED")
        second.wait_state("b1", "ACTIVE", timeout=15)  # not a2, the oldest: team b has had no slot yet
        assert first.state("a2") == "PENDING"
        first.migrating_vm("web-4")
        first.clone_job("a4", migrating_vm="web-4")  # a newcomer is told who holds the slot now
        wait_for(lambda: f"{other_namespace}/b1" in reason(first, "a4")[1], 15, "a4's message to name b1")
        second.cancel("b1")
        second.wait_state("b1", "CANCELLED")
        first.wait_state("a2", "ACTIVE", timeout=15)
        assert first.state("a3") == "PENDING"
