"""What a chaos probe found, each held by a test on the real API server: cleanup after a restart among
hundreds of other jobs' products, a stranger's object named in a status, a started job that lost its
snapshots, the schema's largest job, a stored time that is no date, and a disk deleted under a VM."""

from __future__ import annotations

from datetime import timedelta

from clonejob_operator import names
from clonejob_operator.api.bounds import MAX_DISKS
from clonejob_operator.kube import CLONE_JOB, Body, Kube
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME, VIRTUAL_MACHINE
from tests.integration.kit import World, running_operator, settings_for, wait_for


def _noise(world: World, count: int) -> list[str]:
    """Labelled DataVolumes of jobs long gone, named to sort (and be listed) before anything of ours."""
    made = []
    for index in range(count):
        name = f"aaa-old-{index:04d}"
        labels = {names.LABEL_JOB_UID: f"gone-{index}", names.LABEL_JOB: "old"}
        world.create(DATA_VOLUME, name, {"source": {"blank": {}}}, labels=labels)
        made.append(name)
    return made


def test_cleanup_right_after_a_restart_waits_for_complete_caches(kube: Kube, world: World, namespace: str) -> None:
    jobs = [f"web-{i}" for i in range(5)]
    settings = settings_for(namespace)
    with running_operator(kube, settings):
        for name in jobs:
            world.migrating_vm(name, disks=2)
            world.clone_job(f"{name}-cj", migrating_vm=name)
        for name in jobs:
            world.wait_object(DATA_VOLUME, f"{name}-cj-disk-1")
    noise = _noise(world, 300)
    for name in jobs:
        world.cancel(f"{name}-cj")
    with running_operator(kube, settings):
        for name in jobs:
            world.wait_state(f"{name}-cj", "CANCELLED", timeout=60)
    left = {item["metadata"]["name"] for item in world.products(DATA_VOLUME)}
    assert left == set(noise), f"products of cancelled jobs survived: {sorted(left - set(noise))}"


def _plant(world: World, stranger: Body) -> None:
    """A status sealed as the operator's names a stranger's object, with its true uid, among its products: the
    seal is one layer; the products' labels are another, which holds even when the first is passed."""
    meta = stranger["metadata"]
    planted = {"apiVersion": DATA_VOLUME.api_version, "kind": "DataVolume", **{k: meta[k] for k in ("name", "uid")}}
    recorded = world.status("cj").get("createdResources") or []
    world.write_as_operator("cj", {"createdResources": [*recorded, {**planted, "namespace": world.namespace}]})


def test_a_stranger_named_in_created_resources_is_never_deleted(world: World, kube: Kube, namespace: str) -> None:
    stranger = world.create(DATA_VOLUME, "precious", {"source": {"blank": {}}})  # no uid label
    with running_operator(kube, settings_for(namespace)):
        world.migrating_vm("web-1")
        world.clone_job("cj")
        world.wait_object(DATA_VOLUME, "cj-disk-0")
        _plant(world, stranger)
        world.cancel("cj")
        world.wait_state("cj", "CANCELLED")
    assert world.get(DATA_VOLUME, "precious") is not None
    assert world.get(DATA_VOLUME, "cj-disk-0") is None


def test_a_stranger_named_in_created_resources_is_never_deleted_when_nothing_is_watched(
    world: World, kube: Kube, namespace: str
) -> None:
    """Without watches (a kind the operator cannot watch), every read goes to the API server: a recorded
    name and uid are still not enough to delete an object that does not carry the job's uid label."""
    from clonejob_operator.reconciler import Reconciler

    stranger = world.create(DATA_VOLUME, "precious", {"source": {"blank": {}}})
    world.migrating_vm("web-1")
    job = world.clone_job("cj")
    world.kube.patch(CLONE_JOB, namespace, "cj", {"metadata": {"finalizers": [names.FINALIZER]}})
    reconciler = Reconciler(kube, settings_for(namespace))

    def settle(state: str) -> None:
        def step() -> bool:
            reconciler.reconcile(namespace, "cj")
            return world.state("cj") == state

        wait_for(step, 30, f"cj to reach {state}")

    settle("ACTIVE")
    reconciler.reconcile(namespace, "cj")  # the disk is made
    world.wait_object(DATA_VOLUME, "cj-disk-0")
    _plant(world, stranger)
    world.cancel("cj")
    settle("CANCELLED")
    assert world.get(DATA_VOLUME, "precious") is not None, "a stranger's disk was deleted"
    assert world.get(DATA_VOLUME, "cj-disk-0") is None
    assert job["metadata"]["uid"] != stranger["metadata"]["uid"]


def test_a_started_job_whose_snapshots_vanished_fails_and_never_makes_a_diskless_vm(
    world: World, kube: Kube, namespace: str
) -> None:
    world.migrating_vm("web-1", ready_snapshots=False)
    with running_operator(kube, settings_for(namespace)):
        world.clone_job("cj")
        world.wait_step("cj", "preparingVmDisks")
        world.write_as_operator("cj", {"sourceSync": {"snapshots": []}})
        status = world.wait_state("cj", "FAILED")
    assert status["error"]["code"] == 9 and "status.sourceSync.snapshots" in status["error"]["message"]
    assert world.products(VIRTUAL_MACHINE) == [] and world.products(DATA_VOLUME) == []


def test_the_largest_job_the_schema_allows_succeeds(world: World, kube: Kube, namespace: str) -> None:
    """As many snapshots as the schema allows: a DataVolume for each, and the VM, all fit in status.createdResources."""
    world.migrating_vm("web-1", disks=MAX_DISKS)
    with running_operator(kube, settings_for(namespace)):
        world.clone_job("cj")
        world.finish_disks("cj", disks=MAX_DISKS)
        world.ready_vm("cj")
        status = world.wait_state("cj", "SUCCEEDED", timeout=60)
    kinds = [ref["kind"] for ref in status["createdResources"]]
    assert kinds.count("DataVolume") == MAX_DISKS and kinds.count("VirtualMachine") == 1


def test_a_stored_time_that_is_no_date_fails_the_job_naming_the_field(world: World, kube: Kube, namespace: str) -> None:
    world.migrating_vm("web-1")
    with running_operator(kube, settings_for(namespace)):
        world.clone_job("cj")
        world.wait_object(DATA_VOLUME, "cj-disk-0")
        steps = world.status("cj")["steps"]
        world.write_as_operator("cj", {"steps": [{**steps[0], "startTime": "2026-13-45T99:99:99Z"}]})
        status = world.wait_state("cj", "FAILED")
    assert status["error"]["code"] == 3 and "status.steps" in status["error"]["message"]
    assert world.get(DATA_VOLUME, "cj-disk-0") is None, "a started job cleans up before it fails"


def test_a_disk_deleted_while_the_vm_is_made_fails_the_job(world: World, kube: Kube, namespace: str) -> None:
    world.migrating_vm("web-1")
    with running_operator(kube, settings_for(namespace)):
        world.clone_job("cj")
        world.finish_disks("cj")
        world.wait_step("cj", "instantiatingMigratedVm")
        world.wait_object(VIRTUAL_MACHINE, "cj")
        world.delete(DATA_VOLUME, "cj-disk-0")  # by someone else, before the VM is ready
        world.set_status(VIRTUAL_MACHINE, "cj", {"created": True, "ready": True, "printableStatus": "Running"})
        status = world.wait_state("cj", "FAILED")
    assert status["error"]["code"] == 9 and "DataVolume cj-disk-0" in status["error"]["message"]
    assert world.get(VIRTUAL_MACHINE, "cj") is None


def test_a_pending_job_that_is_cancelled_never_passes_through_cancelling(
    world: World, kube: Kube, namespace: str
) -> None:
    from tests.integration.kit import StateRecorder

    with StateRecorder(kube, namespace, "cj") as states, running_operator(kube, settings_for(namespace)):
        world.clone_job("cj", migrating_vm="not-there-yet")
        wait_for(lambda: world.state("cj") == "PENDING", 30, "PENDING")
        world.cancel("cj")
        seen = states.wait_for("CANCELLED")
    assert seen == ["PENDING", "CANCELLED"]


def test_a_waiting_reason_reaches_the_status_within_the_message_interval(
    world: World, kube: Kube, namespace: str
) -> None:
    world.migrating_vm("web-1", ready_snapshots=False)
    settings = settings_for(namespace, message_interval=timedelta(seconds=2))
    with running_operator(kube, settings):
        world.clone_job("cj")
        world.wait_step("cj", "preparingVmDisks")

        def message() -> str:
            conditions = world.status("cj").get("conditions") or []
            return next((c.get("message", "") for c in conditions if c["type"] == "Reconciling"), "")

        shown = wait_for(lambda: message() if "is not readyToUse" in message() else None, 2 + 3, "the reason")
    assert "VolumeSnapshot web-1-c3-d0 is not readyToUse" in shown


def test_jobs_of_one_migratingvm_created_in_one_second_start_in_the_order_they_were_stored(
    world: World, kube: Kube, namespace: str
) -> None:
    world.migrating_vm("web-1")
    first = world.clone_job("zz-first")  # named to sort last
    second = world.clone_job("aa-second")
    with running_operator(kube, settings_for(namespace)):
        world.wait_step("zz-first", "preparingVmDisks")
        wait_for(lambda: world.state("aa-second") == "PENDING", 30, "the second to wait")
        assert world.state("aa-second") == "PENDING"
    revisions = [world.status(name)["createdRevision"] for name in ("zz-first", "aa-second")]
    assert revisions == sorted(revisions) and int(first["metadata"]["resourceVersion"]) == revisions[0]
    assert second["metadata"]["creationTimestamp"] >= first["metadata"]["creationTimestamp"]
