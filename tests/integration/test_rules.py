"""The vmmigration API's rule: once finished, the clone is never touched; and one job per MigratingVm at a time."""

from __future__ import annotations

from typing import Any, cast

from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, TARGET_PROJECT, Kube
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME, VIRTUAL_MACHINE
from tests.integration.kit import World, running_operator, settings_for, wait_for


def test_succeeded_then_deleted_leaves_products_untouched(kube: Kube, world: World, namespace: str) -> None:
    world.migrating_vm("web-1", disks=2)
    with running_operator(kube, settings_for(namespace)):
        world.clone_job("cj")
        world.finish_disks("cj", disks=2)
        world.ready_vm("cj")
        world.wait_state("cj", "SUCCEEDED")
        before = {
            f"{p['kind']}/{p['metadata']['name']}": p["metadata"]["resourceVersion"]
            for kind in (DATA_VOLUME, VIRTUAL_MACHINE)
            for p in world.products(kind)
        }
        assert len(before) == 3
        world.delete(CLONE_JOB, "cj")
        world.wait_gone(CLONE_JOB, "cj")
        # Give the operator several resync intervals in which it could misbehave.
        wait_for(lambda: world.kube.list(CLONE_JOB, namespace) == [], 5, "no CloneJobs")
        after = {
            f"{p['kind']}/{p['metadata']['name']}": p["metadata"]["resourceVersion"]
            for kind in (DATA_VOLUME, VIRTUAL_MACHINE)
            for p in world.products(kind)
        }
    assert after == before
    for kind in (DATA_VOLUME, VIRTUAL_MACHINE):
        for product in world.products(kind):
            assert "ownerReferences" not in product["metadata"]
            assert "deletionTimestamp" not in product["metadata"]


def test_second_job_waits_for_the_first_then_runs(kube: Kube, world: World, namespace: str) -> None:
    world.migrating_vm("web-1")
    with running_operator(kube, settings_for(namespace)):
        world.clone_job("first")
        world.wait_step("first", "preparingVmDisks")
        world.clone_job("second")
        wait_for(
            lambda: any(
                c["reason"] == "WaitingForCloneJob" and c["type"] == "Reconciling"
                for c in world.status("second").get("conditions", [])
            ),
            10,
            "second to wait",
        )
        assert world.state("second") == "PENDING"
        recent = world.get(MIGRATING_VM, "web-1")["status"]["recentCloneJobs"]  # type: ignore[index]
        assert [e["name"].rsplit("/", 1)[-1] for e in recent] == ["first"]
        world.finish_disks("first")
        world.ready_vm("first")
        world.wait_state("first", "SUCCEEDED")
        world.wait_step("second", "preparingVmDisks")
        world.finish_disks("second")
        world.ready_vm("second")
        world.wait_state("second", "SUCCEEDED")
    first, second = world.status("first"), world.status("second")
    assert second["steps"][0]["startTime"] >= first["endTime"]
    recent = world.get(MIGRATING_VM, "web-1")["status"]["recentCloneJobs"]  # type: ignore[index]
    assert [(e["name"].rsplit("/", 1)[-1], e["state"]) for e in recent] == [("second", "SUCCEEDED")]


def test_queue_is_fifo(kube: Kube, world: World, namespace: str) -> None:
    world.migrating_vm("web-1")
    world.clone_job("a")
    world.clone_job("b")
    with running_operator(kube, settings_for(namespace)):
        world.wait_step("a", "preparingVmDisks")
        wait_for(
            lambda: any(
                c["reason"] in ("Queued", "WaitingForCloneJob") for c in world.status("b").get("conditions", [])
            ),
            10,
            "b to queue",
        )
        assert world.state("b") == "PENDING"


def test_waits_for_missing_migratingvm_then_runs(kube: Kube, world: World, namespace: str) -> None:
    with running_operator(kube, settings_for(namespace)):
        world.clone_job("cj")
        wait_for(
            lambda: any(
                c["type"] == "Reconciling" and c["reason"] == "MigratingVmNotFound"
                for c in world.status("cj").get("conditions", [])
            ),
            10,
            "MigratingVmNotFound",
        )
        world.migrating_vm("web-1", synced=False)
        wait_for(
            lambda: any(
                c["type"] == "Reconciling" and c["reason"] == "NoSnapshots"
                for c in world.status("cj").get("conditions", [])
            ),
            10,
            "NoSnapshots",
        )
        assert world.state("cj") == "PENDING"
        world.sync("web-1")
        world.wait_step("cj", "preparingVmDisks")


def test_pending_deadline_fails_with_not_found(kube: Kube, world: World, namespace: str) -> None:
    from datetime import timedelta

    with running_operator(kube, settings_for(namespace, pending_deadline=timedelta(seconds=2))):
        world.clone_job("cj", migrating_vm="missing")
        status = world.wait_state("cj", "FAILED", timeout=20)
    assert status["error"]["code"] == 5  # NOT_FOUND
    assert "MigratingVm missing not found" in status["error"]["message"]
    assert "steps" not in status


def test_migratingvm_in_another_namespace_is_never_used(
    kube: Kube, world: World, namespace: str, other_namespace: str
) -> None:
    other = World(kube, other_namespace)
    other.migrating_vm("web-1")
    with running_operator(kube, settings_for(namespace)):
        world.clone_job("cj")
        wait_for(
            lambda: any(c["reason"] == "MigratingVmNotFound" for c in world.status("cj").get("conditions", [])),
            10,
            "MigratingVmNotFound",
        )
        assert world.state("cj") == "PENDING"
        assert world.all_products() == [] and other.all_products() == []
    assert "recentCloneJobs" not in (other.get(MIGRATING_VM, "web-1") or {}).get("status", {})


def test_compute_engine_details_are_recorded_and_a_missing_field_is_named(
    kube: Kube, world: World, namespace: str
) -> None:
    world.create(TARGET_PROJECT, "tp", {"project": "my-proj-123", "credentialsSecretRef": {"name": "sa", "key": "k"}})
    path = "projects/p/locations/global/targetProjects/tp"
    world.compute_engine_vm("gce", {"zone": "us-central1-a", "targetProject": path})
    with running_operator(kube, settings_for(namespace, compute_endpoint="http://127.0.0.1:9")):  # no key is read
        world.clone_job("cj", migrating_vm="gce")
        status = world.wait_state("cj", "FAILED")
    assert status["error"]["code"] == 3  # INVALID_ARGUMENT, before anything is made
    assert "spec.computeEngineTargetDefaults.machineType is required" in status["error"]["message"]
    assert status["computeEngineTargetDetails"] == {"zone": "us-central1-a", "project": "my-proj-123"}
    legacy = {"zone": "us-central1-a", "project": "my-proj-123", "targetProject": path}
    assert status["targetDetails"] == status["computeEngineVmDetails"] == legacy
    assert "kubevirtTargetDetails" not in status and "steps" not in status
    assert world.all_products() == []


def test_max_active_limits_running_jobs(kube: Kube, world: World, namespace: str) -> None:
    world.migrating_vm("a")
    world.migrating_vm("b")
    with running_operator(kube, settings_for(namespace, max_active=1)):
        world.clone_job("ja", migrating_vm="a")
        world.wait_step("ja", "preparingVmDisks")
        world.clone_job("jb", migrating_vm="b")
        wait_for(
            lambda: any(c["reason"] == "MaxActiveReached" for c in world.status("jb").get("conditions", [])),
            10,
            "MaxActiveReached",
        )
        world.cancel("ja")
        world.wait_state("ja", "CANCELLED")
        world.wait_step("jb", "preparingVmDisks")


def test_cancel_of_a_finished_job_is_refused_by_the_api_server(kube: Kube, world: World, namespace: str) -> None:
    """As the vmmigration API's cancel answers a finished job with FAILED_PRECONDITION, the API server refuses the patch
    (a CEL rule over oldSelf.status.state), saying the job has finished; the clone is left as it was."""
    from kubernetes.client.exceptions import ApiException

    world.migrating_vm("web-1")
    with running_operator(kube, settings_for(namespace)):
        world.clone_job("cj")
        world.finish_disks("cj")
        world.ready_vm("cj")
        done = world.wait_state("cj", "SUCCEEDED")
    vm_version = world.get(VIRTUAL_MACHINE, "cj")["metadata"]["resourceVersion"]  # type: ignore[index]
    try:
        world.cancel("cj")
        raise AssertionError("the API server accepted a cancel of a finished job")
    except ApiException as error:
        assert error.status == 422
        assert "spec.cancel" in str(error.body) and "has finished (status.state SUCCEEDED)" in str(error.body)
    assert world.job("cj")["spec"].get("cancel") in (None, False) and world.status("cj") == done
    assert world.get(VIRTUAL_MACHINE, "cj")["metadata"]["resourceVersion"] == vm_version  # type: ignore[index]


def test_field_selectors_pick_jobs_by_migratingvm_and_state(kube: Kube, world: World, namespace: str) -> None:
    """selectableFields: what kubectl get cjob --field-selector spec.migratingVm=web-1,status.state=... asks."""
    world.clone_job("a", migrating_vm="web-1")
    world.clone_job("b", migrating_vm="web-2")
    world.set_status(CLONE_JOB, "a", {"state": "FAILED"})
    world.set_status(CLONE_JOB, "b", {"state": "PENDING"})

    def names(selector: str) -> list[str]:
        listing = cast(
            dict[str, Any],
            kube.custom.list_namespaced_custom_object(
                CLONE_JOB.group, CLONE_JOB.version, namespace, CLONE_JOB.plural, field_selector=selector
            ),
        )
        return sorted(item["metadata"]["name"] for item in listing["items"])

    assert names("spec.migratingVm=web-1") == ["a"]
    assert names("status.state=PENDING") == ["b"]
    assert names("spec.migratingVm=web-1,status.state=FAILED") == ["a"]
    assert names("spec.migratingVm=web-2,status.state=FAILED") == []
