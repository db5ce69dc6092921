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


def test_a_write_asks_the_fence_before_every_attempt_and_a_read_does_not() -> None:
    from kubernetes.client import Configuration

    from clonejob_operator.kube import NotLeading

    kube = Kube(Configuration(), attempts=3)
    sent: list[str] = []
    answers = iter([ApiException(status=503), ApiException(status=503)])
    holding = iter([True, False])

    def write(**_: object) -> None:
        sent.append("write")
        raise next(answers)

    kube.fence = lambda: next(holding)
    with pytest.raises(NotLeading):
        kube.call(write, write=True)
    assert sent == ["write"], "the retry after the 503 was not sent: the Lease was gone by then"
    kube.fence = lambda: False
    assert kube.call(lambda **_: "read") == "read"


@pytest.mark.asyncio
async def test_an_api_group_that_is_off_is_named_in_one_line(kmock: kmock.KubernetesEmulator, mock_kube: Kube) -> None:
    """adaptingOs where batch/v1 is not enabled: no raw '404 page not found' body, no stray newline."""
    from clonejob_operator.kube import BATCH_JOB, KindNotServed

    kmock["post /apis/batch/v1/namespaces/ns/jobs"] << 404 << b"404 page not found\n"
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "a", "namespace": "ns"}}
    with pytest.raises(KindNotServed) as caught:
        await asyncio.to_thread(mock_kube.create, BATCH_JOB, "ns", job)
    message = str(caught.value)
    assert message.startswith(
        "the API server does not serve jobs.batch/v1 (Job): the API group batch/v1 is not enabled"
    )
    assert "\n" not in message and "page not found" not in message
