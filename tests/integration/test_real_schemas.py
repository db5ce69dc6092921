"""Every product the operator can make, against the products' real CRDs with strict field validation; and a
product field the cluster's schema does not declare fails the job instead of being silently pruned."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from clonejob_operator.api.adaptation import AdaptationProfileSpec
from clonejob_operator.api.kubevirt import KubevirtTargetDetails
from clonejob_operator.codes import Code
from clonejob_operator.kube import Kind, Kube
from clonejob_operator.rest import AUTH, path
from clonejob_operator.targets.kubevirt import manifests
from clonejob_operator.targets.kubevirt.kinds import BATCH_JOB, DATA_VOLUME, VIRTUAL_MACHINE
from tests.integration.conftest import product_crds
from tests.integration.kit import World, running_operator, settings_for, wait_for

LABELS = {"vmmigration.dev/clone-job": "cj", "vmmigration.dev/clone-job-uid": "0b5d7c3e-1111-2222-3333-444455556666"}

DETAILS = [
    pytest.param({"vmName": "plain"}, id="defaults"),
    pytest.param(
        {
            "vmName": "every-option",
            "storageClassName": "fast.ssd",
            "accessModes": ["ReadWriteMany", "ReadOnlyMany"],
            "volumeMode": "Block",
            "diskBus": "sata",
            "cpu": {"cores": 4, "sockets": 2, "threads": 2},
            "memory": "8Gi",
            "labels": {"team": "qa"},
            "podLabels": {"tier": "test"},
            "networks": [
                {"name": "default", "pod": {}, "binding": "masquerade"},
                {"name": "lab", "multus": {"networkName": "lab-net"}, "binding": "bridge"},
            ],
            "hostname": "web-1-test",
            "firmware": {"bootloader": "EFI", "secureBoot": True},
            "runStrategy": "Halted",
        },
        id="every-option",
    ),
    pytest.param(
        {
            "vmName": "typed",
            "accessModes": ["ReadWriteOncePod"],
            "volumeMode": "Filesystem",
            "diskBus": "scsi",
            "instancetype": {"name": "u1.medium", "kind": "VirtualMachineClusterInstancetype"},
            "preference": {"name": "fedora", "kind": "VirtualMachineClusterPreference"},
            "networks": [{"name": "sriov-net", "multus": {"networkName": "other/sriov"}, "binding": "sriov"}],
            "firmware": {"bootloader": "BIOS"},
            "runStrategy": "RerunOnFailure",
        },
        id="instancetype",
    ),
    pytest.param({"vmName": "manual", "runStrategy": "Manual", "firmware": {"bootloader": "EFI"}}, id="manual"),
    pytest.param({"vmName": "once", "runStrategy": "Once", "accessModes": ["ReadWriteOnce"]}, id="once"),
]
PROFILES = [
    pytest.param({"image": "registry.example/adapt:1"}, id="least"),
    pytest.param(
        {
            "image": "registry.example/adapt@sha256:" + "a" * 64,
            "imagePullPolicy": "Always",
            "command": ["/bin/adapt"],
            "args": ["--verbose", "--all"],
            "env": [{"name": "MODE", "value": "virtio"}],
            "serviceAccountName": "adapter",
            "automountServiceAccountToken": True,
            "backoffLimit": 2,
            "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
            "securityContext": {
                "runAsUser": 1000,
                "runAsGroup": 1000,
                "runAsNonRoot": True,
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
        },
        id="most",
    ),
]


@pytest.fixture(scope="module")
def real_schemas(kube: Kube) -> Iterator[None]:
    if not product_crds():
        pytest.skip("the products' real CRDs are not at hand (CLONEJOB_TEST_PRODUCT_CRDS): stand-ins keep any field")
    yield


def dry_run(kube: Kube, kind: Kind, body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Create ``body`` as a dry run with strict field validation: the object the server would store, and any
    warning it gave. Raises the server's refusal."""
    where = path(kind, body["metadata"]["namespace"]) + "?dryRun=All&fieldValidation=Strict"
    api = kube.api_client
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    api.update_params_for_auth(headers, [], AUTH, where, "POST", body)
    answer = api.call_api("POST", kube.configuration.host + where, header_params=headers, body=body)
    answer.read()  # type: ignore[no-untyped-call]
    text = (answer.data or b"").decode()
    if answer.status >= 300:
        pytest.fail(f"{kind.kind} {body['metadata']['name']} refused ({answer.status}): {text}")
    warning: str | None = answer.getheader("Warning")  # type: ignore[no-untyped-call]
    return json.loads(text), warning


def kept(stored: Any, sent: Any, where: str = "") -> list[str]:
    """Where ``stored`` lacks or changed what was ``sent`` (fields the server added are fine: defaults)."""
    if isinstance(sent, dict):
        if not isinstance(stored, dict):
            return [f"{where}: {stored!r} for an object"]
        return [d for key, value in sent.items() for d in kept(stored.get(key), value, f"{where}.{key}")]
    if isinstance(sent, list):
        if not isinstance(stored, list) or len(stored) != len(sent):
            return [f"{where}: {stored!r} for {sent!r}"]
        return [d for i, (a, b) in enumerate(zip(stored, sent, strict=True)) for d in kept(a, b, f"{where}[{i}]")]
    return [] if stored == sent else [f"{where}: {stored!r} for {sent!r}"]


def disks() -> list[manifests.Disk]:
    return [manifests.Disk(0, "cj-disk-0", "web-1-c3-d0", "10Gi"), manifests.Disk(1, "cj-disk-1", "web-1-c3-d1", None)]


@pytest.mark.parametrize("details", DETAILS)
def test_every_disk_and_vm_the_operator_makes_fits_the_real_schemas_whole(
    real_schemas: None, kube: Kube, namespace: str, details: dict[str, Any]
) -> None:
    target = KubevirtTargetDetails.model_validate(details)
    products = [(DATA_VOLUME, manifests.data_volume(target, namespace, disk, LABELS)) for disk in disks()] + [
        (VIRTUAL_MACHINE, manifests.virtual_machine(target, namespace, disks(), LABELS))
    ]
    for kind, body in products:
        stored, warning = dry_run(kube, kind, copy.deepcopy(body))
        assert warning is None, f"{kind.kind}: {warning}"
        assert stored["spec"] == body["spec"], f"{kind.kind} {body['metadata']['name']}: the schema changed its spec"
        assert kept(stored["metadata"], body["metadata"]) == []


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("volume_mode", ["Filesystem", "Block"])
def test_every_adaptation_job_fits_the_batch_schema(
    real_schemas: None, kube: Kube, namespace: str, profile: dict[str, Any], volume_mode: str
) -> None:
    if not kube.servable((BATCH_JOB,)):
        pytest.skip("this API server does not serve batch/v1")
    spec = AdaptationProfileSpec.model_validate(profile)
    body = manifests.adaptation_job(spec, volume_mode, (namespace, "cj-adapt-os"), disks(), LABELS, 600)
    stored, warning = dry_run(kube, BATCH_JOB, copy.deepcopy(body))
    assert warning is None, warning
    assert kept(stored, body) == [], "a field sent was dropped or changed (the server's defaults aside)"


def test_a_product_field_the_clusters_schema_does_not_declare_fails_the_job_and_leaves_nothing(
    real_schemas: None, kube: Kube, operator_kube: Kube, world: World, namespace: str
) -> None:
    """A DataVolume CRD without spec.storage.storageClassName (an older CDI, or a field renamed upstream): the
    disk would be stored without its storage class, another clone than the one asked for."""
    from kubernetes import client

    api = client.ApiextensionsV1Api(kube.api_client)
    crd = "datavolumes.cdi.kubevirt.io"
    real = api.read_custom_resource_definition(crd)
    narrowed = kube.api_client.sanitize_for_serialization(real)  # type: ignore[no-untyped-call]
    version = next(v for v in narrowed["spec"]["versions"] if v["name"] == DATA_VOLUME.version)
    storage = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["storage"]["properties"]
    del storage["storageClassName"]
    api.replace_custom_resource_definition(crd, narrowed)
    try:
        world.migrating_vm("web-1", defaults={"storageClassName": "fast"})
        with running_operator(operator_kube, settings_for(namespace)):
            world.clone_job("cj")
            status = world.wait_state("cj", "FAILED")
        assert status["error"]["code"] == Code.FAILED_PRECONDITION
        message = status["error"]["message"]
        assert "DataVolume cj-disk-0" in message and "spec.storage.storageClassName" in message, message
        assert world.products(DATA_VOLUME) == [], "no pruned DataVolume was left behind"
    finally:
        restore(api, crd)


def restore(api: Any, crd: str) -> None:
    """Put the real schema back (the session's other tests need it), read afresh to replace the latest version."""
    docs = {doc["metadata"]["name"]: doc for doc in product_crds()}

    def put() -> bool:
        current = api.read_custom_resource_definition(crd)
        doc = copy.deepcopy(docs[crd])
        doc["metadata"]["labels"] = current.metadata.labels
        doc["metadata"]["resourceVersion"] = current.metadata.resource_version
        try:
            api.replace_custom_resource_definition(crd, doc)
        except ApiException as error:
            if error.status != 409:
                raise
            return False
        return True

    wait_for(put, 30, f"CRD {crd} restored")
