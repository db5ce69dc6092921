"""TargetProjects on a real API server: resolved in the MigratingVm's namespace only, waited for, and
the operator's own identity lent only when it is told to."""

from __future__ import annotations

import base64
from typing import Any, cast

import kubernetes
import pytest

from clonejob_operator import names, permissions
from clonejob_operator.codes import Code, JobError
from clonejob_operator.kube import TARGET_PROJECT, Kube
from clonejob_operator.settings import Settings
from clonejob_operator.targets.computeengine.client import Compute
from clonejob_operator.targets.computeengine.targetproject import TargetProjects
from tests.computeengine.keys import service_account_key
from tests.integration.conftest import _serves_core, chart_identity
from tests.integration.kit import World, manifest, running_operator, settings_for, wait_for

KEYED = {"project": "my-proj-123", "credentialsSecretRef": {"name": "sa", "key": "key.json"}}


def _gce(world: World, reference: str = "tp") -> None:
    world.compute_engine_vm("gce", {"zone": "europe-west1-b", "targetProject": reference})


def _reason(world: World, name: str) -> str | None:
    conditions = world.status(name).get("conditions") or []
    return next((c["reason"] for c in conditions if c["type"] == "Reconciling"), None)


def test_a_missing_target_project_keeps_the_job_pending_until_it_appears(
    kube: Kube, world: World, namespace: str
) -> None:
    _gce(world, "projects/p/locations/global/targetProjects/tp")
    with running_operator(kube, settings_for(namespace)):
        world.clone_job("cj", migrating_vm="gce")
        wait_for(lambda: _reason(world, "cj") == "TargetProjectNotFound", 15, "TargetProjectNotFound")
        assert world.state("cj") == "PENDING"
        world.create(TARGET_PROJECT, "tp", KEYED)  # its watch event moves the job on (the resync is far away)
        wait_for(lambda: _reason(world, "cj") == "CredentialsSecretUnusable", 15, "the Secret to be waited for")
        assert world.state("cj") == "PENDING", "a Secret made a moment late is no failure"
        if _serves_core(kube, namespace):
            meta = kubernetes.client.V1ObjectMeta(name="sa", labels=dict([names.SECRET_OPT_IN]))
            secret = kubernetes.client.V1Secret(metadata=meta, data={"key.json": _service_account_key()})
            kube.core.create_namespaced_secret(namespace, secret)  # Secrets are not watched: looked at within 10 s
            status = world.wait_state("cj", "FAILED", timeout=30)
        else:
            return
    assert status["computeEngineTargetDetails"]["project"] == "my-proj-123"
    assert status["error"]["code"] == 3 and "machineType" in status["error"]["message"]  # resolved, then checked


def test_a_target_project_in_another_namespace_is_never_used(
    kube: Kube, world: World, namespace: str, other_namespace: str
) -> None:
    kube.create(TARGET_PROJECT, other_namespace, manifest(TARGET_PROJECT, other_namespace, "tp", KEYED))
    _gce(world)
    with running_operator(kube, settings_for(namespace)):
        world.clone_job("cj", migrating_vm="gce")
        wait_for(lambda: _reason(world, "cj") == "TargetProjectNotFound", 15, "TargetProjectNotFound")
        assert world.state("cj") == "PENDING" and "computeEngineTargetDetails" not in world.status("cj")


def test_ambient_credentials_are_refused_without_the_flag(kube: Kube, world: World, namespace: str) -> None:
    world.create(TARGET_PROJECT, "tp", {"project": "my-proj-123"})
    _gce(world)
    with running_operator(kube, settings_for(namespace)):
        world.clone_job("cj", migrating_vm="gce")
        status = world.wait_state("cj", "FAILED")
    assert status["error"]["code"] == 7  # PERMISSION_DENIED
    assert "--allow-ambient-credentials" in status["error"]["message"]
    with running_operator(kube, settings_for(namespace, allow_ambient_credentials=True)):
        world.clone_job("cj2", migrating_vm="gce")
        refused = world.wait_state("cj2", "FAILED")["error"]
        assert refused["code"] == 3 and "machineType" in refused["message"]  # past the credentials check


def test_the_api_server_rejects_a_bad_target_project(kube: Kube, namespace: str) -> None:
    from kubernetes.client.exceptions import ApiException

    bad = manifest(TARGET_PROJECT, namespace, "tp", {"project": "Not_A_Project", "credentialsSecretRef": {"name": "s"}})
    try:
        kube.create(TARGET_PROJECT, namespace, bad)
        raise AssertionError("accepted")
    except ApiException as error:
        assert error.status == 422
        assert "spec.project" in str(error.body) and "spec.credentialsSecretRef.key" in str(error.body)


def _service_account_key() -> str:
    """A service-account key file as Google issues them, base64 as a Secret holds it."""
    return base64.b64encode(service_account_key("k1")[0]).decode()


@pytest.mark.parametrize("granted", ["with the Secret rule", "without it"])
def test_a_target_projects_key_is_read_from_its_secret_as_the_charts_identity(
    kube: Kube, world: World, namespace: str, granted: str
) -> None:
    """The Secret read path on a real API server, as the operator's ServiceAccount: the key becomes the
    client's credentials (no call is made to Google); without the Secret rule it is PERMISSION_DENIED."""
    if not _serves_core(kube, namespace):
        pytest.skip("this API server serves no Secrets (a CRD-only server)")
    meta = kubernetes.client.V1ObjectMeta(name="sa", labels=dict([names.SECRET_OPT_IN]))
    secret = kubernetes.client.V1Secret(metadata=meta, data={"key.json": _service_account_key()})
    kube.core.create_namespaced_secret(namespace, secret)
    world.create(TARGET_PROJECT, "tp", KEYED)
    rules = [r for r in permissions.namespaced() if granted == "with the Secret rule" or r.resources != ("secrets",)]
    identity = chart_identity(kube, namespace, rules)
    made: list[Any] = []

    def connect(credentials: Any, endpoint: str | None) -> Compute:
        made.append(credentials)
        return cast(Compute, object())

    projects = TargetProjects(identity, Settings(), connect)
    pin = projects.resolve(namespace, "tp", "spec.computeEngineTargetDefaults")
    assert pin is not None
    if granted == "without it":
        with pytest.raises(JobError) as refused:
            projects.compute(namespace, pin)
        assert refused.value.code is Code.PERMISSION_DENIED
        assert f"may not read Secrets in namespace {namespace}" in refused.value.message
        assert made == []
        return
    projects.compute(namespace, pin)
    assert [c.service_account_email for c in made] == ["cloner@my-proj-123.iam.gserviceaccount.com"]
