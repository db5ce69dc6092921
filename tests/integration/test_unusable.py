"""Objects stored under an older, looser CRD: the job fails with INVALID_ARGUMENT naming the field."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest

from clonejob_operator import crdgen
from clonejob_operator.codes import Code
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Kube
from tests.integration.kit import StateRecorder, World, manifest, running_operator, settings_for, wait_for


def _replace(api: Any, crd: dict[str, Any]) -> None:
    current = api.read_custom_resource_definition(crd["metadata"]["name"])
    body = copy.deepcopy(crd)
    body["metadata"]["resourceVersion"] = current.metadata.resource_version
    api.replace_custom_resource_definition(crd["metadata"]["name"], body)


def _loosened(crd: dict[str, Any]) -> dict[str, Any]:
    loose = copy.deepcopy(crd)
    schema = loose["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["spec"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    schema.pop("required", None)
    schema.pop("x-kubernetes-validations", None)  # rules and selectable fields name spec fields it no longer has
    loose["spec"]["versions"][0].pop("selectableFields", None)
    return loose


@pytest.fixture
def older_crds(kube: Kube) -> Iterator[None]:
    """The CRDs as an older release might have had them: any spec goes. Restored afterwards."""
    api = kubernetes.client.ApiextensionsV1Api(kube.api_client)
    originals = list(crdgen.all_crds().values())
    for crd in originals:
        _replace(api, _loosened(crd))
    try:
        yield
    finally:
        for crd in originals:
            _replace(api, crd)


def _store(kube: Kube, namespace: str, kind: Any, name: str, spec: dict[str, Any]) -> None:
    """Create under the loose CRD; retry while the API server still serves the strict one."""

    def attempt() -> bool:
        try:
            kube.create(kind, namespace, manifest(kind, namespace, name, spec))
            return True
        except kubernetes.client.exceptions.ApiException as error:
            if error.status == 422:
                return False
            raise

    wait_for(attempt, 15, f"the loose {kind.kind} CRD to be served")


def _fails_invalid(
    kube: Kube, world: World, namespace: str, name: str, states_: tuple[str, ...] = ("PENDING", "FAILED")
) -> dict[str, Any]:
    with StateRecorder(kube, namespace, name) as states, running_operator(kube, settings_for(namespace)):
        assert states.wait_for("FAILED") == list(states_)
    status = world.status(name)
    assert status["error"]["code"] == Code.INVALID_ARGUMENT
    assert world.all_products() == []
    return status


def test_unusable_clonejob_spec_fails_naming_the_field(
    kube: Kube, world: World, namespace: str, older_crds: None
) -> None:
    _store(kube, namespace, CLONE_JOB, "cj", {"migratingVm": "Not_A_Name!"})
    status = _fails_invalid(kube, world, namespace, "cj", ("FAILED",))  # never PENDING: its spec is unusable
    assert "spec.migratingVm" in status["error"]["message"]


def test_unusable_migratingvm_spec_fails_naming_the_field(
    kube: Kube, world: World, namespace: str, older_crds: None
) -> None:
    _store(
        kube,
        namespace,
        MIGRATING_VM,
        "web-1",
        {"sourceVmId": "vm-1", "kubevirtTargetDefaults": {"firmware": {"bootloader": "UEFI"}}},
    )
    world.sync("web-1")
    world.clone_job("cj")
    status = _fails_invalid(kube, world, namespace, "cj")
    assert "MigratingVm web-1" in status["error"]["message"]
    assert "spec.kubevirtTargetDefaults.firmware.bootloader" in status["error"]["message"]
