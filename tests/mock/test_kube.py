"""The client's answer to a busy API server: 429 and 5xx are retried with backoff, the rest are not."""

from __future__ import annotations

import asyncio

import kmock
import pytest
from kubernetes.client.exceptions import ApiException

from clonejob_operator.kube import DATA_VOLUME, Kube

PATH = "/apis/cdi.kubevirt.io/v1beta1/namespaces/ns/datavolumes/a"
BODY = {"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume", "metadata": {"name": "a", "namespace": "ns"}}


@pytest.mark.asyncio
async def test_too_many_requests_is_retried(kmock: kmock.KubernetesEmulator, mock_kube: Kube) -> None:
    await asyncio.to_thread(mock_kube.create, DATA_VOLUME, "ns", BODY)
    kmock[f"get {PATH}"][:2] << 429 << "Retry-After: 0"
    body = await asyncio.to_thread(mock_kube.get, DATA_VOLUME, "ns", "a")
    assert body is not None and body["metadata"]["name"] == "a"
    assert len(list(kmock[f"get {PATH}"])) == 3


@pytest.mark.asyncio
async def test_server_errors_are_retried_then_raised(kmock: kmock.KubernetesEmulator, mock_kube: Kube) -> None:
    kmock[f"get {PATH}"] << 503
    with pytest.raises(ApiException) as caught:
        await asyncio.to_thread(mock_kube.get, DATA_VOLUME, "ns", "a")
    assert caught.value.status == 503
    assert len(list(kmock[f"get {PATH}"])) == mock_kube.attempts


@pytest.mark.asyncio
async def test_forbidden_is_not_retried(kmock: kmock.KubernetesEmulator, mock_kube: Kube) -> None:
    kmock[f"get {PATH}"] << 403
    with pytest.raises(ApiException) as caught:
        await asyncio.to_thread(mock_kube.get, DATA_VOLUME, "ns", "a")
    assert caught.value.status == 403
    assert len(list(kmock[f"get {PATH}"])) == 1
