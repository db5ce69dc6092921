"""Two replicas with --leader-elect on a real API server: one actor, a takeover after SIGKILL within the
lease duration + 5 s, and a leader cut off from the API server that stops writing on its own clock."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from bench.counting import CountingKube
from bench.fake import FakeInfrastructure

from clonejob_operator import names
from clonejob_operator.api.clonejob import State
from clonejob_operator.kube import Kube
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME, VIRTUAL_MACHINE
from tests.conftest import Outage
from tests.integration.history import History
from tests.integration.kit import World, wait_for
from tests.integration.replicas import LEASE_DURATION, Replica, leader


@contextmanager
def two_replicas_at_work(
    kube: Kube, world: World, namespace: str, kubeconfig: str, tmp_path: Path, jobs: list[str], vms: int
) -> Iterator[tuple[History, list[Replica]]]:
    """MigratingVms, fake infrastructure, two replicas with --max-active 2, a History; the jobs are created
    once one replica leads."""
    for index in range(vms):
        world.migrating_vm(f"mvm-{index}")
    with (
        History(kube, namespace) as history,
        FakeInfrastructure(CountingKube(kube), namespace),
        replicas(kubeconfig, namespace, tmp_path, "--max-active", "2") as both,
    ):
        leader(both)
        for index, name in enumerate(jobs):
            world.clone_job(name, migrating_vm=f"mvm-{index % vms}")
        yield history, both


@contextmanager
def replicas(kubeconfig: str, namespace: str, tmp_path: Path, *extra: str, count: int = 2) -> Iterator[list[Replica]]:
    with ExitStack() as stack:
        out = []
        for index in range(count):
            replica = Replica(kubeconfig, namespace, tmp_path / f"replica-{index}.log", *extra)
            stack.callback(replica.stop)
            out.append(replica)
        yield out


def products_by_job(world: World) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for kind in (DATA_VOLUME, VIRTUAL_MACHINE):
        for product in world.products(kind):
            uid = (product["metadata"].get("labels") or {})[names.LABEL_JOB_UID]
            out.setdefault(uid, []).append(f"{kind.kind}/{product['metadata']['name']}")
    return out


def check_products(world: World, jobs: list[str]) -> None:
    """Each SUCCEEDED job has exactly one DataVolume and one VM; nothing else exists."""
    uids = {world.job(name)["metadata"]["uid"]: name for name in jobs}
    found = products_by_job(world)
    assert set(found) <= set(uids), "a product of no job"
    for uid, name in uids.items():
        assert sorted(found.get(uid, [])) == [f"DataVolume/{name}-disk-0", f"VirtualMachine/{name}"], name


def clone_job_events(kube: Kube, namespace: str) -> list[Any]:
    listing = kube.core.list_namespaced_event(namespace)
    return [e for e in listing.items if e.involved_object.kind == "CloneJob"]


def test_two_replicas_one_actor(
    kube: Kube, world: World, namespace: str, cluster_kubeconfig: str, tmp_path: Path
) -> None:
    """40 jobs, two per MigratingVm, --max-active 2: only the leader reconciles; every limit holds throughout."""
    jobs = [f"cj-{index}" for index in range(40)]
    with two_replicas_at_work(kube, world, namespace, cluster_kubeconfig, tmp_path, jobs, vms=20) as (history, both):
        first = leader(both)
        other = next(r for r in both if r is not first)
        wait_for(lambda: history.count(State.SUCCEEDED) == len(jobs), 180, "every job to succeed")
        assert leader(both) is first, "the leader kept its Lease throughout"
        done_at = time.monotonic()  # after this the replicas stop, and the Lease is handed over: fine
    assert history.most_active == 2, "the limit was reached and never passed"
    assert history.most_per_migrating_vm == 1
    assert history.backwards == []
    acted = [at for at in other.terms() if at < done_at] + [at for at, _ in other.said("CloneJob ") if at < done_at]
    assert acted == [], "the follower never acted while the leader led"
    events = clone_job_events(kube, namespace)
    assert {e.reporting_instance for e in events} == {first.identity}, "every transition has one writer"
    twice = [k for k, n in Counter((e.involved_object.name, e.reason) for e in events).items() if n > 1]
    assert twice == [], "each transition is posted once"
    assert {e.involved_object.name for e in events if e.reason == "Succeeded"} == set(jobs)
    check_products(world, jobs)


def test_sigkill_of_the_leader_hands_over_within_the_lease_duration(
    kube: Kube, world: World, namespace: str, cluster_kubeconfig: str, tmp_path: Path
) -> None:
    jobs = [f"cj-{index}" for index in range(30)]
    with two_replicas_at_work(kube, world, namespace, cluster_kubeconfig, tmp_path, jobs, vms=30) as (history, both):
        first = leader(both)
        second = next(r for r in both if r is not first)
        wait_for(lambda: history.count(State.SUCCEEDED) >= 6, 120, "a few jobs to succeed")
        killed_at = first.kill()
        wait_for(second.terms, LEASE_DURATION + 10, "the other replica to lead")
        takeover = second.terms()[0] - killed_at
        print(f"takeover after SIGKILL: {takeover:.2f} s (lease duration {LEASE_DURATION} s)")
        assert takeover <= LEASE_DURATION + 5
        wait_for(lambda: history.count(State.SUCCEEDED) == len(jobs), 180, "every job to succeed")
    assert history.backwards == [] and history.most_active <= 2 and history.most_per_migrating_vm == 1
    check_products(world, jobs)
    events = clone_job_events(kube, namespace)
    assert {e.reporting_instance for e in events} == {first.identity, second.identity}
    twice = [k for k, n in Counter((e.involved_object.name, e.reason) for e in events).items() if n > 1]
    assert twice == [], "no transition was written twice across the takeover"


def writes_outside_terms(replica: Replica) -> list[str]:
    """The writes it sent while it did not lead (a term runs from 'leading as' to 'lost the Lease' or exit)."""
    out, leading = [], False
    for _, line in list(replica.lines):
        if "leading as " in line:
            leading = True
        elif "lost the Lease" in line:
            leading = False
        elif "sending " in line and not leading:
            out.append(line)
    return out


def test_a_leader_cut_off_from_the_api_server_stops_writing_before_its_lease_ends(
    kube: Kube, world: World, namespace: str, cluster_kubeconfig: str, tmp_path: Path, outage: Outage
) -> None:
    jobs = [f"cj-{index}" for index in range(6)]
    for index in range(len(jobs)):
        world.migrating_vm(f"mvm-{index}")
    infrastructure = FakeInfrastructure(CountingKube(kube), namespace)
    infrastructure.paused.set()  # the jobs wait on their disks through the outage
    with infrastructure, replicas(cluster_kubeconfig, namespace, tmp_path, "--verbose") as both:
        first = leader(both)
        for index, name in enumerate(jobs):
            world.clone_job(name, migrating_vm=f"mvm-{index}")
        for name in jobs:
            world.wait_object(DATA_VOLUME, f"{name}-disk-0", timeout=60)
        assert first.said("sending "), "the leader writes (the log shows each write it sends)"
        stopped_at = time.monotonic()
        outage.stop()
        try:
            lost = wait_for(lambda: first.said("lost the Lease"), LEASE_DURATION + 5, "the leader to give up")
            gave_up = lost[0][0] - stopped_at
            print(f"the cut-off leader stopped acting {gave_up:.2f} s into the outage (lease {LEASE_DURATION} s)")
            assert gave_up < LEASE_DURATION, "it stopped before anyone else could take the Lease"
            # Hold the outage past the lease duration (a length of outage, not a wait for a result).
            time.sleep(max(0.0, stopped_at + LEASE_DURATION + 2 - time.monotonic()))
        finally:
            outage.start()
        infrastructure.paused.clear()
        for name in jobs:  # what the paused infrastructure left: mark it ready now
            world.finish_disks(name)
        now_leading = leader(both, timeout=60)
        for name in jobs:
            wait_for(lambda n=name: world.get(VIRTUAL_MACHINE, n), 60, f"VM {name}")  # type: ignore[misc]
            world.ready_vm(name)
        wait_for(lambda: all(world.state(name) == State.SUCCEEDED for name in jobs), 90, "every job to succeed")
    for replica in both:
        assert writes_outside_terms(replica) == [], replica.log.name
    print(f"after the outage {'the same replica' if now_leading is first else 'the other replica'} led")
    check_products(world, jobs)
