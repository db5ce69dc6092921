"""The plain manifests installed and uninstalled as the README says, with kubectl on the API server: the
uninstall (`kubectl delete --ignore-not-found -k manifests/`) removes the operator and keeps the CRDs and every
object of them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml

from clonejob_operator import crdgen
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Kube
from tests.integration.kit import World
from tests.integration.tenants import full_server

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
PART_OF = "app.kubernetes.io/part-of=clonejob-operator"


def _overlay(tmp_path: Path, namespace: str) -> Path:
    """The base as it is, moved into a namespace and names of the test's own (so that nothing of another
    install is touched): what a user's overlay does."""
    shutil.copytree(MANIFESTS, tmp_path / "base")
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": f"{namespace}-op",
        "namePrefix": f"{namespace}-",
        "resources": ["../base"],
    }
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return overlay


def _cluster_roles(kube: Kube, namespace: str) -> list[str]:
    rbac: Any = kubernetes.client.RbacAuthorizationV1Api(kube.api_client)
    found = rbac.list_cluster_role(label_selector=PART_OF).items
    return [str(role.metadata.name) for role in found if str(role.metadata.name).startswith(namespace)]


def test_the_kustomize_uninstall_removes_the_operator_and_keeps_the_crds_and_their_objects(
    kube: Kube, world: World, namespace: str, cluster_kubeconfig: str, tmp_path: Path
) -> None:
    full_server(kube, namespace)
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("no kubectl on PATH")
    overlay = _overlay(tmp_path, namespace)
    env = {"KUBECONFIG": cluster_kubeconfig, "PATH": str(Path(kubectl).parent), "HOME": str(tmp_path)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([kubectl, *args], capture_output=True, text=True, timeout=120, env=env)

    api: Any = kubernetes.client.ApiextensionsV1Api(kube.api_client)
    crds = sorted(crd["metadata"]["name"] for crd in crdgen.all_crds().values())
    try:
        applied = run("apply", "--server-side", "-k", str(tmp_path / "base" / "crds"))  # the README's first step
        assert applied.returncode == 0, applied.stderr
        installed = run("apply", "--server-side", "-k", str(overlay))
        assert installed.returncode == 0, installed.stderr
        assert len(_cluster_roles(kube, namespace)) == 5, "the operator's and the tenants' roles are made"
        world.migrating_vm("web-1")
        world.clone_job("cj")
        uninstalled = run("delete", "--ignore-not-found", "-k", str(overlay))  # as the README says
        assert uninstalled.returncode == 0, uninstalled.stderr
        assert "customresourcedefinition" not in uninstalled.stdout, uninstalled.stdout
        assert _cluster_roles(kube, namespace) == [], "the operator's objects are gone"
        left = {crd.metadata.name: crd for crd in api.list_custom_resource_definition().items}
        assert [name for name in crds if name not in left or left[name].metadata.deletion_timestamp] == []
        assert world.get(MIGRATING_VM, "web-1") is not None and world.get(CLONE_JOB, "cj") is not None
    finally:
        run("delete", "--ignore-not-found", "--wait=false", "-k", str(overlay))


def test_the_readme_and_the_base_give_those_commands() -> None:
    readme = (MANIFESTS.parent / "README.md").read_text()
    base = (MANIFESTS / "kustomization.yaml").read_text()
    install = "kubectl apply --server-side -k manifests/crds/"
    uninstall = "kubectl delete --ignore-not-found -k manifests/"
    for command in (install, uninstall):
        assert command in readme and command in base, command
