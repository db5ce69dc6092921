"""The Compute Engine target end to end: the operator (as in the other integration tests) on the real
API server, the real google-cloud-compute client, and a local fake of the Compute Engine REST API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, TARGET_PROJECT, Kube
from clonejob_operator.names import SECRET_OPT_IN
from clonejob_operator.targets.computeengine.requests import LABEL_JOB_RUN, LABEL_JOB_UID, label_value
from tests.computeengine.fake import FakeCompute
from tests.integration.kit import World, manifest, running_operator, settings_for, wait_for

PROJECT, ZONE = "my-proj-123", "europe-west1-b"
SNAPSHOTS = [f"projects/{PROJECT}/global/snapshots/web-c3-d{i}" for i in range(2)]


@pytest.fixture
def fake() -> Iterator[FakeCompute]:
    compute = FakeCompute(op_delay=0.3, snapshots=set(SNAPSHOTS))
    with compute.serving():
        yield compute


def _world(world: World, target: dict[str, Any], member: str = "computeEngineTargetDefaults") -> None:
    world.create(TARGET_PROJECT, "tp", {"project": PROJECT, "credentialsSecretRef": {"name": "sa", "key": "k"}})
    world.create(MIGRATING_VM, "web", {"sourceVmId": "vm-7", member: {"targetProject": "tp", "zone": ZONE, **target}})
    snapshots = [{"disk": f"disk-{i}", "computeEngineSnapshot": s} for i, s in enumerate(SNAPSHOTS)]
    world.set_status(MIGRATING_VM, "web", {"lastSync": {"cycleNumber": 3, "snapshots": snapshots}})


def _settings(namespace: str, fake: FakeCompute, **more: Any) -> Any:
    return settings_for(namespace, compute_endpoint=fake.url, poll_interval=0.2, **more)


VM = {
    "vmName": "web-clone",
    "machineType": "n2-standard-2",
    "diskType": "COMPUTE_ENGINE_DISK_TYPE_SSD",
    "labels": {"team": "web"},
    "networkInterfaces": [{"network": "default", "subnetwork": "sub", "internalIp": "10.0.0.9"}],
}
SCRIPTED = {**VM, "metadataSecretRef": {"name": "boot-scripts"}}


def _scripts(kube: Kube, namespace: str, labels: dict[str, str] | None = None) -> None:
    """The VM's metadata, in a Secret that opted in (unless other ``labels`` are given)."""
    import base64

    import kubernetes

    meta = kubernetes.client.V1ObjectMeta(
        name="boot-scripts", labels=dict([SECRET_OPT_IN]) if labels is None else labels
    )
    data = {"startup-script": base64.b64encode(b"echo hi").decode()}
    kube.core.create_namespaced_secret(namespace, kubernetes.client.V1Secret(metadata=meta, data=data))


def test_vm_target_makes_the_disks_then_the_instance(
    kube: Kube, operator_kube: Kube, world: World, namespace: str, fake: FakeCompute
) -> None:
    _world(world, SCRIPTED)
    _scripts(kube, namespace)
    with running_operator(operator_kube, _settings(namespace, fake)):
        job = world.clone_job("cj", migrating_vm="web")
        status = world.wait_state("cj", "SUCCEEDED", timeout=30)
    uid = job["metadata"]["uid"]
    assert [name for (_, _, name) in fake.disks] == ["web-clone-disk-0", "web-clone-disk-1"]
    assert all(d.labels[LABEL_JOB_UID] == label_value(uid) for d in fake.disks.values())
    (instance,) = fake.instances.values()
    assert instance.labels["team"] == "web" and instance.labels[LABEL_JOB_UID] == label_value(uid)
    assert [d.boot for d in instance.disks] == [True, False] and instance.disks[0].source.endswith("web-clone-disk-0")
    assert instance.machine_type == f"zones/{ZONE}/machineTypes/n2-standard-2" and instance.status == "RUNNING"
    assert len(fake.inserts("disks")) == 2 and len(fake.inserts("instances")) == 1  # each made once
    assert status["computeEngineTargetDetails"]["project"] == PROJECT
    # A metadata value (a startup script may hold secrets) reaches the VM from its Secret, and never the status.
    assert [(i.key, i.value) for i in instance.metadata.items] == [("startup-script", "echo hi")]
    assert "echo hi" not in str(status) and "ZWNobyBoaQ" not in str(status)
    assert status["computeEngineTargetDetails"]["metadataSecretRef"] == {"name": "boot-scripts"}
    kinds = sorted((r["kind"], r["name"]) for r in status["createdResources"])
    assert kinds == [("Disk", "web-clone-disk-0"), ("Disk", "web-clone-disk-1"), ("Instance", "web-clone")]
    assert all(r["uri"].startswith("https://www.googleapis.com/compute/v1/") for r in status["createdResources"])
    assert next(s for s in status["steps"] if "preparingVmDisks" in s)["progressPercent"] == 100


def test_disks_only(kube: Kube, operator_kube: Kube, world: World, namespace: str, fake: FakeCompute) -> None:
    _world(
        world,
        {"disksTargetDefaults": {}, "disks": [{"sourceDiskNumber": 1, "diskName": "data"}]},
        "computeEngineDisksTargetDefaults",
    )
    with running_operator(operator_kube, _settings(namespace, fake)):
        world.clone_job("cj", migrating_vm="web")
        status = world.wait_state("cj", "SUCCEEDED", timeout=30)
    assert [name for (_, _, name) in fake.disks] == ["data"] and not fake.instances  # only the disks it lists
    details = status["computeEngineDisksTargetDetails"]
    assert [(d["sourceDiskNumber"], d["diskUri"].rsplit("/", 1)[-1]) for d in details["disks"]] == [(1, "data")]
    assert "vmTargetDetails" not in details
    assert [k for step in status["steps"] for k in step if k.endswith("Disks") or k.endswith("Vm")] == [
        "preparingVmDisks"
    ]


def test_disks_with_a_vm(kube: Kube, operator_kube: Kube, world: World, namespace: str, fake: FakeCompute) -> None:
    vm = {"vmName": "attached", "machineType": "e2-medium"}
    _world(world, {"vmTargetDefaults": vm}, "computeEngineDisksTargetDefaults")
    with running_operator(operator_kube, _settings(namespace, fake)):
        world.clone_job("cj", migrating_vm="web")
        status = world.wait_state("cj", "SUCCEEDED", timeout=30)
    (instance,) = fake.instances.values()
    assert instance.name == "attached" and len(instance.disks) == 2
    assert status["computeEngineDisksTargetDetails"]["vmTargetDetails"]["vmUri"].endswith("/instances/attached")


@pytest.mark.parametrize("step", ["preparingVmDisks", "instantiatingMigratedVm"])
def test_cancel_during_a_step_removes_everything(
    kube: Kube, operator_kube: Kube, world: World, namespace: str, fake: FakeCompute, step: str
) -> None:
    fake.op_delay = 3.0 if step == "preparingVmDisks" else 0.2
    _world(world, VM)
    with running_operator(operator_kube, _settings(namespace, fake)):
        world.clone_job("cj", migrating_vm="web")
        world.wait_step("cj", step, timeout=30)
        if step == "instantiatingMigratedVm":
            wait_for(lambda: fake.instances, 10, "the instance insert")
        world.cancel("cj")
        world.wait_state("cj", "CANCELLED", timeout=30)
    assert not fake.disks and not fake.instances


@pytest.mark.parametrize(
    ("arrange", "code", "words"),
    [
        (lambda f: f.fail_operation("disks", "QUOTA_EXCEEDED", "Quota 'SSD_TOTAL_GB' exceeded"), 8, "QUOTA_EXCEEDED"),
        (lambda f: f.inject("POST", "disks", 403, "Required 'compute.disks.create'", "forbidden"), 7, "disks.create"),
        (lambda f: f.fail_operation("disks", "BAD_SNAPSHOT", "the snapshot is not ready", 400), 3, "not ready"),
        (lambda f: f.fail_operation("instances", "ZONE_RESOURCE_POOL_EXHAUSTED", "no n2 left"), 8, "no n2 left"),
        (lambda f: f.inject("POST", "instances", 403, "Required 'compute.instances.create'", "forbidden"), 7, "403"),
        (lambda f: f.fail_operation("instances", "SOMETHING_BROKE", "the operation failed", 400), 3, "SOMETHING"),
        (lambda f: f.snapshots.discard(SNAPSHOTS[1]), 5, SNAPSHOTS[1]),
    ],
    ids=[
        "disks-quota",
        "disks-permission",
        "disks-operation-error",
        "vm-zone-exhausted",
        "vm-permission",
        "vm-operation-error",
        "missing-snapshot",
    ],
)
def test_failures_become_google_rpc_codes_and_nothing_is_left(
    kube: Kube,
    operator_kube: Kube,
    world: World,
    namespace: str,
    fake: FakeCompute,
    arrange: Any,
    code: int,
    words: str,
) -> None:
    arrange(fake)
    _world(world, VM)
    with running_operator(operator_kube, _settings(namespace, fake)):
        world.clone_job("cj", migrating_vm="web")
        status = world.wait_state("cj", "FAILED", timeout=30)
    assert status["error"]["code"] == code and words in status["error"]["message"], status["error"]
    assert not fake.disks and not fake.instances


def test_a_server_error_is_retried_and_a_cut_insert_is_not_made_twice(
    kube: Kube, operator_kube: Kube, world: World, namespace: str, fake: FakeCompute
) -> None:
    """The insert happens, then the answer is lost (503): the next look finds the disk (by its name and
    the job's uid label) and goes on with it; a 500 on a read is retried. Nothing is made twice."""
    fake.inject("POST", "disks", 503, "backend error", "backendError", perform=True)
    fake.inject("GET", "instances", 500, "internal error", times=1)
    _world(world, VM)
    with running_operator(operator_kube, _settings(namespace, fake)):
        world.clone_job("cj", migrating_vm="web")
        world.wait_state("cj", "SUCCEEDED", timeout=40)
    # The disk whose insert answer was lost is found on the next look and adopted: no second insert.
    assert len(fake.disks) == 2 and len(fake.inserts("disks")) == 2


def test_cleanup_finds_an_orphan_by_its_label(
    kube: Kube, operator_kube: Kube, world: World, namespace: str, fake: FakeCompute
) -> None:
    fake.op_delay = 3.0
    _world(world, VM)
    with running_operator(operator_kube, _settings(namespace, fake)):
        job = world.clone_job("cj", migrating_vm="web")
        world.wait_step("cj", "preparingVmDisks", timeout=15)
        # The job has announced its inserts (they are recorded before they are sent): something of it
        # may exist in Compute Engine, and cleanup looks there by label as well as by the records.
        wait_for(lambda: world.status("cj").get("createdResources"), 15, "the inserts to be recorded")
        uid, run = label_value(job["metadata"]["uid"]), str(world.status("cj")["createdRevision"])
        fake.add_disk(PROJECT, ZONE, "orphan", {LABEL_JOB_UID: uid, LABEL_JOB_RUN: run})  # made, never recorded
        fake.add_disk(PROJECT, ZONE, "someone-elses", {LABEL_JOB_UID: "another-uid"})
        fake.add_disk(PROJECT, ZONE, "an-earlier-run", {LABEL_JOB_UID: uid, LABEL_JOB_RUN: "1"})
        world.cancel("cj")
        world.wait_state("cj", "CANCELLED", timeout=30)
    assert sorted(name for (_, _, name) in fake.disks) == ["an-earlier-run", "someone-elses"]


def test_a_name_taken_by_someone_else_fails_already_exists_and_is_left_alone(
    kube: Kube, operator_kube: Kube, world: World, namespace: str, fake: FakeCompute
) -> None:
    fake.add_disk(PROJECT, ZONE, "web-clone-disk-0", {"owner": "somebody"})
    _world(world, VM)
    with running_operator(operator_kube, _settings(namespace, fake)):
        world.clone_job("cj", migrating_vm="web")
        status = world.wait_state("cj", "FAILED", timeout=30)
    assert status["error"]["code"] == 6 and "left alone" in status["error"]["message"]
    assert list(fake.disks) == [(PROJECT, ZONE, "web-clone-disk-0")]


def test_after_success_nothing_touches_the_products(
    kube: Kube, operator_kube: Kube, world: World, namespace: str, fake: FakeCompute
) -> None:
    _world(world, VM)
    with running_operator(operator_kube, _settings(namespace, fake)):
        world.clone_job("cj", migrating_vm="web")
        world.wait_state("cj", "SUCCEEDED", timeout=30)
        seen = len(fake.requests)
        world.delete(CLONE_JOB, "cj")
        world.wait_gone(CLONE_JOB, "cj")
    assert len(fake.requests) == seen and len(fake.disks) == 2 and len(fake.instances) == 1


def test_an_operator_stopped_mid_step_and_started_again_makes_nothing_twice(
    kube: Kube, operator_kube: Kube, world: World, namespace: str, fake: FakeCompute
) -> None:
    fake.op_delay = 2.0
    _world(world, VM)
    with running_operator(operator_kube, _settings(namespace, fake)):
        world.clone_job("cj", migrating_vm="web")
        wait_for(lambda: len(fake.inserts("disks")) == 2, 15, "both disk inserts")
    # Gone while the operations run; the next operator finds the recorded operations and the disks.
    with running_operator(operator_kube, _settings(namespace, fake)):
        world.wait_state("cj", "SUCCEEDED", timeout=30)
    assert len(fake.disks) == 2 and len(fake.instances) == 1
    assert len(fake.inserts("disks")) == 2 and len(fake.inserts("instances")) == 1


def test_metadata_from_a_secret_that_did_not_opt_in_fails_the_job_and_says_nothing_of_it(
    kube: Kube, operator_kube: Kube, world: World, namespace: str, fake: FakeCompute
) -> None:
    _world(world, SCRIPTED)
    _scripts(kube, namespace, labels={})
    with running_operator(operator_kube, _settings(namespace, fake)):
        world.clone_job("cj", migrating_vm="web")
        status = world.wait_state("cj", "FAILED", timeout=30)
    assert status["error"]["code"] == 7 and "metadataSecretRef names Secret boot-scripts" in status["error"]["message"]
    assert "startup-script" not in str(status) and not fake.instances and not fake.disks  # cleaned up


def test_metadata_values_in_a_migratingvm_are_refused_naming_where_they_go(kube: Kube, namespace: str) -> None:
    from kubernetes.client.exceptions import ApiException

    spec = {"sourceVmId": "v", "computeEngineTargetDefaults": {"metadata": {"startup-script": "echo secret"}}}
    try:
        kube.create(MIGRATING_VM, namespace, manifest(MIGRATING_VM, namespace, "web", spec))
        raise AssertionError("accepted")
    except ApiException as error:
        assert error.status == 422 and "put them in a Secret labelled vmmigration.dev/credentials=true" in str(
            error.body
        )
