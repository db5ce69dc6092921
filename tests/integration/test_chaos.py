"""Chaos: the operator SIGKILLed at random moments and started again, while jobs are created, cancelled and
deleted at random, products get ready after random delays or fail, and hundreds of other jobs' products
lie around; and the API server stopped mid-run. Quick in CI; ``--long`` (or CLONEJOB_TEST_LONG=1) for
the long runs that docs/development.md reports."""

from __future__ import annotations

import os
import random
import threading
import time
from contextlib import suppress
from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException

from clonejob_operator import names
from clonejob_operator.api.clonejob import FINISHED, State
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, VOLUME_SNAPSHOT, Kind, Kube
from clonejob_operator.sources.base import HELD_BY
from clonejob_operator.sources.volsync.holds import DO_NOT_DELETE
from clonejob_operator.sources.volsync.kinds import REPLICATION_DESTINATION
from clonejob_operator.targets.catalog import REGISTRY
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME, VIRTUAL_MACHINE
from tests.conftest import Outage
from tests.integration.chaotic import ChaosInfrastructure, KilledOperator, leftovers
from tests.integration.conftest import product_crds
from tests.integration.history import History
from tests.integration.kit import World, wait_for
from tests.integration.volsync import VolSync

MAX_ACTIVE = 4


def seeded() -> tuple[int, random.Random]:
    seed = int(os.environ.get("CLONEJOB_TEST_SEED") or random.SystemRandom().getrandbits(32))
    return seed, random.Random(seed)


class Actor(threading.Thread):
    """Creates the jobs one by one at random moments, and cancels or deletes some at random moments."""

    def __init__(self, world: World, rng: random.Random, jobs: int, vms: int) -> None:
        super().__init__(daemon=True)
        self.world, self.rng, self.jobs, self.vms = world, rng, jobs, vms
        self.created: dict[str, str] = {}
        """job name -> uid."""
        self.cancelled: set[str] = set()
        self.deleted: set[str] = set()
        self.refused: list[str] = []
        """Cancels the API server refused: a finished job has nothing to cancel (the CRD's rule says so)."""
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            for index in range(self.jobs):
                name = f"cj-{index}"
                body = self.world.clone_job(name, migrating_vm=f"mvm-{self.rng.randrange(self.vms)}")
                self.created[name] = body["metadata"]["uid"]
                time.sleep(self.rng.uniform(0.02, 0.3))  # the moment of the next user action, at random
                if self.rng.random() < 0.25:
                    self._disturb(self.rng.choice(sorted(set(self.created) - self.deleted)))
        except Exception as error:  # surfaced by the test
            self.error = error

    def _disturb(self, name: str) -> None:
        if self.rng.random() < 0.6:
            try:
                self.world.kube.patch(CLONE_JOB, self.world.namespace, name, {"spec": {"cancel": True}})
            except ApiException as error:
                if error.status != 422 or "has finished" not in str(error.body):
                    raise
                self.refused.append(name)
                return
            self.cancelled.add(name)
        else:
            self.world.delete(CLONE_JOB, name)
            self.deleted.add(name)


def violations(world: World, history: History, actor: Actor, noise: dict[str, str]) -> list[str]:
    """Every invariant, checked at the end; what the watch saw was checked as it came."""
    out = [f"went backwards: {b}" for b in history.backwards]
    if history.most_active > MAX_ACTIVE:
        out.append(f"{history.most_active} jobs held products at once (--max-active {MAX_ACTIVE})")
    if history.most_per_migrating_vm > 1:
        out.append("two jobs of one MigratingVm ran at once")
    products: dict[str, list[str]] = {}
    now_noise = {}
    for kind in (DATA_VOLUME, VIRTUAL_MACHINE):
        for item in world.products(kind):
            ref = f"{kind.kind}/{item['metadata']['name']}"
            if ref in noise:
                now_noise[ref] = item["metadata"]["resourceVersion"]
                continue
            products.setdefault((item["metadata"].get("labels") or {}).get(names.LABEL_JOB_UID, ""), []).append(ref)
    if now_noise != noise:
        out.append(f"other jobs' leftovers were touched: {sorted(set(noise) ^ set(now_noise))[:5]}")
    by_uid = {uid: name for name, uid in actor.created.items()}
    for uid, refs in products.items():
        name = by_uid.get(uid)
        if name is None:
            out.append(f"products of no job: {refs}")
        elif history.last(name) != State.SUCCEEDED:
            out.append(f"{name} ended {history.last(name) or 'unseen'} but left {refs}")
        elif sorted(refs) != [f"DataVolume/{name}-disk-0", f"VirtualMachine/{name}"]:
            out.append(f"{name} SUCCEEDED with {refs}")
    for name, uid in actor.created.items():
        if history.last(name) == State.SUCCEEDED and uid not in products:
            out.append(f"{name} SUCCEEDED but its clone is gone")
        if name not in history.gone and history.last(name) not in FINISHED:
            out.append(f"{name} is neither finished nor gone: {history.last(name)}")
    return out


def act_and_kill(
    actor: Actor, operator: KilledOperator, history: History, rng: random.Random, kills: int, long_run: bool
) -> None:
    """The actor does its work while the operator is killed at random moments; then every job finishes or goes."""
    actor.start()
    while operator.kills < kills or actor.is_alive():
        time.sleep(rng.uniform(1.0, 3.0))  # the moment of the next kill, at random
        operator.kill()
        operator.start()
    actor.join()
    assert actor.error is None, actor.error
    names_ = sorted(actor.created)
    wait_for(lambda: history.settled(names_), 900 if long_run else 180, "every job to finish or go")


def test_chaos_kills_cancels_deletes_and_leftovers(
    kube: Kube, world: World, namespace: str, cluster_kubeconfig: str, tmp_path: Path, long_run: bool
) -> None:
    seed, rng = seeded()
    jobs, kills, vms, noise_count = (500, 200, 40, 600) if long_run else (40, 20, 12, 200)
    for index in range(vms):
        world.migrating_vm(f"mvm-{index}")
    noise = leftovers(world, noise_count, rng)
    actor = Actor(world, rng, jobs, vms)
    operator = KilledOperator(cluster_kubeconfig, namespace, tmp_path / "operator.log", "--max-active", str(MAX_ACTIVE))
    with (
        History(kube, namespace) as history,
        ChaosInfrastructure(kube, namespace, rng, fail_rate=0.1, most_delay=1.5) as infrastructure,
        operator,
    ):
        act_and_kill(actor, operator, history, rng, kills, long_run)
    found = violations(world, history, actor, noise)
    outcomes = {state.value: history.count(state) for state in (State.SUCCEEDED, State.FAILED, State.CANCELLED)}
    print(
        f"chaos (seed {seed}): {operator.kills} kills, {len(actor.created)} jobs "
        f"({len(actor.cancelled)} cancelled, {len(actor.deleted)} deleted by the actor, "
        f"{len(actor.refused)} cancels of finished jobs refused by the API server, "
        f"{infrastructure.failed} disks failed), {noise_count} leftovers; outcomes {outcomes}, "
        f"gone {len(history.gone)}; {len(found)} violations"
    )
    assert found == [], f"seed {seed}: {found[:10]}"
    assert operator.kills >= kills and outcomes[State.SUCCEEDED.value] > 0


def test_chaos_api_outage(
    kube: Kube, world: World, namespace: str, cluster_kubeconfig: str, tmp_path: Path, outage: Outage, long_run: bool
) -> None:
    """The API server stopped mid-run and started again: jobs move within 5 s of its return, the log holds at
    most one WARNING per 10 s of outage and no traceback."""
    seed, rng = seeded()
    lengths = [rng.uniform(5, 75) for _ in range(4)] if long_run else [rng.uniform(5, 15)]
    operator = KilledOperator(cluster_kubeconfig, namespace, tmp_path / "operator.log", "--log-format", "full")
    figures = []
    with operator:
        for round_, length in enumerate(lengths):
            moved, warned = _outage_round(world, operator, outage, f"cj-{round_}", length)
            figures.append((length, moved, len(warned)))
            assert moved <= 5, f"jobs moved {moved:.1f}s after the API server served them again"
            assert len(warned) <= int(length // 10) + 1, warned
    assert not [line for _, line in operator.lines if "Traceback" in line], "no traceback in the log"
    for length, moved, count in figures:
        print(f"outage (seed {seed}) of {length:.0f}s: jobs moved {moved:.2f}s after its end; {count} WARNING lines")


def _outage_round(
    world: World, operator: KilledOperator, outage: Outage, prefix: str, length: float
) -> tuple[float, list[str]]:
    """Jobs wait on their disks; the API server goes for ``length`` seconds; the disks finish as it returns.
    How long the jobs took to move on after its return (from when it serves every kind the operator watches
    again and the disks are marked: no operator can move a job before, and a restarted server registers its
    CRDs one by one, seconds late on a slow machine), and the WARNING lines logged during the outage."""
    jobs = [f"{prefix}-{index}" for index in range(4)]
    for name in jobs:
        world.migrating_vm(f"mvm-{name}")
        world.clone_job(name, migrating_vm=f"mvm-{name}")
    for name in jobs:
        world.wait_object(DATA_VOLUME, f"{name}-disk-0", 60)
    watched = set(world.kube.servable(REGISTRY.watched()))
    began = time.monotonic()
    outage.stop()
    time.sleep(length)  # the outage's length: held on purpose, not a wait for a result
    outage.start()
    back = time.monotonic()
    wait_for(lambda: _serves(world, watched), 30, "the API server to serve every kind the operator watches")
    for name in jobs:
        wait_for(lambda n=name: _finish(world, n), 30, f"marking {name}'s disk")  # type: ignore[misc]
    serving = time.monotonic()  # a restarted server registers its CRDs one by one, seconds late
    wait_for(lambda: all(_step(world, n) == "instantiatingMigratedVm" for n in jobs), 30, "the next step")
    # A restarted server may open watches that stay silent for seconds, then answer one with 404 page not
    # found: the operator then starts its watches afresh (a new listing sees every change). From then on.
    restarted = [at for at, line in operator.lines if at >= back and "the watches failed" in line]
    moved = time.monotonic() - max([serving, *restarted])
    if restarted:
        print(f"the watches were started afresh {restarted[-1] - serving:.1f}s after the disks were marked")
    during = [line for at, line in operator.lines if began <= at <= back]
    warned = [line for line in during if any(f"[{level}" in line for level in ("WARNING", "ERROR", "CRITICAL"))]
    for name in jobs:
        world.ready_vm(name)
    wait_for(lambda: all(world.state(n) == State.SUCCEEDED for n in jobs), 60, "every job to succeed")
    return moved, warned


def _serves(world: World, kinds: set[Kind]) -> bool:
    try:
        return set(world.kube.servable(tuple(kinds))) == kinds
    except Exception:  # the server's first answers after a start may be 429 or 5xx
        return False


def _finish(world: World, name: str) -> bool:
    try:
        world.finish_disks(name)
        return True
    except Exception:  # the server's first answers after a start may be 429 or 404
        return False


def _step(world: World, name: str) -> str | None:
    try:
        return str(world.status(name).get("currentStep"))
    except Exception:
        return None


class Rotator(threading.Thread):
    """VolSync moving on at random moments: one destination synced at a time, the image it replaces deleted,
    or relinquished where something holds it."""

    def __init__(self, volsync: VolSync, rng: random.Random, destinations: list[str]) -> None:
        super().__init__(daemon=True)
        self.volsync, self.rng, self.destinations = volsync, rng, destinations
        self.stopping = threading.Event()
        self.syncs = 0
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            while not self.stopping.wait(self.rng.uniform(0.2, 1.2)):
                self.volsync.sync(self.rng.choice(self.destinations))
                self.syncs += 1
        except Exception as error:  # surfaced by the test
            self.error = error


def image_violations(world: World, history: History, actor: Actor) -> list[str]:
    """Held images survive (no job lost its snapshot); nothing relinquished is left behind; no job still holds."""
    out = []
    for name in actor.created:
        error = (world.job(name).get("status") or {}).get("error") if name not in history.gone else None
        if error and "VolumeSnapshot" in error.get("message", ""):
            out.append(f"{name} lost an image it restored from: {error['message']}")
    latest = {
        ((rd.get("status") or {}).get("latestImage") or {}).get("name")
        for rd in world.products(REPLICATION_DESTINATION)
    }
    published = {
        s.get("volumeSnapshot")
        for m in world.products(MIGRATING_VM)
        for s in ((m.get("status") or {}).get("lastSync") or {}).get("snapshots") or []
    }
    for image in world.products(VOLUME_SNAPSHOT):
        name, meta = image["metadata"]["name"], image["metadata"]
        holders = {h for h in (meta.get("annotations") or {}).get(HELD_BY, "").split(",") if h}
        if any(h.startswith("CloneJob/") for h in holders):
            out.append(f"{name} is still held by a finished job: {sorted(holders)}")
        if name not in latest and name not in published:
            out.append(f"{name} was left behind: neither VolSync's latest nor a published cycle's")
    return out


def test_chaos_volsync_rotations_while_jobs_restore(
    kube: Kube, world: World, namespace: str, cluster_kubeconfig: str, tmp_path: Path, long_run: bool
) -> None:
    if not product_crds():
        pytest.skip("VolSync's real CRD is not at hand (CLONEJOB_TEST_PRODUCT_CRDS)")
    seed, rng = seeded()
    jobs, kills, vms = (300, 100, 20) if long_run else (24, 8, 6)
    volsync = VolSync(kube, namespace)
    for index in range(vms):
        volsync.destination(f"mvm-{index}-boot")
        volsync.sync(f"mvm-{index}-boot")
        disks = [{"disk": "boot", "replicationDestination": f"mvm-{index}-boot"}]
        spec = {"sourceVmId": f"vm-{index}", "kubevirtTargetDefaults": {}, "replication": {"volSync": {"disks": disks}}}
        world.create(MIGRATING_VM, f"mvm-{index}", spec)
    actor = Actor(world, rng, jobs, vms)
    rotator = Rotator(VolSync(kube, namespace, syncs=volsync.syncs), rng, [f"mvm-{i}-boot" for i in range(vms)])
    operator = KilledOperator(cluster_kubeconfig, namespace, tmp_path / "operator.log", "--max-active", str(MAX_ACTIVE))
    with (
        History(kube, namespace) as history,
        ChaosInfrastructure(kube, namespace, rng, fail_rate=0.1, most_delay=1.5) as infrastructure,
        operator,
    ):
        rotator.start()
        act_and_kill(actor, operator, history, rng, kills, long_run)
        rotator.stopping.set()
        rotator.join(10)
        assert rotator.error is None, rotator.error
        with suppress(AssertionError):  # what is left unsettled is said below
            wait_for(lambda: not image_violations(world, history, actor), 60, "the holds to settle")
        found = violations(world, history, actor, {}) + image_violations(world, history, actor)
        for index in range(vms):  # each MigratingVm lets go of its cycle before it goes
            world.delete(MIGRATING_VM, f"mvm-{index}")
        wait_for(lambda: not world.products(MIGRATING_VM), 60, "the MigratingVms to let go and go")
    labelled = [
        i["metadata"]["name"]
        for i in world.products(VOLUME_SNAPSHOT)
        if (i["metadata"].get("labels") or {}).get(DO_NOT_DELETE)
    ]
    outcomes = {state.value: history.count(state) for state in (State.SUCCEEDED, State.FAILED, State.CANCELLED)}
    print(
        f"chaos with VolSync (seed {seed}): {operator.kills} kills, {rotator.syncs} syncs, {len(actor.created)} jobs "
        f"({len(actor.cancelled)} cancelled, {len(actor.deleted)} deleted, {infrastructure.failed} disks failed); "
        f"outcomes {outcomes}; {len(world.products(VOLUME_SNAPSHOT))} images left (VolSync's latest); "
        f"{len(found)} violations"
    )
    assert found == [], f"seed {seed}: {found[:10]}"
    assert labelled == [], f"seed {seed}: still labelled do-not-delete after every holder went: {labelled}"
    assert len(world.products(VOLUME_SNAPSHOT)) == vms, "only each destination's latest image is left"
    assert operator.kills >= kills and outcomes[State.SUCCEEDED.value] > 0
