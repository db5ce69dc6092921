"""The chart's documented CRD upgrade works after a real helm install, once a CRD has changed (Helm 4 applies
CRDs under its own field manager, so a plain server-side apply conflicts on .spec.versions)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml

from clonejob_operator.kube import Kube
from tests.chart.conftest import CHART, find_helm


def _crd(group: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {"size": {"type": "integer"}, **(extra or {})}
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": properties}}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}],
        },
    }


def test_the_documented_crd_upgrade_works_after_a_helm_install(
    kube: Kube, namespace: str, cluster_kubeconfig: str, tmp_path: Path
) -> None:
    """The chart, with a CRD of the test's own in its crds/ (so that no real CRD is touched), installed with
    the real helm; then the CRD changes, as in a newer chart, and the README's command applies it."""
    helm = find_helm()
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("no kubectl on PATH")
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    shutil.rmtree(chart / "crds")
    (chart / "crds").mkdir()
    group = f"cjt-{uuid.uuid4().hex[:8]}.example"
    (chart / "crds" / "widgets.yaml").write_text(yaml.safe_dump(_crd(group)))
    release = f"cjt-{uuid.uuid4().hex[:6]}"
    env = {"KUBECONFIG": cluster_kubeconfig, "PATH": str(Path(kubectl).parent), "HOME": str(tmp_path)}
    light = [
        "--set",
        "statusPolicy.enabled=false",
        "--set",
        "rbac.tenantRoles=false",
        "--set",
        f"watch.namespaces={{{namespace}}}",
    ]
    api: Any = kubernetes.client.ApiextensionsV1Api(kube.api_client)

    def run(*args: str, given: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), input=given, capture_output=True, text=True, timeout=120, env=env)

    try:
        installed = run(helm, "install", release, str(chart), "-n", namespace, *light)
        assert installed.returncode == 0, installed.stderr
        managers = [m.manager for m in api.read_custom_resource_definition(f"widgets.{group}").metadata.managed_fields]
        assert any("helm" in (m or "") for m in managers), managers
        (chart / "crds" / "widgets.yaml").write_text(yaml.safe_dump(_crd(group, {"colour": {"type": "string"}})))
        shown = run(helm, "show", "crds", str(chart)).stdout
        plain = run(kubectl, "apply", "--server-side", "-f", "-", given=shown)
        assert plain.returncode != 0 and "conflict" in plain.stderr.lower(), "why the README says --force-conflicts"
        forced = run(kubectl, "apply", "--server-side", "--force-conflicts", "-f", "-", given=shown)
        assert forced.returncode == 0, forced.stderr
        schema = api.read_custom_resource_definition(f"widgets.{group}").spec.versions[0].schema.open_apiv3_schema
        assert "colour" in schema.properties["spec"].properties, "the changed CRD was applied"
    finally:
        run(helm, "uninstall", release, "-n", namespace)
        with contextlib.suppress(kubernetes.client.exceptions.ApiException):
            api.delete_custom_resource_definition(f"widgets.{group}")


def test_the_readme_and_the_notes_give_that_command() -> None:
    command = "helm show crds charts/clonejob-operator | kubectl apply --server-side --force-conflicts -f -"
    root = CHART.parents[1]
    assert command in (root / "README.md").read_text() and command in (CHART / "README.md").read_text()
    assert "kubectl apply --server-side --force-conflicts -f -" in (CHART / "templates" / "NOTES.txt").read_text()
