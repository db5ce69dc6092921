"""Tenants on the full API server: people bound to roles in a test's namespace, spoken for by impersonation."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import kubernetes
import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from clonejob_operator.kube import Kube
from tests.chart.conftest import CHART, find_helm
from tests.integration.conftest import _serves_core

CARELESS = [{"apiGroups": ["vmmigration.dev"], "resources": ["*"], "verbs": ["*"]}]
"""What a careless admin grants a team: every vmmigration.dev resource, /status included."""


def full_server(kube: Kube, namespace: str) -> None:
    if not _serves_core(kube, namespace):
        pytest.skip("this API server has no RBAC (a CRD-only server)")


def as_user(kube: Kube, user: str) -> Kube:
    """A client that speaks for ``user`` (impersonation by the test's own cluster-admin identity)."""
    tenant = Kube(kube.configuration)
    tenant.api_client.set_default_header("Impersonate-User", user)  # type: ignore[no-untyped-call]
    return tenant


def tenant(kube: Kube, namespace: str, *, role: str | None = None, rules: list[dict[str, Any]] | None = None) -> Kube:
    """A person bound in ``namespace`` to the ClusterRole ``role`` (``edit``, ``view``...) or to a Role of ``rules``."""
    rbac: Any = kubernetes.client.RbacAuthorizationV1Api(kube.api_client)
    user = f"tenant-{uuid.uuid4().hex[:6]}"
    if rules is not None:
        rbac.create_namespaced_role(namespace, {"metadata": {"name": user}, "rules": rules})
    kind, name = ("Role", user) if rules is not None else ("ClusterRole", role)
    ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}
    binding = {"metadata": {"name": user}, "roleRef": ref, "subjects": [{"kind": "User", "name": user}]}
    rbac.create_namespaced_role_binding(namespace, binding)
    return as_user(kube, user)


def refused(call: Any) -> ApiException:
    """The API server's refusal of ``call`` (a test fails when it is accepted)."""
    try:
        call()
    except ApiException as error:
        return error
    raise AssertionError("the API server accepted it")


@contextmanager
def chart_objects(kube: Kube, template: str, namespace: str, *sets: str) -> Iterator[list[dict[str, Any]]]:
    """The chart's ``templates/TEMPLATE`` rendered for a release of its own in ``namespace``, applied to the
    cluster (cluster-scoped ones too), and removed after."""
    release = f"cjt-{uuid.uuid4().hex[:6]}"
    command = [find_helm(), "template", release, str(CHART), "-n", namespace, "--show-only", f"templates/{template}"]
    for item in sets:
        command += ["--set", item]
    rendered = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    docs = [doc for doc in yaml.safe_load_all(rendered) if doc]
    made: list[tuple[str, str | None, str]] = []
    try:
        for doc in docs:
            namespaced = doc["metadata"].get("namespace")
            _api(kube, doc["kind"], "create", namespaced, doc)
            made.append((doc["kind"], namespaced, doc["metadata"]["name"]))
        yield docs
    finally:
        for kind, namespaced, name in reversed(made):
            _api(kube, kind, "delete", namespaced, name)


def _api(kube: Kube, kind: str, verb: str, namespace: str | None, what: Any) -> None:
    """Create or delete one object of the kinds the chart renders, through the client's typed APIs."""
    apis: dict[str, tuple[Any, str]] = {
        "ValidatingAdmissionPolicy": (kubernetes.client.AdmissionregistrationV1Api, "validating_admission_policy"),
        "ValidatingAdmissionPolicyBinding": (
            kubernetes.client.AdmissionregistrationV1Api,
            "validating_admission_policy_binding",
        ),
        "ClusterRole": (kubernetes.client.RbacAuthorizationV1Api, "cluster_role"),
        "Role": (kubernetes.client.RbacAuthorizationV1Api, "namespaced_role"),
        "RoleBinding": (kubernetes.client.RbacAuthorizationV1Api, "namespaced_role_binding"),
    }
    api_class, noun = apis[kind]
    method = getattr(api_class(kube.api_client), f"{verb}_{noun}")
    if namespace is None:
        method(what)
    elif verb == "create":
        method(namespace, what)
    else:
        method(what, namespace)
