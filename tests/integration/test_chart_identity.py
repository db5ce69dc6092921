"""The operator as the rendered chart runs it: the chart's own ServiceAccount, ClusterRole or Roles and
bindings (``helm template``) applied to the API server, and the operator speaking with that account's
token. All namespaces (a ClusterRole), and a namespace list with leader election (a Role per namespace
and one for the Lease) as a real process. A 403 anywhere fails the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from clonejob_operator.kube import Kube
from tests.chart.conftest import CHART, find_helm, run_helm
from tests.integration.conftest import _serves_core, token_kube
from tests.integration.kit import (
    CHART_IDENTITIES,
    World,
    kubernetes_refusal,
    running_operator,
    settings_for,
    wait_for,
)
from tests.integration.replicas import Replica

RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")


@pytest.fixture
def helm_binary(kube: Kube, namespace: str) -> str:
    if not _serves_core(kube, namespace):
        pytest.skip("this API server has no RBAC (a CRD-only server)")
    return find_helm()


@pytest.fixture
def installed(kube: Kube, namespace: str, helm_binary: str) -> Iterator[Any]:
    """Applies the chart's rendered identity and RBAC (release = the test's namespace); removes what is
    cluster-scoped afterwards (the namespace takes the rest)."""
    made: list[dict[str, Any]] = []

    def install(*sets: str) -> str:
        args = ["template", namespace, str(CHART), "--namespace", namespace]
        for item in sets:
            args += ["--set", item]
        docs = [d for d in yaml.safe_load_all(run_helm(helm_binary, *args).stdout) if d and d["kind"] in RBAC_KINDS]
        for doc in docs:
            kubernetes.utils.create_from_dict(kube.api_client, doc)  # type: ignore[no-untyped-call]
            made.append(doc)
        (account,) = [d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount"]
        return str(account)

    yield install
    rbac = kubernetes.client.RbacAuthorizationV1Api(kube.api_client)
    for doc in made:
        try:
            if doc["kind"] == "ClusterRole":
                rbac.delete_cluster_role(doc["metadata"]["name"])
            elif doc["kind"] == "ClusterRoleBinding":
                rbac.delete_cluster_role_binding(doc["metadata"]["name"])
        except ApiException as error:
            if error.status != 404:
                raise


def _clone(world: World) -> dict[str, Any]:
    world.clone_job("cj")
    world.finish_disks("cj")
    world.ready_vm("cj")
    return world.wait_state("cj", "SUCCEEDED", timeout=60)


def test_all_namespaces_as_the_charts_cluster_role(kube: Kube, world: World, namespace: str, installed: Any) -> None:
    account = installed()  # the default values: every namespace, one ClusterRole
    identity = token_kube(kube, namespace, account)
    CHART_IDENTITIES.add(id(identity))
    world.migrating_vm("web-1")
    with running_operator(identity, settings_for(namespace, namespaces=())):
        status = _clone(world)
    assert [r["kind"] for r in status["createdResources"]] == ["DataVolume", "VirtualMachine"]


def test_a_namespace_list_with_leader_election_as_the_charts_roles(
    kube: Kube, world: World, namespace: str, installed: Any, tmp_path: Path
) -> None:
    account = installed(f"watch.namespaces={{{namespace}}}")
    identity = token_kube(kube, namespace, account)
    world.migrating_vm("web-1")
    config = tmp_path / "kubeconfig"
    config.write_text(_kubeconfig(identity))
    replica = Replica(str(config), namespace, tmp_path / "operator.log")
    try:
        wait_for(replica.terms, 30, "the replica to lead, through the Lease its Role grants")
        _clone(world)
    finally:
        replica.stop()
    refused = [line for _, line in replica.lines if kubernetes_refusal(line)]
    assert refused == [], refused[:3]


def _kubeconfig(identity: Kube) -> str:
    configuration = identity.configuration
    token = configuration.api_key["authorization"].removeprefix("Bearer ")
    cluster = {"server": configuration.host, "certificate-authority": configuration.ssl_ca_cert}
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "test", "cluster": cluster}],
            "users": [{"name": "chart", "user": {"token": token}}],
            "contexts": [{"name": "chart", "context": {"cluster": "test", "user": "chart"}}],
            "current-context": "chart",
        }
    )
