"""Creating products idempotently: after a crash or a race, adopt only what carries this job's uid."""

from __future__ import annotations

import asyncio

import kmock
import pytest

from clonejob_operator import names
from clonejob_operator.codes import Code, JobError
from clonejob_operator.kube import DATA_VOLUME, Kube
from clonejob_operator.targets.base import create_owned


def manifest(uid: str) -> dict[str, object]:
    return {
        "apiVersion": DATA_VOLUME.api_version,
        "kind": DATA_VOLUME.kind,
        "metadata": {"name": "d", "namespace": "ns", "labels": {names.LABEL_JOB_UID: uid}},
        "spec": {},
    }


@pytest.mark.asyncio
async def test_an_existing_product_of_this_job_is_adopted(kmock: kmock.KubernetesEmulator, mock_kube: Kube) -> None:
    await asyncio.to_thread(mock_kube.create, DATA_VOLUME, "ns", manifest("mine"))
    adopted = await asyncio.to_thread(create_owned, mock_kube, DATA_VOLUME, manifest("mine"), "mine")
    assert adopted["metadata"]["labels"][names.LABEL_JOB_UID] == "mine"
    requests = kmock[kmock.resource("cdi.kubevirt.io/v1beta1/datavolumes")]
    assert len([r for r in requests if r.method == "POST"]) == 2


@pytest.mark.asyncio
async def test_somebody_elses_object_is_refused(kmock: kmock.KubernetesEmulator, mock_kube: Kube) -> None:
    await asyncio.to_thread(mock_kube.create, DATA_VOLUME, "ns", manifest("theirs"))
    with pytest.raises(JobError) as caught:
        await asyncio.to_thread(create_owned, mock_kube, DATA_VOLUME, manifest("mine"), "mine")
    assert caught.value.code is Code.ALREADY_EXISTS and "DataVolume d already exists" in caught.value.message
