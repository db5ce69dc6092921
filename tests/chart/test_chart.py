"""The Helm chart: lint, CRDs, schema-valid output, least-privilege RBAC, restricted pods, value checking."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest
import yaml

from clonejob_operator import crdgen, permissions
from tests.chart.conftest import CHART, rules_of, run_helm

Render = Callable[..., list[dict[str, Any]]]


def kinds(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def operator_role(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (role,) = [doc for doc in kinds(docs, "ClusterRole") if doc["metadata"]["name"] == "cj-clonejob-operator"]
    return role


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


def test_deployment_is_two_leader_elected_restricted_pods(render: Render) -> None:
    (deployment,) = kinds(render(), "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 2 and spec["strategy"]["type"] == "RollingUpdate"
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
    assert args[:7] == [
        "--leader-elect",
        "--leader-elect-namespace=clonejob-system",
        "--leader-elect-id=cj-clonejob-operator",
        "--leader-elect-lease-duration=15s",
        "--leader-elect-renew-deadline=10s",
        "--leader-elect-retry-period=2s",
        "--all-namespaces",
    ]
    assert "--standalone" not in args
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in container["env"]}
    assert env["POD_NAME"] == "metadata.name" and env["POD_NAMESPACE"] == "metadata.namespace"
    assert "--liveness=http://0.0.0.0:8080/healthz" in args and "--metrics-port=8000" in args
    assert "--step-timeout=preparingVmDisks=6h" in args
    assert container["image"] == "ghcr.io/clonejob-operator/clonejob-operator:0.1.0"


def test_replicas_spread_across_nodes_with_a_disruption_budget(render: Render) -> None:
    docs = render()
    (budget,) = kinds(docs, "PodDisruptionBudget")
    (deployment,) = kinds(docs, "Deployment")
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert budget["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": selector}}
    (term,) = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    hostname = {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": selector}}
    assert term["podAffinityTerm"] == hostname
    (replaced,) = kinds(render("affinity.podAffinity.x=1"), "Deployment")
    assert replaced["spec"]["template"]["spec"]["affinity"] == {"podAffinity": {"x": 1}}  # the user's, whole
    assert not kinds(render("replicaCount=1"), "PodDisruptionBudget")


def test_one_standalone_replica_without_leader_election(render: Render, helm: str) -> None:
    docs = render("replicaCount=1", "leaderElection.enabled=false")
    (deployment,) = kinds(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "--standalone" and not [a for a in args if a.startswith("--leader-elect")]
    assert not [d for d in docs if d["kind"] == "Role" and "leader-election" in d["metadata"]["name"]]
    refused = run_helm(helm, "template", "cj", str(CHART), "--set", "leaderElection.enabled=false", check=False)
    assert refused.returncode != 0 and "replicaCount above 1 needs leaderElection.enabled" in refused.stderr


def test_the_lease_role_is_in_the_release_namespace_only(render: Render) -> None:
    for sets in ((), ("watch.namespaces={team-a,team-b}",)):
        docs = render(*sets)
        leases = [d for d in kinds(docs, "Role") if d["rules"] == rules_of(permissions.LEADER_ELECTION)]
        assert [d["metadata"]["namespace"] for d in leases] == ["clonejob-system"]
        assert all("leases" not in str(d["rules"]) for d in kinds(docs, "ClusterRole"))
        (binding,) = [b for b in kinds(docs, "RoleBinding") if b["roleRef"]["name"] == leases[0]["metadata"]["name"]]
        assert binding["metadata"]["namespace"] == "clonejob-system"


def test_all_namespaces_uses_one_cluster_role_with_exactly_the_needed_rules(render: Render) -> None:
    docs = render()
    assert [r["rules"] for r in kinds(docs, "Role")] == [
        rules_of(permissions.LEADER_ELECTION),
        rules_of(permissions.SEAL_KEY),
    ]
    role = operator_role(docs)
    assert role["rules"] == rules_of(permissions.namespaced() + permissions.CLUSTER_WIDE_ONLY)
    (binding,) = [b for b in kinds(docs, "ClusterRoleBinding") if b["roleRef"]["name"] == "cj-clonejob-operator"]
    assert binding["subjects"][0]["name"] == kinds(docs, "ServiceAccount")[0]["metadata"]["name"]


def test_namespace_list_uses_a_role_per_namespace(render: Render) -> None:
    docs = render("watch.namespaces={team-a,team-b}")
    assert not [r for r in kinds(docs, "ClusterRole") if r["metadata"]["name"] == "cj-clonejob-operator"]
    (reads,) = [r for r in kinds(docs, "ClusterRole") if r["metadata"]["name"] == "cj-clonejob-operator-cluster-reads"]
    assert reads["rules"] == rules_of(permissions.cluster_scoped()), "cluster-scoped reads need a ClusterRole"
    assert [b["roleRef"]["name"] for b in kinds(docs, "ClusterRoleBinding")] == ["cj-clonejob-operator-cluster-reads"]
    own = (rules_of(permissions.LEADER_ELECTION), rules_of(permissions.SEAL_KEY))
    roles = [r for r in kinds(docs, "Role") if r["rules"] not in own]
    assert [r["metadata"]["namespace"] for r in roles] == ["team-a", "team-b"]
    assert all(role["rules"] == rules_of(permissions.namespaced()) for role in roles)
    bindings = [
        b for b in kinds(docs, "RoleBinding") if not b["metadata"]["name"].endswith(("-leader-election", "-seal-key"))
    ]
    assert [b["metadata"]["namespace"] for b in bindings] == ["team-a", "team-b"]
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


def test_optional_alerts_name_only_metrics_the_operator_exports(render: Render) -> None:
    import re

    from clonejob_operator.metrics import Metrics

    assert not kinds(render("metrics.prometheusRule.enabled=true", "metrics.enabled=false"), "PrometheusRule")
    assert not kinds(render(), "PrometheusRule")
    enabled = render("metrics.prometheusRule.enabled=true", "metrics.prometheusRule.labels.team=ops")
    (rule,) = kinds(enabled, "PrometheusRule")
    assert rule["metadata"]["labels"]["team"] == "ops"
    (group,) = rule["spec"]["groups"]
    alerts = {alert["alert"]: alert for alert in group["rules"]}
    assert sorted(alerts) == [
        "CloneJobFeedRefused",
        "CloneJobOperatorNotLeading",
        "CloneJobsFailed",
        "MigratingVmInError",
    ]
    exported = {metric.name for metric in Metrics().registry.collect()}
    for name, alert in alerts.items():
        used = set(re.findall(r"(clonejob_[a-z_]+)\{", alert["expr"]))
        counters = {metric.removesuffix("_total") for metric in used}
        assert used and counters <= exported, (name, used, exported)
        assert f'namespace="{rule["metadata"]["namespace"]}"' in alert["expr"], "this install's replicas only"
    assert "{{ $labels.code }}" in alerts["CloneJobsFailed"]["annotations"]["summary"], "left for Prometheus"


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("operator.maxActiv=3", "maxActiv"),
        ("watch.namespace=a", "namespace"),
        ("operator.pendingDeadline=soon", "pendingDeadline"),
        ("image.pullPolicy=Sometimes", "pullPolicy"),
        ("leaderElection.leaseDuration=1.5s", "leaseDuration"),
        ("leaderElection.renewDeadline=soon", "renewDeadline"),
        ("replicaCount=-1", "replicaCount"),
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
    assert "Once it is ready, it watches the namespace team-a." in installed.stdout
    assert "is running" not in installed.stdout, "a dry run runs nothing"
    assert "a Deployment\nof 2 replicas, its ServiceAccount and RBAC" in installed.stdout
    assert "rollout status deployment/cj-clonejob-operator" in installed.stdout
    assert "helm show crds" in installed.stdout
    several = run_helm(helm, "install", "cj", str(CHART), "--dry-run=client", "--set", "watch.namespaces={a,b}")
    assert "it watches the namespaces a, b." in several.stdout
    everywhere = run_helm(helm, "install", "cj", str(CHART), "--dry-run=client")
    assert "it watches all namespaces." in everywhere.stdout


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
    env = {e["name"]: e.get("value") for e in container["env"]}
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


def test_a_google_key_without_ambient_credentials_is_refused(helm: str) -> None:
    """The key is the operator's own identity, which it lends only with allowAmbientCredentials."""
    alone = run_helm(helm, "template", "x", str(CHART), "--set", "googleCredentials.secretName=sa", check=False)
    assert alone.returncode != 0 and "/operator/allowAmbientCredentials" in alone.stderr
    both = ("googleCredentials.secretName=sa", "operator.allowAmbientCredentials=true")
    assert run_helm(helm, "template", "x", str(CHART), *[a for s in both for a in ("--set", s)]).returncode == 0
    ambient = run_helm(helm, "template", "x", str(CHART), "--set", "operator.allowAmbientCredentials=true")
    assert ambient.returncode == 0, "Workload Identity needs no key"


def test_the_sealing_key_is_read_by_name_in_the_release_namespace_only(render: Render) -> None:
    for sets in ((), ("watch.namespaces={team-a}",)):
        docs = render(*sets)
        (role,) = [d for d in kinds(docs, "Role") if d["metadata"]["name"] == "cj-clonejob-operator-seal-key"]
        assert role["metadata"]["namespace"] == "clonejob-system"
        assert role["rules"] == rules_of(permissions.SEAL_KEY)
        args = kinds(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
        assert "--seal-key=secret:clonejob-system/cj-clonejob-operator-seal" in args


def test_tenant_roles_aggregate_into_view_edit_and_admin_without_any_status(render: Render) -> None:
    roles = {d["metadata"]["name"]: d for d in kinds(render(), "ClusterRole")}
    view, edit = roles["cj-clonejob-operator-view"], roles["cj-clonejob-operator-edit"]
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"
    for role in (view, edit):
        resources = {resource for rule in role["rules"] for resource in rule["resources"]}
        assert resources == {"clonejobs", "migratingvms", "targetprojects"}, "no /status, no AdaptationProfiles"
    replication = roles["cj-clonejob-operator-replication"]
    assert not [k for k in replication["metadata"]["labels"] if k.startswith("rbac.authorization.k8s.io/aggregate")]
    assert {r for rule in replication["rules"] for r in rule["resources"]} == {"migratingvms", "migratingvms/status"}
    assert not [d for d in kinds(render("rbac.tenantRoles=false"), "ClusterRole") if "-view" in d["metadata"]["name"]]


def test_the_status_policy_names_the_operators_account_and_the_watched_namespaces(render: Render) -> None:
    docs = render("watch.namespaces={team-a,team-b}")
    (policy,) = kinds(docs, "ValidatingAdmissionPolicy")
    (binding,) = kinds(docs, "ValidatingAdmissionPolicyBinding")
    (account,) = kinds(docs, "ServiceAccount")
    operator = f"system:serviceaccount:clonejob-system:{account['metadata']['name']}"
    assert f"'{operator}'" in policy["spec"]["variables"][0]["expression"]
    assert policy["spec"]["matchConstraints"]["resourceRules"][0]["resources"] == [
        "clonejobs/status",
        "migratingvms/status",
    ]
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    (selector,) = binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"]
    assert selector["values"] == ["team-a", "team-b"]
    assert "matchResources" not in kinds(render(), "ValidatingAdmissionPolicyBinding")[0]["spec"]  # every namespace
    assert not kinds(render("statusPolicy.enabled=false"), "ValidatingAdmissionPolicy")


def test_a_kubevirt_only_install_reads_no_secrets(render: Render) -> None:
    for sets in (("rbac.readSecrets=false",), ("rbac.readSecrets=false", "watch.namespaces={team-a}")):
        docs = render(*sets)
        rules = [rule for doc in docs if doc["kind"] in ("ClusterRole", "Role") for rule in doc["rules"]]
        operator = [
            r for r in rules if "secrets" in r["resources"] and r["verbs"] == ["get"] and "resourceNames" not in r
        ]
        assert operator == [], "no Secret of a watched namespace can be read"
    assert "secrets" in str(operator_role(render())["rules"])
