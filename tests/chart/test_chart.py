"""The Helm chart: lint, CRDs, schema-valid output, least-privilege RBAC, restricted pods, value checking."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest
import yaml

from clonejob_operator import crdgen, permissions
from tests.chart.conftest import CHART, run_helm

Render = Callable[..., list[dict[str, Any]]]


def kinds(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def rules_of(rules: tuple[permissions.Rule, ...]) -> list[dict[str, Any]]:
    return [{"apiGroups": [r.group], "resources": list(r.resources), "verbs": list(r.verbs)} for r in rules]


def test_lint_strict(helm: str) -> None:
    result = run_helm(helm, "lint", "--strict", str(CHART))
    assert "0 chart(s) failed" in result.stdout


def test_chart_crds_are_the_generated_crds() -> None:
    expected = {name: crdgen.render(crd) for name, crd in crdgen.all_crds().items()}
    assert {p.name: p.read_text() for p in (CHART / "crds").glob("*.yaml")} == expected


@pytest.mark.parametrize(
    "sets",
    [(), ("watch.namespaces={team-a,team-b}",), ("metrics.enabled=false",)],
    ids=["all-namespaces", "namespaced", "no-metrics"],
)
def test_output_is_valid_against_the_kubernetes_schemas(render: Render, sets: tuple[str, ...]) -> None:
    docs = render(*sets, crds=True)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, "1.33.0", strict=True)


def test_deployment_is_one_standalone_restricted_pod(render: Render) -> None:
    (deployment,) = kinds(render(), "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    args = container["args"]
    assert args[:2] == ["--standalone", "--all-namespaces"]
    assert "--liveness=http://0.0.0.0:8080/healthz" in args and "--metrics-port=8000" in args
    assert "--step-timeout=preparingVmDisks=6h" in args
    assert container["image"] == "ghcr.io/clonejob-operator/clonejob-operator:0.1.0"


def test_all_namespaces_uses_one_cluster_role_with_exactly_the_needed_rules(render: Render) -> None:
    docs = render()
    assert not kinds(docs, "Role") and not kinds(docs, "RoleBinding")
    (role,) = kinds(docs, "ClusterRole")
    assert role["rules"] == rules_of(permissions.NAMESPACED + permissions.CLUSTER_WIDE_ONLY)
    (binding,) = kinds(docs, "ClusterRoleBinding")
    assert binding["subjects"][0]["name"] == kinds(docs, "ServiceAccount")[0]["metadata"]["name"]


def test_namespace_list_uses_a_role_per_namespace(render: Render) -> None:
    docs = render("watch.namespaces={team-a,team-b}")
    assert not kinds(docs, "ClusterRole") and not kinds(docs, "ClusterRoleBinding")
    roles = kinds(docs, "Role")
    assert [r["metadata"]["namespace"] for r in roles] == ["team-a", "team-b"]
    assert all(role["rules"] == rules_of(permissions.NAMESPACED) for role in roles)
    assert [b["metadata"]["namespace"] for b in kinds(docs, "RoleBinding")] == ["team-a", "team-b"]
    args = kinds(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=team-a" in args and "--namespace=team-b" in args and "--all-namespaces" not in args


def test_no_wildcards_anywhere_in_rbac(render: Render) -> None:
    for sets in ((), ("watch.namespaces={a}",)):
        for doc in render(*sets):
            for rule in doc.get("rules", []):
                assert "*" not in str(rule), rule


def test_metrics_service_and_optional_service_monitor(render: Render) -> None:
    docs = render()
    (service,) = kinds(docs, "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    assert not kinds(docs, "ServiceMonitor")
    (monitor,) = kinds(render("metrics.serviceMonitor.enabled=true"), "ServiceMonitor")
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "interval": "30s"}]
    assert not kinds(render("metrics.enabled=false"), "Service")


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("operator.maxActiv=3", "maxActiv"),
        ("watch.namespace=a", "namespace"),
        ("operator.pendingDeadline=soon", "pendingDeadline"),
        ("image.pullPolicy=Sometimes", "pullPolicy"),
    ],
)
def test_bad_values_are_rejected_with_a_message(helm: str, value: str, complaint: str) -> None:
    result = run_helm(helm, "template", "cj", str(CHART), "--set", value, check=False)
    assert result.returncode != 0
    assert complaint in result.stderr and "values don't meet the specifications of the schema" in result.stderr


def test_readme_lists_every_value() -> None:
    readme = (CHART / "README.md").read_text()

    free_form = {"resources."}  # documented as a whole

    def leaves(node: Any, prefix: str = "") -> list[str]:
        if isinstance(node, dict) and node and prefix not in free_form:
            return [leaf for key, value in node.items() for leaf in leaves(value, f"{prefix}{key}.")]
        return [prefix.rstrip(".")]

    values = leaves(yaml.safe_load((CHART / "values.yaml").read_text()))
    missing = [value for value in values if not re.search(rf"`{re.escape(value)}`", readme)]
    assert missing == []


def test_helm_install_refuses_a_typo_and_shows_notes_otherwise(helm: str) -> None:
    refused = run_helm(
        helm,
        "install",
        "cj",
        str(CHART),
        "--dry-run=client",
        "--set",
        "metrics.servicemonitor.enabled=true",
        check=False,
    )
    assert refused.returncode != 0 and "servicemonitor" in refused.stderr
    installed = run_helm(helm, "install", "cj", str(CHART), "--dry-run=client", "--set", "watch.namespaces={team-a}")
    assert "watching the namespaces team-a" in installed.stdout
    assert "helm show crds" in installed.stdout


def test_google_identity_and_compute_endpoint_values(render: Render) -> None:
    (plain,) = kinds(render(), "Deployment")
    container = plain["spec"]["template"]["spec"]["containers"][0]
    assert not [a for a in container["args"] if "compute" in a or "ambient" in a]
    assert "google-credentials" not in str(plain)
    (deployment,) = kinds(
        render(
            "googleCredentials.secretName=google-sa",
            "operator.allowAmbientCredentials=true",
            "operator.computeEndpoint=http://proxy:8080",
        ),
        "Deployment",
    )
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert "--allow-ambient-credentials" in container["args"]
    assert "--compute-endpoint=http://proxy:8080" in container["args"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["GOOGLE_APPLICATION_CREDENTIALS"] == "/var/run/secrets/google/key.json"
    assert {"name": "google-credentials", "mountPath": "/var/run/secrets/google", "readOnly": True} in container[
        "volumeMounts"
    ]
    assert {"name": "google-credentials", "secret": {"secretName": "google-sa"}} in pod["volumes"]


def test_the_chart_refuses_a_cluster_too_old_for_its_crds(helm: str) -> None:
    """CEL rules with reason and fieldPath, and selectableFields, need Kubernetes 1.30 (the latter 1.31 GA)."""
    old = run_helm(helm, "template", "x", str(CHART), "--kube-version", "1.29.0", check=False)
    assert old.returncode != 0 and "kubeVersion" in old.stderr
    assert run_helm(helm, "template", "x", str(CHART), "--kube-version", "1.30.0", check=False).returncode == 0
