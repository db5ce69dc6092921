"""Tenants through real RBAC: what they write never makes the operator act beyond their own rights.

Tenants are people bound in the test's namespace to the built-in ``edit`` and ``view`` (with the chart's
aggregated roles in the cluster) or to a careless admin's ``vmmigration.dev */*``; the operator runs as the
chart's ServiceAccount. The operator's own defence (the seal) is tested without the chart's admission policy:
a cluster admin may bind it late, or exempt an identity a tenant holds.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, VOLUME_SNAPSHOT, Kube
from clonejob_operator.sources.base import HELD_BY
from clonejob_operator.sources.volsync.holds import DO_NOT_DELETE
from clonejob_operator.targets.kubevirt.kinds import BATCH_JOB, DATA_VOLUME, VIRTUAL_MACHINE
from tests.integration.conftest import product_crds
from tests.integration.kit import World, manifest, running_operator, settings_for, wait_for
from tests.integration.tenants import CARELESS, chart_objects, full_server, refused, tenant
from tests.integration.volsync import VolSync


def versions(world: World) -> dict[str, str]:
    """Every product in the namespace and its resourceVersion: what "untouched" is measured by."""
    return {
        f"{kind.kind}/{p['metadata']['name']}": p["metadata"]["resourceVersion"]
        for kind in (DATA_VOLUME, VIRTUAL_MACHINE, BATCH_JOB)
        for p in world.products(kind)
    }


def reason(world: World, name: str) -> str | None:
    ready = [c for c in world.status(name).get("conditions") or [] if c["type"] == "Ready"]
    return ready[0]["reason"] if ready else None


def events(kube: Kube, namespace: str, name: str, why: str) -> list[Any]:
    found = kube.core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}").items
    return [e for e in found if e.reason == why]


def test_a_finished_job_rewritten_by_a_tenant_to_cancelling_deletes_nothing_before_or_after_a_restart(
    kube: Kube, operator_kube: Kube, world: World, namespace: str
) -> None:
    full_server(kube, namespace)
    careless = tenant(kube, namespace, rules=CARELESS)  # clonejobs/status, and no right on any product
    assert refused(lambda: careless.delete(VIRTUAL_MACHINE, namespace, "cj")).status == 403
    world.migrating_vm("web-1")
    settings = settings_for(namespace)
    with running_operator(operator_kube, settings):
        world.clone_to_success("cj")
        wait_for(lambda: not world.job("cj")["metadata"].get("finalizers"), 10, "the finished job to be let go")
        clone = versions(world)
        assert sorted(clone) == ["DataVolume/cj-disk-0", "VirtualMachine/cj"]
        careless.patch_status(CLONE_JOB, namespace, "cj", {"status": {"state": "CANCELLING"}})
        status = world.wait_reason("cj", "UntrustedStatus", timeout=15)
        assert wait_for(lambda: events(kube, namespace, "cj", "UntrustedStatus"), 10, "a Warning Event")
        assert status["state"] == "CANCELLING" and versions(world) == clone
        careless.patch_status(CLONE_JOB, namespace, "cj", {"status": {"state": "ACTIVE", "error": {"code": 2}}})
    assert versions(world) == clone, "nothing was deleted while it ran"
    with running_operator(operator_kube, settings):  # a restart trusts nothing it did not seal either
        careless.patch_status(CLONE_JOB, namespace, "cj", {"status": {"conditions": None}})
        message = world.wait_reason("cj", "UntrustedStatus", timeout=15)["conditions"][0]["message"]
        assert "does not match the seal" in message and "clonejob-operator trust" in message
    assert versions(world) == clone, "nothing was deleted after the restart"
    assert not world.job("cj")["metadata"].get("finalizers"), "held as it was (no finalizer added): an admin decides"


def test_a_forged_started_status_on_a_job_never_admitted_creates_nothing_and_holds_no_slot(
    kube: Kube, operator_kube: Kube, world: World, namespace: str
) -> None:
    full_server(kube, namespace)
    careless = tenant(kube, namespace, rules=CARELESS)
    world.migrating_vm("web-1")
    forged = careless.create(CLONE_JOB, namespace, manifest(CLONE_JOB, namespace, "forged", {"migratingVm": "nope"}))
    steps = [{"preparingVmDisks": {}, "startTime": "2099-01-01T00:00:00Z"}]
    details = {"vmName": "forged", "osAdaptation": {"profile": "anything"}}
    careless.patch_status(
        CLONE_JOB,
        namespace,
        "forged",
        {
            "status": {
                "state": "ACTIVE",
                "currentStep": "preparingVmDisks",
                "steps": steps,
                "kubevirtTargetDetails": details,
                "sourceSync": {"snapshots": [{"disk": "d", "volumeSnapshot": "web-1-c3-d0"}]},
            }
        },
    )
    with running_operator(operator_kube, settings_for(namespace, max_active=1)):
        world.wait_reason("forged", "UntrustedStatus", timeout=15)
        world.clone_job("real")  # the one active slot is free: the forged job holds nothing
        world.wait_object(DATA_VOLUME, "real-disk-0", timeout=15)
        world.wait_state("real", "ACTIVE")
    uid = forged["metadata"]["uid"]
    made = [p for kind in (DATA_VOLUME, VIRTUAL_MACHINE, BATCH_JOB) for p in world.products(kind)]
    assert [p["metadata"]["name"] for p in made] == ["real-disk-0"]
    assert all(p["metadata"]["labels"]["vmmigration.dev/clone-job-uid"] != uid for p in made)
    assert not world.job("forged")["metadata"].get("finalizers"), "never held: it was never admitted"
    assert world.get(MIGRATING_VM, "web-1")["status"]["recentCloneJobs"][0]["uid"] != uid  # type: ignore[index]


def test_a_finished_job_whose_status_was_emptied_is_another_run_and_never_touches_the_clone(
    kube: Kube, operator_kube: Kube, world: World, namespace: str
) -> None:
    """An empty status looks like a new job, so it is admitted again: as another run, whose products carry
    another run label. The first run's clone is neither adopted nor deleted, even when the new run fails."""
    full_server(kube, namespace)
    careless = tenant(kube, namespace, rules=CARELESS)
    world.migrating_vm("web-1")
    with running_operator(operator_kube, settings_for(namespace)):
        world.clone_to_success("cj")
        clone = versions(world)
        careless.patch(CLONE_JOB, namespace, "cj", {"metadata": {"finalizers": None}})
        careless.patch_status(CLONE_JOB, namespace, "cj", {"status": None})
        status = world.wait_state("cj", "FAILED", timeout=20)
        assert status["error"]["code"] == 6 and "was not created by this CloneJob" in status["error"]["message"]
    assert versions(world) == clone


def test_the_built_in_roles_let_tenants_use_clonejobs_but_not_write_any_status(
    kube: Kube, world: World, namespace: str
) -> None:
    full_server(kube, namespace)
    with chart_objects(kube, "tenant-roles.yaml", namespace):
        editor, viewer = tenant(kube, namespace, role="edit"), tenant(kube, namespace, role="view")
        world.migrating_vm("web-1")
        editor.create(CLONE_JOB, namespace, manifest(CLONE_JOB, namespace, "cj", {"migratingVm": "web-1"}))
        editor.patch(CLONE_JOB, namespace, "cj", {"spec": {"cancel": True}})
        assert viewer.get(CLONE_JOB, namespace, "cj") is not None
        assert (
            refused(lambda: viewer.patch(CLONE_JOB, namespace, "cj", {"metadata": {"labels": {"a": "b"}}})).status
            == 403
        )
        forged: dict[str, Any] = {"status": {"state": "SUCCEEDED"}}
        for who in (editor, viewer):
            for kind, name in ((CLONE_JOB, "cj"), (MIGRATING_VM, "web-1")):
                error = refused(lambda w=who, k=kind, n=name: w.patch_status(k, namespace, n, forged))
                assert error.status == 403, (kind.kind, error.body)


def test_the_status_policy_refuses_every_writer_but_the_operator(
    kube: Kube, operator_kube: Kube, world: World, namespace: str
) -> None:
    full_server(kube, namespace)
    careless = tenant(kube, namespace, rules=CARELESS)
    sets = ("serviceAccount.create=false", "serviceAccount.name=clonejob-operator", f"watch.namespaces={{{namespace}}}")
    with (
        chart_objects(kube, "status-policy.yaml", namespace, *sets),
        chart_objects(kube, "tenant-roles.yaml", namespace),
    ):
        replication = tenant(kube, namespace, role=_replication_role(kube))
        world.migrating_vm("web-1", synced=False)

        def policy_in_force() -> bool:  # a new entry each time: an unchanged list is no write to refuse
            entry: dict[str, Any] = {"status": {"recentCloneJobs": [{"name": f"forged-{time.monotonic()}"}]}}
            error = refused(lambda: careless.patch_status(MIGRATING_VM, namespace, "web-1", entry))
            return int(error.status or 0) == 403

        # A policy is enforced once the API server has loaded it (a moment after its creation).
        wait_for(lambda: _quietly(policy_in_force), 15, "the policy to be enforced")
        world.sync("web-1")  # the tool that replicates (the test's own identity here) writes status as before
        replication.patch_status(MIGRATING_VM, namespace, "web-1", {"status": {"state": "PAUSED"}})
        with running_operator(operator_kube, settings_for(namespace)):  # every write of the operator's passes
            world.clone_to_success("cj")
        cancelling: dict[str, Any] = {"status": {"state": "CANCELLING"}}
        emptied: dict[str, Any] = {"status": {"recentCloneJobs": []}}
        for writer, kind, name, forged in (
            (careless, CLONE_JOB, "cj", cancelling),
            (replication, MIGRATING_VM, "web-1", emptied),
        ):
            error = refused(lambda w=writer, k=kind, n=name, f=forged: w.patch_status(k, namespace, n, f))
            assert error.status == 403 and "the operator's record" in str(error.body), error.body
        assert world.state("cj") == "SUCCEEDED"


def _replication_role(kube: Kube) -> str:
    import kubernetes

    rbac: Any = kubernetes.client.RbacAuthorizationV1Api(kube.api_client)
    names = [r.metadata.name for r in rbac.list_cluster_role().items if r.metadata.name.endswith("-replication")]
    (name,) = [n for n in names if n.startswith("cjt-")]
    return str(name)


def _quietly(probe: Any) -> bool:
    try:
        return bool(probe())
    except AssertionError:
        return False


def test_a_migratingvm_writer_cannot_choose_what_the_adaptation_runs_or_as_whom(
    kube: Kube, operator_kube: Kube, world: World, namespace: str
) -> None:
    full_server(kube, namespace)
    with chart_objects(kube, "tenant-roles.yaml", namespace):
        editor = tenant(kube, namespace, role="edit")
        chosen = {"image": "evil:1", "serviceAccountName": "ci-deployer", "command": ["sh"]}
        spec = {"sourceVmId": "v", "kubevirtTargetDefaults": {"osAdaptation": chosen}}
        evil = manifest(MIGRATING_VM, namespace, "evil", spec)
        error = refused(lambda: editor.create(MIGRATING_VM, namespace, evil))  # strict, as kubectl is by default
        assert error.status == 400 and 'unknown field \\"spec.kubevirtTargetDefaults.osAdaptation.image' in str(
            error.body
        ), error.body
        lax: Any = editor.custom  # a client that lets the server prune what its schema lacks
        group, version, plural = MIGRATING_VM.group, MIGRATING_VM.version, MIGRATING_VM.plural
        error = refused(lambda: lax.create_namespaced_custom_object(group, version, namespace, plural, evil))
        assert error.status == 422 and "osAdaptation.profile" in str(error.body)
        profile = {"apiVersion": "vmmigration.dev/v1", "kind": "AdaptationProfile", "metadata": {"name": "mine"}}
        profile["spec"] = {"image": "evil:1", "serviceAccountName": "ci-deployer", "automountServiceAccountToken": True}
        custom: Any = editor.custom
        error = refused(
            lambda: custom.create_cluster_custom_object("vmmigration.dev", "v1", "adaptationprofiles", profile)
        )
        assert error.status == 403, "only cluster admins write profiles"
        admins = world.profile("virt-v2v", {"image": "adapt:1", "serviceAccountName": "adapter"})
        defaults = {"osAdaptation": {"profile": admins}}
        editor.create(
            MIGRATING_VM,
            namespace,
            manifest(MIGRATING_VM, namespace, "web-1", {"sourceVmId": "v", "kubevirtTargetDefaults": defaults}),
        )
        world.sync("web-1")
        with running_operator(operator_kube, settings_for(namespace)):
            editor.create(CLONE_JOB, namespace, manifest(CLONE_JOB, namespace, "cj", {"migratingVm": "web-1"}))
            world.finish_disks("cj")
            job = world.wait_object(BATCH_JOB, "cj-adapt-os")
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "adapter" and pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["image"] == "adapt:1" and "command" not in container
    assert container["securityContext"] == {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def test_labels_stay_off_the_clones_pods_and_another_namespaces_network_is_refused(
    kube: Kube, operator_kube: Kube, world: World, namespace: str, other_namespace: str
) -> None:
    full_server(kube, namespace)
    with chart_objects(kube, "tenant-roles.yaml", namespace):
        editor = tenant(kube, namespace, role="edit")

        def migrating_vm(name: str, defaults: dict[str, Any]) -> Any:
            spec = {"sourceVmId": name, "kubevirtTargetDefaults": defaults}
            return editor.create(MIGRATING_VM, namespace, manifest(MIGRATING_VM, namespace, name, spec))

        error = refused(lambda: migrating_vm("x", {"podLabels": {"kubevirt.io/domain": "prod-web"}}))
        assert error.status == 422 and "kubevirt.io/ or vmmigration.dev/ prefixes" in str(error.body)
        multus = [{"name": "n", "multus": {"networkName": f"{other_namespace}/secure-net"}}]
        migrating_vm("crossing", {"networks": multus})
        migrating_vm("web-1", {"labels": {"app": "web"}, "podLabels": {"role": "test-clone"}})
        for name in ("crossing", "web-1"):
            world.sync(name)
        with running_operator(operator_kube, settings_for(namespace)):
            editor.create(CLONE_JOB, namespace, manifest(CLONE_JOB, namespace, "x", {"migratingVm": "crossing"}))
            failed = world.wait_state("x", "FAILED")
            world.clone_to_success("cj")
    assert (
        failed["error"]["code"] == 3
        and f"networks[0].multus.networkName '{other_namespace}/secure-net'" in (failed["error"]["message"])
    )
    (vm,) = world.products(VIRTUAL_MACHINE)
    assert vm["metadata"]["labels"]["app"] == "web"
    pod_labels = vm["spec"]["template"]["metadata"]["labels"]
    assert "app" not in pod_labels and pod_labels["role"] == "test-clone"


def test_a_cluster_admin_vouches_for_a_held_status_and_the_operator_acts_on_it_again(
    kube: Kube, operator_kube: Kube, world: World, namespace: str, cluster_kubeconfig: str
) -> None:
    import subprocess
    import sys

    from tests.integration.sealing import seal_key_flag

    full_server(kube, namespace)
    careless = tenant(kube, namespace, rules=CARELESS)
    world.migrating_vm("web-1")
    with running_operator(operator_kube, settings_for(namespace)):
        world.clone_to_success("cj")
        careless.patch_status(CLONE_JOB, namespace, "cj", {"status": {"progressPercent": 50}})
        world.wait_reason("cj", "UntrustedStatus", timeout=15)
        command = [sys.executable, "-m", "clonejob_operator.cli", "trust", f"{namespace}/cj", *seal_key_flag()]
        done = subprocess.run(
            [*command, "--kubeconfig", cluster_kubeconfig], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert f"CloneJob {namespace}/cj: sealed its status as it is" in done.stdout
        status = world.wait_reason("cj", "Succeeded", timeout=15)
    assert status["state"] == "SUCCEEDED" and status["progressPercent"] == 100, (
        "decided again, from what was vouched for"
    )
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"


SNAPSHOT_PATCHER = [
    *CARELESS,
    {"apiGroups": ["snapshot.storage.k8s.io"], "resources": ["volumesnapshots"], "verbs": ["get", "create", "patch"]},
]
"""A team that may make and patch VolumeSnapshots, but not delete them."""


def test_a_tenant_cannot_write_a_fed_migratingvms_status_nor_get_an_image_deleted_by_annotating_it(
    kube: Kube, operator_kube: Kube, world: World, namespace: str
) -> None:
    """Acting as tenants through RBAC: the status of a MigratingVm fed by VolSync is refused to everybody but the
    operator (so its record of held images is the operator's), and an image a tenant marks as held by it is
    never deleted by the operator, which the tenant itself may not do."""
    full_server(kube, namespace)
    if not product_crds():
        pytest.skip("VolSync's real CRD is not at hand (CLONEJOB_TEST_PRODUCT_CRDS)")
    sets = ("serviceAccount.create=false", "serviceAccount.name=clonejob-operator", f"watch.namespaces={{{namespace}}}")
    volsync = VolSync(kube, namespace)
    with (
        chart_objects(kube, "status-policy.yaml", namespace, *sets),
        chart_objects(kube, "tenant-roles.yaml", namespace),
    ):
        team, replication = (
            tenant(kube, namespace, rules=SNAPSHOT_PATCHER),
            tenant(kube, namespace, role=_replication_role(kube)),
        )
        volsync.destination("web-1-boot")
        disks = [{"disk": "boot", "replicationDestination": "web-1-boot"}]
        spec = {"sourceVmId": "vm-1", "kubevirtTargetDefaults": {}, "replication": {"volSync": {"disks": disks}}}
        mvm = team.create(MIGRATING_VM, namespace, manifest(MIGRATING_VM, namespace, "web-1", spec))
        forged: dict[str, Any] = {"status": {"heldSnapshots": ["theirs"], "state": "ACTIVE"}}

        def policy_in_force() -> bool:  # a new record each time: an unchanged status is no write to refuse
            again = {"status": {"heldSnapshots": [f"theirs-{int(time.monotonic() * 1000)}"]}}
            return int(refused(lambda: team.patch_status(MIGRATING_VM, namespace, "web-1", again)).status or 0) == 403

        wait_for(lambda: _quietly(policy_in_force), 15, "the policy to be enforced")
        error = refused(lambda: replication.patch_status(MIGRATING_VM, namespace, "web-1", forged))
        assert error.status == 403 and "the operator's record" in str(error.body), error.body
        theirs = manifest(VOLUME_SNAPSHOT, namespace, "theirs", {"source": {"persistentVolumeClaimName": "data"}})
        team.create(VOLUME_SNAPSHOT, namespace, theirs)
        with running_operator(operator_kube, settings_for(namespace)):
            volsync.sync("web-1-boot")
            wait_for(lambda: (world.get(MIGRATING_VM, "web-1") or {}).get("status", {}).get("lastSync"), 20, "cycle 1")
            mark = {
                "metadata": {
                    "labels": {DO_NOT_DELETE: "true"},
                    "annotations": {HELD_BY: f"MigratingVm/{mvm['metadata']['uid']}"},
                }
            }
            team.patch(VOLUME_SNAPSHOT, namespace, "theirs", mark)
            assert refused(lambda: team.delete(VOLUME_SNAPSHOT, namespace, "theirs")).status == 403
            team.delete(MIGRATING_VM, namespace, "web-1")
            world.wait_gone(MIGRATING_VM, "web-1")
        left = world.get(VOLUME_SNAPSHOT, "theirs")
        assert left is not None, "the operator never deletes what only an annotation says it holds"
        assert HELD_BY not in (left["metadata"].get("annotations") or {}), "only the holder's name was taken off"
