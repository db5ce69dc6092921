"""The client sends each request once: a busy server's 429 or 5xx is raised at once (the reconcile hands the
job's key back to the work queue, which owns the backoff), with the Retry-After it asked for."""

from __future__ import annotations

import asyncio

import kmock
import pytest
from kubernetes.client.exceptions import ApiException

from clonejob_operator.faults import classify
from clonejob_operator.kube import Kube, retry_after
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME

PATH = "/apis/cdi.kubevirt.io/v1beta1/namespaces/ns/datavolumes/a"
BODY = {"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume", "metadata": {"name": "a", "namespace": "ns"}}


@pytest.mark.asyncio
async def test_the_operators_client_raises_a_busy_answer_at_once_with_its_retry_after(
    kmock: kmock.KubernetesEmulator, mock_kube: Kube
) -> None:
    operator = Kube(mock_kube.configuration, patient=False)
    await asyncio.to_thread(operator.create, DATA_VOLUME, "ns", BODY)
    before = len(list(kmock[f"get {PATH}"]))
    busy = {"now": True}
    kmock[f"get {PATH}"][lambda _: busy["now"]] << 429 << kmock.headers("Retry-After: 3")
    with pytest.raises(ApiException) as caught:
        await asyncio.to_thread(operator.get, DATA_VOLUME, "ns", "a")
    assert caught.value.status == 429 and retry_after(caught.value) == 3.0
    assert classify(caught.value, "reading").retry_after == 3.0
    assert len(list(kmock[f"get {PATH}"])) == before + 1, "no retry, no sleep in the worker"
    assert mock_kube.configuration.retries is None, "the configuration it was made from keeps its own patience"
    busy["now"] = False
    body = await asyncio.to_thread(operator.get, DATA_VOLUME, "ns", "a")
    assert body is not None and body["metadata"]["name"] == "a"


@pytest.mark.asyncio
async def test_a_command_lines_client_waits_out_a_short_retry_after(
    kmock: kmock.KubernetesEmulator, mock_kube: Kube
) -> None:
    await asyncio.to_thread(mock_kube.create, DATA_VOLUME, "ns", BODY)
    answers = iter([True, False])
    kmock[f"get {PATH}"][lambda _: next(answers, False)] << 429 << kmock.headers("Retry-After: 0")
    body = await asyncio.to_thread(mock_kube.get, DATA_VOLUME, "ns", "a")
    assert body is not None and body["metadata"]["name"] == "a"


@pytest.mark.asyncio
async def test_server_errors_are_raised_at_once(kmock: kmock.KubernetesEmulator, mock_kube: Kube) -> None:
    kmock[f"get {PATH}"] << 503
    with pytest.raises(ApiException) as caught:
        await asyncio.to_thread(mock_kube.get, DATA_VOLUME, "ns", "a")
    assert caught.value.status == 503
    assert len(list(kmock[f"get {PATH}"])) == 1


@pytest.mark.asyncio
async def test_forbidden_is_not_retried(kmock: kmock.KubernetesEmulator, mock_kube: Kube) -> None:
    kmock[f"get {PATH}"] << 403
    with pytest.raises(ApiException) as caught:
        await asyncio.to_thread(mock_kube.get, DATA_VOLUME, "ns", "a")
    assert caught.value.status == 403
    assert len(list(kmock[f"get {PATH}"])) == 1


def test_a_write_asks_the_fence_and_a_read_does_not() -> None:
    from kubernetes.client import Configuration

    from clonejob_operator.kube import NotLeading

    kube = Kube(Configuration())
    sent: list[str] = []
    kube.fence = lambda: False
    with pytest.raises(NotLeading):
        kube.call(lambda **_: sent.append("write"), write=True)
    assert sent == [], "not sent: the Lease is gone"
    assert kube.call(lambda **_: "read") == "read"
    kube.fence = lambda: True
    kube.call(lambda **_: sent.append("write"), write=True)
    assert sent == ["write"]


@pytest.mark.asyncio
async def test_an_api_group_that_is_off_is_named_in_one_line(kmock: kmock.KubernetesEmulator, mock_kube: Kube) -> None:
    """adaptingOs where batch/v1 is not enabled: no raw '404 page not found' body, no stray newline."""
    from clonejob_operator.kube import KindNotServed
    from clonejob_operator.targets.kubevirt.kinds import BATCH_JOB

    kmock["post /apis/batch/v1/namespaces/ns/jobs"] << 404 << b"404 page not found\n"
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "a", "namespace": "ns"}}
    with pytest.raises(KindNotServed) as caught:
        await asyncio.to_thread(mock_kube.create, BATCH_JOB, "ns", job)
    message = str(caught.value)
    assert message.startswith(
        "the API server does not serve jobs.batch/v1 (Job): the API group batch/v1 is not enabled"
    )
    assert "\n" not in message and "page not found" not in message
