"""The plain manifests: `kubectl kustomize manifests/` renders schema-valid objects with least-privilege RBAC."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from clonejob_operator import crdgen, permissions
from tests.chart.conftest import rules_of

RELEASE = "clonejob-operator"
"""The release name the plain manifests are rendered as (their objects are named as its)."""
MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    kubectl = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not kubectl:
        pytest.skip("no kubectl: set KUBECTL or put kubectl on PATH")
    out = subprocess.run([kubectl, "kustomize", str(MANIFESTS)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def test_renders_every_piece(rendered: list[dict[str, Any]]) -> None:
    assert sorted(doc["kind"] for doc in rendered) == sorted(
        [
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRole",
            "ClusterRole",
            "ClusterRole",
            "ClusterRole",
            "ClusterRoleBinding",
            "ClusterRoleBinding",
            "Role",
            "Role",
            "RoleBinding",
            "RoleBinding",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
            "PodDisruptionBudget",
            "Deployment",
            "Service",
        ]
    )
    assert all(
        doc["metadata"].get("namespace") == "clonejob-system"
        for doc in rendered
        if doc["kind"] in ("ServiceAccount", "Deployment", "Service", "Role", "RoleBinding", "PodDisruptionBudget")
    )


def test_valid_against_the_kubernetes_schemas(rendered: list[dict[str, Any]]) -> None:
    for doc in rendered:
        kubernetes_validate.validate(doc, "1.33.0", strict=True)


def test_rbac_is_exactly_what_the_operator_calls(rendered: list[dict[str, Any]]) -> None:
    (role,) = [
        doc for doc in rendered if doc["kind"] == "ClusterRole" and doc["metadata"]["name"] == "clonejob-operator"
    ]
    assert role["rules"] == rules_of(permissions.namespaced() + permissions.CLUSTER_WIDE_ONLY, RELEASE)
    assert "*" not in str(role["rules"])
    (reads,) = [
        d for d in rendered if d["metadata"]["name"] == "clonejob-operator-cluster-reads" and d["kind"] == "ClusterRole"
    ]
    assert reads["rules"] == rules_of(permissions.cluster_scoped(), RELEASE)
    roles = {doc["metadata"]["name"]: doc for doc in rendered if doc["kind"] == "Role"}
    assert {role["metadata"]["namespace"] for role in roles.values()} == {"clonejob-system"}
    assert roles["clonejob-operator-leader-election"]["rules"] == rules_of(permissions.LEADER_ELECTION, RELEASE)
    assert roles["clonejob-operator-seal-key"]["rules"] == rules_of(permissions.SEAL_KEY, RELEASE)


@pytest.mark.parametrize("name", ["status-policy.yaml", "tenant-roles.yaml"])
def test_the_policy_and_tenant_roles_are_the_charts(name: str) -> None:
    """What kustomize applies is what the chart renders for a release named clonejob-operator in clonejob-system."""
    from tests.chart.conftest import CHART, find_helm, run_helm

    helm = find_helm()
    rendered = run_helm(helm, "template", "clonejob-operator", str(CHART), "-n", "clonejob-system", "--show-only",
                        f"templates/{name}").stdout  # fmt: skip
    charts = [doc for doc in yaml.safe_load_all(rendered) if doc]
    ours = [doc for doc in yaml.safe_load_all((MANIFESTS / name).read_text()) if doc]
    for doc in charts:
        labels = {k: v for k, v in doc["metadata"].pop("labels", {}).items() if k.startswith("rbac.authorization")}
        if labels:
            doc["metadata"]["labels"] = labels
    assert ours == charts


def test_pod_meets_the_restricted_standard(rendered: list[dict[str, Any]]) -> None:
    (deployment,) = [doc for doc in rendered if doc["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    assert (
        pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    )
    container = pod["containers"][0]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["image"] == "ghcr.io/clonejob-operator/clonejob-operator:0.1.0"
    assert deployment["spec"]["replicas"] == 2 and "--leader-elect" in container["args"]
    assert "--standalone" not in container["args"]
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in container["env"]}
    assert env["POD_NAMESPACE"] == "metadata.namespace" and env["POD_NAME"] == "metadata.name"


def test_crd_copies_are_the_generated_crds() -> None:
    expected = {name: crdgen.render(crd) for name, crd in crdgen.all_crds().items()}
    copies = {p.name: p.read_text() for p in (MANIFESTS / "crds").glob("*.yaml") if p.name != "kustomization.yaml"}
    assert copies == expected


def test_gitops_examples_parse_and_health_check_a_clonejob() -> None:
    flux = list(yaml.safe_load_all((MANIFESTS / "gitops" / "flux" / "clones.yaml").read_text()))
    checks = [c for doc in flux for c in doc["spec"].get("healthChecks", [])]
    assert checks and checks[0]["kind"] == "CloneJob" and checks[0]["apiVersion"] == "vmmigration.dev/v1"
    apps = list(yaml.safe_load_all((MANIFESTS / "gitops" / "argocd" / "application.yaml").read_text()))
    assert apps[0]["spec"]["source"]["path"] == "manifests"


def test_every_flux_source_a_kustomization_names_is_defined_beside_it() -> None:
    docs = list(yaml.safe_load_all((MANIFESTS / "gitops" / "flux" / "clones.yaml").read_text()))
    defined = {(d["kind"], d["metadata"]["name"], d["metadata"]["namespace"]) for d in docs}
    for doc in (d for d in docs if d["kind"] == "Kustomization"):
        source = doc["spec"]["sourceRef"]
        assert (source["kind"], source["name"], doc["metadata"]["namespace"]) in defined, source
        for needed in doc["spec"].get("dependsOn", []):
            assert ("Kustomization", needed["name"], doc["metadata"]["namespace"]) in defined


def test_the_crds_are_apart_so_that_deleting_the_base_keeps_them() -> None:
    """kubectl delete -k manifests/ (the natural uninstall) must not delete the CRDs, and with them every object."""
    kubectl = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not kubectl:
        pytest.skip("no kubectl: set KUBECTL or put kubectl on PATH")
    out = subprocess.run([kubectl, "kustomize", str(MANIFESTS / "crds")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    crds = [doc for doc in yaml.safe_load_all(out.stdout) if doc]
    expected = [crd["metadata"]["name"] for crd in crdgen.all_crds().values()]
    assert sorted(doc["metadata"]["name"] for doc in crds) == sorted(expected)
    assert {d["kind"] for d in crds} == {"CustomResourceDefinition"}
