"""The generated CRDs as the API server sees them: Established, structural, with names accepted."""

from __future__ import annotations

import re

import kubernetes
import pytest

from clonejob_operator import crdgen
from clonejob_operator.kube import Kube


@pytest.mark.parametrize("name", [crd["metadata"]["name"] for crd in crdgen.all_crds().values()])
def test_crd_is_established_and_structural(kube: Kube, name: str) -> None:
    crd = kubernetes.client.ApiextensionsV1Api(kube.api_client).read_custom_resource_definition(name)
    assert crd.status is not None and crd.status.accepted_names is not None
    conditions = {c.type: c.status for c in crd.status.conditions or []}
    assert conditions.get("Established") == "True"
    assert conditions.get("NamesAccepted") == "True"
    assert "NonStructuralSchema" not in conditions
    assert list(crd.status.accepted_names.short_names or []) in (["cjob"], ["mvm"], ["tp"], ["adprofile"])


def test_served_kinds_are_detected(kube: Kube) -> None:
    from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Kind

    assert kube.served(CLONE_JOB) and kube.served(MIGRATING_VM)
    missing = Kind("nothing.example.com", "v1", "things", "Thing")
    assert not kube.served(missing)
    kube.await_served([CLONE_JOB], timeout=1)
    with pytest.raises(TimeoutError, match=re.escape("things.nothing.example.com/v1")):
        kube.await_served([CLONE_JOB, missing], timeout=0.5, poll=0.1)
