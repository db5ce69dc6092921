"""The operator's frequent requests, sent through the official client's ApiClient without its generated methods:
the same paths, content types, credentials (refreshed per request) and errors as the generated methods."""

from __future__ import annotations

import asyncio

import kmock
import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException

from clonejob_operator.kube import ADAPTATION_PROFILE, CLONE_JOB, Kube
from clonejob_operator.rest import Paced, path
from clonejob_operator.targets.kubevirt.kinds import BATCH_JOB

JOBS = "/apis/vmmigration.dev/v1/namespaces/ns/clonejobs"


def test_paths_of_namespaced_cluster_scoped_and_core_kinds() -> None:
    assert path(CLONE_JOB, "ns", "a", "status") == f"{JOBS}/a/status"
    assert path(CLONE_JOB, None) == "/apis/vmmigration.dev/v1/clonejobs", "every namespace"
    assert path(ADAPTATION_PROFILE, "ignored", "p") == "/apis/vmmigration.dev/v1/adaptationprofiles/p"
    assert path(BATCH_JOB, "ns") == "/apis/batch/v1/namespaces/ns/jobs"
    core = BATCH_JOB.__class__("", "v1", "secrets", "Secret")
    assert path(core, "ns", "s") == "/api/v1/namespaces/ns/secrets/s"
    assert path(CLONE_JOB, "n/s", "a b") == "/apis/vmmigration.dev/v1/namespaces/n%2Fs/clonejobs/a%20b", "quoted"


@pytest.mark.asyncio
async def test_writes_carry_their_content_type_and_fresh_credentials(
    kmock: kmock.KubernetesEmulator, mock_kube: Kube
) -> None:
    tokens = iter(["one", "two", "three", "four"])

    def refresh(configuration: kubernetes.client.Configuration) -> None:
        configuration.api_key["BearerToken"] = f"Bearer {next(tokens)}"  # as a pod's rotated token is read again

    mock_kube.configuration.api_key["BearerToken"] = "Bearer zero"
    mock_kube.configuration.refresh_api_key_hook = refresh  # type: ignore[assignment]
    body = {"apiVersion": "vmmigration.dev/v1", "kind": "CloneJob", "metadata": {"name": "a", "namespace": "ns"}}
    created = await asyncio.to_thread(mock_kube.create, CLONE_JOB, "ns", body)
    assert created["metadata"]["name"] == "a"
    patched = await asyncio.to_thread(mock_kube.patch_status, CLONE_JOB, "ns", "a", {"status": {"state": "PENDING"}})
    assert patched["status"] == {"state": "PENDING"}
    await asyncio.to_thread(mock_kube.delete, CLONE_JOB, "ns", "a", "uid-1")
    await asyncio.to_thread(mock_kube.delete, CLONE_JOB, "ns", "gone", None, "42")  # 404: gone already is fine

    post, patch, delete = (
        list(kmock[f"post {JOBS}"]),
        list(kmock[f"patch {JOBS}/a/status"]),
        list(kmock[f"delete {JOBS}/a"]),
    )
    assert post[0].headers["Content-Type"] == "application/json"
    assert post[0].headers["Authorization"] == "Bearer one"
    assert patch[0].headers["Content-Type"] == "application/merge-patch+json"
    assert patch[0].headers["Authorization"] == "Bearer two", "the refresh hook is asked at every request"
    assert patch[0].data == {"status": {"state": "PENDING"}}
    assert delete[0].data == {"propagationPolicy": "Background", "preconditions": {"uid": "uid-1"}}
    assert delete[0].headers["Authorization"] == "Bearer three"
    unchanged = list(kmock[f"delete {JOBS}/gone"])
    assert unchanged[0].data == {"propagationPolicy": "Background", "preconditions": {"resourceVersion": "42"}}
    assert post[0].headers["User-Agent"] == mock_kube.api_client.user_agent


@pytest.mark.asyncio
async def test_a_listing_sends_its_selector_and_a_refusal_is_the_librarys_exception(
    kmock: kmock.KubernetesEmulator, mock_kube: Kube
) -> None:
    listed = await asyncio.to_thread(mock_kube.fresh_list, CLONE_JOB, "ns", "a=b")
    assert listed == []
    assert [dict(request.params) for request in kmock[f"get {JOBS}"]] == [{"labelSelector": "a=b"}]

    kmock[f"post {JOBS}"] << 422 << b'{"kind": "Status", "message": "spec.cancel: Invalid value"}'
    body = {"metadata": {"name": "x", "namespace": "ns"}, "spec": {"cancel": "yes"}}
    with pytest.raises(ApiException) as caught:
        await asyncio.to_thread(mock_kube.create, CLONE_JOB, "ns", body)
    assert caught.value.status == 422
    assert "spec.cancel: Invalid value" in (caught.value.body or "")


def test_the_refresh_hook_is_asked_once_a_second_at_most() -> None:
    now = [100.0]
    asked: list[float] = []
    paced = Paced(lambda _: asked.append(now[0]), clock=lambda: now[0])
    configuration = kubernetes.client.Configuration()
    for step in (0.0, 0.5, 0.4, 0.2, 1.5):
        now[0] += step
        paced(configuration)
    assert asked == pytest.approx([100.0, 101.1, 102.6])


def test_a_client_paces_its_configurations_hook_and_a_copy_paces_its_own() -> None:
    configuration = kubernetes.client.Configuration()
    configuration.refresh_api_key_hook = lambda c: None  # type: ignore[assignment]
    kube = Kube(configuration)
    assert isinstance(kube.configuration.refresh_api_key_hook, Paced)
    operator = Kube(kube.configuration, patient=False)  # a deep copy of the configuration
    hook = operator.configuration.refresh_api_key_hook
    assert isinstance(hook, Paced) and hook is not kube.configuration.refresh_api_key_hook
    Kube(operator.configuration)
    assert operator.configuration.refresh_api_key_hook is hook, "paced once"
