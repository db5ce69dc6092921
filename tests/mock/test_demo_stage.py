"""The demo refuses a cluster where a real controller's CRD is installed, before it makes anything."""

from __future__ import annotations

import asyncio
import copy
import io
from typing import Any

import kmock
import pytest

from clonejob_demo import stage, standins
from clonejob_operator import crdgen
from clonejob_operator.kube import Kube

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def _listing(*crds: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "CustomResourceDefinitionList", "apiVersion": "apiextensions.k8s.io/v1", "items": list(crds)}


@pytest.mark.asyncio
async def test_a_real_datavolume_crd_stops_the_demo_before_it_writes(
    kmock: kmock.KubernetesEmulator, mock_kube: Kube
) -> None:
    real = copy.deepcopy(next(c for c in standins.crds() if c["metadata"]["name"] == "datavolumes.cdi.kubevirt.io"))
    real["metadata"]["labels"] = {"operator.cdi.kubevirt.io": ""}  # CDI's own CRD
    kmock[f"get {CRDS}"] << _listing(real)
    with pytest.raises(stage.DemoError) as refused:
        await asyncio.to_thread(stage.Stage(mock_kube, "clonejob-demo", io.StringIO()).install_crds)
    assert "datavolumes.cdi.kubevirt.io is installed and is not a stand-in" in str(refused.value)
    assert "would fight" in str(refused.value)
    assert list(kmock) and [r for r in kmock if r.method != "GET"] == [], "read, and nothing written"


@pytest.mark.asyncio
async def test_crds_already_there_are_left_as_they_are(kmock: kmock.KubernetesEmulator, mock_kube: Kube) -> None:
    kmock[f"get {CRDS}"] << _listing(*standins.crds(), *crdgen.all_crds().values())
    shown = io.StringIO()
    made = stage.Stage(mock_kube, "clonejob-demo", shown)
    await asyncio.to_thread(made.install_crds)
    assert made._made_crds == [] and "CRDs: installed none; already there:" in shown.getvalue()
    assert [r for r in kmock if r.method != "GET"] == []
