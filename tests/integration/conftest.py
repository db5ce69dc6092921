"""Cluster fixtures: CRDs installed once per session, one namespace per test, everything removed after."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import urllib3
import yaml
from kubernetes.client.exceptions import ApiException

from clonejob_demo import standins
from clonejob_operator import crdgen
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, TARGET_PROJECT, Kube
from clonejob_operator.sources.volsync.kinds import REPLICATION_DESTINATION
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME, VIRTUAL_MACHINE, VOLUME_SNAPSHOT
from tests.integration.kit import CHART_IDENTITIES, World, after, clean_up, wait_for

pytestmark = pytest.mark.cluster


def _crd_api(kube: Kube):  # type: ignore[no-untyped-def]
    import kubernetes

    return kubernetes.client.ApiextensionsV1Api(kube.api_client)


def _established(api, name: str) -> bool:  # type: ignore[no-untyped-def]
    crd = api.read_custom_resource_definition(name)
    return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])


INSTALLED_BY_TESTS = "clonejob-operator.test/installed"
"""The label of a CRD the tests installed (and remove at the end, even after a run killed before its end)."""


@pytest.fixture(scope="session")
def kube(cluster_kubeconfig: str) -> Iterator[Kube]:
    import os

    import kubernetes

    client = Kube.from_kubeconfig(cluster_kubeconfig)
    try:
        kubernetes.client.VersionApi(client.api_client).get_code(_request_timeout=5)
    except ApiException:
        pass  # it answered: reachable
    except (urllib3.exceptions.HTTPError, OSError) as error:
        reason = f"the test cluster in {cluster_kubeconfig} is not reachable: {error}"
        if os.environ.get("CLONEJOB_TEST_REQUIRE_CLUSTER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    api = _crd_api(client)
    created: list[str] = []
    real = product_crds()
    docs: list[tuple[Any, bool]] = [
        *((doc, False) for doc in crdgen.all_crds().values()),
        *((doc, True) for doc in real),
        *((doc, False) for doc in ([] if real else standins.crds())),
    ]
    for doc, is_real in docs:
        _install(api, doc, created, real=is_real)
    for crd_name in [doc["metadata"]["name"] for doc, _ in docs]:
        wait_for(lambda name=crd_name: _established(api, name), 30, f"CRD {crd_name}")  # type: ignore[misc]
    yield client
    for name in created:
        api.delete_custom_resource_definition(name)


PRODUCT_CRDS = "CLONEJOB_TEST_PRODUCT_CRDS"
"""A folder of the real CRDs of the products and sources (CDI, KubeVirt, external-snapshotter, VolSync): installed
wherever the cluster lacks them (a stand-in counts as lacking), so that every object a test or the operator makes
is checked against the real schema. Without it, the stand-ins (which keep any field) are installed instead."""


def product_crds() -> list[Any]:
    folder = os.environ.get(PRODUCT_CRDS)
    if not folder:
        if os.environ.get("CLONEJOB_TEST_REQUIRE_PRODUCT_CRDS") == "1":
            pytest.fail(f"{PRODUCT_CRDS} is not set: the integration tests must run against the real product CRDs")
        return []
    paths = sorted(Path(folder).glob("*.yaml"))
    if not paths:
        pytest.fail(f"{PRODUCT_CRDS}={folder} holds no CRD")
    return [yaml.safe_load(path.read_text()) for path in paths]


def _let_go(api: Any, crd: Any) -> None:
    """A CRD an earlier run installed and deleted a moment after (its storage still initialising) can stay
    Terminating for minutes: the API server retries the removal of its objects slowly. Such a CRD, the tests'
    own, is let go of (its objects were in the tests' namespaces, removed with them)."""
    conditions = {c.type: c for c in (crd.status.conditions or [])} if crd.status else {}
    stuck = conditions.get("Terminating")
    ours = (crd.metadata.labels or {}).get(INSTALLED_BY_TESTS) == "true"
    if ours and stuck is not None and stuck.reason == "InstanceDeletionFailed":
        patch = {"metadata": {"finalizers": None, "resourceVersion": crd.metadata.resource_version}}
        with contextlib.suppress(ApiException):  # gone meanwhile, or changed: the wait below says the rest
            api.patch_custom_resource_definition(crd.metadata.name, patch)


def _gone(api: Any, name: str) -> bool:
    try:
        api.read_custom_resource_definition(name)
    except ApiException as error:
        if error.status == 404:
            return True
        raise
    return False


def _install(api: Any, doc: Any, created: list[str], real: bool) -> None:
    """Install one CRD, or bring it up to date when it is ours (the project's own, or one the tests installed).

    A real product CRD replaces a stand-in; a real one installed by somebody else is left alone, as is any CRD
    of the products when only the stand-ins are at hand.
    """
    name = doc["metadata"]["name"]
    labels = doc["metadata"].setdefault("labels", {})
    try:
        current = api.read_custom_resource_definition(name)
        if current.metadata.deletion_timestamp is not None:  # an earlier run's teardown: let it finish first
            _let_go(api, current)
            wait_for(lambda: _gone(api, name), 60, f"CRD {name}, being deleted, to go")
            raise ApiException(status=404)
    except ApiException as error:
        if error.status != 404:
            raise
        labels[INSTALLED_BY_TESTS] = "true"
        api.create_custom_resource_definition(doc)
        created.append(name)
        return
    present = current.metadata.labels or {}
    # Installed by a run killed before its teardown, or a stand-in where the real one is at hand: this run
    # replaces it and removes it at its end.
    ours = present.get(INSTALLED_BY_TESTS) == "true" or (real and present.get(standins.LABEL) == "true")
    if ours:
        labels[INSTALLED_BY_TESTS] = "true"
        created.append(name)
    product = real or standins.is_stand_in(doc)
    if not product or ours:  # our own CRDs are brought up to date; a real KubeVirt/CDI CRD is left alone
        doc["metadata"]["resourceVersion"] = current.metadata.resource_version
        api.replace_custom_resource_definition(name, doc)


@contextmanager
def test_namespace(kube: Kube) -> Iterator[str]:
    """A namespace of the test's own (made where the server serves namespaces), emptied and removed after."""
    name = f"cjt-{uuid.uuid4().hex[:8]}"
    made_namespace = False
    try:
        labels = {"clonejob-operator.test": "true"}
        kube.core.create_namespace(
            kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=name, labels=labels))
        )
        made_namespace = True
    except ApiException as error:
        if error.status != 403:  # a CRD-only API server refuses core objects; custom objects still work
            raise
    try:
        yield name
    finally:
        clean_up(name)
        clear_namespace(kube, name)
        if made_namespace:
            kube.core.delete_namespace(name)


def clear_namespace(kube: Kube, name: str) -> None:
    """Remove every object of ours and of the stand-ins' kinds from a test's namespace, finalizers and all."""
    for kind in (
        CLONE_JOB,
        VIRTUAL_MACHINE,
        DATA_VOLUME,
        MIGRATING_VM,
        REPLICATION_DESTINATION,
        VOLUME_SNAPSHOT,
        TARGET_PROJECT,
    ):
        for item in kube.list(kind, name):
            if item["metadata"].get("finalizers"):
                kube.patch(kind, name, item["metadata"]["name"], {"metadata": {"finalizers": None}})
            kube.delete(kind, name, item["metadata"]["name"])


@pytest.fixture
def namespace(kube: Kube) -> Iterator[str]:
    with test_namespace(kube) as name:
        yield name


@pytest.fixture
def other_namespace(kube: Kube) -> Iterator[str]:
    """A second namespace, for what must never reach across namespaces."""
    with test_namespace(kube) as name:
        yield name


@pytest.fixture
def world(kube: Kube, namespace: str) -> World:
    return World(kube, namespace)


def _serves_core(kube: Kube, namespace: str) -> bool:
    try:
        kube.core.list_namespaced_service_account(namespace, limit=1)
        return True
    except ApiException as error:
        if error.status == 403:  # a CRD-only server: there is no identity to run as
            return False
        raise


@pytest.fixture
def operator_kube(kube: Kube, namespace: str) -> Kube:
    """The operator as the chart runs it for a namespace list: a ServiceAccount whose Role in the test's
    namespace holds exactly the rules of ``permissions.namespaced()``, speaking with that account's token.
    On a server without core objects or RBAC it is the test's own client."""
    from clonejob_operator import permissions

    if not _serves_core(kube, namespace):
        return kube
    return chart_identity(kube, namespace, permissions.namespaced())


def token_kube(kube: Kube, namespace: str, account: str) -> Kube:
    """A client speaking as ServiceAccount ``namespace/account``, with a token issued for it (an hour)."""
    k = kubernetes.client
    request = k.AuthenticationV1TokenRequest(spec=k.V1TokenRequestSpec(audiences=[], expiration_seconds=3600))
    issued = kube.core.create_namespaced_service_account_token(account, namespace, request)
    assert issued.status is not None
    configuration = kubernetes.client.Configuration()
    configuration.host = kube.configuration.host
    configuration.ssl_ca_cert = kube.configuration.ssl_ca_cert
    configuration.verify_ssl = kube.configuration.verify_ssl
    configuration.api_key = {"authorization": f"Bearer {issued.status.token}"}
    return Kube(configuration)


def chart_identity(kube: Kube, namespace: str, granted: Sequence[Any], cluster: Sequence[Any] | None = None) -> Kube:
    """A client speaking as a new ServiceAccount of ``namespace`` whose Role there holds ``granted``, and whose
    ClusterRole holds ``cluster`` (default: the operator's cluster-scoped reads), removed with the namespace."""
    from clonejob_operator import permissions

    k = kubernetes.client
    rbac = k.RbacAuthorizationV1Api(kube.api_client)
    cluster_rules = [
        k.V1PolicyRule(api_groups=[rule.group], resources=list(rule.resources), verbs=list(rule.verbs))
        for rule in (permissions.cluster_scoped() if cluster is None else cluster)
    ]
    if cluster_rules:
        role = f"{namespace}-clonejob-operator"
        rbac.create_cluster_role(k.V1ClusterRole(metadata=k.V1ObjectMeta(name=role), rules=cluster_rules))
        after(namespace, lambda: rbac.delete_cluster_role(role))
        subject = k.RbacV1Subject(kind="ServiceAccount", name="clonejob-operator", namespace=namespace)
        ref = k.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role)
        binding = k.V1ClusterRoleBinding(metadata=k.V1ObjectMeta(name=role), role_ref=ref, subjects=[subject])
        rbac.create_cluster_role_binding(binding)
        after(namespace, lambda: rbac.delete_cluster_role_binding(role))
    account = "clonejob-operator"
    kube.core.create_namespaced_service_account(namespace, k.V1ServiceAccount(metadata=k.V1ObjectMeta(name=account)))
    rules = [
        k.V1PolicyRule(api_groups=[rule.group], resources=list(rule.resources), verbs=list(rule.verbs))
        for rule in granted
    ]
    rbac.create_namespaced_role(namespace, k.V1Role(metadata=k.V1ObjectMeta(name=account), rules=rules))
    rbac.create_namespaced_role_binding(
        namespace,
        k.V1RoleBinding(
            metadata=k.V1ObjectMeta(name=account),
            role_ref=k.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name=account),
            subjects=[k.RbacV1Subject(kind="ServiceAccount", name=account, namespace=namespace)],
        ),
    )
    identity = token_kube(kube, namespace, account)
    CHART_IDENTITIES.add(id(identity))
    return identity
