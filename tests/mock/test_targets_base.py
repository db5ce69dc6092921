"""Creating products idempotently: after a crash or a race, adopt only what carries this job's uid."""

from __future__ import annotations

import asyncio

import kmock
import pytest

from clonejob_operator import names
from clonejob_operator.api.clonejob import CloneJobStatus
from clonejob_operator.codes import Code, JobError
from clonejob_operator.kube import Kube
from clonejob_operator.targets.base import JobContext, create_owned
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME


def manifest(uid: str, run: int | None = None) -> dict[str, object]:
    return {
        "apiVersion": DATA_VOLUME.api_version,
        "kind": DATA_VOLUME.kind,
        "metadata": {
            "name": "d",
            "namespace": "ns",
            "labels": names.product_labels("cj", uid, "web", names.run_of(run)),
        },
        "spec": {},
    }


def job(uid: str, run: int | None = None) -> JobContext:
    return JobContext("ns", "cj", uid, "web", CloneJobStatus(created_revision=run))


@pytest.mark.asyncio
async def test_an_existing_product_of_this_job_is_adopted(kmock: kmock.KubernetesEmulator, mock_kube: Kube) -> None:
    await asyncio.to_thread(mock_kube.create, DATA_VOLUME, "ns", manifest("mine"))
    made = await asyncio.to_thread(create_owned, mock_kube, DATA_VOLUME, manifest("mine"), job("mine"))
    assert made.adopted and made.ref.name == "d", "found made by this job: adopted, and said so"
    requests = kmock[kmock.resource("cdi.kubevirt.io/v1beta1/datavolumes")]
    assert len([r for r in requests if r.method == "POST"]) == 2


@pytest.mark.asyncio
async def test_somebody_elses_object_is_refused(kmock: kmock.KubernetesEmulator, mock_kube: Kube) -> None:
    await asyncio.to_thread(mock_kube.create, DATA_VOLUME, "ns", manifest("theirs"))
    with pytest.raises(JobError) as caught:
        await asyncio.to_thread(create_owned, mock_kube, DATA_VOLUME, manifest("mine"), job("mine"))
    assert caught.value.code is Code.ALREADY_EXISTS and "DataVolume d already exists" in caught.value.message


@pytest.mark.asyncio
async def test_a_product_of_an_earlier_run_of_the_same_job_is_refused(
    kmock: kmock.KubernetesEmulator, mock_kube: Kube
) -> None:
    """A job whose status was emptied and admitted again is another run: it never adopts the first run's products."""
    await asyncio.to_thread(mock_kube.create, DATA_VOLUME, "ns", manifest("mine", run=10))
    with pytest.raises(JobError) as caught:
        await asyncio.to_thread(create_owned, mock_kube, DATA_VOLUME, manifest("mine", run=42), job("mine", run=42))
    assert caught.value.code is Code.ALREADY_EXISTS
